"""The intake's configuration sections: defaults, checks, and secrets kept out of the TOML."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.adapters.imap import imap_secret
from bot.config import load_config
from bot.errors import ConfigError, MailboxAuthError


def _load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "config.toml"
    path.write_text(text)
    return load_config(path)


def test_the_intake_sections_load_with_their_keys(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        '[imap]\nhost = "imap.example.com"\nfolders = ["INBOX", "Ports"]\n'
        "[schedule]\npoll_seconds = 30\nidle = true\n"
        '[state]\npath = "/var/lib/portbot/state.db"\n',
    )
    assert config.imap.host == "imap.example.com"
    assert config.imap.folders == ("INBOX", "Ports")
    assert config.schedule.poll_seconds == 30 and config.schedule.idle
    assert config.state.path == "/var/lib/portbot/state.db"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[imap]\npassword = "hunter2"\n', "unknown key(s): password"),
        ('[imap]\nsecurity = "none"\n', 'security must be "tls" or "starttls"'),
        ('[imap]\nport = "993"\n', "[imap] port must be a number"),
        ("[imap]\nfolders = []\n", "at least one folder"),
        ('[imap]\nauth = "xoauth2"\n', "exactly one of oauth2_token_command"),
        ("[schedule]\npoll_seconds = 0\n", "must be positive"),
        ("[schedule]\nidle = 1\n", "true or false"),
        ('[quarantine]\nfolder = ""\n', "must not be empty"),
    ],
)
def test_a_wrong_intake_setting_says_what_is_wrong(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(words)):
        _load(tmp_path, text)


def test_the_password_comes_from_the_environment_or_a_file(tmp_path: Path) -> None:
    config = _load(tmp_path, '[imap]\npassword_env = "MY_PW"\n')
    assert imap_secret(config.imap, {"MY_PW": "s3cret"}) == "s3cret"
    with pytest.raises(MailboxAuthError, match="set the environment variable MY_PW"):
        imap_secret(config.imap, {})
    (tmp_path / "pw").write_text("from-file\n")
    config = _load(tmp_path, f'[imap]\npassword_file = "{tmp_path / "pw"}"\n')
    assert imap_secret(config.imap, {}) == "from-file"


def test_an_oauth2_token_comes_from_a_command_or_a_file(tmp_path: Path) -> None:
    config = _load(
        tmp_path, '[imap]\nauth = "xoauth2"\noauth2_token_command = ["echo", "ya29.token"]\n'
    )
    assert imap_secret(config.imap, {}) == "ya29.token"
    failing = _load(tmp_path, '[imap]\nauth = "xoauth2"\noauth2_token_command = ["false"]\n')
    with pytest.raises(MailboxAuthError, match="exited with 1 and no token"):
        imap_secret(failing.imap, {})
    (tmp_path / "token").write_text("ya29.from-file\n")
    token = tmp_path / "token"
    config = _load(tmp_path, f'[imap]\nauth = "xoauth2"\noauth2_token_file = "{token}"\n')
    assert imap_secret(config.imap, {}) == "ya29.from-file"
