"""read_statements on what real senders vary: order, punctuation, casing, bullets,
sentences, French, grouped digits, corrections and signatures.

The same facts written differently must read the same; these tests state the
facts once and vary the writing.
"""

from __future__ import annotations

import itertools

import pytest

from parsers.body import read_statements
from parsers.model import NumberEntry, Statements

# --- several facts on one line, in any order ------------------------------------------------

FACTS = {
    "account": "Acct 12345678",
    "btn": "BTN (503) 555-0100",
    "pin": "PIN 4821",
}


def _assert_facts(s: Statements) -> None:
    assert s.account_number == "12345678"
    assert s.billing_telephone_number == "(503) 555-0100"
    assert s.pin_for_all == "4821"
    assert s.numbers == ()


@pytest.mark.parametrize("order", list(itertools.permutations(FACTS)))
@pytest.mark.parametrize("joiner", [", ", "; ", " | ", " "])
def test_the_same_facts_in_every_order_on_one_line_read_the_same(
    order: tuple[str, ...], joiner: str
) -> None:
    _assert_facts(read_statements("Hi,\n" + joiner.join(FACTS[k] for k in order) + "\n"))


@pytest.mark.parametrize(
    "pieces",
    list(
        itertools.permutations(
            [
                "Name on the account: Lakeview Homes Inc.",
                "service address 88 Elm Street, Suite 4, Boise, ID 83702",
                "account number 44120098",
            ]
        )
    ),
)
def test_name_address_and_account_run_together_in_any_order(pieces: tuple[str, ...]) -> None:
    text = ", ".join(pieces)
    s = read_statements(f"Hello,\n{text}\n")
    assert s.account_name == "Lakeview Homes Inc."
    assert s.account_number == "44120098"
    assert s.service_address is not None
    assert s.service_address.street == "88 Elm St Ste 4"
    assert (s.service_address.city, s.service_address.zip) == ("Boise", "83702")


def test_the_issue_line_keeps_name_and_address_apart() -> None:
    s = read_statements(
        "Name on the account: Lakeview Homes Inc., service address 88 Elm Street, Suite 4, "
        "Boise, ID 83702"
    )
    assert s.account_name == "Lakeview Homes Inc."
    assert s.service_address is not None and s.service_address.street == "88 Elm St Ste 4"


def test_a_sentence_with_carrier_account_name_and_address() -> None:
    s = read_statements(
        "We're with Verizon, account number 555-1212-00001 under ACME LLC at 12 Main St, "
        "Boise, ID 83702. Please port 208-555-0101."
    )
    assert s.current_carrier == "Verizon"
    assert s.account_number == "555-1212-00001"
    assert s.account_name == "ACME LLC"
    assert s.service_address is not None
    assert (s.service_address.street, s.service_address.zip) == ("12 Main St", "83702")
    assert [n.raw for n in s.numbers] == ["208-555-0101"]


# --- label wording, punctuation, casing, bullets ---------------------------------------------

ACCOUNT_LABELS = [
    "Account #",
    "Acct No.",
    "BAN",
    "Billing account number",
    "Account Number",
    "ACCOUNT NO",
    "acct",
    "A/C",
    "Acct. #",
]
SEPARATORS = [": ", " - ", " ", " = ", ":"]
BULLETS = ["", "- ", "* ", "• ", "1. "]


@pytest.mark.parametrize("label", ACCOUNT_LABELS)
@pytest.mark.parametrize("sep", SEPARATORS)
def test_account_number_labels_and_separators(label: str, sep: str) -> None:
    s = read_statements(f"Hi\n{label}{sep}287654321\nPlease port 512-555-0101.\n")
    assert s.account_number == "287654321"
    assert [n.raw for n in s.numbers] == ["512-555-0101"]


@pytest.mark.parametrize(
    "label",
    [
        "Company name on the bill",
        "Account name",
        "Name on account",
        "Business name",
        "NAME ON THE BILL",
        "Nom du compte",
        "Nom sur la facture",
        "Account holder",
    ],
)
@pytest.mark.parametrize("bullet", BULLETS)
def test_account_name_labels_with_bullets(label: str, bullet: str) -> None:
    s = read_statements(f"Hello,\n{bullet}{label}: Acme Realty LLC\n")
    assert s.account_name == "Acme Realty LLC"


