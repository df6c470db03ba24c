"""The assessment: checklist, problems and readiness of one porting request.

`assess` runs the rules in `RULES` in order; each is a small pure function of
the request, the policy and today's date that returns its problems. The
checklist is then derived from the request and the problems, never set by a
rule, so no request with a problem can be called ready.

Problem details are written for a person and may reach the customer: they never
carry a PIN, SSN digits or a full account number.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from email_validator import EmailNotValidError, validate_email

from parsers.model import Address, BillFields, Document, LoaFields, NumberEntry
from parsers.phone import Phone, parse_phone
from rules.matching import (
    accounts_equal,
    address_parts,
    compare_addresses,
    fold_account,
    fold_name,
    names_equal,
    ocr_confusable,
    ocr_near_miss,
)
from rules.policy import Policy
from rules.request import Request

CONTRACT = "port-assessment/1"
MASK = "••••"

CHECKLIST_KEYS = (
    "current_carrier",
    "account_number",
    "account_name",
    "service_address",
    "billing_telephone_number",
    "ssn_last4",
    "numbers",
    "pins",
    "bill",
    "loa",
)

Status = Literal["ok", "missing", "problem", "not_provided"]


@dataclass(frozen=True)
class Problem:
    code: str
    item: str
    number: str | None
    detail: str

    def as_json(self) -> dict[str, str | None]:
        return {"code": self.code, "item": self.item, "number": self.number, "detail": self.detail}


@dataclass(frozen=True)
class Assessment:
    request: Request
    numbers: tuple[NumberEntry, ...]  # each number once, in the order first listed
    checklist: dict[str, Status]
    problems: tuple[Problem, ...]
    notes: tuple[str, ...]  # for the agent: what was filled from documents, OCR doubts

    @property
    def ready(self) -> bool:
        return not self.problems and all(
            status == "ok" for key, status in self.checklist.items() if key != "ssn_last4"
        )

    @property
    def follow_up_boss(self) -> bool:
        return any(p.code == "follow_up_boss" for p in self.problems)


@dataclass(frozen=True)
class Context:
    request: Request
    policy: Policy
    today: dt.date
    phones: tuple[Phone, ...]  # parsed, one per listed number (duplicates kept)


Rule = Callable[[Context], list[Problem]]


# --- numbers -----------------------------------------------------------------


def _portable(phone: Phone, policy: Policy) -> bool:
    return phone.valid and phone.region in policy.supported_regions and phone.local


def check_number_validity(ctx: Context) -> list[Problem]:
    out: list[Problem] = []
    seen: set[str] = set()
    supported = " or ".join(sorted(ctx.policy.supported_regions))
    for phone in ctx.phones:
        if phone.key in seen:
            continue
        seen.add(phone.key)
        if not phone.valid:
            out.append(
                Problem(
                    "number_invalid",
                    "numbers",
                    phone.key,
                    f"{phone.raw.strip()} is not a valid phone number.",
                )
            )
        elif phone.region not in ctx.policy.supported_regions:
            out.append(
                Problem(
                    "number_not_us_ca",
                    "numbers",
                    phone.key,
                    f"{phone.key} is a number of region {phone.region}; only {supported} "
                    "numbers can be ported.",
                )
            )
        elif not phone.local:
            out.append(
                Problem(
                    "number_not_local",
                    "numbers",
                    phone.key,
                    f"{phone.key} is a {phone.kind} number; only local numbers can be ported.",
                )
            )
    return out


def check_duplicates(ctx: Context) -> list[Problem]:
    counts = Counter(p.key for p in ctx.phones)
    return [
        Problem("number_duplicate", "numbers", key, f"{key} is listed {n} times.")
        for key, n in counts.items()
        if n > 1
    ]


def check_assignees(ctx: Context) -> list[Problem]:
    out: list[Problem] = []
    for entry in _unique_numbers(ctx.request.numbers):
        key = parse_phone(entry.raw).key
        if not entry.assignee_name and not entry.assignee_email:
            out.append(
                Problem("number_no_assignee", "numbers", key, f"No user is named to receive {key}.")
            )
        if entry.assignee_email and not _email_valid(entry.assignee_email):
            out.append(
                Problem(
                    "assignee_email_invalid",
                    "numbers",
                    key,
                    f"The email given for the user of {key} ({entry.assignee_email}) is not a "
                    "valid address.",
                )
            )
    return out


def _email_valid(address: str) -> bool:
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


# --- address -------------------------------------------------------------------


def check_address_physical(ctx: Context) -> list[Problem]:
    address = ctx.request.service_address
    if address is not None and address.po_box:
        return [
            Problem(
                "address_not_physical",
                "service_address",
                None,
                f"The service address ({address.street}) is a PO Box or mail drop; "
                "carriers need the physical address where the service is.",
            )
        ]
    return []


# --- bill ----------------------------------------------------------------------


def _readable_bill(ctx: Context) -> tuple[Document, BillFields] | None:
    doc = ctx.request.bill
    if doc is None or doc.error is not None or doc.bill is None:
        return None
    return doc, doc.bill


def check_bill_readable(ctx: Context) -> list[Problem]:
    doc = ctx.request.bill
    if doc is not None and (doc.error is not None or doc.bill is None):
        reason = doc.error or "no bill details were found in it"
        return [
            Problem(
                "bill_unreadable",
                "bill",
                None,
                f"The bill {doc.filename} could not be read: {reason}.",
            )
        ]
    return []


def check_bill_date(ctx: Context) -> list[Problem]:
    found = _readable_bill(ctx)
    if found is None:
        return []
    doc, bill = found
    if bill.bill_date is None:
        return [
            Problem(
                "bill_date_unknown",
                "bill",
                None,
                f"No bill date could be found on {doc.filename}; the bill must be "
                f"from the last {ctx.policy.bill_max_age_days} days.",
            )
        ]
    age = (ctx.today - bill.bill_date).days
    if age > ctx.policy.bill_max_age_days:
        return [
            Problem(
                "bill_too_old",
                "bill",
                None,
                f"The bill is dated {bill.bill_date.isoformat()}, {age} days ago; it "
                f"must be from the last {ctx.policy.bill_max_age_days} days.",
            )
        ]
    return []


def _hedge(doc: Document, field: str, uncertain: frozenset[str]) -> str:
    if doc.ocr and field in uncertain:
        return (
            " The scan could not be read clearly here, so please check it or send a clearer copy."
        )
    return ""


def _near_miss(doc: Document, a: str, b: str) -> str:
    if doc.ocr and ocr_near_miss(a, b):
        return " They differ by one character, which may be a misreading of the scan."
    return ""


def _tail(account: str) -> str:
    digits = "".join(c for c in account if c.isalnum())
    return "…" + digits[-4:] if len(digits) > 4 else "…"


def _one_line(a: Address) -> str:
    return ", ".join(p for p in (a.street, a.city, f"{a.state or ''} {a.zip or ''}".strip()) if p)


def _unclear(doc: Document, a: str, b: str) -> bool:
    """A scan's value one OCR slip away from the stated one: not read with certainty.

    Unread is not a mismatch: such a value is for an agent's eyes, not the customer's.
    (Equal values are never unclear: callers compare with the contract's rule first.)
    """
    return doc.ocr and ocr_confusable(a, b)


def _name_unclear(doc: Document, stated: str | None, read: str) -> bool:
    return (
        stated is not None
        and not names_equal(stated, read)
        and (_unclear(doc, stated, read) or _unclear(doc, fold_name(stated), fold_name(read)))
    )


def _account_unclear(doc: Document, stated: str | None, read: str) -> bool:
    return (
        stated is not None
        and not accounts_equal(stated, read)
        and _unclear(doc, fold_account(stated), fold_account(read))
    )


def check_bill_name(ctx: Context) -> list[Problem]:
    found, stated = _readable_bill(ctx), ctx.request.account_name
    on_bill = found[1].account_name if found else None
    if found is None or stated is None or on_bill is None or names_equal(stated, on_bill):
        return []
    if _name_unclear(found[0], stated, on_bill):
        return []
    doc = found[0]
    return [
        Problem(
            "bill_name_mismatch",
            "bill",
            None,
            f'The name on the bill reads "{on_bill}" but the account name given is '
            f'"{stated}"; it must match the bill exactly.'
            + _near_miss(doc, fold_name(stated), fold_name(on_bill))
            + _hedge(doc, "account_name", found[1].uncertain),
        )
    ]


def check_bill_account(ctx: Context) -> list[Problem]:
    found, stated = _readable_bill(ctx), ctx.request.account_number
    on_bill = found[1].account_number if found else None
    if found is None or stated is None or on_bill is None or accounts_equal(stated, on_bill):
        return []
    doc = found[0]
    if _account_unclear(doc, stated, on_bill):
        return []
    ends = (
        f"(ending {_tail(on_bill)}) differs from the one given (ending {_tail(stated)})"
        if _tail(on_bill) != _tail(stated)
        else "differs from the one given"
    )
    return [
        Problem(
            "bill_account_mismatch",
            "bill",
            None,
            f"The account number on the bill {ends}."
            + _near_miss(doc, fold_account(stated), fold_account(on_bill))
            + _hedge(doc, "account_number", found[1].uncertain),
        )
    ]


_PART_WORDS = {
    "street": "street",
    "unit": "suite or unit",
    "city": "city",
    "state": "state",
    "zip": "ZIP or postal code",
}


def check_bill_address(ctx: Context) -> list[Problem]:
    found, stated = _readable_bill(ctx), ctx.request.service_address
    on_bill = found[1].service_address if found else None
    if found is None or stated is None or on_bill is None or stated.po_box:
        return []  # a PO Box given is address_not_physical's: the fix is the same
    differ = _address_differences(found[0], stated, on_bill)[0]
    if not differ:
        return []  # what the bill lacks or shows unclearly is check_bill_fields_unread's
    parts = _and(_PART_WORDS[p] for p in differ)
    return [
        Problem(
            "bill_address_mismatch",
            "bill",
            None,
            f'The service address on the bill reads "{_one_line(on_bill)}" but the '
            f'address given is "{_one_line(stated)}" (the {parts} '
            f"{'differ' if len(differ) > 1 else 'differs'})."
            + _hedge(found[0], "service_address", found[1].uncertain),
        )
    ]


def _address_differences(
    doc: Document, stated: Address, on_bill: Address
) -> tuple[list[str], list[str]]:
    """(parts that differ, parts unread or unclear on the bill)."""
    differ, unread = compare_addresses(stated, on_bill)
    a, b = address_parts(stated), address_parts(on_bill)
    unclear = [p for p in differ if _unclear(doc, a[p] or "", b[p] or "")]
    return [p for p in differ if p not in unclear], unread + unclear


def _and(words: Iterable[str]) -> str:
    items = list(words)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def check_bill_fields_unread(ctx: Context) -> list[Problem]:
    """Unread is not a mismatch: what a readable bill did not show is for an agent's eyes."""
    found = _readable_bill(ctx)
    if found is None:
        return []
    doc, bill = found
    request = ctx.request
    unread: list[str] = []
    if bill.account_name is None or _name_unclear(doc, request.account_name, bill.account_name):
        unread.append("the account name")
    if bill.account_number is None or _account_unclear(
        doc, request.account_number, bill.account_number
    ):
        unread.append("the account number")
    if bill.service_address is None:
        unread.append("the service address")
    else:
        stated = request.service_address or Address(None, None, None, None)
        parts = _address_differences(doc, stated, bill.service_address)[1]
        if parts:
            unread.append(f"the {_and(_PART_WORDS[p] for p in parts)} of the service address")
    if not unread:
        return []
    what = _and(unread)
    them = "it" if len(unread) == 1 else "them"
    return [
        Problem(
            "bill_field_unread",
            "bill",
            None,
            f"{what[0].upper()}{what[1:]} could not be "
            f"{'read with certainty on' if doc.ocr else 'found on'} {doc.filename}, so "
            f"an agent compares {them} with the request by eye.",
        )
    ]


def check_bill_btn(ctx: Context) -> list[Problem]:
    found, stated = _readable_bill(ctx), ctx.request.billing_telephone_number
    on_bill = found[1].billing_telephone_number if found else None
    if found is None or stated is None or on_bill is None or stated == on_bill:
        return []
    return [
        Problem(
            "bill_btn_mismatch",
            "bill",
            None,
            f"The billing telephone number on the bill is {on_bill} but the one given "
            f"is {stated}." + _hedge(found[0], "billing_telephone_number", found[1].uncertain),
        )
    ]


# --- LOA -----------------------------------------------------------------------


def _readable_loa(ctx: Context) -> tuple[Document, LoaFields] | None:
    doc = ctx.request.loa
    if doc is None or doc.error is not None or doc.loa is None:
        return None
    return doc, doc.loa


def check_loa_signed(ctx: Context) -> list[Problem]:
    found = _readable_loa(ctx)
    if found is None or found[1].signed:
        return []
    return [Problem("loa_unsigned", "loa", None, f"The LOA {found[0].filename} is not signed.")]


def check_loa_numbers(ctx: Context) -> list[Problem]:
    found = _readable_loa(ctx)
    if found is None:
        return []
    loa = found[1]
    on_loa = {parse_phone(n).key for n in loa.numbers}
    out: list[Problem] = []
    seen: set[str] = set()
    for phone in ctx.phones:
        if phone.key in seen or not _portable(phone, ctx.policy):
            continue
        seen.add(phone.key)
        if phone.key not in on_loa:
            out.append(
                Problem(
                    "loa_numbers_missing",
                    "loa",
                    phone.key,
                    f"{phone.key} is not listed on the LOA; the LOA must list "
                    "every number to be ported.",
                )
            )
    return out


def check_loa_name(ctx: Context) -> list[Problem]:
    found, stated = _readable_loa(ctx), ctx.request.account_name
    on_loa = found[1].account_name if found else None
    if found is None or stated is None or on_loa is None or names_equal(stated, on_loa):
        return []
    return [
        Problem(
            "loa_name_mismatch",
            "loa",
            None,
            f'The name on the LOA reads "{on_loa}" but the account name is '
            f'"{stated}"; it must match the bill exactly.'
            + _hedge(found[0], "account_name", found[1].uncertain),
        )
    ]


# --- carrier -------------------------------------------------------------------


def check_own_process_carrier(ctx: Context) -> list[Problem]:
    carrier = ctx.request.current_carrier
    if carrier is not None and carrier in ctx.policy.own_process_carriers:
        return [
            Problem(
                "follow_up_boss",
                "current_carrier",
                None,
                f"Numbers from {carrier} follow a different porting process.",
            )
        ]
    return []


# The rules in the order their findings are listed: the seed's checklist order.
RULES: tuple[Rule, ...] = (
    check_own_process_carrier,
    check_address_physical,
    check_number_validity,
    check_duplicates,
    check_assignees,
    check_bill_readable,
    check_bill_date,
    check_bill_name,
    check_bill_account,
    check_bill_address,
    check_bill_btn,
    check_bill_fields_unread,
    check_loa_signed,
    check_loa_numbers,
    check_loa_name,
)


def _unique_numbers(entries: Sequence[NumberEntry]) -> tuple[NumberEntry, ...]:
    seen: dict[str, NumberEntry] = {}
    for entry in entries:
        key = parse_phone(entry.raw).key
        if key not in seen:
            seen[key] = entry
    return tuple(seen.values())


def _checklist(request: Request, problems: Sequence[Problem]) -> dict[str, Status]:
    flagged = {p.item for p in problems}

    def status(key: str, given: bool) -> Status:
        if not given:
            return "missing"
        return "problem" if key in flagged else "ok"

    numbers = _unique_numbers(request.numbers)
    pins_ok = (bool(numbers) and all(e.pin for e in numbers)) or request.no_pin_stated
    address = request.service_address
    return {
        "current_carrier": status("current_carrier", request.current_carrier is not None),
        "account_number": status("account_number", request.account_number is not None),
        "account_name": status("account_name", request.account_name is not None),
        "service_address": status(
            "service_address", address is not None and address.street is not None
        ),
        "billing_telephone_number": status(
            "billing_telephone_number", request.billing_telephone_number is not None
        ),
        "ssn_last4": "ok" if request.ssn_last4 else "not_provided",
        "numbers": status("numbers", bool(numbers)),
        "pins": "ok" if pins_ok else "missing",
        "bill": status("bill", request.bill is not None),
        "loa": status("loa", request.loa is not None and request.loa.error is None),
    }


def _notes(request: Request) -> tuple[str, ...]:
    notes = [
        f"{name.replace('_', ' ')} taken from {source}" for name, source in request.filled_from
    ]
    if request.loa is not None and request.loa.error is not None:
        notes.append(f"the LOA {request.loa.filename} could not be read: {request.loa.error}")
    for doc in request.documents:
        if doc.error is not None and doc is not request.bill and doc is not request.loa:
            notes.append(f"{doc.filename} could not be read: {doc.error}")
    return tuple(notes)


def assess(request: Request, policy: Policy, today: dt.date) -> Assessment:
    phones = tuple(parse_phone(e.raw) for e in request.numbers)
    ctx = Context(request=request, policy=policy, today=today, phones=phones)
    problems = tuple(p for rule in RULES for p in rule(ctx))
    return Assessment(
        request=request,
        numbers=_unique_numbers(request.numbers),
        checklist=_checklist(request, problems),
        problems=problems,
        notes=_notes(request),
    )
