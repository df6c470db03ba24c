"""read_statements: the values a customer wrote, in the many ways people write them."""

from __future__ import annotations

import pytest

from parsers.body import read_statements
from parsers.model import NumberEntry

FULL_REQUEST = """\
Hi team,

We'd like to move our office lines over to you. Our current carrier is AT&T.

Account #: 287654321
Name on the account: Acme Realty LLC
Service address:
123 Main Street, Suite 200
Austin, TX 78701
BTN: (512) 555-0100
SSN last 4: 0427

Numbers to port:
512-555-0101 (PIN 4821) -> Mickey Mouse <mmouse@acme.example>
512-555-0102 PIN 0427 - Minnie Mouse mminnie@acme.example
- 512-555-0103 - Donald Duck

Thanks,
John Smith
Office Manager, Acme Realty
123 Main Street, Austin TX 78701
Cell: 512-555-0199
"""


def test_a_complete_request_is_read_field_by_field() -> None:
    s = read_statements(FULL_REQUEST)
    assert s.current_carrier == "AT&T"
    assert s.account_number == "287654321"
    assert s.account_name == "Acme Realty LLC"
    assert s.service_address is not None
    assert (s.service_address.street, s.service_address.city) == ("123 Main St Ste 200", "Austin")
    assert (s.service_address.state, s.service_address.zip) == ("TX", "78701")
    assert s.billing_telephone_number == "(512) 555-0100"
    assert s.ssn_last4 == "0427"
    assert s.numbers == (
        NumberEntry("512-555-0101", "4821", "Mickey Mouse", "mmouse@acme.example"),
        NumberEntry("512-555-0102", "0427", "Minnie Mouse", "mminnie@acme.example"),
        NumberEntry("512-555-0103", None, "Donald Duck", None),
    )
    assert s.pin_for_all is None
    assert s.no_pin_stated is False


def test_signature_phone_numbers_are_not_numbers_to_port() -> None:
    raws = [n.raw for n in read_statements(FULL_REQUEST).numbers]
    assert "512-555-0199" not in raws


def test_nothing_stated_is_none_everywhere() -> None:
    s = read_statements("Hi, can you help us move our phones? Thanks!")
    assert s.account_number is None and s.account_name is None and s.service_address is None
    assert s.billing_telephone_number is None and s.ssn_last4 is None
    assert s.pin_for_all is None and s.current_carrier is None
    assert s.numbers == () and s.no_pin_stated is False


# --- account number -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Account #: 287654321", "287654321"),
        ("Acct #287654321", "287654321"),
        ("Account No. 287654321", "287654321"),
        ("Acct. number: 2876-5432-1", "2876-5432-1"),
        ("Our account number is 2876-5432-1.", "2876-5432-1"),
        ("Our account number with AT&T is 287654321", "287654321"),
        ("Account number - 8773 10 123 4567890", "8773 10 123 4567890"),
        ("**Account Number:** 287654321", "287654321"),
        ("BAN: 287654321012", "287654321012"),
        ("Account: 287654321", "287654321"),
    ],
)
def test_account_number_written_many_ways(line: str, expected: str) -> None:
    assert read_statements(f"Hello,\n{line}\nThanks").account_number == expected


def test_account_number_stops_before_the_next_words() -> None:
    s = read_statements("Account #: 287654321 and the PIN is 4821")
    assert s.account_number == "287654321"
    assert s.pin_for_all == "4821"


def test_pin_on_the_account_is_not_the_account_number() -> None:
    s = read_statements("The PIN on the account: 4821")
    assert s.account_number is None
    assert s.pin_for_all == "4821"


def test_account_number_mentioned_without_a_value_is_not_stated() -> None:
    assert (
        read_statements("I don't know the account number, it is on the bill.").account_number
        is None
    )


# --- account name ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "Name on the account: Acme Realty LLC",
        "Account name: Acme Realty LLC",
        "Account holder: Acme Realty LLC",
        "Business name on bill: Acme Realty LLC",
        "Company Name - Acme Realty LLC",
        "The account is under Acme Realty LLC.",
        "The account is in the name of Acme Realty LLC and the PIN follows.",
    ],
)
def test_account_name_written_many_ways(line: str) -> None:
    assert read_statements(f"Hi,\n{line}\n").account_name == "Acme Realty LLC"


