"""Number lists: header mapping, tables without a header, CSV dialects, XLSX cell text."""

from __future__ import annotations

import io

import openpyxl
import pytest

from parsers.errors import DocumentError
from parsers.model import NumberEntry
from parsers.numberlist import read_csv, read_text_table, read_xlsx, rows_from_table


def test_seed_header_maps_number_pin_name_and_email() -> None:
    table = rows_from_table(
        [
            ["Phone Number", "PIN", "Agent Name", "Agent Email (in Lofty)"],
            ["(512) 555-0101", "0427", "Mickey Mouse", "mmouse@acme.example"],
        ]
    )
    assert table is not None
    assert table.rows == (
        NumberEntry("(512) 555-0101", "0427", "Mickey Mouse", "mmouse@acme.example"),
    )


def test_other_header_words_are_understood() -> None:
    table = rows_from_table(
        [
            ["DID", "First Name", "Last Name", "User Email", "Port-out PIN"],
            ["5125550101", "Jane", "Doe", "jane@acme.example", "123456"],
        ]
    )
    assert table is not None
    assert table.rows == (NumberEntry("5125550101", "123456", "Jane Doe", "jane@acme.example"),)


@pytest.mark.parametrize(
    ("header", "role"),
    [
        ("TN", "number"),
        ("Telephone", "number"),
        ("Line", "number"),
        ("Number", "number"),
        ("Passcode", "pin"),
        ("Assign to", "name"),
        ("User", "name"),
        ("Name", "name"),
        ("Email", "email"),
    ],
)
def test_single_header_words(header: str, role: str) -> None:
    other = "Number" if role != "number" else "Name"
    value = {"number": "5125550101", "pin": "0427", "name": "Jane Doe", "email": "j@acme.example"}
    table = rows_from_table(
        [[other, header], ["5125550101" if role != "number" else "Jane Doe", value[role]]]
    )
    assert table is not None
    entry = table.rows[0]
    got = {
        "number": entry.raw,
        "pin": entry.pin,
        "name": entry.assignee_name,
        "email": entry.assignee_email,
    }[role]
    assert got == value[role]


def test_table_without_header_is_read_from_its_content() -> None:
    table = rows_from_table(
        [
            ["512-555-0101", "0427", "Mickey Mouse", "mm@acme.example"],
            ["512-555-0102", "", "Minnie Mouse", ""],
        ]
    )
    assert table is not None
    assert table.rows[0] == NumberEntry("512-555-0101", "0427", "Mickey Mouse", "mm@acme.example")
    assert table.rows[1] == NumberEntry("512-555-0102", None, "Minnie Mouse", None)


def test_blank_total_and_notes_rows_are_skipped() -> None:
    table = rows_from_table(
        [
            ["Number", "PIN"],
            ["5125550101", "1111"],
            ["", ""],
            ["Total", "1"],
            ["Notes: please port on Friday", ""],
        ]
    )
    assert table is not None
    assert [e.raw for e in table.rows] == ["5125550101"]


def test_a_table_without_numbers_is_not_a_number_list() -> None:
    assert rows_from_table([["Name", "City"], ["Jane", "Austin"]]) is None
    assert rows_from_table([]) is None


def test_csv_with_bom_and_semicolons() -> None:
    data = "\ufeffTN;Port-out PIN;Assign to\n5125550101;0427;Jane Doe\n".encode()
    assert read_csv(data).rows == (NumberEntry("5125550101", "0427", "Jane Doe", None),)


def test_csv_in_utf16_with_tabs() -> None:
    data = "Number\tName\n5125550101\tJosé Núñez\n".encode("utf-16")
    assert read_csv(data).rows == (NumberEntry("5125550101", None, "José Núñez", None),)


def test_latin1_csv_with_quoted_commas_and_pipes() -> None:
    assert read_csv('Number,Name\n5125550101,"Núñez, José"\n'.encode("latin-1")).rows[0] == (
        NumberEntry("5125550101", None, "Núñez, José", None)
    )
    assert read_csv(b"Phone|PIN\n5125550101|0042\n").rows[0].pin == "0042"


def test_csv_without_number_column_says_why() -> None:
    with pytest.raises(DocumentError, match="no column of phone numbers"):
        read_csv(b"name,city\nJane,Austin\n")


def test_text_table_aligned_with_spaces() -> None:
    table = read_text_table("Number          Name\n512 555 0101    Jane Doe\n")
    assert table is not None
    assert table.rows == (NumberEntry("512 555 0101", None, "Jane Doe", None),)


def xlsx(
    rows: list[list[object]], formats: dict[str, str] | None = None, title_row: bool = False
) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    if title_row:
        sheet.append(["Numbers to port for Acme Realty"])
    for row in rows:
        sheet.append(row)
    for ref, fmt in (formats or {}).items():
        sheet[ref].number_format = fmt
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsx_pin_stored_as_number_keeps_its_leading_zero() -> None:
    data = xlsx(
        [["Phone Number", "PIN", "Agent Name"], [5125550101, 427, "Mickey Mouse"]], {"B2": "0000"}
    )
    assert read_xlsx(data).rows == (NumberEntry("5125550101", "0427", "Mickey Mouse", None),)


def test_xlsx_phone_stored_as_float_is_not_scientific() -> None:
    data = xlsx([["Number", "PIN"], [5125550101.0, "0042"]])
    assert read_xlsx(data).rows == (NumberEntry("5125550101", "0042", None, None),)


def test_xlsx_header_below_a_title_row() -> None:
    data = xlsx([["DID", "User"], ["(512) 555-0101", "Jane"]], title_row=True)
    assert read_xlsx(data).rows == (NumberEntry("(512) 555-0101", None, "Jane", None),)


def test_corrupt_xlsx_is_a_document_error() -> None:
    with pytest.raises(DocumentError, match="damaged"):
        read_xlsx(b"PK\x03\x04 this is not really a workbook")
    with pytest.raises(DocumentError, match="old Excel"):
        read_xlsx(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)


def test_a_spreadsheet_that_unpacks_to_gigabytes_is_refused_quickly() -> None:
    import io
    import zipfile

    from parsers.errors import LimitExceeded

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/sharedStrings.xml", b"<sst>" + b"A" * (200 * 1024 * 1024) + b"</sst>")
    data = buffer.getvalue()
    assert len(data) < 1024 * 1024
    with pytest.raises(LimitExceeded, match="unpacks to 200 MB"):
        read_xlsx(data)


def test_a_french_header_names_its_columns() -> None:
    from parsers.numberlist import rows_from_table

    found = rows_from_table(
        [
            ["Numéro", "Utilisateur", "Courriel", "NIP"],
            ["(514) 683-4608", "Isabelle Gauthier", "isabelle@ex.ca", "8275"],
        ]
    )
    assert found is not None
    assert [(e.assignee_name, e.assignee_email, e.pin) for e in found.rows] == [
        ("Isabelle Gauthier", "isabelle@ex.ca", "8275")
    ]


def test_a_first_last_heading_is_the_user_column_and_a_labelled_pin_cell_is_a_pin() -> None:
    from parsers.numberlist import rows_from_table

    found = rows_from_table(
        [
            ["TN", "First Last", "Email Address", "PIN"],
            ["+1 916 528 6753", "Olivia Ahmed", "", "PIN: 8353"],
        ]
    )
    assert found is not None
    assert [(e.assignee_name, e.pin) for e in found.rows] == [("Olivia Ahmed", "8353")]
