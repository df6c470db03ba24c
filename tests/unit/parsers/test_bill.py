"""read_bill / bill_score on bills and CSRs as carriers lay them out."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas

from parsers.bill import bill_score, read_bill
from parsers.dates import find_dates, parse_date
from parsers.limits import Limits
from parsers.model import BillFields
from parsers.pdf import read_pdf
from parsers.text import DocText, PageText


def text_doc(text: str) -> DocText:
    return DocText((PageText(text),))


def att_bill_pdf() -> bytes:
    """An AT&T-style bill: due date printed above the bill date, a mailing PO Box, the
    service address, the carrier's 1-800 number, other lines and a remit-to coupon."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=letter)
    c.setFont("Helvetica-Bold", 14)
    c.drawString(40, 750, "AT&T")
    c.setFont("Helvetica", 9)
    c.drawString(40, 735, "Questions? Call 1-800-288-2020 or visit att.com/business")
    c.drawString(380, 750, "Payment Due: Nov 27, 2026")
    c.drawString(380, 736, "Amount Due: $245.18")
    c.drawString(380, 722, "Issue Date: Nov 02, 2026")
    c.drawString(380, 708, "Account Number: 287654321")
    c.drawString(380, 694, "Billing period: Oct 3 - Nov 2, 2026")
    c.drawString(40, 690, "ACME REALTY LLC")
    c.drawString(40, 678, "PO BOX 1200")
    c.drawString(40, 666, "AUSTIN TX 78767")
    c.drawString(40, 630, "Service Address")
    c.drawString(40, 618, "123 MAIN STREET SUITE 200")
    c.drawString(40, 606, "AUSTIN, TX 78701")
    c.drawString(300, 630, "Billing Telephone Number: (512) 555-0100")
    c.drawString(40, 570, "Lines on this account")
    for i, number in enumerate(["512-555-0101", "512-555-0102", "512-555-0103"]):
        c.drawString(60, 556 - i * 12, number)
        c.drawString(250, 556 - i * 12, "Business Unlimited")
        c.drawString(450, 556 - i * 12, "$45.00")
    c.drawString(40, 480, "Detach and return this portion with your payment")
    c.drawString(40, 466, "Remit to:")
    c.drawString(40, 454, "AT&T")
    c.drawString(40, 442, "PO Box 5019")
    c.drawString(40, 430, "Carol Stream, IL 60197-5019")
    c.showPage()
    c.drawString(40, 750, "Page 2 of 2   Account Number: 287654321")
    for i in range(30):
        detail = f"Call detail {i}   11/{i % 28 + 1:02d}/2026   (512) 555-01{i:02d}"
        c.drawString(40, 730 - i * 12, detail)
    c.save()
    return buf.getvalue()


def att_fields() -> BillFields:
    return read_bill(read_pdf(att_bill_pdf(), Limits()).text)


def test_due_date_is_not_taken_for_the_bill_date() -> None:
    assert att_fields().bill_date == dt.date(2026, 11, 2)


def test_account_number_is_kept_as_printed() -> None:
    assert att_fields().account_number == "287654321"


def test_service_address_block_wins_over_the_mailing_po_box() -> None:
    address = att_fields().service_address
    assert address is not None
    assert (address.street, address.city, address.state, address.zip) == (
        "123 MAIN ST STE 200",
        "AUSTIN",
        "TX",
        "78701",
    )
    assert not address.po_box


def test_billing_telephone_number_is_the_labelled_one_not_the_carriers_or_other_lines() -> None:
    assert att_fields().billing_telephone_number == "+15125550100"


def test_customer_name_over_the_address_is_the_account_name() -> None:
    assert att_fields().account_name == "ACME REALTY LLC"


def test_billing_period_end_is_not_the_bill_date() -> None:
    fields = read_bill(
        text_doc(
            "Statement period 10/03/2026 - 11/02/2026\nPlease pay by 11/20/2026\nAccount #: 42-1234\n"
        )
    )
    assert fields.bill_date is None
    assert fields.account_number == "42-1234"


def test_bare_due_date_line_is_skipped_for_a_later_date_line() -> None:
    fields = read_bill(text_doc("Payment Due Date: 11/20/2026\nDate: 11/02/2026\n"))
    assert fields.bill_date == dt.date(2026, 11, 2)


def test_header_row_over_values_row_reads_the_right_columns() -> None:
    text = "Account Number Due Date Bill Date\n287654321 11/27/2026 11/02/2026\n"
    fields = read_bill(text_doc(text))
    assert fields.account_number == "287654321"
    assert fields.bill_date == dt.date(2026, 11, 2)


