"""Every fixture thread through `portbot assess` gives its expected assessment."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bot.cli import main
from parsers.address import address_key
from parsers.model import Address
from tests.conftest import FIXTURES

THREADS = sorted(p for p in FIXTURES.iterdir() if (p / "expected.json").is_file())


def _run(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, dict[str, Any]]:
    code = main(args)
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def _norm_address(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    return address_key(Address(value["street"], value["city"], value["state"], value["zip"]))


def _comparable_fields(fields: dict[str, Any]) -> dict[str, Any]:
    if "error" in fields:
        return {"error": True}
    out = {k: v for k, v in fields.items() if k != "uncertain"}
    if "service_address" in out:
        out["service_address"] = _norm_address(out["service_address"])
    return out


def _comparable(assessment: dict[str, Any]) -> dict[str, Any]:
    request = dict(assessment["request"])
    request["service_address"] = _norm_address(request["service_address"])
    return {
        "request": request,
        "documents": [
            (d["filename"], d["kind"], d["ocr"], _comparable_fields(d["fields"]))
            for d in assessment["documents"]
        ],
        "checklist": assessment["checklist"],
        "problems": sorted(
            Counter((p["code"], p["item"], p["number"]) for p in assessment["problems"]).items()
        ),
        "ready": assessment["ready"],
    }


@pytest.mark.parametrize("thread", THREADS, ids=[p.name for p in THREADS])
def test_fixture_thread_gives_its_expected_assessment(
    thread: Path, capsys: pytest.CaptureFixture[str], schema: dict[str, Any]
) -> None:
    expected = json.loads((thread / "expected.json").read_text())
    messages = sorted(str(p) for p in thread.glob("*.eml"))
    code, got = _run(capsys, ["assess", "--show-secrets", "--today", expected["today"], *messages])
    assert code == 0
    jsonschema.validate(got, schema)
    want = _comparable(expected["assessment"])
    have = _comparable(got)
    for key in ("checklist", "problems", "ready", "request", "documents"):
        assert have[key] == want[key], f"{thread.name}: {key} differs"


def test_there_are_enough_fixture_threads() -> None:
    assert len([t for t in THREADS if not t.name.startswith("ocr-")]) >= 30


def test_no_secret_is_printed_without_show_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    for thread in THREADS:
        expected = json.loads((thread / "expected.json").read_text())["assessment"]
        secrets = {n["pin"] for n in expected["request"]["numbers"] if n["pin"]}
        if expected["request"]["ssn_last4"]:
            secrets.add(expected["request"]["ssn_last4"])
        messages = sorted(str(p) for p in thread.glob("*.eml"))
        code, got = _run(capsys, ["assess", *messages])
        assert code == 0
        text = json.dumps(got["request"], ensure_ascii=False)
        text += json.dumps(got["problems"], ensure_ascii=False)
        for secret in secrets:
            assert f'"{secret}"' not in text, f"{thread.name}: a secret is shown"


def test_the_console_script_prints_schema_valid_json(schema: dict[str, Any]) -> None:
    thread = THREADS[0]
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "assess", *sorted(map(str, thread.glob("*.eml")))],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    jsonschema.validate(json.loads(proc.stdout), schema)