def test_account_name_on_the_next_line() -> None:
    assert (
        read_statements("Name on account:\nNúñez & Sons, Inc.\n").account_name
        == "Núñez & Sons, Inc."
    )


# --- service address ------------------------------------------------------------------------


def test_address_on_one_line() -> None:
    s = read_statements("Service address: 123 Main Street, Suite 200, Austin, TX 78701")
    assert s.service_address is not None
    assert s.service_address.street == "123 Main St Ste 200"


def test_address_over_several_lines_with_a_name_line() -> None:
    text = "Address on the account:\nAcme Realty LLC\n500 W 2nd St\nAustin, TX 78701\n\nThanks"
    s = read_statements(text)
    assert s.service_address is not None
    assert (s.service_address.street, s.service_address.zip) == ("500 W 2nd St", "78701")


def test_po_box_address_is_flagged() -> None:
    s = read_statements("Address: PO Box 44, Austin, TX 78701")
    assert s.service_address is not None and s.service_address.po_box


def test_email_and_billing_addresses_are_not_the_service_address() -> None:
    s = read_statements(
        "Email address: john@acme.example\nBilling address: 9 Elm St, Austin, TX 78701"
    )
    assert s.service_address is None


def test_signature_address_is_not_the_service_address() -> None:
    text = "Please port 512-555-0101.\n\nThanks,\nJohn\nAddress: 9 Elm St, Austin, TX 78701\n"
    assert read_statements(text).service_address is None


def test_canadian_address() -> None:
    s = read_statements("Service address: 1 Rue Ste-Catherine O, Montréal, QC H3B 1A7")
    assert s.service_address is not None and s.service_address.zip == "H3B 1A7"


# --- BTN ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "BTN: 512-555-0100",
        "Billing TN 512-555-0100",
        "Billing telephone number: 512-555-0100",
        "Billing number is 512-555-0100",
        "Main number: 512-555-0100",
        "Main line - 512-555-0100",
        "The BTN is 512-555-0100.",
    ],
)
def test_btn_written_many_ways_is_not_a_number_to_port(line: str) -> None:
    s = read_statements(f"Hi\n{line}\n")
    assert s.billing_telephone_number == "512-555-0100"
    assert s.numbers == ()


def test_btn_also_listed_among_numbers_is_ported() -> None:
    s = read_statements("BTN: 512-555-0100\n\nNumbers to port:\n512-555-0100\n512-555-0101\n")
    assert s.billing_telephone_number == "512-555-0100"
    assert [n.raw for n in s.numbers] == ["512-555-0100", "512-555-0101"]


# --- SSN ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "SSN last 4: 0427",
        "Last four of SSN: 0427",
        "last 4 of social is 0427",
        "Tax ID last 4: 0427",
        "SSN: xxx-xx-0427",
    ],
)
def test_ssn_last_four(line: str) -> None:
    s = read_statements(f"{line}\n")
    assert s.ssn_last4 == "0427"
    assert s.pin_for_all is None


# --- PINs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "PIN: 0427",
        "Port-out PIN: 0427",
        "Passcode 0427",
        "Transfer PIN is 0427",
        "PIN for all lines: 0427",
        "Same PIN for every number: 0427",
        "Account PIN: 0427",
        "Number Transfer PIN: 0427",
    ],
)
def test_pin_for_the_whole_account_keeps_its_leading_zero(line: str) -> None:
    text = f"Please port 512-555-0101 and 512-555-0102.\n{line}\n"
    s = read_statements(text)
    assert s.pin_for_all == "0427"
    assert all(n.pin is None for n in s.numbers)


@pytest.mark.parametrize(
    "line",
    [
        "There is no PIN.",
        "No pin on the account",
        "We don't have a PIN",
        "PIN: none",
        "PIN: N/A",
        "We never set up a passcode.",
        "No PIN",
    ],
)
def test_statements_that_there_is_no_pin(line: str) -> None:
    s = read_statements(f"Please port 512-555-0101.\n{line}\n")
    assert s.no_pin_stated is True
    assert s.pin_for_all is None


def test_not_knowing_the_pin_is_not_saying_there_is_none() -> None:
    assert read_statements("I don't have the PIN with me, will send later.").no_pin_stated is False


