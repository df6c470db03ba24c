"""`portbot zendesk setup --write` (issue 16, item 10): the field ids go into the
configuration file itself, against the Zendesk emulator, with the user's comments,
layout and permission bits kept."""

from __future__ import annotations

import json
import os
import stat
import textwrap
from pathlib import Path

from bot.config import load_config
from bot.render.ticket import FIELD_SPECS
from bot.standins.zendesk_emulator import Emulator
from tests.integration.test_first_day import portbot
from tests.integration.test_pipeline_zendesk import TOKEN, get


def _config(em: Emulator, tmp_path: Path) -> Path:
    path = tmp_path / "portbot.toml"
    path.write_text(
        textwrap.dedent(f"""\
            # Our portbot, set up by the support lead on day one.
            [imap]
            host = "imap.ourco.example"   # the shared support@ mailbox

            [zendesk]
            # The desk: tickets for porting requests.
            subdomain = "acme"
            email = "agent@ourco.example"  # the API user
            url = "{em.url}"

            [zendesk.names]
            porting_tag = "porting"   # our tag for the requests

            [metrics]
            # a second bot runs by hand beside the service
            enabled = false
        """)
    )
    path.chmod(0o640)
    return path


def _account_ids(em: Emulator) -> dict[str, int]:
    titles = {title: name for name, (title, _) in FIELD_SPECS.items()}
    return {
        titles[f["title"]]: int(f["id"])
        for f in get(em, "ticket_fields.json")["ticket_fields"]
        if f["title"] in titles
    }


def test_setup_write_puts_the_ids_into_the_file_keeping_its_comments(
    em: Emulator, tmp_path: Path
) -> None:
    path = _config(em, tmp_path)
    before = path.read_text()
    env = {"PORTBOT_ZENDESK_TOKEN": TOKEN}
    done = portbot("zendesk", "setup", "--write", "--config", str(path), env=env)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    ids = _account_ids(em)
    assert set(ids) == set(FIELD_SPECS)
    for name, fid in ids.items():
        assert f"{path}: [zendesk.fields] {name} = {fid} (new)" in done.stdout
    after = path.read_text()
    # every line the user wrote is still there, in the same order, comments included
    lines = iter(after.splitlines())
    assert all(line in lines for line in before.splitlines())  # a subsequence
    assert load_config(path).zendesk.names.field_ids == ids  # type: ignore[union-attr]
    assert load_config(path).metrics.enabled is False
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["portbot.toml"]  # no temporary left

    # run again: nothing to change, the file is left alone
    again = portbot("zendesk", "setup", "--write", "--config", str(path), env=env)
    assert again.returncode == 0
    assert "already has these ids; nothing written" in again.stdout
    assert path.read_text() == after


def test_setup_write_replaces_a_stale_id_and_says_what_it_was(em: Emulator, tmp_path: Path) -> None:
    path = _config(em, tmp_path)
    env = {"PORTBOT_ZENDESK_TOKEN": TOKEN}
    assert portbot("zendesk", "setup", "--write", "--config", str(path), env=env).returncode == 0
    ids = _account_ids(em)
    stale = path.read_text().replace(f"stage = {ids['stage']}", "stage = 999  # from the sandbox")
    path.write_text(stale)
    done = portbot("zendesk", "setup", "--write", "--json", "--config", str(path), env=env)
    document = json.loads(done.stdout)
    assert done.returncode == 0
    assert document["written"] == str(path)
    assert document["changed"] == [{"name": "stage", "old": 999, "new": ids["stage"]}]
    assert f"stage = {ids['stage']}  # from the sandbox" in path.read_text()


def test_setup_without_write_only_prints(em: Emulator, tmp_path: Path) -> None:
    path = _config(em, tmp_path)
    before = path.read_text()
    done = portbot("zendesk", "setup", "--config", str(path), env={"PORTBOT_ZENDESK_TOKEN": TOKEN})
    assert done.returncode == 0 and "[zendesk.fields]" in done.stdout
    assert path.read_text() == before
