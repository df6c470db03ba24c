"""Carrier-partner notices: the fixtures read as expected, other mail is not a notice."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
import json
from email.message import EmailMessage
from typing import Any

import pytest

from parsers.carrier_notice import (
    CarrierNotice,
    classify_reason,
    default_patterns,
    load_patterns,
    read_notice,
)
from parsers.email import parse_message
from parsers.model import Message
from tests.conftest import ROOT

NOTICES = ROOT / "fixtures" / "carrier_notices"
EXPECTED: dict[str, Any] = json.loads((NOTICES / "expected.json").read_text("utf-8"))


def _read(name: str) -> CarrierNotice | None:
    return read_notice(parse_message((NOTICES / name).read_bytes()))


def _as_json(notice: CarrierNotice) -> dict[str, Any]:
    data = dataclasses.asdict(notice)
    data.pop("message_id")
    data["numbers"] = list(notice.numbers)
    data["reason_codes"] = list(notice.reason_codes)
    data["date"] = notice.date.isoformat() if notice.date else None
    return data


def _message(sender: str, subject: str, body: str, **kw: Any) -> Message:
    return Message(
        message_id="<m@x>",
        in_reply_to=None,
        references=(),
        subject=subject,
        sender=sender,
        sender_name=None,
        date=None,
        body=body,
        attachments=(),
        **kw,
    )


def test_every_fixture_has_an_expectation_and_every_expectation_a_fixture() -> None:
    assert sorted(p.name for p in NOTICES.glob("*.eml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_notice_reads_as_expected(name: str) -> None:
    notice = _read(name)
    expected = EXPECTED[name]["notice"]
    if expected is None:
        assert notice is None
    else:
        assert notice is not None
        assert _as_json(notice) == expected


def test_the_three_partners_and_every_kind_are_covered_by_fixtures() -> None:
    notices = [n for n in (e["notice"] for e in EXPECTED.values()) if n]
    assert {n["partner"] for n in notices} == {"Twilio", "Telnyx", "Bandwidth"}
    assert {n["kind"] for n in notices} == {
        "submitted",
        "approved",
        "rejected",
        "foc",
        "completed",
        "cancelled",
    }
    codes = {c for n in notices for c in n["reason_codes"]}
    assert codes == {
        "wrong_pin",
        "name_mismatch",
        "address_mismatch",
        "btn_mismatch",
        "account_number_mismatch",
        "unauthorised_requester",
        "pending_order",
        "number_not_portable",
        "other",
    }


def test_twilio_marketing_mail_about_porting_is_not_a_notice() -> None:
    assert _read("twilio-07-marketing.eml") is None


def test_the_notice_keeps_the_message_id_for_exactly_once_handling() -> None:
    notice = _read("telnyx-02-foc-date-confirmed.eml")
    assert notice is not None
    assert notice.message_id and notice.message_id.endswith("@notify.telnyx.com>")


def test_requested_foc_date_is_not_taken_for_the_confirmed_one() -> None:
    submitted = _read("bandwidth-01-submitted.eml")
    foc = _read("bandwidth-02-foc.eml")
    assert submitted is not None and submitted.date is None
    assert foc is not None and foc.date == dt.date(2026, 12, 9)


def test_forwarded_notice_is_read_without_the_colleagues_signature_number() -> None:
    notice = _read("telnyx-06-forwarded-pending-order.eml")
    assert notice is not None
    assert notice.partner == "Telnyx"
    assert "+16789203318" not in notice.numbers


def test_partner_toll_free_support_line_is_not_a_ported_number() -> None:
    body = (
        "Porting order 6f1d2c3b-8a4e-4b7d-9c2f-1e3a5b7d9f02\nStatus changed to: Ported\n"
        "Phone numbers: +14165992200\nCall us at +1 (888) 908-9457."
    )
    notice = read_notice(_message("porting@telnyx.com", "Porting order update", body))
    assert notice is not None
    assert notice.numbers == ("+14165992200",)


def test_customer_mail_that_mentions_a_partner_is_not_a_notice() -> None:
    body = (
        "Hi, our Twilio port-in request KW3f9c2a7e1b4d4c8f9a6e2b1d0c5f7a31 has been "
        "completed, thanks!"
    )
    assert read_notice(_message("dana@acmerealtytx.com", "Re: port", body)) is None


def test_partner_mail_without_a_status_is_not_a_notice() -> None:
    body = "Your port-in request KW3f9c2a7e1b4d4c8f9a6e2b1d0c5f7a31: please rate our support."
    assert read_notice(_message("no-reply@twilio.com", "How did we do?", body)) is None


def test_a_partner_subdomain_sender_counts_but_a_lookalike_domain_does_not() -> None:
    body = "Port-in request KW3f9c2a7e1b4d4c8f9a6e2b1d0c5f7a31 has been completed."
    assert read_notice(_message("porting@mail.twilio.com", "Port-in update", body)) is not None
    assert read_notice(_message("porting@eviltwilio.com", "Port-in update", body)) is None


def test_rejection_without_stated_reason_is_other() -> None:
    body = "Port-in request KW3f9c2a7e1b4d4c8f9a6e2b1d0c5f7a31 was rejected by the carrier."
    notice = read_notice(_message("no-reply@twilio.com", "Port-in update", body))
    assert notice is not None
    assert notice.kind == "rejected"
    assert notice.reason is None and notice.reason_codes == ("other",)


@pytest.mark.parametrize(
    ("words", "codes"),
    [
        ("PIN/passcode invalid", ("wrong_pin",)),
        ("Incorrect account password", ("wrong_pin",)),
        ("Subscriber name mismatch", ("name_mismatch",)),
        ("End user name does not match", ("name_mismatch",)),
        ("Address mismatch", ("address_mismatch",)),
        ("Zip code does not match CSR", ("address_mismatch",)),
        ("BTN does not match", ("btn_mismatch",)),
        ("Billing telephone number is incorrect", ("btn_mismatch",)),
        ("Account number invalid", ("account_number_mismatch",)),
        ("LOA signer is not an authorized user", ("unauthorised_requester",)),
        ("There is a pending order on this number", ("pending_order",)),
        ("Number is not portable", ("number_not_portable",)),
        ("Account number and PIN do not match", ("account_number_mismatch", "wrong_pin")),
        ("wrong_pin", ("wrong_pin",)),
        ("Losing carrier system outage", ("other",)),
    ],
)
def test_reason_words_get_their_code(words: str, codes: tuple[str, ...]) -> None:
    assert classify_reason(words) == codes


def test_partner_reject_codes_count_without_words() -> None:
    bandwidth = next(p for p in default_patterns().partners if p.name == "Bandwidth")
    assert classify_reason("Error 7518", reject_codes=bandwidth.reject_codes) == (
        "address_mismatch",
    )


_MINIMAL = """
[[partner]]
name = "Acme Telecom"
senders = ["lnp@acmetel.example"]
order_id = ['ticket (AT-\\d+)']
[[partner.status]]
kind = "foc"
status = "firm order commitment"
patterns = ['firm order commitment']
"""


def test_patterns_can_be_replaced_by_a_deployments_own_file() -> None:
    patterns = load_patterns(_MINIMAL)
    body = "Firm order commitment for ticket AT-5521: numbers (512) 476-2210."
    notice = read_notice(_message("lnp@acmetel.example", "FOC", body), patterns)
    assert notice is not None
    assert (notice.partner, notice.kind, notice.order_id) == ("Acme Telecom", "foc", "AT-5521")
    assert read_notice(_message("no-reply@twilio.com", "x", body), patterns) is None


@pytest.mark.parametrize(
    ("broken", "says"),
    [
        ('[[partner]]\nname = "X"\nsenders = []\n', "senders"),
        (_MINIMAL.replace('kind = "foc"', 'kind = "done"'), "kind must be one of"),
        (_MINIMAL.replace("['firm order commitment']", "['(unclosed']"), "bad pattern"),
        (_MINIMAL.replace("(AT-\\d+)", "AT"), "needs a group"),
        (_MINIMAL + '[partner.reject_codes]\n"1" = "bad_pin"\n', "unknown reason code"),
        ("not toml [", "not valid TOML"),
        ("", r"no \[\[partner\]\]"),
    ],
)
def test_broken_patterns_are_refused_with_a_clear_message(broken: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        load_patterns(broken)


def test_packaged_patterns_load() -> None:
    names = [p.name for p in default_patterns().partners]
    assert names == ["Twilio", "Telnyx", "Bandwidth"]


_ORDER_BODY = "Port-in request KW3f9c2a7e1b4d4c8f9a6e2b1d0c5f7a31 has been completed."


def _auth(*values: str) -> tuple[tuple[str, str], ...]:
    return tuple(("Authentication-Results", v) for v in values)


def test_only_our_servers_topmost_authentication_verdict_counts() -> None:
    ours = (
        "mx.lofty.com; dkim=none; spf=fail smtp.mailfrom=twilio.com; "
        "dmarc=fail header.from=twilio.com"
    )
    forged = "mx.twilio.com; dkim=pass header.d=twilio.com; dmarc=pass header.from=twilio.com"
    spoof = _message(
        "no-reply@twilio.com", "Port-in update", _ORDER_BODY, headers=_auth(ours, forged)
    )
    notice = read_notice(spoof)
    assert notice is not None and notice.authenticated is False


def test_dkim_pass_for_another_domain_does_not_vouch_for_the_partner() -> None:
    other = "mx.lofty.com; dkim=pass header.d=mailer.example; dmarc=none"
    notice = read_notice(
        _message("no-reply@twilio.com", "Port-in update", _ORDER_BODY, headers=_auth(other))
    )
    assert notice is not None and notice.authenticated is None


def test_notice_forwarded_as_an_attachment_is_read_from_the_attachment() -> None:
    inner = email.message_from_bytes(
        (NOTICES / "telnyx-03-exception-address.eml").read_bytes(), policy=email.policy.default
    )
    outer = EmailMessage(policy=email.policy.default)
    outer["From"] = "Kyle Brennan <kyle.brennan@lofty.com>"
    outer["To"] = "support@lofty.com"
    outer["Subject"] = "Fwd: Telnyx exception"
    outer.set_content("See attached, can someone call them?\nKyle\nM: (678) 920-3318\n")
    outer.add_attachment(inner)
    notice = read_notice(parse_message(outer.as_bytes()))
    assert notice is not None
    assert (notice.partner, notice.kind, notice.reason_codes) == (
        "Telnyx",
        "rejected",
        ("address_mismatch",),
    )
    assert "+16789203318" not in notice.numbers
