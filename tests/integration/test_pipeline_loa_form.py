"""The filled-in LOA end to end: a request without an LOA (fixture 01 with its LOA taken
off) gets a reply carrying the LOA filled in from the request, noted and attached on the
ticket; the customer answers with it signed on screen, and the request becomes ready.
Real parts: dovecot, the SMTP server on loopback, the Zendesk emulator over HTTP."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

from bot.cli.assess import assess_files
from bot.config import Config
from bot.render.loa_form import FILENAME, loa_form
from bot.render.reply_email import reply_attachments
from bot.standins.localmail import LocalMail
from bot.standins.zendesk_emulator import Emulator
from parsers.email import parse_message
from tests import loa_form_copies as copies
from tests.conftest import FIXTURES
from tests.integration.mailbox_support import new_folder
from tests.integration.smtp_support import SmtpServer
from tests.integration.test_pipeline_reply import SUPPORT, app, reply_config
from tests.integration.test_pipeline_zendesk import comments, config_for, tickets

TODAY = "2026-11-20"


def without_loa(raw: bytes) -> bytes:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    kept = [p for p in msg.iter_attachments() if "LOA" not in (p.get_filename() or "")]
    assert len(kept) == len(list(msg.iter_attachments())) - 1
    body = msg.get_body(preferencelist=("plain", "html"))
    assert body is not None
    out = EmailMessage()
    for key, value in msg.items():
        if key.lower() not in ("content-type", "content-transfer-encoding", "mime-version"):
            out[key] = value
    out.set_content(str(body.get_content()))
    for part in kept:
        maintype, subtype = part.get_content_type().split("/")
        out.add_attachment(
            part.get_payload(decode=True),
            maintype=maintype,
            subtype=subtype,
            filename=part.get_filename(),
        )
    return out.as_bytes(policy=email.policy.SMTP)


def test_a_request_without_loa_gets_the_filled_in_loa_and_its_signed_copy_makes_it_ready(
    server: LocalMail, em: Emulator, smtp: tuple[SmtpServer, list[str]], tmp_path: Path
) -> None:
    running, copies_folder = smtp
    folder = copies_folder[0] = new_folder()
    [path] = sorted((FIXTURES / "01-ready-att-acme-csv").glob("*.eml"))
    first = without_loa(path.read_bytes())
    config = reply_config(config_for(server, em, folder, tmp_path / "state.db"), running)
    customer = parse_message(first)
    assert customer.sender is not None and customer.message_id is not None

    with app(config, TODAY) as intake:
        server.append(folder, [first])
        intake.poll()
        [reply] = running.handler.to(customer.sender)
        assert reply.message["X-Portbot-Reply"] == "incomplete"
        [(name, ctype, pdf)] = reply_attachments(reply.message)
        assert (name, ctype) == (FILENAME, "application/pdf")
        assert "LOA-to-sign.pdf" in reply.text()  # the line saying what to do with it
        # the form is the one the request's assessment gives, with the support team's name
        tmp = tmp_path / "first.eml"
        tmp.write_bytes(first)
        assessment = assess_files([tmp], Config(), dt.date.fromisoformat(TODAY))
        assert assessment.checklist["loa"] == "missing"
        assert config.reply is not None
        form = loa_form(assessment, config.loa.template(config.reply.support_name))
        assert form.pdf == pdf
        # the ticket: noted, and the form attached for the agent
        [ticket] = tickets(em)
        notes = comments(em, ticket["id"])
        sent = [c for c in notes if "auto-reply sent" in c["body"]]
        assert len(sent) == 1 and f"Attached: {FILENAME}" in sent[0]["body"]
        assert [a["file_name"] for a in sent[0].get("attachments", [])] == [FILENAME]

        # the customer signs it on screen and answers in the thread
        answer = copies.email_with(
            ("LOA-to-sign signed.pdf", "application/pdf", copies.typed_signature(form)),
            sender=f"{customer.sender_name} <{customer.sender}>",
            to=SUPPORT,
            subject=f"Re: {customer.subject}",
            message_id="<signed-loa-1@acmerealtytx.com>",
            in_reply_to=customer.message_id,
        )
        server.append(folder, [answer])
        intake.poll()
        [ticket] = tickets(em)
        assert "port_ready" in ticket["tags"]
        replies = running.handler.to(customer.sender)
        assert len(replies) == 2
        assert replies[-1].message["X-Portbot-Reply"] == "ready"
        assert reply_attachments(replies[-1].message) == []
