"""find_carrier: the carrier a customer is leaving, by its common name."""

from __future__ import annotations

import pytest

from parsers.carriers import carriers, find_carrier, stated_carrier


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Current carrier: AT&T", "AT&T"),
        ("our carrier is ATT", "AT&T"),
        ("We are with AT and T right now", "AT&T"),
        ("Current carrier: Verizon Wireless", "Verizon"),
        ("currently with Verizon Business", "Verizon"),
        ("moving from Sprint", "T-Mobile"),
        ("Carrier: TMobile", "T-Mobile"),
        ("Our phones are with Xfinity", "Comcast Business"),
        ("provider: Comcast", "Comcast Business"),
        ("switching from Charter", "Spectrum"),
        ("Current provider - CenturyLink", "CenturyLink"),
        ("we're porting away from Qwest", "CenturyLink"),
        ("Current carrier: RingCentral", "RingCentral"),
        ("numbers are with Follow Up Boss", "Follow Up Boss"),
        ("Our numbers are in FollowUpBoss", "Follow Up Boss"),
        ("We use Lofty for our agents; current carrier: Lofty", "Lofty"),
        ("Carrier: Bell Canada", "Bell"),
        ("Current carrier: Rogers", "Rogers"),
        ("Current carrier: Vidéotron", "Videotron"),
        ("We're leaving Cincinnati Bell", "Cincinnati Bell"),
        ("current carrier: cox", "Cox Business"),
        ("Our numbers are on 8x8", "8x8"),
        ("Google Voice numbers", "Google Voice"),
        ("Microsoft Teams Phone", "Microsoft Teams"),
    ],
)
def test_carrier_is_named_by_its_common_name(text: str, expected: str) -> None:
    assert find_carrier(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Please look at the attached bill",  # "at" is not AT&T
        "Mr Campbell will call you",  # "bell" inside a word
        "We need more bandwidth on the line",  # a word, lower case
        "Please send a consolidated list",
        "Sent from my Verizon, Samsung Galaxy smartphone",  # a device signature
        "Reply to john@att.net",  # an email domain
        "",
    ],
)
def test_words_that_only_look_like_carriers_are_not_carriers(text: str) -> None:
    assert find_carrier(text) is None


def test_explicit_statement_wins_over_a_surname_that_is_a_carrier() -> None:
    text = "Name on account: John Shaw\nCurrent carrier: Telus"
    assert find_carrier(text) == "TELUS"


def test_explicit_statement_wins_over_an_earlier_mention() -> None:
    text = "We used to have Comcast years ago.\nOur current carrier is Spectrum."
    assert find_carrier(text) == "Spectrum"


def test_surname_on_a_name_line_is_not_a_carrier() -> None:
    assert find_carrier("Account holder: Mary Rogers\nThanks") is None


def test_ordinary_word_does_not_beat_a_real_carrier_in_a_statement() -> None:
    assert find_carrier("We have a consolidated bill with Comcast") == "Comcast Business"


def test_carrier_mentioned_without_a_statement_counts() -> None:
    assert find_carrier("Attached is our latest Frontier bill.") == "Frontier"


def test_unknown_carrier_in_a_labelled_line_is_kept_as_written() -> None:
    assert stated_carrier("Current carrier: Hill Country Telephone Coop") == (
        "Hill Country Telephone Coop"
    )
    assert stated_carrier("Current carrier: not sure") is None


def test_carrier_data_loads_with_unique_common_names_for_the_big_ones() -> None:
    names = {c.name for c in carriers()}
    for expected in ("AT&T", "Verizon", "T-Mobile", "Comcast Business", "Follow Up Boss", "Bell"):
        assert expected in names
    assert all(c.aliases for c in carriers())


def test_the_platform_the_customer_moves_to_is_not_the_current_carrier() -> None:
    assert find_carrier("Hello Lofty support,\nPlease port our AT&T lines to Lofty.") == "AT&T"
    assert find_carrier("We want to bring our numbers over to Lofty.") is None


@pytest.mark.parametrize(
    ("text", "carrier"),
    [
        ("We are currently with epb. The account is ours.", "epb"),
        ("Please see below the info for our number transfer from EPB.", "EPB"),
        ("Details for moving our lines over from NextLight are below.", "NextLight"),
        ("We'd like to port our phone numbers from our current provider to Lofty.", None),
    ],
)
def test_a_carrier_the_data_does_not_know_is_taken_from_the_sentence(
    text: str, carrier: str | None
) -> None:
    from parsers.body import read_statements

    assert read_statements(text).current_carrier == carrier