@pytest.mark.parametrize(
    "label",
    [
        "Service address (as on bill)",
        "Service Address",
        "SERVICE ADDRESS",
        "Address",
        "Adresse de service",
        "Service location",
    ],
)
@pytest.mark.parametrize("sep", [": ", " - ", ":\n"])
def test_service_address_labels(label: str, sep: str) -> None:
    s = read_statements(f"Hi\n{label}{sep}123 Main Street, Suite 305, Austin, TX 78701\n")
    assert s.service_address is not None
    assert s.service_address.street == "123 Main St Ste 305"
    assert s.service_address.zip == "78701"


# --- units on the service address are kept exactly -------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        "123 Main Street, Suite 305, Austin, TX 78701",
        "123 Main Street Suite 305, Austin, TX 78701",
        "123 Main Street, Suite 305\nAustin, TX 78701",
        "123 Main Street\nSuite 305\nAustin, TX 78701",
        "123 Main Street, Ste. 305, Austin TX 78701",
    ],
)
def test_a_unit_is_kept_exactly(written: str) -> None:
    s = read_statements(f"Service address:\n{written}\n\nThanks")
    assert s.service_address is not None
    assert s.service_address.street == "123 Main St Ste 305"


def test_unit_number_is_not_taken_from_elsewhere() -> None:
    s = read_statements("Service address: 350 Main Street, Suite 305, Austin, TX 78701")
    assert s.service_address is not None
    assert s.service_address.street == "350 Main St Ste 305"


# --- French (Québec) -------------------------------------------------------------------------

FRENCH = """\
Bonjour,

Nous voulons transférer nos lignes chez vous.

Fournisseur actuel : Vidéotron
Numéro de compte : 514 555 0123 456
Nom du compte : Boulangerie Côté inc.
Adresse de service : 1200 rue Sherbrooke Ouest, bureau 305, Montréal, QC H3A 1H6
Numéro de téléphone de facturation : 514 555-0100
NIP pour toutes les lignes : 4821

Numéros à transférer :
514 555-0101 – Julie Côté (jcote@boulangeriecote.example)
514 555-0102 – Marc Roy

Merci,
Julie Côté
Cell. : 438 555-0177
"""


def test_a_french_request_is_read_field_by_field() -> None:
    s = read_statements(FRENCH)
    assert s.current_carrier == "Videotron"
    assert s.account_number == "514 555 0123 456"
    assert s.account_name == "Boulangerie Côté inc."
    assert s.service_address is not None
    assert s.service_address.street == "1200 rue Sherbrooke Ouest bureau 305"
    assert (s.service_address.city, s.service_address.zip) == ("Montréal", "H3A 1H6")
    assert s.billing_telephone_number == "514 555-0100"
    assert s.pin_for_all == "4821"
    assert s.numbers == (
        NumberEntry("514 555-0101", None, "Julie Côté", "jcote@boulangeriecote.example"),
        NumberEntry("514 555-0102", None, "Marc Roy", None),
    )


@pytest.mark.parametrize(
    "line",
    [
        "Téléphone de facturation : 514 555-0100",
        "Numéro de téléphone de facturation: 514 555-0100",
        "téléphone de facturation - 514 555-0100",
    ],
)
def test_french_btn_labels(line: str) -> None:
    s = read_statements(f"Bonjour\n{line}\n")
    assert s.billing_telephone_number == "514 555-0100"
    assert s.numbers == ()


@pytest.mark.parametrize("line", ["NIP : 4821", "NIP: 4821", "Le NIP est 4821"])
def test_french_pin(line: str) -> None:
    assert read_statements(f"Transférer 514 555-0101.\n{line}\n").pin_for_all == "4821"


@pytest.mark.parametrize("line", ["Aucun NIP", "Il n'y a aucun NIP sur le compte.", "NIP : aucun"])
def test_french_no_pin(line: str) -> None:
    s = read_statements(f"Transférer 514 555-0101.\n{line}\n")
    assert s.no_pin_stated is True
    assert s.pin_for_all is None


def test_french_per_number_pin() -> None:
    s = read_statements("Numéros à transférer :\n514 555-0101 NIP 1111\n514 555-0102 NIP 2222\n")
    assert [(n.raw, n.pin) for n in s.numbers] == [
        ("514 555-0101", "1111"),
        ("514 555-0102", "2222"),
    ]