def test_pin_lines_under_each_number_belong_to_that_number() -> None:
    text = "Numbers:\n512-555-0101\nPIN: 1111\n512-555-0102\nPIN: 2222\n"
    s = read_statements(text)
    assert [(n.raw, n.pin) for n in s.numbers] == [
        ("512-555-0101", "1111"),
        ("512-555-0102", "2222"),
    ]
    assert s.pin_for_all is None


# --- numbers --------------------------------------------------------------------------------


def test_numbers_in_a_free_sentence_count() -> None:
    s = read_statements("Please port 512-555-0101 and (512) 555-0102 to our account.")
    assert [n.raw for n in s.numbers] == ["512-555-0101", "(512) 555-0102"]
    assert all(n.assignee_name is None for n in s.numbers)


def test_bullet_list_under_a_heading() -> None:
    text = """\
Numbers to port:
* 512.555.0101 - Front Desk
* +1 512 555 0102 – Jane Doe, jane@acme.example
* 5125550103 assign to Bob Stone
"""
    s = read_statements(text)
    assert s.numbers == (
        NumberEntry("512.555.0101", None, "Front Desk", None),
        NumberEntry("+1 512 555 0102", None, "Jane Doe", "jane@acme.example"),
        NumberEntry("5125550103", None, "Bob Stone", None),
    )


def test_name_before_the_number() -> None:
    s = read_statements("Numbers:\nMickey Mouse: 512-555-0101\n")
    assert s.numbers == (NumberEntry("512-555-0101", None, "Mickey Mouse", None),)


def test_pipe_table_pasted_into_the_body() -> None:
    text = """\
Here is the list:

| Phone Number | PIN | Agent Name | Agent Email (in Lofty) |
|--------------|-----|------------|------------------------|
| 512-555-0101 | 4821 | Mickey Mouse | mmouse@acme.example |
| 512-555-0102 | 0427 | Minnie Mouse | minnie@acme.example |
"""
    s = read_statements(text)
    assert [(n.raw, n.pin, n.assignee_name, n.assignee_email) for n in s.numbers] == [
        ("512-555-0101", "4821", "Mickey Mouse", "mmouse@acme.example"),
        ("512-555-0102", "0427", "Minnie Mouse", "minnie@acme.example"),
    ]


def test_tab_separated_table_pasted_from_a_spreadsheet() -> None:
    text = "Phone\tName\tEmail\n5125550101\tMickey Mouse\tmmouse@acme.example\n"
    s = read_statements(text)
    assert [(n.raw, n.assignee_name) for n in s.numbers] == [("5125550101", "Mickey Mouse")]


def test_html_table_converted_to_cells_is_read() -> None:
    text = "Phone Number | PIN | Name\n512-555-0101 | 4821 | Mickey Mouse\n"
    s = read_statements(text)
    assert [(n.raw, n.pin, n.assignee_name) for n in s.numbers] == [
        ("512-555-0101", "4821", "Mickey Mouse")
    ]


def test_a_number_listed_twice_is_kept_twice_for_the_duplicate_check() -> None:
    s = read_statements("Numbers to port:\n512-555-0101\n512-555-0101\n")
    assert [n.raw for n in s.numbers] == ["512-555-0101", "512-555-0101"]


def test_a_number_in_prose_and_in_the_list_is_one_number() -> None:
    text = "We want to port 512-555-0101.\n\nNumbers:\n512-555-0101 PIN 4821 - Mickey Mouse\n"
    s = read_statements(text)
    assert s.numbers == (NumberEntry("512-555-0101", "4821", "Mickey Mouse", None),)


@pytest.mark.parametrize(
    "signature",
    [
        "--\nJohn Smith\nPhone: 512-555-0199",
        "Thanks,\nJohn\n512-555-0199",
        "Best regards,\nJohn Smith | Acme Realty\nTel: (512) 555-0199 | Fax: 512-555-0198",
        "Sent from my iPhone\n512-555-0199",
    ],
)
def test_signature_numbers_are_not_ported(signature: str) -> None:
    s = read_statements(f"Please port 512-555-0101.\n\n{signature}\n")
    assert [n.raw for n in s.numbers] == ["512-555-0101"]


