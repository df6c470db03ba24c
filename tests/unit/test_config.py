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


@pytest.mark.parametrize(("text", "words"), [
    ("[policy]\nbill_max_age = 30\n", "unknown key(s): bill_max_age"),
    ("[policy]\nbill_max_age_days = 0\n", "at least 1"),
    ("[policy]\nsupported_regions = \"US\"\n", "list of strings"),
    ("[limits]\nmax_pages = -1\n", "positive number"),
    ("[polcy]\n", "unknown section(s): polcy"),
    ("[policy\n", "config.toml"),
])  # fmt: skip
def test_a_wrong_configuration_says_what_is_wrong(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)")):
        load_config(path)
