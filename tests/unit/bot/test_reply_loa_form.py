"""The filled-in LOA on the auto-reply (bot/render/reply_email.py with bot/render/loa_form.py):
attached when the LOA is missing or has a problem, with one line saying what to do with it,
and read back by the bot as the LOA it is."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
from functools import cache

import pytest

from bot.cli.assess import assess_files
from bot.config import Config
from bot.render.loa_form import FILENAME, LoaTemplate
from bot.render.reply_email import render_reply, reply_attachments, reply_text, sent_note, wording
from parsers.documents import read_attachment
from parsers.email import parse_message
from parsers.limits import Limits
from parsers.model import Attachment, Message
from rules.assessment import Assessment
from rules.reply import ReplyPlan, plan_reply
from tests.conftest import FIXTURES
from tests.reply_cases import OUR_DOMAIN, SUPPORT

NOW = dt.datetime(2026, 11, 27, 9, 30, tzinfo=dt.UTC)
TEMPLATE = LoaTemplate(company_name="Lofty Voice")


@cache
def _assess(prefix: str) -> tuple[Assessment, Message]:
    folder = next(p for p in sorted(FIXTURES.iterdir()) if p.name.startswith(prefix))
    expected = json.loads((folder / "expected.json").read_text())
    paths = sorted(folder.glob("*.eml"))
    assessment = assess_files(paths, Config(), dt.date.fromisoformat(expected["today"]))
    return assessment, parse_message(paths[-1].read_bytes())


def _reply(
    prefix: str, loa: LoaTemplate | None = TEMPLATE
) -> tuple[Assessment, email.message.EmailMessage]:
    assessment, message = _assess(prefix)
    plan = plan_reply(assessment, None)
    assert isinstance(plan, ReplyPlan)
    reply = render_reply(
        plan,
        assessment,
        message,
        support_address=SUPPORT,
        support_name="Lofty Porting Team",
        domain=OUR_DOMAIN,
        now=NOW,
        loa=loa,
    )
    return assessment, reply


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(
    "prefix", ["10-missing-name-address-bill-loa", "26-loa-unsigned", "27-loa-numbers-missing"]
)
def test_a_reply_about_a_missing_or_wrong_loa_carries_the_filled_in_form(prefix: str) -> None:
    assessment, reply = _reply(prefix)
    assert assessment.checklist["loa"] in ("missing", "problem")
    files = reply_attachments(reply)
    assert [(name, ctype) for name, ctype, _ in files] == [(FILENAME, "application/pdf")]
    assert _flat(str(wording()["loa_form"])) in _flat(reply_text(reply))
    html = reply.get_body(preferencelist=("html",))
    assert html is not None and "LOA-to-sign.pdf" in html.get_content()
    # The bot reads its own form as an LOA listing every number of the request
    doc = read_attachment(
        Attachment(FILENAME, "application/pdf", files[0][2]), Limits(sandbox=False)
    )
    assert doc.kind == "loa" and doc.loa is not None and not doc.loa.signed
    portable = {p.number for p in assessment.problems if p.item == "numbers"}
    wanted = {n.raw for n in assessment.numbers} - portable
    assert set(doc.loa.numbers) >= {w for w in wanted if w.startswith("+1")}
    # The ticket's note says what went with the reply
    assert f"Attached: {FILENAME}" in sent_note(reply, "incomplete")


def test_no_form_when_the_loa_is_fine_or_the_form_is_off() -> None:
    assessment, reply = _reply("01-ready")
    assert assessment.checklist["loa"] == "ok"
    assert reply_attachments(reply) == []
    assert "LOA-to-sign.pdf" not in reply_text(reply)
    _, off = _reply("26-loa-unsigned", loa=None)
    assert reply_attachments(off) == []
    assert "LOA-to-sign.pdf" not in reply_text(off)
    assert "Attached:" not in sent_note(off, "incomplete")


def test_the_form_carries_no_pin_of_the_request() -> None:
    assessment, reply = _reply("26-loa-unsigned")
    pins = {n.pin for n in assessment.numbers if n.pin}
    assert pins
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(reply_attachments(reply)[0][2])
    text = "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    for pin in pins:
        assert pin not in text


def test_the_form_is_the_same_bytes_each_time() -> None:
    # The MIME boundary differs; the recorded reply is what a resend repeats anyway.
    first = reply_attachments(_reply("26-loa-unsigned")[1])
    assert first == reply_attachments(_reply("26-loa-unsigned")[1])
