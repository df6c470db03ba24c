"""Partners word one event many ways: each notice of fixtures/carrier_notices/variants/
is read as the event it reports (kind, order, numbers, date, reason), scored as a whole.

Before the shared event words (parsers/data/carrier_notices.toml [[event]]), 6 of these
29 notices were read right (2 of them the two that are no notice at all)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from parsers.carrier_notice import CarrierNotice, read_notice, table_lines
from parsers.email import parse_message
from tests.conftest import ROOT

VARIANTS = ROOT / "fixtures" / "carrier_notices" / "variants"
EXPECTED: dict[str, Any] = json.loads((VARIANTS / "expected.json").read_text("utf-8"))


def _read(name: str) -> CarrierNotice | None:
    return read_notice(parse_message((VARIANTS / name).read_bytes()))


def _right(notice: CarrierNotice | None, want: dict[str, Any] | None) -> bool:
    if want is None:
        return notice is None
    return (
        notice is not None
        and notice.kind == want["kind"]
        and notice.order_id == want["order_id"]
        and sorted(notice.numbers) == sorted(want["numbers"])
        and (notice.date.isoformat() if notice.date else None) == want["date"]
        and list(notice.reason_codes) == want["reason_codes"]
        and (want["reason_has"] is None or want["reason_has"] in (notice.reason or ""))
    )


def test_every_variant_has_an_expectation() -> None:
    assert sorted(p.name for p in VARIANTS.glob("*.eml")) == sorted(EXPECTED)


def test_each_event_comes_in_at_least_three_wordings() -> None:
    kinds = [e["notice"]["kind"] for e in EXPECTED.values() if e["notice"]]
    for kind in ("submitted", "approved", "foc", "rejected", "completed", "cancelled"):
        assert kinds.count(kind) >= 3, kind


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_variant_reads_as_the_event_it_reports(name: str) -> None:
    assert _right(_read(name), EXPECTED[name]["notice"]), EXPECTED[name]["wording"]


def test_recognition_rate_over_the_variants(capsys: pytest.CaptureFixture[str]) -> None:
    right = sum(_right(_read(n), e["notice"]) for n, e in EXPECTED.items())
    with capsys.disabled():
        print(f"\nnotice variants read right: {right} of {len(EXPECTED)}")
    assert right == len(EXPECTED)


def test_twilio_port_date_confirmed_is_a_scheduled_port_not_a_request() -> None:
    notice = _read("tw-foc-port-date-confirmed.eml")
    assert notice is not None and notice.kind == "foc" and notice.partner == "Twilio"
    assert notice.status == "port date confirmed"


def test_a_reason_wrapped_by_the_mailer_is_read_whole() -> None:
    notice = _read("tw-rejected-not-accepted-wrapped.eml")
    assert notice is not None
    assert notice.reason == (
        "The port-out PIN provided for (303) 861-4401 does not match the "
        "losing carrier's records for this account"
    )


def test_a_table_reads_as_labels_and_values() -> None:
    text = "Order ID | Status | Confirmed Date\nabc | Confirmed | 2026-12-14\n\nPort date | Dec 10"
    assert table_lines(text).splitlines() == [
        "Order ID: abc",
        "Status: Confirmed",
        "Confirmed Date: 2026-12-14",
        "Port date: Dec 10",
    ]


def test_a_requested_foc_date_is_not_a_scheduled_port() -> None:
    notice = _read("bw-submitted-pending-review.eml")
    assert notice is not None and notice.kind == "submitted" and notice.date is None


def test_partner_mail_without_an_order_is_no_notice() -> None:
    assert _read("tw-not-holiday-freeze.eml") is None
    assert _read("bw-not-invoice.eml") is None
