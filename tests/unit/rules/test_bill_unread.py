"""Unread is not a mismatch: what a readable bill did not show is `bill_field_unread`.

The contract: a mismatch code is raised only when both values were read; an address is
compared part by part where both sides have that part; what could not be found on a
readable bill is `bill_field_unread`, never `ok` and never a mismatch.
"""

from __future__ import annotations

from typing import Any

import pytest

from parsers.address import parse_address
from parsers.model import Address
from tests.unit.rules.test_rules import _assess, _bill, _codes, _loa, _statements

MISMATCHES = {"bill_name_mismatch", "bill_account_mismatch", "bill_address_mismatch"}
BILL_ADDRESS = parse_address("123 MAIN ST STE 200\nAUSTIN TX 78701-1234")
assert BILL_ADDRESS is not None


def _with_address(**parts: str | None) -> Address:
    assert BILL_ADDRESS is not None
    return Address(
        street=parts.get("street", BILL_ADDRESS.street),
        city=parts.get("city", BILL_ADDRESS.city),
        state=parts.get("state", BILL_ADDRESS.state),
        zip=parts.get("zip", BILL_ADDRESS.zip),
    )


UNREAD_FIELDS: dict[str, dict[str, Any]] = {
    "account name": {"account_name": None},
    "account number": {"account_number": None},
    "service address": {"service_address": None},
    "street": {"service_address": _with_address(street=None)},
    "city": {"service_address": _with_address(city=None)},
    "state": {"service_address": _with_address(state=None)},
    "ZIP": {"service_address": _with_address(zip=None)},
    "suite or unit": {"service_address": _with_address(street="123 MAIN ST")},
}


@pytest.mark.parametrize("field", list(UNREAD_FIELDS))
def test_a_field_the_bill_did_not_show_is_unread_not_a_mismatch(field: str) -> None:
    out = _assess(docs=(_bill(**UNREAD_FIELDS[field]), _loa()))
    codes = {code for code, _ in _codes(out)}
    assert codes == {"bill_field_unread"}
    assert out["checklist"]["bill"] == "problem"
    assert out["ready"] is False
    detail = next(p["detail"] for p in out["problems"] if p["code"] == "bill_field_unread")
    assert field in detail


@pytest.mark.parametrize("field", list(UNREAD_FIELDS))
def test_an_unread_field_never_lets_a_wrong_request_through(field: str) -> None:
    # The email's value differs from the bill's true one, but the bill's was not read:
    # the request must still not be called ready.
    wrong = _statements(
        account_name="Acme Realty Holdings LLC",
        account_number="999999999",
        service_address=parse_address("9 Elm St Ste 305, Dallas, TX 75201"),
    )
    out = _assess(wrong, docs=(_bill(**UNREAD_FIELDS[field]), _loa()))
    assert out["ready"] is False
    assert out["checklist"]["bill"] == "problem"


def test_a_partly_read_address_is_compared_only_where_both_sides_have_it() -> None:
    # City, state and ZIP read, street not: the city, state and ZIP agree, so no mismatch.
    out = _assess(docs=(_bill(service_address=_with_address(street=None)), _loa()))
    assert not {code for code, _ in _codes(out)} & MISMATCHES
    # ...and where a part both sides have differs, it is a mismatch.
    out = _assess(docs=(_bill(service_address=_with_address(street=None, city="DALLAS")), _loa()))
    assert {code for code, _ in _codes(out)} == {"bill_address_mismatch", "bill_field_unread"}


def test_a_different_unit_is_a_mismatch() -> None:
    stated = _statements(
        service_address=parse_address("123 Main Street, Suite 305, Austin, TX 78701")
    )
    out = _assess(
        stated, docs=(_bill(service_address=_with_address(street="123 MAIN ST STE 350")), _loa())
    )
    assert _codes(out) == [("bill_address_mismatch", None)]
    assert "suite or unit" in out["problems"][0]["detail"]


def test_a_unit_on_the_bill_that_the_request_leaves_out_is_a_mismatch() -> None:
    stated = _statements(service_address=parse_address("123 Main Street, Austin, TX 78701"))
    out = _assess(stated)
    assert _codes(out) == [("bill_address_mismatch", None)]


def test_the_btn_is_not_required_on_a_bill() -> None:
    out = _assess(docs=(_bill(billing_telephone_number=None), _loa()))
    assert out["ready"] is True


def test_an_unreadable_bill_stands_alone() -> None:
    from parsers.model import Document

    out = _assess(docs=(Document("bill.pdf", "bill", error="the PDF is encrypted"), _loa()))
    assert _codes(out) == [("bill_unreadable", None)]