@pytest.mark.parametrize(
    "line",
    [
        "Mobile: 512-555-0199",
        "Direct: 512-555-0199",
        "You can call me at 512-555-0199 with questions.",
        "My cell is 512-555-0199",
    ],
)
def test_contact_numbers_are_not_ported(line: str) -> None:
    s = read_statements(f"Please port 512-555-0101.\n{line}\n")
    assert [n.raw for n in s.numbers] == ["512-555-0101"]


def test_labelled_lines_inside_a_numbers_section_are_ported() -> None:
    s = read_statements("Numbers to port:\nMain: 512-555-0101\nFax: 512-555-0102\n")
    assert [n.raw for n in s.numbers] == ["512-555-0101", "512-555-0102"]


def test_account_number_zip_and_dates_are_not_phone_numbers() -> None:
    text = (
        "Account #: 5125550100\nService address: 1 Main St, Austin, TX 78701-1234\n"
        "Bill date 2025-11-02, due 11/30/2025\nPlease port 512-555-0101."
    )
    assert [n.raw for n in read_statements(text).numbers] == ["512-555-0101"]


def test_forwarded_header_block_numbers_are_not_ported() -> None:
    text = """\
FYI

---------- Forwarded message ---------
From: Jane <jane@acme.example>
Date: Mon, Nov 3, 2025
Subject: Port 512-555-0999 please
To: John

Please port 512-555-0101.

Thanks,
Jane
512-555-0198
"""
    s = read_statements(text)
    assert [n.raw for n in s.numbers] == ["512-555-0101"]


def test_forwarders_note_and_forwarded_request_are_both_read() -> None:
    text = """\
Adding the PIN: 4821

---------- Forwarded message ---------
From: Jane <jane@acme.example>
Subject: Port request

Account #: 287654321
Please port 512-555-0101.
"""
    s = read_statements(text)
    assert s.pin_for_all == "4821"
    assert s.account_number == "287654321"
    assert [n.raw for n in s.numbers] == ["512-555-0101"]


def test_current_carrier_follow_up_boss() -> None:
    s = read_statements("Our numbers are currently in Follow Up Boss.\nPlease port 512-555-0101.")
    assert s.current_carrier == "Follow Up Boss"


def test_device_signature_does_not_name_the_carrier() -> None:
    text = "Current carrier: Spectrum\n\nSent from my Verizon, Samsung Galaxy smartphone"
    assert read_statements(text).current_carrier == "Spectrum"


def test_mobile_reply_with_values_only() -> None:
    s = read_statements("Acct 287654321 pin 0427\n\nSent from my iPhone")
    assert s.account_number == "287654321"
    assert s.pin_for_all == "0427"


def test_pin_named_before_the_number() -> None:
    s = read_statements("The PIN for 512-555-0101 is 4821.")
    assert s.numbers == (NumberEntry("512-555-0101", "4821"),)


def test_invoice_and_order_numbers_are_not_phone_numbers() -> None:
    s = read_statements(
        "Invoice #: 5125550100\nOrder number: 2145550123\nPlease port 512-555-0101."
    )
    assert [n.raw for n in s.numbers] == ["512-555-0101"]


def test_pin_word_inside_another_word_is_not_a_pin() -> None:
    assert read_statements("We are on Pinecrest2000 road").pin_for_all is None


def test_german_outlook_forward_header_is_not_read() -> None:
    text = "Bitte portieren.\n\nVon: Jane <jane@acme.example>\nGesendet: Montag\nAn: John\n"
    text += "Betreff: Port 512-555-0999\n\nPlease port 512-555-0101."
    assert [n.raw for n in read_statements(text).numbers] == ["512-555-0101"]


@pytest.mark.parametrize(
    "line",
    ["-" * 999 + "x", " " * 998 + "x", "> " * 400, "account " * 120, "_" * 999 + "@", "Ab-" * 300],
)
def test_pathological_lines_are_read_quickly(line: str) -> None:
    # Work, not time (timing: bench/bench_assess.py --pathological): every pattern sees
    # each line a bounded number of times, and no call gets more than one capped line.
    import parsers.body
    from tests.work_count import regex_work

    text = (line + "\n") * 40
    with regex_work(parsers.body) as work:
        read_statements(text)
    assert work.chars <= 60 * len(text) and work.calls <= 60 * 40
    assert work.longest <= 1_000


