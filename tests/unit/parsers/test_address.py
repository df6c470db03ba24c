"""Service addresses: USPS normalisation, PO Boxes, Canadian postal codes."""

from __future__ import annotations

import pytest

from parsers.address import address_key, parse_address


def _key(text: str) -> tuple[str, str, str, str]:
    address = parse_address(text)
    assert address is not None, text
    return address_key(address)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "123 Main Street, Suite 200, Austin, TX 78701",
            "123 MAIN ST STE 200\nAUSTIN TX 78701-1234",
        ),
        (
            "456 North Lamar Boulevard Ste. 3, Austin, Texas 78703",
            "456 N Lamar Blvd #3, Austin TX 78703",
        ),
        (
            "500 W. 5th St., Floor 12, Austin TX 78701",
            "500 West 5th Street Fl 12, Austin, TX 78701",
        ),
        ("12 Rue Principale, Montréal, QC H2X 1Y4", "12 RUE PRINCIPALE\nMONTREAL QC H2X1Y4"),
        (
            "100 King Street West, Suite 5600\nToronto, Ontario M5X1C9",
            "100 King St W Ste 5600, Toronto, ON M5X 1C9",
        ),
    ],
)
def test_the_same_address_written_differently_is_equal(a: str, b: str) -> None:
    assert _key(a) == _key(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("123 Main St Ste 200, Austin, TX 78701", "123 Main St Ste 210, Austin, TX 78701"),
        ("123 Main St, Austin, TX 78701", "123 Main St, Austin, TX 78702"),
        ("123 Main St, Austin, TX 78701", "125 Main St, Austin, TX 78701"),
        ("12 Rue Principale, Montreal, QC H2X 1Y4", "12 Rue Principale, Montreal, QC H2X 1Y5"),
    ],
)
def test_a_different_unit_number_or_zip_is_a_different_address(a: str, b: str) -> None:
    assert _key(a) != _key(b)


def test_the_writers_casing_is_kept_and_suffixes_abbreviated() -> None:
    address = parse_address("2100 McKinney Avenue, Suite 1800, Dallas, Texas 75201")
    assert address is not None
    assert (address.street, address.city, address.state, address.zip) == (
        "2100 McKinney Ave Ste 1800",
        "Dallas",
        "TX",
        "75201",
    )


@pytest.mark.parametrize(
    "text",
    [
        "PO Box 4567, Carol Stream, IL 60197-4567",
        "P.O. Box 12\nAustin, TX 78701",
        "Post Office Box 9, Reno NV 89501",
        "PMB 123, 500 Main St, Austin TX 78701",
    ],
)
def test_po_boxes_are_recognised(text: str) -> None:
    address = parse_address(text)
    assert address is not None and address.po_box


@pytest.mark.parametrize("text", ["hello world", "Call me at 512-555-0101", ""])
def test_text_that_is_no_address_gives_none(text: str) -> None:
    assert parse_address(text) is None


@pytest.mark.parametrize(
    ("text", "street", "city"),
    [
        ("500 W 2nd St Ste 300 Austin TX 78701", "500 W 2nd St Ste 300", "Austin"),
        ("4208 Six Forks Rd Raleigh NC 27609", "4208 Six Forks Rd", "Raleigh"),
        ("100 N Main St Salt Lake City UT 84111", "100 N Main St", "Salt Lake City"),
    ],
)
def test_an_address_without_commas_is_split_into_street_and_city(
    text: str, street: str, city: str
) -> None:
    address = parse_address(text)
    assert address is not None
    assert (address.street, address.city) == (street, city)


def test_a_postal_code_with_an_ocr_slip_is_read_as_printed() -> None:
    found = parse_address(["6771 JEFFERSON CT", "#1926", "EDMONTON, AB T5J ON3"])
    assert found is not None and (found.city, found.state, found.zip) == (
        "EDMONTON",
        "AB",
        "T5J 0N3",
    )


@pytest.mark.parametrize(
    "text", ["9473, Cedar Place Albuquerque, NM 87102", "9473 Cedar Place, Albuquerque, NM 87102"]
)
def test_the_street_ends_at_its_type_word_when_no_comma_says_so(text: str) -> None:
    found = parse_address(text)
    assert found is not None and (found.street, found.city) == ("9473 Cedar Pl", "Albuquerque")


def test_quebec_writes_the_province_in_parentheses() -> None:
    found = parse_address(["636 RUE DE L'ÉGLISE, BUREAU 212", "GATINEAU (QUÉBEC) J8X 3X7"])
    assert found is not None and (found.city, found.state, found.zip) == (
        "GATINEAU",
        "QC",
        "J8X 3X7",
    )
