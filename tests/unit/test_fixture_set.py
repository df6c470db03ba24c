"""The email-thread fixtures themselves: valid expectations, full coverage, real mail.

These tests check the fixture set, not the bot: every expected.json follows the
contract's schema and its own consistency rules, together the threads cover every
problem code and every checklist status, and the .eml files are well-formed
threads whose attachments decode.
"""

from __future__ import annotations

import email
import email.policy
import itertools
import json
import re
from collections import Counter
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import jsonschema
import phonenumbers
import pytest

from tests.conftest import FIXTURES

THREADS = sorted(
    p
    for p in FIXTURES.iterdir()
    if (p / "expected.json").is_file() and not p.name.startswith("ocr-")
)
IDS = [p.name for p in THREADS]

CODE_ITEM = {
    "number_invalid": "numbers",
    "number_not_us_ca": "numbers",
    "number_not_local": "numbers",
    "number_duplicate": "numbers",
    "number_no_assignee": "numbers",
    "assignee_email_invalid": "numbers",
    "address_not_physical": "service_address",
    "bill_too_old": "bill",
    "bill_date_unknown": "bill",
    "bill_unreadable": "bill",
    "bill_name_mismatch": "bill",
    "bill_account_mismatch": "bill",
    "bill_address_mismatch": "bill",
    "bill_btn_mismatch": "bill",
    "loa_unsigned": "loa",
    "loa_numbers_missing": "loa",
    "loa_name_mismatch": "loa",
    "follow_up_boss": "current_carrier",
}
NUMBER_CODES = {
    "number_invalid",
    "number_not_us_ca",
    "number_not_local",
    "number_duplicate",
    "number_no_assignee",
    "assignee_email_invalid",
    "loa_numbers_missing",
}
REQUEST_ITEMS = {
    "current_carrier": "current_carrier",
    "account_number": "account_number",
    "account_name": "account_name",
    "service_address": "service_address",
    "billing_telephone_number": "billing_telephone_number",
}