def test_thanks_opening_the_message_is_not_a_signature() -> None:
    s = read_statements("Thank you!\n\nPlease port 512-555-0101 and 512-555-0102.\n")
    assert [n.raw for n in s.numbers] == ["512-555-0101", "512-555-0102"]


@pytest.mark.parametrize("line", ["No PIN is needed.", "No passcode", "There's no port out PIN."])
def test_more_ways_to_say_there_is_no_pin(line: str) -> None:
    assert read_statements(f"Please port 512-555-0101.\n{line}\n").no_pin_stated


# --- through the email parser: what a thread really carries ----------------------------------


def _eml(subject: str, content_type: str, body: str) -> bytes:
    head = (
        "From: Jane Customer <jane@acme.example>\r\nTo: support@ourco.example\r\n"
        f"Subject: {subject}\r\nDate: Tue, 4 Nov 2025 09:00:00 -0600\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: {content_type}; charset=utf-8\r\n\r\n"
    )
    return (head + body.replace("\n", "\r\n")).encode()


def test_reply_reads_the_new_values_and_never_the_quoted_old_ones() -> None:
    from parsers.email import parse_message

    body = """\
Sorry, the account number is 441022985-00001 and the numbers to port are:

(617) 482-3300 - Dr. Amy Chen (achen@peds.example)
(617) 482-3312 - Mark Tran (mtran@peds.example)

Thanks,
Grace

On Mon, Nov 3, 2025 at 4:10 PM Grace <grace@peds.example> wrote:
> Account number: 441022958-00001
> PIN for all lines: 2468
> (617) 482-3309 - Paula Reyes (preyes@peds.example)
"""
    s = read_statements(parse_message(_eml("Re: Verizon port", "text/plain", body)).body)
    assert s.account_number == "441022985-00001"
    assert s.pin_for_all is None
    assert [n.raw for n in s.numbers] == ["(617) 482-3300", "(617) 482-3312"]


def test_outlook_html_forward_is_read_as_the_customers_request() -> None:
    from parsers.email import parse_message

    html = """<html><body><div class="WordSection1">
<p class="MsoNormal">Please see below. The account PIN is 9075.</p>
<p class="MsoNormal"><o:p>&nbsp;</o:p></p>
<p class="MsoNormal">Tina Morales<br>Direct: (904) 356-2200</p>
<div><div style="border:none;border-top:solid #E1E1E1 1.0pt">
<p class="MsoNormal"><b>From:</b> Ryan Patel &lt;rpatel@ortho.example&gt;<br>
<b>Sent:</b> Friday, November 6, 2026 6:02 PM<br>
<b>To:</b> Tina Morales &lt;tmorales@ortho.example&gt;<br>
<b>Subject:</b> Moving our phone lines</p></div></div>
<p class="MsoNormal">Current carrier: AT&amp;T</p>
<p class="MsoNormal">Account number: 904356220</p>
<table><tr><td>Number</td><td>Name</td><td>Email</td></tr>
<tr><td>(904) 356-2201</td><td>Dr. Ryan Patel</td><td>rpatel@ortho.example</td></tr></table>
</div></body></html>"""
    msg = parse_message(_eml("FW: Moving our phone lines", "text/html", html))
    assert msg.forwarded_from == "rpatel@ortho.example"
    s = read_statements(msg.body)
    assert s.pin_for_all == "9075"
    assert s.current_carrier == "AT&T"
    assert s.account_number == "904356220"
    assert [(n.raw, n.assignee_name) for n in s.numbers] == [("(904) 356-2201", "Dr. Ryan Patel")]


def test_no_pin_for_some_lines_beside_pins_for_others_is_kept() -> None:
    s = read_statements("512-555-0101 PIN 4821\n512-555-0102 has no PIN\n")
    assert s.no_pin_stated is True
    assert s.numbers[0].pin == "4821"


def test_labels_without_a_colon_take_the_lines_below() -> None:
    s = read_statements(
        "Account Name\nAcme Realty LLC\n\nService Address\n123 Main St\nAustin, TX 78701\n"
    )
    assert s.account_name == "Acme Realty LLC"
    assert s.service_address is not None and s.service_address.street == "123 Main St"
