"""IMAP IDLE by default (issue 16, item 13): `portbot run` with a configuration that
says nothing of IDLE, against the local dovecot (which announces it), reads a new
request as it arrives although the next poll is an hour away. Waits are on the
bot's own log lines (readiness signals), never on the clock."""

from __future__ import annotations

import signal
from pathlib import Path

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
