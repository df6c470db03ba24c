"""Is this a porting request? The sorter on plain data, then on mail it never saw."""

from __future__ import annotations

import pytest

from bench.sorting import score
from rules.mail_kind import MailFacts, SortPolicy, sort_mail


def test_a_plain_porting_request_is_one() -> None:
    verdict = sort_mail(MailFacts("Port request", "Please port our 3 numbers from Rogers."))
    assert verdict.kind == "porting_request" and verdict.is_request


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("SIP port 5060 blocked?", "Which port do you use for SIP, port 5060 or 5061?"),
        ("Transfer ownership of our account", "How do I transfer admin ownership to me?"),
        ("Question about my invoice", "Our invoice shows two charges. Call me at 416-555-0100."),
        ("Airport office setup", "We open an office at the airport: 2 desk phones please."),
    ],
)
def test_questions_that_use_porting_words_loosely_are_other_mail(subject: str, body: str) -> None:
    assert sort_mail(MailFacts(subject, body)).kind == "other"


def test_an_out_of_office_quoting_our_port_subject_is_automatic() -> None:
    facts = MailFacts(
        "Automatic reply: Port request for 3 numbers",
        "I am out of the office until Monday.",
        automatic=("auto_submitted", "auto_replied", "auto_subject"),
    )
    assert sort_mail(facts).kind == "automatic"


def test_a_web_form_relaying_a_whole_request_is_a_request_and_a_digest_is_not() -> None:
    form = MailFacts(
        "New form submission: Port your numbers",
        "Numbers to port: 416-555-0101, 416-555-0102\nPort PIN: 1234",
        numbers=2,
        pin=True,
        automatic=("auto_submitted", "noreply_sender"),
    )
    digest = MailFacts(
        "[VoIP-users] Digest", "1. Porting numbers from Bell\n2. LOA templates", automatic=("list",)
    )
    assert sort_mail(form).kind == "porting_request"
    assert sort_mail(digest).kind == "automatic"


def test_a_partner_address_is_never_a_customer_request() -> None:
    facts = MailFacts("Port date confirmed", "Your port-in PN123 for 2 numbers", from_partner=True)
    assert sort_mail(facts).kind == "partner_mail"


def test_in_a_known_conversation_a_person_follows_up_and_an_auto_reply_does_not() -> None:
    assert sort_mail(MailFacts("Re: Port request", "Here is the PIN", known_thread=True)).is_request
    auto = MailFacts("Re: Port request", "Away", known_thread=True, automatic=("auto_submitted",))
    assert sort_mail(auto).kind == "automatic"


def test_the_threshold_and_extra_words_come_from_configuration() -> None:
    facts = MailFacts("Hello", "Please handle our DID onboarding for the new office")
    assert sort_mail(facts).kind == "other"
    policy = SortPolicy.configured(threshold=3, extra_words=(r"\bDID onboarding\b",))
    assert sort_mail(facts, policy).kind == "porting_request"
    assert sort_mail(MailFacts("Port request", ""), SortPolicy.configured(99)).kind == "other"


def test_on_mail_it_never_saw_the_sorter_misses_no_request_and_files_almost_no_other_mail() -> None:
    # the corpus's first messages (porting requests, English and French, many shapes),
    # a support@ mix of another seed than the benchmark's, and the real mail of ../shared
    figures = score(n_corpus=60, n_mix=200, mix_seed=11)
    assert figures["recall"] >= 0.99
    assert figures["false tickets per 100 other mails"] <= 1.0