def test_french_facts_on_one_line() -> None:
    s = read_statements(
        "Numéro de compte : 8155 60 012 3456789, NIP 4821, fournisseur actuel : Bell"
    )
    assert s.account_number == "8155 60 012 3456789"
    assert s.pin_for_all == "4821"
    assert s.current_carrier == "Bell"


# --- account numbers printed in groups ------------------------------------------------------


@pytest.mark.parametrize(
    "written", ["514 555 0123 456", "8155 60 012 3456789", "5145550123", "287-654-3210-001"]
)
@pytest.mark.parametrize("label", ["Account number: ", "Acct # ", "Numéro de compte : "])
def test_grouped_account_numbers_are_read_whole_and_not_ported(written: str, label: str) -> None:
    s = read_statements(f"Hi\n{label}{written}\nPlease port 514-555-0199.\n")
    assert s.account_number == written
    assert [n.raw for n in s.numbers] == ["514-555-0199"]


def test_grouped_account_number_beside_a_number_to_port_on_the_same_line() -> None:
    s = read_statements("Account number 514 555 0123 456, please port 514-555-0199")
    assert s.account_number == "514 555 0123 456"
    assert [n.raw for n in s.numbers] == ["514-555-0199"]


# --- corrections as sentences ---------------------------------------------------------------


@pytest.mark.parametrize(
    "sentence",
    [
        "Sorry, the PIN for 702-555-0142 is 3190",
        "sorry, the PIN for 702-555-0142 is 3190.",
        "use 3190 as the PIN for the 702-555-0142 line",
        "Use 3190 as the PIN for 702-555-0142, please.",
        "The PIN for 702-555-0142 should be 3190",
        "702-555-0142 PIN: 3190",
        "the PIN for the …0142 line is 3190",
        "Use 3190 as the PIN for the ...0142 line",
        "PIN for the line ending in 0142 is 3190",
    ],
)
def test_a_pin_for_one_number_in_a_sentence(sentence: str) -> None:
    s = read_statements(f"Hi again,\n{sentence}\n")
    assert len(s.numbers) == 1
    assert s.numbers[0].pin == "3190"
    assert s.numbers[0].raw in ("702-555-0142", "…0142")
    assert s.pin_for_all is None


@pytest.mark.parametrize(
    "sentence", ["The correct PIN is 3190", "Sorry, the PIN is actually 3190.", "New PIN: 3190"]
)
def test_a_pin_correction_for_the_account(sentence: str) -> None:
    assert read_statements(f"Hi again,\n{sentence}\n").pin_for_all == "3190"


# --- assignees named in a sentence ----------------------------------------------------------

LIST = "Numbers to port:\n512-555-0101\n503-555-0199\n\n"


@pytest.mark.parametrize(
    "sentence",
    [
        "The …0199 line goes to Dana Ortiz.",
        "the ...0199 line goes to Dana Ortiz",
        "Dana Ortiz gets 503-555-0199",
        "Please give 503-555-0199 to Dana Ortiz.",
        "503-555-0199 goes to Dana Ortiz",
        "Assign the line ending in 0199 to Dana Ortiz",
    ],
)
def test_an_assignee_named_in_a_sentence(sentence: str) -> None:
    s = read_statements(LIST + sentence + "\n")
    assert [(n.raw, n.assignee_name) for n in s.numbers] == [
        ("512-555-0101", None),
        ("503-555-0199", "Dana Ortiz"),
    ]


def test_assignee_with_email_in_a_sentence() -> None:
    s = read_statements("please give 512-555-0101 to Mickey Mouse (mmouse@acme.example)")
    assert s.numbers == (NumberEntry("512-555-0101", None, "Mickey Mouse", "mmouse@acme.example"),)


def test_a_reference_to_an_unknown_line_is_kept_for_the_thread() -> None:
    s = read_statements("The …0199 line goes to Dana Ortiz.")
    assert s.numbers == (NumberEntry("…0199", None, "Dana Ortiz", None),)