def test_verizon_style_bill_without_service_label_uses_the_customer_block() -> None:
    fields = read_bill(
        text_doc(
            "verizon\nBill Date November 2, 2026\nAccount Number 0123456789-00001\n"
            "Due Date Nov 27, 2026\nTotal Amount Due $312.40\nACME REALTY LLC\n"
            "123 MAIN STREET STE 200\nAUSTIN TX 78701-1234\nQuestions? Call 1-800-922-0204\n"
            "Pay by mail:\nVerizon Wireless\nPO Box 660108\nDallas TX 75266-0108\n"
        )
    )
    assert fields.bill_date == dt.date(2026, 11, 2)
    assert fields.account_number == "0123456789-00001"
    assert fields.account_name == "ACME REALTY LLC"
    assert fields.service_address is not None
    assert fields.service_address.street == "123 MAIN ST STE 200"
    assert fields.billing_telephone_number is None


def test_comcast_style_table_header_and_service_location() -> None:
    fields = read_bill(
        text_doc(
            "                Comcast Business\n"
            "                Account Number        Billing Date     Total Amount Due   Payment Due By\n"
            "                8155 20 012 3456789   Nov 02, 2026     $189.95            Nov 20, 2026\n"
            "                Service Period Oct 03, 2026 - Nov 02, 2026\n"
            "                Service Location\n"
            "                ACME REALTY LLC\n"
            "                123 MAIN ST STE 200\n"
            "                AUSTIN TX 78701\n"
            "                Make checks payable to Comcast\n"
            "                PO BOX 60533 CITY OF INDUSTRY CA 91716-0533\n"
        )
    )
    assert fields.account_number == "8155 20 012 3456789"
    assert fields.bill_date == dt.date(2026, 11, 2)
    assert fields.account_name == "ACME REALTY LLC"
    assert fields.service_address is not None
    assert fields.service_address.zip == "78701"


def test_csr_reads_report_date_btn_listed_name_and_service_address() -> None:
    doc = text_doc(
        "CUSTOMER SERVICE RECORD\nReport Date: 11/05/2026\nBTN: 512-555-0100\n"
        "Customer: ACME REALTY LLC\nService Address: 123 Main St, Suite 200, Austin, TX 78701\n"
        "Billing Address: PO Box 1200, Austin, TX 78767\n"
        "Lines: 512-555-0100, 512-555-0101, 512-555-0102\n"
    )
    fields = read_bill(doc)
    assert fields.bill_date == dt.date(2026, 11, 5)
    assert fields.billing_telephone_number == "+15125550100"
    assert fields.account_name == "ACME REALTY LLC"
    assert fields.service_address is not None
    assert fields.service_address.street == "123 Main St Ste 200"
    assert bill_score(doc) >= 4


def test_only_a_billing_address_is_taken_as_the_service_address_even_a_po_box() -> None:
    fields = read_bill(
        text_doc("Statement Date: 11/02/2026\nBilling Address:\nPO Box 1200\nAustin, TX 78767\n")
    )
    assert fields.service_address is not None
    assert fields.service_address.po_box


def test_canadian_bill_with_main_number() -> None:
    fields = read_bill(
        text_doc(
            "Bell\nBill date: Nov 2, 2026        Account number: 5 1234 5678\n"
            "Amount due: $120.50     Payment due date: Nov 24, 2026\nBill to:\n"
            "Boulangerie Côté Inc.\n1234 rue Sainte-Catherine O\nMontréal QC H3G 1P1\n"
            "Main number: 514-555-0100\n"
        )
    )
    assert fields.bill_date == dt.date(2026, 11, 2)
    assert fields.account_number == "5 1234 5678"
    assert fields.account_name == "Boulangerie Côté Inc."
    assert fields.service_address is not None
    assert fields.service_address.zip == "H3G 1P1"
    assert fields.billing_telephone_number == "+15145550100"


def test_ringcentral_invoice_main_company_number_not_the_support_line() -> None:
    fields = read_bill(
        text_doc(
            "RingCentral\nInvoice\nInvoice Date: Nov 2, 2026     Customer Number: 123456789\n"
            "Company: Acme Realty LLC\nToll-free support 1-888-555-0123\n"
            "Main Company Number: (650) 555-0100\nService period: Oct 3, 2026 to Nov 2, 2026\n"
        )
    )
    assert fields.bill_date == dt.date(2026, 11, 2)
    assert fields.account_number == "123456789"
    assert fields.account_name == "Acme Realty LLC"
    assert fields.billing_telephone_number == "+16505550100"


def test_a_page_without_bill_words_scores_low() -> None:
    assert bill_score(text_doc("Minutes of the board meeting. Coffee was served.")) < 4
    assert bill_score(read_pdf(att_bill_pdf(), Limits()).text) >= 8


