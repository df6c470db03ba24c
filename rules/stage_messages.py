"""What the customer is told when their port changes stage: subject and plain text.

Data, not email: the reply module renders and threads it. The texts are the
seed's promises: submitted (keep the account open and the numbers active),
scheduled (the date, and brief downtime that day), rejected (the reason in
plain words and how to fix it; then the request is resubmitted), completed
(check the numbers; texting needs 10DLC registration first).

Nothing secret goes in: no PIN, account number or SSN is an input, and the
carrier's own words are quoted only for reasons no code covers, with long digit
runs masked.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from parsers.carrier_notice import ReasonCode
from parsers.phone import find_numbers, parse_phone
from rules.stages import Stage, StageChange

__all__ = [
    "REJECTION_HELP",
    "MessageSettings",
    "RejectionHelp",
    "StageMessage",
    "correction_received",
    "failed_numbers",
    "items_to_ask",
    "message_for",
]


@dataclass(frozen=True)
class StageMessage:
    subject: str
    text: str


@dataclass(frozen=True)
class MessageSettings:
    """Wording a deployment may change."""

    sign_off: str = "The porting team"
    # How the texts name us: "Your numbers are moving to {us}".
    us: str = "us"
    numbers_shown: int = 10  # beyond this, "and N more"

    def __post_init__(self) -> None:
        if self.numbers_shown < 1:
            raise ValueError("numbers_shown must be at least 1")


@dataclass(frozen=True)
class RejectionHelp:
    """A rejection reason for the customer: what went wrong, what to send.

    `items` are the checklist items (bot/render/ticket.py CHECKLIST_LABELS keys) the
    customer is asked for again.
    """

    plain: str
    fix: str
    items: tuple[str, ...]


REJECTION_HELP: Mapping[ReasonCode, RejectionHelp] = {
    "wrong_pin": RejectionHelp(
        "The PIN or passcode we gave the current carrier was not accepted.",
        "Please send the current port-out PIN (also called a transfer PIN or account "
        "passcode). Wireless carriers create one on request in your online account or through "
        "their support line; it is not the voicemail PIN. A new PIN can take a day to become "
        "valid.",
        ("pins",),
    ),
    "name_mismatch": RejectionHelp(
        "The name on the request does not match the account holder's name in the current "
        "carrier's records.",
        "Please send the account name exactly as it appears on your latest bill (for a "
        "business, the full legal name, including Inc., LLC or Ltd.), and a copy of that bill.",
        ("account_name", "bill"),
    ),
    "address_mismatch": RejectionHelp(
        "The service address does not match the current carrier's records.",
        "Please send the service address exactly as the current carrier has it, suite or unit "
        "number included; it is printed on your bill (the service address, which may differ "
        "from the billing address).",
        ("service_address", "bill"),
    ),
    "btn_mismatch": RejectionHelp(
        "The billing telephone number (BTN) does not match the current carrier's records.",
        "Please send the account's main billing telephone number as shown on your bill. The "
        "current carrier can also tell you which number it is.",
        ("billing_telephone_number", "bill"),
    ),
    "account_number_mismatch": RejectionHelp(
        "The account number does not match the current carrier's records.",
        "Please send the account number exactly as shown on your latest bill. For mobile "
        "lines this is sometimes different from the billing account number, so ask the "
        "carrier for the account number to use for a port if in doubt.",
        ("account_number", "bill"),
    ),
    "unauthorised_requester": RejectionHelp(
        "The person who signed the authorization is not listed as authorized on the account.",
        "Please have the account owner or an authorized user of the account sign a new Letter "
        "of Authorization (LOA) and send it to us, or ask the current carrier to add the signer "
        "as an authorized user first.",
        ("loa",),
    ),
    "pending_order": RejectionHelp(
        "The current carrier has another order open on these numbers (for example a plan "
        "change, a disconnection or another transfer).",
        "Please ask the current carrier to complete or cancel that order, then reply to let us "
        "know; we will submit the transfer again.",
        (),
    ),
    "number_not_portable": RejectionHelp(
        "The carrier says one or more of the numbers cannot be transferred to us.",
        "We are looking into the options for these numbers and will contact you. If you know "
        "of a reason (for example the number was recently disconnected), please tell us.",
        ("numbers",),
    ),
    "other": RejectionHelp(
        "The carrier did not say why in a way we could match to a usual cause.",
        "We are looking into it and will tell you if anything is needed from you; if you "
        "know of a change on the account, please tell us.",
        (),
    ),
}


def items_to_ask(codes: Iterable[ReasonCode]) -> tuple[str, ...]:
    """Checklist items to ask the customer for again after a rejection with these codes."""
    return tuple(dict.fromkeys(i for c in codes for i in REJECTION_HELP[c].items))


# --- formatting ----------------------------------------------------------------------------


def _number(key: str) -> str:
    phone = parse_phone(key)
    digits = re.sub(r"\D", "", phone.key)
    if phone.key.startswith("+1") and len(digits) == 11:
        return f"({digits[1:4]}) {digits[4:7]}-{digits[7:]}"
    return key


def _numbers_block(numbers: Sequence[str], settings: MessageSettings) -> str:
    shown = [f"  {_number(n)}" for n in numbers[: settings.numbers_shown]]
    rest = len(numbers) - len(shown)
    if rest > 0:
        shown.append(f"  and {rest} more")
    return "\n".join(shown)


def _date(date: dt.date) -> str:
    return f"{date:%A}, {date:%B} {date.day}, {date.year}"


def _safe_words(raw: str) -> str:
    # A partner's numeric reject code means nothing to a customer; a long digit run
    # could be an account number or PIN the carrier echoed back.
    text = re.sub(r"^\s*\d{4}\s*[-:]\s*", "", raw.split(";")[0])
    text = re.sub(r"\d{4,}", "[…]", text)
    return text.strip()[:200]


def _them(carrier: str | None, *, start: bool = False) -> str:
    # Not str.capitalize(): it would turn "AT&T" into "At&t".
    return carrier or ("Your current carrier" if start else "your current carrier")


def _greeting(name: str | None) -> str:
    return f"Hello {name}," if name else "Hello,"


def _numbers_phrase(numbers: Sequence[str]) -> str:
    if len(numbers) == 1:
        return f"your number {_number(numbers[0])}"
    return "your numbers"


# --- the messages --------------------------------------------------------------------------


def _submitted(change: StageChange, ctx: _Context) -> StageMessage:
    return StageMessage(
        "Your number transfer has been submitted",
        ctx.wrap(
            f"We have submitted the request to transfer {_numbers_phrase(ctx.numbers)} to "
            f"{ctx.settings.us}. {_them(ctx.carrier, start=True)} usually answers within a few "
            "business days, and we will write again as soon as it does.\n\n"
            "Until the transfer is complete:\n"
            f"- Do not close or cancel your account with {_them(ctx.carrier)}. Closing it now "
            "stops the transfer, and the numbers could be lost.\n"
            "- Keep the numbers active and the bill paid, so they are not disconnected.\n"
            "- Please avoid changes to that account (plan, owner, PIN) until we confirm the "
            "transfer; a change can make the carrier reject the request."
        ),
    )


def _approved(change: StageChange, ctx: _Context) -> StageMessage:
    return StageMessage(
        "Your number transfer was approved",
        ctx.wrap(
            f"Good news: {_them(ctx.carrier)} approved the transfer of "
            f"{_numbers_phrase(ctx.numbers)}. We are waiting for the porting date and will tell "
            "you as soon as it is set.\n\n"
            "Please keep the account open and the numbers active until the transfer is complete."
        ),
    )


def _scheduled(change: StageChange, ctx: _Context) -> StageMessage:
    assert change.date is not None  # transition() refuses scheduled without a date
    when = _date(change.date)
    if change.rescheduled:
        subject = f"New date for your number transfer: {when}"
        opening = f"The porting date has changed. The transfer is now scheduled for {when}."
    else:
        subject = f"Your number transfer is scheduled for {when}"
        approved = "The transfer was approved, and the" if change.via else "The"
        opening = (
            f"{approved} porting date is set: {_numbers_phrase(ctx.numbers)} will move to "
            f"{ctx.settings.us} on {when}."
        )
    return StageMessage(
        subject,
        ctx.wrap(
            f"{opening}\n\n"
            "On that day, calls and texts to these numbers may be interrupted briefly (usually "
            "a few minutes, occasionally longer) while the carriers switch them over. Please "
            "avoid planning important calls for that day if you can.\n\n"
            f"Keep your account with {_them(ctx.carrier)} open and the numbers active until we "
            "confirm that the transfer is complete."
        ),
    )


def failed_numbers(reason: str | None, numbers: Sequence[str] = ()) -> tuple[str, ...]:
    """The numbers a carrier's reason names (E.164, in its order): the ones that failed.
    With the request's `numbers`, only those of the request count."""
    found: list[str] = []
    for raw in find_numbers(reason or ""):
        key = parse_phone(raw).key
        if key not in found and (not numbers or key in numbers):
            found.append(key)
    return tuple(found)


