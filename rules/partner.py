"""The carrier partner's side of a port, decided: portability findings, the port-in
order built from a ready assessment, and the stage a partner status asks for.

Pure: values in, values out. The partner's answers come in as `Portability` and
`PortInStatus` (bot.adapters.twilio makes them from Twilio's API); the pipeline
(bot.pipeline.partner) gathers and applies.

Portability findings are problems of the bot's own (codes `partner_*`, beside the
contract's, never in `portbot assess`, which stays offline):

| code | when | the customer can act |
| --- | --- | --- |
| `partner_not_portable` | the partner says the number cannot be ported (its reason) | take it off, or check it |
| `partner_port_in_progress` | a port of the number is already under way | tell us whether to wait |
| `partner_pin_and_account_required` | a mobile or toll-free number needs PIN and account number, and one is missing | send them |

A check that could not run (an outage) is a note for the agent ("pending"), never
a problem: intake never waits for the partner.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from parsers.phone import parse_phone
from rules.assessment import Assessment, Problem
from rules.stages import Stage

# --- what the partner says -----------------------------------------------------------


@dataclass(frozen=True)
class Portability:
    """The partner's answer for one number: can it be ported to us, and what it needs."""

    number: str  # E.164
    portable: bool
    number_type: str  # LOCAL, MOBILE, TOLL-FREE, UNKNOWN
    pin_and_account_required: bool = False
    reason: str | None = None  # the partner's words when it is not portable
    reason_code: int | None = None


@dataclass(frozen=True)
class PortInAddress:
    street: str
    city: str
    state: str
    zip: str
    country: str
    street_2: str | None = None


@dataclass(frozen=True)
class PortInOrder:
    """A port-in to create, built from a ready assessment (`port_in_order`)."""

    reference: str  # ours: names the uploaded bill, so a lost answer is found again
    customer_name: str
    customer_type: Literal["Business", "Individual"]
    account_number: str | None
    account_telephone_number: str | None
    address: PortInAddress
    authorized_representative: str
    authorized_representative_email: str
    numbers: tuple[tuple[str, str | None], ...]  # (E.164, PIN)
    notification_emails: tuple[str, ...]
    target_date: dt.date


@dataclass(frozen=True)
class NumberStatus:
    number: str
    status: str  # the partner's per-number status, e.g. port_rejected
    rejection_reason: str | None = None
    rejection_code: str | None = None
    port_date: dt.date | None = None


@dataclass(frozen=True)
class PortInStatus:
    sid: str
    status: str  # the request's own status
    numbers: tuple[NumberStatus, ...]
    documents: tuple[str, ...] = ()
    signature_request_url: str | None = None
    cancellation_reason: str | None = None


# --- portability at intake -----------------------------------------------------------

PENDING_NOTE = (
    "Portability check pending: {partner} could not be asked ({why}); "
    "it is asked again with the next message or on submission."
)


def e164_numbers(assessment: Assessment) -> list[str]:
    """The request's numbers the partner can be asked about (valid, once each)."""
    out: list[str] = []
    for entry in assessment.numbers:
        phone = parse_phone(entry.raw)
        if phone.valid and phone.key not in out:
            out.append(phone.key)
    return out


def with_portability(
    assessment: Assessment,
    answers: Mapping[str, Portability],
    pending: Mapping[str, str],
    partner: str = "the carrier partner",
) -> Assessment:
    """The assessment with the partner's findings: problems the customer can act on,
    and a note per number for the agent (answers, or why the check is pending)."""
    problems: list[Problem] = []
    notes: list[str] = []
    pins = {parse_phone(e.raw).key: e.pin for e in assessment.numbers}
    account = assessment.request.account_number
    for number, answer in answers.items():
        kind = answer.number_type.lower()
        if not answer.portable and answer.reason_code == 22137:
            problems.append(
                Problem(
                    "partner_port_in_progress",
                    "numbers",
                    number,
                    f"{partner} already has a port of {number} under way.",
                )
            )
            notes.append(
                f"Portability ({partner}): {number} already being ported ({answer.reason})."
            )
        elif not answer.portable:
            why = answer.reason or "no reason given"
            problems.append(
                Problem(
                    "partner_not_portable",
                    "numbers",
                    number,
                    f"{partner} cannot port {number} ({_words(why)}).",
                )
            )
            notes.append(
                f"Portability ({partner}): {number} NOT portable: {why}"
                + (f" (code {answer.reason_code})" if answer.reason_code else "")
                + "."
            )
        else:
            needs = answer.pin_and_account_required
            missing = [
                w for w, v in (("PIN", pins.get(number)), ("account number", account)) if not v
            ]
            if needs and missing and not assessment.request.no_pin_stated:
                problems.append(
                    Problem(
                        "partner_pin_and_account_required",
                        "pins",
                        number,
                        f"This {kind} number, {number}, needs its PIN and the account number to be "
                        f"ported; "
                        f"missing: {' and '.join(missing)}.",
                    )
                )
            notes.append(
                f"Portability ({partner}): {number} portable ({kind}"
                + (", PIN and account number required" if needs else "")
                + ")."
            )
    for number, why in pending.items():
        notes.append(f"{number}: " + PENDING_NOTE.format(partner=partner, why=why))
    if not problems and not notes:
        return assessment
    checklist = dict(assessment.checklist)
    for p in problems:
        if checklist.get(p.item) == "ok":
            checklist[p.item] = "problem"
    return replace(
        assessment,
        problems=assessment.problems + tuple(problems),
        checklist=checklist,
        notes=assessment.notes + tuple(notes),
    )


