"""`[reply] templates_dir` (issue 16, item 11): the reply's templates and wording
overridden file by file from a folder of the user's, the customer's email rendered
from them (real dovecot, a real SMTP server, `portbot poll`), and `doctor`'s check of
the folder: every placeholder known, text and HTML both there."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from bot.cli.assess import assess_files
from bot.config import load_config
from bot.render.reply_email import render_reply, reply_text, reply_view
from bot.render.template_check import VIEW_KEYS
from bot.standins.localmail import LocalMail
from parsers.email import parse_message
from rules.reply import ReplyPlan
from tests.conftest import FIXTURES
from tests.integration.mailbox_support import new_folder, toml_config
from tests.integration.smtp_support import Handler, SmtpServer, smtp_server
from tests.integration.test_first_day import portbot, smtp_toml
from tests.integration.test_pipeline_reply import SUPPORT

PACKAGE = Path(__file__).parents[2] / "bot" / "render" / "templates"
MISSING = FIXTURES / "10-missing-name-address-bill-loa"
CUSTOMER = "derek.olsen@gmail.com"


@pytest.fixture()
def smtp(server: LocalMail, tmp_path: Path) -> Iterator[SmtpServer]:
    with smtp_server(tmp_path, Handler(local=SUPPORT)) as running:
        yield running


def _ours(folder: Path) -> Path:
    """A folder overriding the 'incomplete' email and one phrase of the wording."""
    folder.mkdir()
    for suffix in ("txt", "html"):
        text = (PACKAGE / f"incomplete.{suffix}").read_text()
        text = text.replace(
            "Thank you for your porting request.",
            "Thanks from Lofty's porting desk (we'd like your number to move smoothly).",
        )
        (folder / f"incomplete.{suffix}").write_text(text)
    (folder / "wording.toml").write_text(
        '[items.account_name]\nask = "The account holder name, letter for letter as billed."\n'
    )
    return folder


def _first() -> bytes:
    return sorted(MISSING.glob("*.eml"))[0].read_bytes()


def test_the_templates_view_names_exactly_the_placeholders_doctor_knows(tmp_path: Path) -> None:
    config = load_config(None)
    assessment = assess_files(sorted(MISSING.glob("*.eml"))[:1], config, dt.date(2026, 11, 27))
    plan = ReplyPlan("incomplete", False, (), (), "r1")
    view = reply_view(
        plan,
        assessment,
        parse_message(_first()),
        to=CUSTOMER,
        support_address=SUPPORT,
        support_name="Lofty",
    )
    assert set(view) == VIEW_KEYS


def test_a_templates_dir_overrides_file_by_file_and_the_rest_stays(tmp_path: Path) -> None:
    folder = _ours(tmp_path / "templates")
    config = load_config(None)
    assessment = assess_files(sorted(MISSING.glob("*.eml"))[:1], config, dt.date(2026, 11, 27))

    def reply(kind: str, templates_dir: str = "") -> EmailMessage:
        return render_reply(
            ReplyPlan(kind, False, (), (), "r1"),
            assessment,
            parse_message(_first()),
            support_address=SUPPORT,
            support_name="Lofty",
            domain="ourco.example",
            templates_dir=templates_dir,
        )

    ours = reply("incomplete", str(folder))
    text = reply_text(ours)
    assert "Thanks from Lofty's porting desk" in text
    assert "The account holder name, letter for letter as billed." in text
    html = ours.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Thanks from Lofty's porting desk" in html
    # the other phrases and the package's own templates are untouched
    assert "Your current carrier" in text or "current carrier" in text.lower()
    assert "Thank you for your porting request." in reply_text(reply("incomplete"))
    assert reply_text(reply("ready", str(folder))) == reply_text(reply("ready"))


def test_doctor_checks_every_placeholder_and_both_parts(
    server: LocalMail, smtp: SmtpServer, tmp_path: Path
) -> None:
    folder = _ours(tmp_path / "templates")
    (folder / "incomplete.txt").write_text(
        (folder / "incomplete.txt")
        .read_text()
        .replace("{{ greeting }}", "Dear {{ customer_name }},")
    )
    (folder / "ready.txt").write_text((PACKAGE / "ready.txt").read_text())  # no ready.html
    (folder / "notes.md").write_text("our drafts\n")
    (folder / "_signature.html").write_text("{% if %}broken")
    (folder / "_signature.txt").write_text("{{ wording.sign_off }}\n")
    config = tmp_path / "portbot.toml"
    config.write_text(
        toml_config(server, "INBOX", tmp_path / "state.db")
        + smtp_toml(smtp)
        + 'templates_dir = "templates"\n'
    )
    done = portbot("doctor", "--config", str(config), cwd=tmp_path.parent)
    assert done.returncode == 1
    out = done.stdout
    assert "incomplete.txt uses unknown placeholder(s) {{ customer_name }}; known: " in out
    assert "has ready.txt but not ready.html: override both" in out
    assert "_signature.html line 1:" in out
    assert "_signature.txt uses wording.sign_off, not in wording.toml" in out
    assert "notes.md is not a file the bot uses and is ignored" in out
    # poll will not start with templates no reply could be rendered from
    polled = portbot("poll", "--config", str(config))
    assert polled.returncode == 2 and polled.stderr.count("\n") == 1
    assert "[reply] templates_dir has ready.txt but not ready.html" in polled.stderr


def test_a_poll_answers_the_customer_in_the_teams_own_words(
    server: LocalMail, smtp: SmtpServer, tmp_path: Path
) -> None:
    _ours(tmp_path / "templates")
    folder = new_folder()
    server.append(folder, [_first()])
    config = tmp_path / "portbot.toml"
    config.write_text(
        toml_config(server, folder, tmp_path / "state.db")
        + smtp_toml(smtp)
        + 'templates_dir = "templates"\n'
    )
    doctor = portbot("doctor", "--config", str(config))
    assert f"[reply] templates_dir {tmp_path / 'templates'}: overrides incomplete.html, " in (
        doctor.stdout
    )
    assert "every placeholder known, text and HTML present" in doctor.stdout
    polled = portbot("poll", "--config", str(config))
    assert polled.returncode == 0, polled.stderr
    [delivered] = smtp.handler.to(CUSTOMER)
    message = delivered.message
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Thanks from Lofty's porting desk" in text
    assert "The account holder name, letter for letter as billed." in text
