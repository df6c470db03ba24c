"""Paths shared by the tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FIXTURES = ROOT / "fixtures" / "emails"


@pytest.fixture(scope="session")
def schema() -> dict[str, Any]:
    return json.loads((SHARED / "contract" / "assessment.schema.json").read_text())  # type: ignore[no-any-return]