def _rejected(change: StageChange, ctx: _Context) -> StageMessage:
    codes = change.reason_codes or ("other",)
    failed = failed_numbers(change.reason, ctx.numbers)
    which = ""
    if failed:
        listed = ", ".join(_number(n) for n in failed)
        which = (
            f"The carrier named {'this number' if len(failed) == 1 else 'these numbers'}: "
            f"{listed}.\n\n"
        )
    parts = []
    for code in codes:
        help_ = REJECTION_HELP[code]
        part = f"- {help_.plain}\n  {help_.fix}"
        if code == "other" and change.reason:
            part = f'- The carrier\'s reason: "{_safe_words(change.reason)}".\n  {help_.fix}'
        parts.append(part)
    return StageMessage(
        "Action needed: your number transfer was not accepted",
        ctx.wrap(
            f"{_them(ctx.carrier, start=True)} did not accept the request to transfer "
            f"{_numbers_phrase(ctx.numbers)}:\n\n" + "\n\n".join(parts) + "\n\n" + which + ""
            "Please reply to this email with the corrected information. We will check it and "
            "send the request to the carrier again.\n\n"
            "Your numbers stay with your current carrier in the meantime, so keep that account "
            "open and the numbers active."
        ),
    )


def _completed(change: StageChange, ctx: _Context) -> StageMessage:
    return StageMessage(
        "Your numbers have been transferred",
        ctx.wrap(
            f"The transfer is complete: {_numbers_phrase(ctx.numbers)} now "
            f"{'works' if len(ctx.numbers) == 1 else 'work'} with {ctx.settings.us}.\n\n"
            "Please check each number now:\n"
            "- Call it from another phone and make sure it rings where you expect.\n"
            "- Make an outgoing call from it.\n\n"
            "Texting: before these numbers can send text messages to US phones, they need 10DLC "
            "registration (the carriers' registration of business texting). Until it is "
            "approved, texts may be blocked. Reply to this email if you would like help with "
            "it.\n\n"
            f"Your service for these numbers with {_them(ctx.carrier)} ends with the transfer. "
            "If that account has other services you no longer need, you can cancel them now. "
            "If anything does not work, reply to this email right away."
        ),
    )