# --- signatures -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "signature",
    [
        "Dana Ortiz\nOffice Manager, Ortiz Law\nOffice: (503) 555-0177\nCell: 503-555-0178",
        "Dana Ortiz | Ortiz Law | 503-555-0177",
        "Best,\nDana\n503.555.0177 (cell)",
        "Dana Ortiz\nOrtiz Law\n503-555-0177",
        "--\nDana Ortiz\nO: 503-555-0177  M: 503-555-0178",
        "Merci,\nDana Ortiz\nCell. : 503 555-0177",
    ],
)
def test_the_senders_signature_numbers_are_never_ported(signature: str) -> None:
    s = read_statements(f"Please port 503-555-0101 and 503-555-0102.\n\n{signature}\n")
    assert [n.raw for n in s.numbers] == ["503-555-0101", "503-555-0102"]


# --- hostile text ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "Acct 1, " * 120,
        "Acct 12345678, PIN 4821, Service address: 1 Main St, Boise, ID 83702, " * 13,
        "NIP " * 240,
        "…0 " * 300,
        "Numéro de compte " * 58,
        "service address 1 " * 55,
        "at 1 " * 200,
    ],
)
def test_hostile_lines_are_read_in_bounded_work(line: str) -> None:
    # The same bound as test_body's pathological lines: work, not time.
    import parsers.body
    from tests.work_count import regex_work

    text = (line + "\n") * 40
    with regex_work(parsers.body) as work:
        read_statements(text)
    # Calls grow with the statements read on one line (at most 6): 75 a line at most.
    assert work.chars <= 60 * len(text) and work.calls <= 75 * 40
    assert work.longest <= 1_000


# --- the thread: corrections in follow-ups --------------------------------------------------


def _thread(*texts: str) -> tuple[NumberEntry, ...]:
    import datetime as dt

    from parsers.model import Message, ParsedMessage
    from rules.request import build_request

    def parsed(n: int, text: str) -> ParsedMessage:
        message = Message(
            message_id=f"<{n}@x>",
            in_reply_to=None,
            references=(),
            subject="Port",
            sender="a@x.example",
            sender_name=None,
            date=dt.datetime(2026, 11, 1 + n),
            body=text,
            attachments=(),
        )
        return ParsedMessage(message, read_statements(text))

    return build_request([parsed(i, t) for i, t in enumerate(texts)]).numbers


FIRST = "Numbers to port:\n702-555-0141 PIN 1111\n702-555-0142 PIN 2222\n702-555-0143 PIN 3333\n"


@pytest.mark.parametrize(
    "follow_up",
    [
        "Sorry, the PIN for 702-555-0142 is 3190",
        "use 3190 as the PIN for the …0142 line",
        "Correction: 702-555-0142 PIN 3190",
        "The PIN for the line ending in 0142 should be 3190.",
    ],
)
def test_a_follow_up_correcting_one_pin_updates_that_number_only(follow_up: str) -> None:
    numbers = _thread(FIRST, follow_up)
    assert [(n.raw, n.pin) for n in numbers] == [
        ("702-555-0141", "1111"),
        ("702-555-0142", "3190"),
        ("702-555-0143", "3333"),
    ]


def test_a_follow_up_with_a_pin_for_all_lines_replaces_earlier_per_number_pins() -> None:
    numbers = _thread(FIRST, "Sorry, wrong PINs. The PIN for all lines is 9876.")
    assert [n.pin for n in numbers] == ["9876", "9876", "9876"]


def test_a_per_number_pin_after_a_pin_for_all_lines_wins_for_that_number() -> None:
    numbers = _thread(FIRST, "PIN for all lines: 9876", "the PIN for 702-555-0143 is 5555")
    assert [n.pin for n in numbers] == ["9876", "9876", "5555"]


def test_a_pin_for_all_lines_in_the_first_message_fills_numbers_sent_later() -> None:
    numbers = _thread("PIN for all lines: 4821", "Numbers to port:\n702-555-0141\n702-555-0142\n")
    assert [n.pin for n in numbers] == ["4821", "4821"]


def test_a_follow_up_naming_an_assignee_by_last_four_digits() -> None:
    numbers = _thread(FIRST, "The …0143 line goes to Dana Ortiz.")
    assert [(n.raw, n.assignee_name) for n in numbers][2] == ("702-555-0143", "Dana Ortiz")
    assert len(numbers) == 3 and numbers[2].pin == "3333"


def test_a_reference_matching_no_listed_number_is_dropped() -> None:
    numbers = _thread(FIRST, "The …0999 line goes to Dana Ortiz.")
    assert [n.raw for n in numbers] == ["702-555-0141", "702-555-0142", "702-555-0143"]


