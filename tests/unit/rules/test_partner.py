"""rules.partner: portability findings, the port-in order, partner statuses as stages."""

from __future__ import annotations

import datetime as dt

from rules.assessment import Assessment, assess
from rules.partner import (
    NumberStatus,
    Portability,
    PortInStatus,
    Refused,
    customer_type,
    move_for,
    port_in_order,
    target_date,
    with_portability,
)
from rules.policy import Policy
from rules.request import build_request
from rules.stages import Stage
from tests.unit.rules.test_rules import TODAY, _bill, _loa, _statements, _thread


def ready() -> Assessment:
    a = assess(build_request(_thread((_statements(), (_bill(), _loa())))), Policy(), TODAY)
    assert a.ready
    return a


def test_a_number_the_partner_cannot_port_is_a_problem_with_its_reason() -> None:
    a = with_portability(
        ready(),
        {
            "+15125550101": Portability(
                "+15125550101", False, "LOCAL", False, "UNSUPPORTED", 22130
            ),
            "+15125550102": Portability("+15125550102", True, "LOCAL"),
        },
        {},
        "Twilio",
    )
    assert not a.ready
    assert [(p.code, p.number) for p in a.problems] == [("partner_not_portable", "+15125550101")]
    assert "unsupported" in a.problems[0].detail
    assert any("NOT portable: UNSUPPORTED (code 22130)" in n for n in a.notes)
    assert any("+15125550102 portable (local)" in n for n in a.notes)


def test_a_number_already_being_ported_is_told() -> None:
    a = with_portability(
        ready(),
        {
            "+15125550101": Portability(
                "+15125550101", False, "LOCAL", False, "ALREADY_IN_PROGRESS", 22137
            )
        },
        {},
    )
    assert [p.code for p in a.problems] == ["partner_port_in_progress"]


def test_pin_and_account_are_a_problem_only_when_missing() -> None:
    needs = {"+15125550101": Portability("+15125550101", True, "MOBILE", True)}
    assert with_portability(ready(), needs, {}).ready  # both given
    no_account = assess(
        build_request(
            _thread((_statements(account_number=None), (_bill(account_number=None), _loa())))
        ),
        Policy(),
        TODAY,
    )
    found = with_portability(no_account, needs, {})
    assert "partner_pin_and_account_required" in [p.code for p in found.problems]


def test_an_outage_leaves_the_check_pending_without_a_problem() -> None:
    a = with_portability(ready(), {}, {"+15125550101": "HTTP 503"}, "Twilio")
    assert a.ready and a.problems == ()
    assert any("Portability check pending" in n and "HTTP 503" in n for n in a.notes)


def test_the_target_date_is_a_business_day_at_least_seven_days_out() -> None:
    assert target_date(dt.date(2026, 12, 4)) == dt.date(2026, 12, 11)  # Friday -> Friday
    assert target_date(dt.date(2026, 12, 6)) == dt.date(2026, 12, 14)  # Sunday -> Monday
    assert target_date(dt.date(2026, 12, 4), holidays={dt.date(2026, 12, 11)}) == dt.date(
        2026, 12, 14
    )


def test_the_order_carries_the_assessment() -> None:
    order = port_in_order(
        ready(),
        reference="portbot:r1:1",
        today=dt.date(2026, 12, 4),
        representative="Pat Owner",
        representative_email="owner@acme.example",
        notification_emails=["Ops@example.com", "ops@example.com"],
    )
    assert not isinstance(order, Refused)
    assert order.customer_name == "Acme Realty LLC" and order.customer_type == "Business"
    assert order.numbers == (("+15125550101", "4821"), ("+15125550102", "0427"))
    assert order.account_telephone_number == "+15125550100"
    assert (order.address.city, order.address.zip, order.address.country) == (
        "Austin",
        "78701",
        "US",
    )
    assert order.notification_emails == ("ops@example.com",)
    assert order.target_date == dt.date(2026, 12, 11)


def test_a_request_that_is_not_ready_is_refused_with_the_reason() -> None:
    not_ready = assess(build_request(_thread((_statements(), (_bill(),)))), Policy(), TODAY)
    refused = port_in_order(
        not_ready,
        reference="r",
        today=TODAY,
        representative="Pat",
        representative_email="p@x.example",
    )
    assert isinstance(refused, Refused) and "loa missing" in str(refused)


def test_customer_type_reads_the_name() -> None:
    assert customer_type("ACME REALTY, LLC") == "Business"
    assert customer_type("Jane Q. Public") == "Individual"


def status(*numbers: NumberStatus) -> PortInStatus:
    return PortInStatus("KW" + "a" * 32, "x", numbers)


def test_partner_statuses_map_onto_the_stage_model() -> None:
    n = "+15125550101"
    assert move_for(status(NumberStatus(n, "in_review"))).stage == Stage.SUBMITTED
    wait = move_for(status(NumberStatus(n, "waiting_for_signature")))
    assert wait.stage == Stage.SUBMITTED and "signed" in wait.note
    rejected = move_for(
        status(NumberStatus(n, "port_rejected", "The PIN provided does not match", "6013"))
    )
    assert rejected.stage == Stage.REJECTED and "PIN" in (rejected.reason or "")
    day = dt.date(2026, 12, 14)
    assert move_for(status(NumberStatus(n, "port_pending", port_date=day))) == move_for(
        status(NumberStatus(n, "port_pending", port_date=day))
    )
    assert move_for(status(NumberStatus(n, "port_pending", port_date=day))).date == day
    assert move_for(status(NumberStatus(n, "completed", port_date=day))).stage == Stage.COMPLETED
    assert move_for(status(NumberStatus(n, "canceled"))).stage == Stage.CANCELLED
    mixed = status(
        NumberStatus(n, "port_pending", port_date=day),
        NumberStatus("+15125550102", "port_submitted"),
    )
    assert move_for(mixed).stage == Stage.SUBMITTED