def _expected(thread: Path) -> dict[str, Any]:
    return json.loads((thread / "expected.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _messages(thread: Path) -> list[EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted(thread.glob("*.eml"))
    ]


def test_there_are_at_least_34_threads() -> None:
    assert len(THREADS) >= 34


@pytest.mark.parametrize("thread", THREADS, ids=IDS)
def test_expectation_follows_the_schema(thread: Path, schema: dict[str, Any]) -> None:
    data = _expected(thread)
    assert set(data) == {"description", "today", "assessment"}
    assert re.fullmatch(r"2026-1[01]-\d\d", data["today"])
    jsonschema.validate(data["assessment"], schema)


@pytest.mark.parametrize("thread", THREADS, ids=IDS)
def test_expectation_is_consistent(thread: Path) -> None:
    a = _expected(thread)["assessment"]
    req, checklist, problems = a["request"], a["checklist"], a["problems"]
    assert list(checklist) == [
        "current_carrier",
        "account_number",
        "account_name",
        "service_address",
        "billing_telephone_number",
        "ssn_last4",
        "numbers",
        "pins",
        "bill",
        "loa",
    ]
    items_with_problems = {p["item"] for p in problems}
    for p in problems:
        assert CODE_ITEM[p["code"]] == p["item"], p
        assert (p["number"] is not None) == (p["code"] in NUMBER_CODES), p
        if p["number"] is not None:
            assert p["number"] in [n["number"] for n in req["numbers"]], p
    for key, status in checklist.items():
        if key == "ssn_last4":
            assert status == ("ok" if req["ssn_last4"] else "not_provided")
            continue
        assert (status == "problem") == (key in items_with_problems), key
    for key, field in REQUEST_ITEMS.items():
        assert (checklist[key] == "missing") == (req[field] is None), key
    assert (checklist["numbers"] == "missing") == (not req["numbers"])
    kinds = {d["kind"] for d in a["documents"]}
    assert (checklist["bill"] == "missing") == ("bill" not in kinds)
    assert (checklist["loa"] == "missing") == ("loa" not in kinds)
    pins_ok = req["no_pin_stated"] or (
        bool(req["numbers"]) and all(n["pin"] for n in req["numbers"])
    )
    assert checklist["pins"] == ("ok" if pins_ok else "missing")
    ready = not problems and all(v == "ok" for k, v in checklist.items() if k != "ssn_last4")
    assert a["ready"] == ready
    assert len({n["number"] for n in req["numbers"]}) == len(req["numbers"])
    assert req["via_follow_up_boss"] == (req["current_carrier"] == "Follow Up Boss")


@pytest.mark.parametrize("thread", THREADS, ids=IDS)
def test_number_problems_agree_with_phonenumbers(thread: Path) -> None:
    a = _expected(thread)["assessment"]
    flagged = {(p["code"], p["number"]) for p in a["problems"]}
    for entry in a["request"]["numbers"]:
        n = entry["number"]
        try:
            parsed = phonenumbers.parse(n, None)
            valid = phonenumbers.is_valid_number(parsed)
        except phonenumbers.NumberParseException:
            valid = False
        assert (("number_invalid", n) in flagged) == (not valid), n
        if not valid:
            continue
        region = phonenumbers.region_code_for_number(parsed)
        assert (("number_not_us_ca", n) in flagged) == (region not in ("US", "CA")), n
        local = phonenumbers.number_type(parsed) in (
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE,
            phonenumbers.PhoneNumberType.MOBILE,
        )
        if region in ("US", "CA"):
            assert (("number_not_local", n) in flagged) == (not local), n


@pytest.mark.parametrize("thread", THREADS, ids=IDS)
def test_loa_numbers_missing_only_for_portable_numbers_off_the_loa(thread: Path) -> None:
    a = _expected(thread)["assessment"]
    loas = [d for d in a["documents"] if d["kind"] == "loa" and "numbers" in d["fields"]]
    if not loas:
        assert not any(p["code"] == "loa_numbers_missing" for p in a["problems"])
        return
    on_loa = set(loas[-1]["fields"]["numbers"])
    unportable = {
        p["number"]
        for p in a["problems"]
        if p["code"] in ("number_invalid", "number_not_us_ca", "number_not_local")
    }
    want = {n["number"] for n in a["request"]["numbers"]} - on_loa - unportable
    got = {p["number"] for p in a["problems"] if p["code"] == "loa_numbers_missing"}
    assert got == want


def test_every_problem_code_and_checklist_status_is_covered() -> None:
    codes: Counter[str] = Counter()
    statuses: set[tuple[str, str]] = set()
    ready = 0
    for thread in THREADS:
        a = _expected(thread)["assessment"]
        codes.update(p["code"] for p in a["problems"])
        statuses.update(a["checklist"].items())
        ready += a["ready"]
    assert set(codes) == set(CODE_ITEM)
    for key in (
        "current_carrier",
        "account_number",
        "account_name",
        "service_address",
        "billing_telephone_number",
        "numbers",
        "pins",
        "bill",
        "loa",
    ):
        assert (key, "missing") in statuses, key
        assert (key, "ok") in statuses, key
    for item in set(CODE_ITEM.values()):
        assert (item, "problem") in statuses, item
    assert ("ssn_last4", "ok") in statuses
    assert ready >= 5


def test_message_ids_are_unique() -> None:
    ids = [m["Message-ID"] for t in THREADS for m in _messages(t)]
    assert all(ids)
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("thread", THREADS, ids=IDS)
def test_each_message_references_the_one_before(thread: Path) -> None:
    msgs = _messages(thread)
    for prev, msg in itertools.pairwise(msgs):
        refs = str(msg.get("References", "")).split()
        assert prev["Message-ID"] in refs
        assert msg["In-Reply-To"]
        assert msg["Date"].datetime > prev["Date"].datetime


@pytest.mark.parametrize("thread", THREADS, ids=IDS)
def test_every_expected_document_is_an_attachment(thread: Path) -> None:
    names: list[str] = []
    for msg in _messages(thread):
        # walk() goes into attached messages (message/rfc822) too.
        for part in msg.walk():
            name = part.get_filename()
            if name and part.get_content_type() != "message/rfc822":
                names.append(name)
                assert part.get_content(), name
    documents = [d["filename"] for d in _expected(thread)["assessment"]["documents"]]
    assert documents == names


def test_the_set_has_every_mail_client() -> None:
    agents: Counter[str] = Counter()
    for thread in THREADS:
        for msg in _messages(thread):
            agents[str(msg.get("X-Mailer") or msg.get("User-Agent") or "")[:12]] += 1
            if "mail.gmail.com" in msg["Message-ID"]:
                agents["gmail"] += 1
            if "outlook.com" in msg["Message-ID"]:
                agents["outlook365"] += 1
    for key in (
        "gmail",
        "outlook365",
        "Microsoft Ou",
        "Apple Mail (",
        "iPhone Mail ",
        "Mozilla Thun",
    ):
        assert agents[key], key