def _cancelled(change: StageChange, ctx: _Context) -> StageMessage:
    return StageMessage(
        "Your number transfer was cancelled",
        ctx.wrap(
            f"The request to transfer {_numbers_phrase(ctx.numbers)} has been cancelled. The "
            f"numbers stay with {_them(ctx.carrier)}, and nothing changes on that account.\n\n"
            "If you would like to transfer them later, reply to this email and we will start a "
            "new request."
        ),
    )


def correction_received(
    rejection: StageChange,
    *,
    customer_name: str | None = None,
    settings: MessageSettings | None = None,
) -> StageMessage:
    """The acknowledgement of the customer's answer to a rejection (a corrected PIN, a
    new bill): the rejection email promised a check; this says it is being done."""
    settings = settings or MessageSettings()
    asked = [REJECTION_HELP[c].plain for c in rejection.reason_codes or ("other",)]
    return StageMessage(
        "We received your correction",
        f"{_greeting(customer_name)}\n\n"
        "Thank you: we received your reply about the carrier's rejection "
        f"({asked[0][0].lower() + asked[0][1:].rstrip('.')}). We will check it and send the "
        "request to the carrier again, and we will write as soon as the carrier answers.\n\n"
        "Please keep your account with your current carrier open and the numbers active in "
        f"the meantime.\n\nThank you,\n{settings.sign_off}",
    )


@dataclass(frozen=True)
class _Context:
    numbers: Sequence[str]
    carrier: str | None
    name: str | None
    settings: MessageSettings

    def wrap(self, middle: str) -> str:
        block = _numbers_block(self.numbers, self.settings)
        listed = f"\n\nNumbers in this request:\n{block}" if len(self.numbers) > 1 else ""
        return f"{_greeting(self.name)}\n\n{middle}{listed}\n\nThank you,\n{self.settings.sign_off}"


_BUILDERS = {
    Stage.SUBMITTED: _submitted,
    Stage.APPROVED: _approved,
    Stage.SCHEDULED: _scheduled,
    Stage.REJECTED: _rejected,
    Stage.COMPLETED: _completed,
    Stage.CANCELLED: _cancelled,
}


def message_for(
    change: StageChange,
    *,
    numbers: Sequence[str] = (),
    carrier: str | None = None,
    customer_name: str | None = None,
    settings: MessageSettings | None = None,
) -> StageMessage | None:
    """The customer's message for `change`, or None when the customer is not told.

    `numbers` are the request's numbers (E.164), `carrier` the current (losing)
    carrier by its common name, `customer_name` for the greeting. Going back to
    collecting information (`request_received`) has no message of its own: the
    rejection message already asks for what is needed.
    """
    builder = _BUILDERS.get(change.stage)
    if builder is None:
        return None
    ctx = _Context(tuple(numbers), carrier, customer_name, settings or MessageSettings())
    return builder(change, ctx)