def _words(code: str) -> str:
    return code.replace("_", " ").lower() if code.isupper() else code


# --- one-step submission -------------------------------------------------------------

_BUSINESS = re.compile(
    r"\b(llc|l\.l\.c|inc|incorporated|corp|corporation|co|company|ltd|limited|llp|lp|plc|"
    r"pllc|pc|gmbh|group|holdings|associates|partners|services|solutions|church|school|"
    r"clinic|dental|university|district|city of|county)\b\.?",
    re.IGNORECASE,
)


def customer_type(name: str) -> Literal["Business", "Individual"]:
    return "Business" if _BUSINESS.search(name) else "Individual"


def target_date(today: dt.date, min_days: int = 7, holidays: Collection[dt.date] = ()) -> dt.date:
    """The first business day at least `min_days` out (Twilio: 7 for US ports)."""
    day = today + dt.timedelta(days=min_days)
    while day.weekday() >= 5 or day in holidays:
        day += dt.timedelta(days=1)
    return day


@dataclass(frozen=True)
class Refused:
    """The request cannot be submitted; `reasons` say what is missing or wrong."""

    reasons: tuple[str, ...]

    def __str__(self) -> str:
        return "; ".join(self.reasons)


def port_in_order(
    assessment: Assessment,
    *,
    reference: str,
    today: dt.date,
    representative: str | None,
    representative_email: str | None,
    notification_emails: Sequence[str] = (),
    min_days: int = 7,
) -> PortInOrder | Refused:
    """The port-in the partner should get for a ready request, or why there is none."""
    if not assessment.ready:
        what = [f"{k} {v}" for k, v in assessment.checklist.items() if v in ("missing", "problem")]
        what += [p.code for p in assessment.problems]
        return Refused(("the request is not ready: " + ", ".join(dict.fromkeys(what)),))
    r = assessment.request
    reasons = []
    a = r.service_address
    if a is None or not (a.street and a.city and a.state and a.zip):
        reasons.append("the service address is incomplete")
    if not r.account_name:
        reasons.append("no account name")
    if not representative or not representative_email:
        reasons.append("no authorised representative with an email address")
    if r.bill is None:
        reasons.append("no bill to upload")
    numbers: list[tuple[str, str | None]] = []
    for entry in assessment.numbers:
        phone = parse_phone(entry.raw)
        if not phone.valid:
            reasons.append(f"{entry.raw} is not a valid number")
            continue
        numbers.append((phone.key, entry.pin))
    if reasons:
        return Refused(tuple(reasons))
    assert a is not None and a.street and a.city and a.state and a.zip
    assert r.account_name and representative and representative_email
    country = "CA" if re.fullmatch(r"[A-Za-z]\d[A-Za-z] ?\d[A-Za-z]\d", a.zip.strip()) else "US"
    return PortInOrder(
        reference=reference,
        customer_name=r.account_name,
        customer_type=customer_type(r.account_name),
        account_number=r.account_number,
        account_telephone_number=r.billing_telephone_number,
        address=PortInAddress(a.street, a.city, a.state, a.zip, country),
        authorized_representative=representative,
        authorized_representative_email=representative_email,
        numbers=tuple(numbers),
        notification_emails=tuple(dict.fromkeys(e.lower() for e in notification_emails)),
        target_date=target_date(today, min_days),
    )


# --- status from the partner ---------------------------------------------------------


@dataclass(frozen=True)
class PartnerMove:
    """Where a partner status puts the port (`stage`), with what the move carries."""

    stage: Stage
    reason: str | None = None
    date: dt.date | None = None
    note: str = ""  # for the agent: the partner's status in its words

    @property
    def fingerprint(self) -> str:
        return f"{self.stage.value}|{self.reason or ''}|{self.date or ''}|{self.note}"


def move_for(status: PortInStatus) -> PartnerMove:
    """Twilio's per-number statuses mapped onto the stage model.

    in_review, waiting_for_signature, port_submitted -> submitted (the signature wait
    is noted); port_pending with its date -> scheduled; port_rejected -> rejected
    with the carrier's reasons (the customer is told the fix; the request goes back
    to collecting); all completed -> completed; all canceled -> cancelled.
    """
    numbers = status.numbers
    states = {n.status for n in numbers}
    rejected = [n for n in numbers if n.status == "port_rejected"]
    if rejected:
        reasons = dict.fromkeys(
            (n.rejection_reason or "rejected by the losing carrier")
            + (f" (code {n.rejection_code})" if n.rejection_code else "")
            for n in rejected
        )
        which = ", ".join(n.number for n in rejected)
        return PartnerMove(Stage.REJECTED, "; ".join(reasons), note=f"rejected: {which}")
    if states and states <= {"canceled"}:
        return PartnerMove(Stage.CANCELLED, note=status.cancellation_reason or "canceled")
    live = [n for n in numbers if n.status != "canceled"]
    if live and all(n.status == "completed" for n in live):
        return PartnerMove(
            Stage.COMPLETED, date=max((n.port_date for n in live if n.port_date), default=None)
        )
    if live and all(n.status in ("port_pending", "completed") and n.port_date for n in live):
        return PartnerMove(Stage.SCHEDULED, date=max(n.port_date for n in live if n.port_date))
    if "waiting_for_signature" in states:
        return PartnerMove(Stage.SUBMITTED, note="waiting for the LOA to be e-signed")
    if "port_submitted" in states or "port_pending" in states:
        return PartnerMove(Stage.SUBMITTED, note="submitted to the losing carrier")
    return PartnerMove(Stage.SUBMITTED, note="in review")
