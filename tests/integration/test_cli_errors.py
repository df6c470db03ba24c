"""`portbot assess` exits 2 with one clear line only when it cannot run at all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bot.cli import main
from tests.conftest import SHARED

REAL_MAIL = sorted((SHARED / "real-mail" / "mail-parser").glob("*.eml"))


def test_a_missing_file_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["assess", str(tmp_path / "nope.eml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope.eml" in err[0]


def test_an_outlook_msg_file_is_not_an_email(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["assess", str(SHARED / "real-mail/mail-parser/mail_outlook_1.msg")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "mail_outlook_1.msg" in err[0]


@pytest.mark.parametrize("path", REAL_MAIL, ids=[p.name for p in REAL_MAIL])
def test_real_mail_from_the_wild_is_assessed(
    path: Path, capsys: pytest.CaptureFixture[str], schema: dict[str, Any]
) -> None:
    assert main(["assess", "--today", "2026-11-27", str(path)]) == 0
    out = json.loads(capsys.readouterr().out)
    jsonschema.validate(out, schema)
    assert out["ready"] is False
