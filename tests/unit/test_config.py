"""Configuration: the example file is valid and mistakes are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_config
from bot.errors import ConfigError
from tests.conftest import ROOT


def test_the_example_configuration_loads_with_the_defaults() -> None:
    config = load_config(ROOT / "config.example.toml")
    assert config.policy.bill_max_age_days == 30
    assert config.policy.supported_regions == frozenset({"US", "CA"})
    assert config == load_config(None)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[policy]\nbill_max_age = 30\n", "unknown key(s): bill_max_age"),
        ("[policy]\nbill_max_age_days = 0\n", "at least 1"),
        ('[policy]\nsupported_regions = "US"\n', "list of strings"),
        ("[limits]\nmax_pages = -1\n", "positive number"),
        ("[limits]\nsandbox = 1\n", "sandbox must be true or false"),
        ("[limits]\nworkers = 1.5\n", "workers must be a whole number"),
        ("[limits]\nworker_memory_mb = 64\n", "worker_memory_mb must be at least 256"),
        ("[limits]\nattachment_seconds = 10\n", "at least ocr_seconds_per_page"),
        ("[polcy]\n", "unknown section(s): polcy"),
        ("[policy\n", "config.toml"),
    ],
)
def test_a_wrong_configuration_says_what_is_wrong(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)")):
        load_config(path)


def test_the_document_readers_limits_are_read_from_the_limits_section(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        "[limits]\nsandbox = false\nworker_memory_mb = 512\n"
        "attachment_seconds = 90.0\nworkers = 1\n"
    )
    limits = load_config(path).limits
    assert (limits.sandbox, limits.worker_memory_mb, limits.attachment_seconds, limits.workers) == (
        False,
        512,
        90.0,
        1,
    )
