"""read_loa / loa_score: numbers to port, customer name, signature and its date."""

from __future__ import annotations

import datetime as dt

from parsers.loa import loa_score, read_loa
from parsers.model import LoaFields
from parsers.text import DocText, PageText

FORM = """Nimbus Voice  |  support 1-888-555-0199  |  ports@nimbus.example
LETTER OF AUTHORIZATION (LOA)
Business Name: Acme Realty LLC
Authorized Person: Jane Doe
Current Carrier: AT&T
Account Number: 287654321
Billing Telephone Number (BTN): (512) 555-0100
Service Address: 123 Main St Ste 200, Austin, TX 78701
Telephone numbers to be ported:
(512) 555-0101
(512) 555-0102
512.555.0103
I authorize Nimbus Voice to act as my agent to port the numbers listed above.
Authorized Signature: {signature}                    Date: {date}
Print Name: Jane Doe        Title: Office Manager
Questions? Call us at 1-888-555-0199
"""

UNSIGNED = FORM.format(signature="______________________", date="___________")


def loa(
    *pages: str, field: bool = False, ink: bool = False, ocr_ink: bool | None = None
) -> LoaFields:
    doc = DocText(tuple(PageText(p, signature_ink=ocr_ink) for p in pages))
    return read_loa(doc, signature_field_filled=field, signature_ink=ink)


def test_empty_signature_line_is_unsigned() -> None:
    fields = loa(UNSIGNED)
    assert not fields.signed
    assert fields.signed_date is None


def test_typed_slash_s_signature_counts() -> None:
    fields = loa(FORM.format(signature="/s/ Jane Doe", date="11/20/2026"))
    assert fields.signed
    assert fields.signed_date == dt.date(2026, 11, 20)


def test_name_typed_on_the_signature_line_counts() -> None:
    fields = loa(FORM.format(signature="Jane Doe", date="November 20, 2026"))
    assert fields.signed
    assert fields.signed_date == dt.date(2026, 11, 20)


def test_filled_signature_field_counts() -> None:
    assert loa(UNSIGNED, field=True).signed


def test_ink_in_the_signature_area_counts() -> None:
    assert loa(UNSIGNED, ink=True).signed


def test_ink_found_by_ocr_on_a_scan_counts() -> None:
    assert loa(UNSIGNED, ocr_ink=True).signed
    assert not loa(UNSIGNED, ocr_ink=False).signed


def test_docusign_certificate_of_completion_counts() -> None:
    certificate = (
        "Certificate Of Completion\nEnvelope Id: 0A1B2C3D\n"
        "Signer Events    Signature    Timestamp\n"
        "Jane Doe    Signed: 11/20/2026 | 10:31 AM\n"
    )
    fields = loa(UNSIGNED.replace("Date: ___________", ""), certificate)
    assert fields.signed
    assert fields.signed_date == dt.date(2026, 11, 20)


def test_dropbox_sign_audit_trail_counts() -> None:
    trail = "Audit trail\nTitle: LOA\nSigned by Jane Doe (jane@acme.example)\n11 / 20 / 2026\n"
    assert loa(UNSIGNED, trail).signed


def test_numbers_listed_to_port_are_read_as_e164_without_btn_or_support_lines() -> None:
    assert loa(UNSIGNED).numbers == ("+15125550101", "+15125550102", "+15125550103")


def test_unparseable_listed_number_is_kept_raw() -> None:
    page = "Letter of Agency\nNumbers to port:\n(512) 555-0101\n(123) 456-7890\n"
    assert loa(page).numbers == ("+15125550101", "(123) 456-7890")


def test_business_name_wins_over_the_authorised_person() -> None:
    assert loa(UNSIGNED).account_name == "Acme Realty LLC"


def test_name_as_it_appears_on_the_bill_wins_over_the_customer_person() -> None:
    page = (
        "Letter of Agency\nCustomer Name: Jane Doe\nName as it appears on bill: ACME REALTY LLC\n"
        "Phone Number(s): 512-555-0101, 512-555-0102\n"
        "______________________________        ____________\n"
        "Signature                                Date\n"
    )
    fields = loa(page)
    assert fields.account_name == "ACME REALTY LLC"
    assert fields.numbers == ("+15125550101", "+15125550102")
    assert not fields.signed


def test_date_written_above_a_date_label_under_the_line() -> None:
    page = (
        "Letter of Authorization\nBusiness Name: Acme Realty LLC\nNumbers to port: 512-555-0101\n"
        "/s/ Jane Doe                             11/20/2026\n"
        "Signature                                Date\n"
    )
    fields = loa(page)
    assert fields.signed
    assert fields.signed_date == dt.date(2026, 11, 20)


def test_loa_scores_above_a_bill() -> None:
    bill = DocText((PageText("Bill Date: 11/02/2026\nAmount Due: $10\nAccount Number: 1234"),))
    assert loa_score(DocText((PageText(UNSIGNED),))) >= 8
    assert loa_score(bill) < 4


def test_label_with_a_note_in_parentheses_and_value_across_the_page() -> None:
    page = (
        "LETTER OF AUTHORIZATION (LOA)\n"
        "Customer / Business Name (as shown on bill):           Island Breeze Travel Inc.\n"
        "Billing Telephone Number (BTN):                        (305) 372-9100\n"
        "Telephone numbers to be ported:\n"
        "    1. (305) 372-9100                     2. (305) 372-9101\n"
        "Authorized Signature:      /s/ Nate Sorensen                    Date:   11/07/2026\n"
        "Printed Name:             Nate Sorensen\n"
    )
    fields = loa(page)
    assert fields.account_name == "Island Breeze Travel Inc."
    assert fields.numbers == ("+13053729100", "+13053729101")
    assert fields.signed
    assert fields.signed_date == dt.date(2026, 11, 7)


def test_account_number_that_looks_like_a_phone_number_is_not_listed() -> None:
    page = (
        "Letter of Authorization\n"
        "I authorize the transfer of the telephone numbers listed below from my current carrier.\n"
        "Account Name:            Blue Ridge Title & Escrow Inc\n"
        "Account Number:          3365552917\n"
        "Telephone Numbers to Port\n"
        "   (336) 274-0800\n"
        "   (336) 274-0804\n"
        "Authorized Signature:      /s/ Hank Dobbs          Date:   11/19/2026\n"
    )
    assert loa(page).numbers == ("+13362740800", "+13362740804")