def test_nothing_found_gives_none_not_empty_strings() -> None:
    fields = read_bill(text_doc("Hello"))
    assert fields.bill_date is None
    assert fields.account_name is None
    assert fields.account_number is None
    assert fields.service_address is None
    assert fields.billing_telephone_number is None
    assert fields.uncertain == frozenset()


@pytest.mark.parametrize(
    "text",
    [
        "November 2, 2026",
        "Nov 02, 2026",
        "11/02/2026",
        "11/02/26",
        "2026-11-02",
        "02-NOV-2026",
        "Nov 2 2026",
        "Nov. 2nd, 2026",
        "2 November 2026",
    ],
)
def test_dates_as_bills_print_them(text: str) -> None:
    assert parse_date(text) == dt.date(2026, 11, 2)


def test_dates_are_read_month_first_unless_impossible() -> None:
    assert parse_date("03/04/2026") == dt.date(2026, 3, 4)
    assert parse_date("13/04/2026") == dt.date(2026, 4, 13)
    assert parse_date("02/30/2026") is None
    assert parse_date("Account 287654321") is None


def test_find_dates_in_running_text() -> None:
    found = find_dates("Billing period Oct 3 - Nov 2, 2026. Bill date: 11/02/2026, due 11/27/26")
    assert [f.date for f in found] == [dt.date(2026, 11, 2)] * 2 + [dt.date(2026, 11, 27)]


def test_service_heading_beside_the_remit_to_block_reads_down_not_across() -> None:
    fields = read_bill(
        text_doc(
            "        T-Mobile for Business                                   Page 1 of 1\n"
            "                                                    Bill issue date:   Oct 24, 2026\n"
            "             GREENLEAF LANDSCAPING INC\n"
            "             2817 E LAKE ST                         Payment due:       Nov 14, 2026\n"
            "             MINNEAPOLIS, MN 55406                  Account ID:        967104452\n"
            "                                                    Primary number:    (612) 372-4460\n"
            "        Service address                            Please remit payment to\n"
            "        GREENLEAF LANDSCAPING INC                  T-Mobile\n"
            "        2817 E LAKE ST                             PO Box 742596\n"
            "        MINNEAPOLIS, MN 55406                      Cincinnati, OH 45274-2596\n"
        )
    )
    assert fields.account_name == "GREENLEAF LANDSCAPING INC"
    assert fields.account_number == "967104452"
    assert fields.bill_date == dt.date(2026, 10, 24)
    assert fields.billing_telephone_number == "+16123724460"
    assert fields.service_address is not None
    assert fields.service_address.street == "2817 E LAKE ST"


def test_account_page_without_colons_reads_values_to_the_right() -> None:
    fields = read_bill(
        text_doc(
            "      Account holder                    FLATIRONS YOGA COLLECTIVE\n"
            "      Account number                    8497 3010 6620 4471\n"
            "      Main number                       (303) 449-2280\n"
            "      Service address                   2525 ARAPAHOE AVE UNIT E4\n"
            "                                        BOULDER, CO 80302\n"
            "      Balance: $0.00 Autopay: On\n"
        )
    )
    assert fields.bill_date is None
    assert fields.account_name == "FLATIRONS YOGA COLLECTIVE"
    assert fields.account_number == "8497 3010 6620 4471"
    assert fields.billing_telephone_number == "+13034492280"
    assert fields.service_address is not None
    assert fields.service_address.street == "2525 ARAPAHOE AVE UNIT E4"


def test_csr_abbreviated_labels() -> None:
    fields = read_bill(
        text_doc(
            "BELL - CUSTOMER SERVICE RECORD (CSR)\nCSR DATE 11/10/2026\nBTN 514 842-7700\n"
            "ACCT NBR 514 842-7700 123\nCUST NAME CLINIQUE VETERINAIRE DU PLATEAU INC\n"
            " SVC ADDR 4521 RUE SAINT-DENIS BUREAU 200\n                  MONTREAL QC H2J 2L4\n"
            "TN USOC QTY DESCRIPTION\n 514 842-7701 1FB 1 BUSINESS LINE FLAT RATE\n"
            "REPAIR / CUSTOMER SERVICE: 1-866-310-2355\n"
        )
    )
    assert fields.bill_date == dt.date(2026, 11, 10)
    assert fields.billing_telephone_number == "+15148427700"
    assert fields.account_number == "514 842-7700 123"
    assert fields.account_name == "CLINIQUE VETERINAIRE DU PLATEAU INC"
    assert fields.service_address is not None
    assert fields.service_address.zip == "H2J 2L4"