# --- columns lined up with spaces, French references -------------------------------------


def test_a_table_lined_up_with_spaces_reads_each_column_even_with_an_empty_cell() -> None:
    text = (
        "Please port:\n"
        "+1 503 598 3088   Priya Brooks   priya.brooks@tidewaterlaw.com   2335\n"
        "+1 503 256 2593   Nina Hall                                      7460\n"
        "+1 503 256 2594   Raj Novak      raj.novak@tidewaterlaw.com      8654\n"
    )
    rows = [(e.pin, e.assignee_name, e.assignee_email) for e in read_statements(text).numbers]
    assert rows == [
        ("2335", "Priya Brooks", "priya.brooks@tidewaterlaw.com"),
        ("7460", "Nina Hall", None),
        ("8654", "Raj Novak", "raj.novak@tidewaterlaw.com"),
    ]


def test_a_column_of_notes_lined_up_with_spaces_is_not_a_column_of_users() -> None:
    numbers = read_statements("Numbers:\n503-555-0101   (main line)\n503-555-0102   fax").numbers
    assert [e.assignee_name for e in numbers] == [None, None]


def test_a_mistyped_assignee_email_is_kept_for_the_rules_to_judge() -> None:
    numbers = read_statements("Numbers:\n503-555-0101 Dana Ortiz <dana@acme>").numbers
    assert numbers[0].assignee_email == "dana@acme"


def test_french_sentences_name_numbers_by_their_last_four_digits() -> None:
    text = (
        "Nous voulons transférer 819-839-7275 et 819-242-6873. Le 7275 va à Sophie Gagnon "
        "(sophie@lesentreprises.ca). NIP du 7275 : 9597. Le 6873 va à Chantal Roy. "
        "NIP du 6873 : 3400."
    )
    rows = [(e.pin, e.assignee_name) for e in read_statements(text).numbers]
    assert rows == [("9597", "Sophie Gagnon"), ("3400", "Chantal Roy")]


def test_the_last_four_of_a_french_sin_is_read() -> None:
    assert read_statements("4 derniers chiffres NAS : 7469").ssn_last4 == "7469"


@pytest.mark.parametrize(
    "label",
    [
        "account name",
        "account holder",
        "business name",
        "company name on bill",
        "name on the account",
    ],
)
def test_a_label_of_several_words_needs_no_colon(label: str) -> None:
    text = f"Carrier: Frontier, {label} Granite Builders Group Inc., account # 62301955"
    assert read_statements(text).account_name == "Granite Builders Group Inc."


def test_a_number_named_as_the_nnnn_line_gets_its_user() -> None:
    text = (
        "We want to move 876.925.2318 and 503.348.1735. The 2318 line goes to Laura Lee "
        "(laura@falconbuilders.us). The 1735 line goes to Sam Ortiz."
    )
    assert [e.assignee_name for e in read_statements(text).numbers] == ["Laura Lee", "Sam Ortiz"]


def test_one_tabbed_row_under_a_heading_is_a_table() -> None:
    numbers = read_statements("Lines:\n(208) 781-3781\tRaj Chen\t\t5334\n").numbers
    assert [(e.assignee_name, e.pin) for e in numbers] == [("Raj Chen", "5334")]


def test_a_listed_number_with_an_impossible_area_code_is_kept() -> None:
    text = "Please port:\n- 150-379-8898 Noah Baker\n- 505-332-5438 Dana"
    numbers = read_statements(text).numbers
    assert [e.raw for e in numbers] == ["150-379-8898", "505-332-5438"]


def test_a_number_twice_in_the_sentence_that_lists_them_is_a_duplicate() -> None:
    text = "We want to move +1 505 964 5633, +1 505 681 7878 and +1 505 964 5633."
    assert [e.raw for e in read_statements(text).numbers] == [
        "+1 505 964 5633",
        "+1 505 681 7878",
        "+1 505 964 5633",
    ]


def test_a_location_label_ends_the_name_before_it() -> None:
    s = read_statements(
        "Provider: Verizon, account name Cedar Point Engineering Co, "
        "location 2831 Maple St, Austin, TX 78701"
    )
    assert s.account_name == "Cedar Point Engineering Co"
    assert s.service_address is not None and s.service_address.street == "2831 Maple St"
