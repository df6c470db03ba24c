"""IMAP IDLE by default (issue 16, item 13): `portbot run` with a configuration that
says nothing of IDLE, against the local dovecot (which announces it), reads a new
request as it arrives although the next poll is an hour away. Waits are on the
bot's own log lines (readiness signals), never on the clock."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from bot.config import load_config
from bot.standins.localmail import LocalMail
from tests.integration.mailbox_support import message, new_folder, toml_config
from tests.integration.test_mailbox import _Lines, _run_bot, server  # noqa: F401


def test_portbot_run_idles_by_default_and_reads_new_mail_as_it_arrives(
    server: LocalMail,  # noqa: F811
    tmp_path: Path,
) -> None:
    folder = new_folder()
    server.append(folder, [])
    text = toml_config(server, folder, tmp_path / "state.db", poll_seconds=3600.0)
    text = text.replace("idle = false\n", "") + "[metrics]\nenabled = false\n"
    config = tmp_path / "portbot.toml"
    config.write_text(text)
    assert load_config(config).schedule.idle is True  # nothing said: IDLE on
    bot = _run_bot(config)
    assert bot.stderr is not None
    lines = _Lines(bot.stderr)
    try:
        lines.wait_for(f"IMAP IDLE on {folder}")  # the first poll is done, IDLE begins
        server.append(folder, [message(1)])
        # the scheduled poll is an hour away: only IDLE can bring it in
        lines.wait_for("poll: 1 assessed")
    finally:
        bot.send_signal(signal.SIGTERM)
        bot.wait(60)
    assert "IDLE: new mail in" in lines.text()
    assert bot.returncode == 0


# What dovecot announces after login, less IDLE: a server that cannot push new mail.
WITHOUT_IDLE = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE SORT THREAD=REFERENCES MULTIAPPEND "
    "UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC "
    "ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SPECIAL-USE"
)


def test_without_idle_on_the_server_portbot_run_says_so_and_the_poll_reads_new_mail(
    tmp_path: Path,
) -> None:
    from bot.standins.localmail import dovecot_binary, local_dovecot

    if dovecot_binary() is None:
        pytest.skip("dovecot is not installed (Debian: apt-get install dovecot-imapd)")
    with local_dovecot(capabilities=WITHOUT_IDLE) as plain_server:
        folder = new_folder()
        plain_server.append(folder, [])
        text = toml_config(plain_server, folder, tmp_path / "state.db", poll_seconds=1.0)
        text = text.replace("idle = false\n", "") + "[metrics]\nenabled = false\n"
        config = tmp_path / "portbot.toml"
        config.write_text(text)
        bot = _run_bot(config)
        assert bot.stderr is not None
        lines = _Lines(bot.stderr)
        try:
            lines.wait_for("does not announce IDLE")  # the fallback, said once
            plain_server.append(folder, [message(1)])
            lines.wait_for("poll: 1 assessed")  # brought in by the poll
        finally:
            bot.send_signal(signal.SIGTERM)
            bot.wait(60)
        assert "IMAP IDLE on" not in lines.text()
        assert bot.returncode == 0
