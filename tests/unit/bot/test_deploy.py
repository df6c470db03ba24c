"""Deployment files: the systemd unit, the environment file, the Dockerfile.

Docker cannot run here; these tests read the files and check what a wrong line
would break (a root service, a secret in the unit, a package left out of the image).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bot.ops.metrics import MetricsSettings
from tests.conftest import ROOT

UNIT = ROOT / "deploy" / "portbot.service"
ENV_EXAMPLE = ROOT / "deploy" / "portbot.env.example"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


def _unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """systemd's INI dialect: repeated keys add up, `#` and `;` start comments."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{line!r} outside a section"
        key, sep, value = line.partition("=")
        assert sep, f"not KEY=value: {line!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


@pytest.fixture(scope="module")
def service() -> dict[str, list[str]]:
    return _unit(UNIT)["Service"]


def one(service: dict[str, list[str]], key: str) -> str:
    values = service.get(key, [])
    assert len(values) == 1, f"{key}: {values}"
    return values[0]


def test_the_service_runs_portbot_run_with_the_etc_config(service: dict[str, list[str]]) -> None:
    assert one(service, "Type") == "simple"
    assert one(service, "ExecStart") == (
        "/opt/portbot/.venv/bin/portbot run --config /etc/portbot/portbot.toml"
    )


def test_the_service_restarts_on_failure_but_not_on_a_config_error(
    service: dict[str, list[str]],
) -> None:
    assert one(service, "Restart") == "on-failure"
    assert int(one(service, "RestartSec")) >= 5
    assert one(service, "RestartPreventExitStatus") == "2"  # portbot's exit for bad config
    unit = _unit(UNIT)["Unit"]
    assert int(unit["StartLimitBurst"][0]) > 1 and "network-online.target" in unit["After"][0]


def test_the_service_runs_as_an_unprivileged_user(service: dict[str, list[str]]) -> None:
    assert one(service, "User") == "portbot"
    assert one(service, "NoNewPrivileges") == "yes"
    assert one(service, "CapabilityBoundingSet") == ""
    assert one(service, "ProtectSystem") == "strict"
    assert one(service, "PrivateTmp") == "yes"
    assert one(service, "ProtectHome") == "yes"


def test_the_state_directory_is_the_only_writable_place(service: dict[str, list[str]]) -> None:
    state = "/var/lib/" + one(service, "StateDirectory")
    assert one(service, "ReadWritePaths") == state
    assert one(service, "WorkingDirectory") == state


def test_secrets_come_from_the_environment_file_only(service: dict[str, list[str]]) -> None:
    assert one(service, "EnvironmentFile") == "/etc/portbot/portbot.env"
    for value in service.get("Environment", []):
        assert not re.search(r"PASSWORD|TOKEN|SECRET", value), value
    assert "OMP_THREAD_LIMIT=1" in service["Environment"]


def test_a_stop_lets_the_message_in_hand_finish(service: dict[str, list[str]]) -> None:
    assert one(service, "KillSignal") == "SIGTERM"
    assert int(one(service, "TimeoutStopSec")) >= 60


def test_the_service_starts_at_boot() -> None:
    assert _unit(UNIT)["Install"]["WantedBy"] == ["multi-user.target"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    # the venv is not installed here: point ExecStart at a program that exists
    text = re.sub(r"(?m)^ExecStart=\S+", "ExecStart=/bin/true", UNIT.read_text())
    copy = tmp_path / "portbot.service"
    copy.write_text(text)
    done = subprocess.run(
        ["systemd-analyze", "verify", str(copy)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "portbot.service" not in done.stderr, done.stderr  # no warning about our unit


def test_the_environment_file_names_every_secret_the_config_reads() -> None:
    config = (ROOT / "config.example.toml").read_text()
    wanted = set(re.findall(r'^#?\s*\w+_env\s*=\s*"(PORTBOT_\w+)"', config, re.MULTILINE))
    wanted |= {"PORTBOT_IMAP_PASSWORD", "PORTBOT_ZENDESK_TOKEN", "PORTBOT_SMTP_PASSWORD"}
    lines = [ln for ln in ENV_EXAMPLE.read_text().splitlines() if ln and not ln.startswith("#")]
    names = {ln.split("=", 1)[0] for ln in lines}
    assert wanted <= names
    assert all(ln.endswith("=") for ln in lines), "the example holds no value"


def _dockerfile() -> list[str]:
    """Instructions, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


def test_the_image_has_tesseract_with_english_and_orientation_data() -> None:
    lines = _dockerfile()
    assert re.match(r"FROM python:3\.11-slim", lines[0])
    apt = next(ln for ln in lines if "apt-get install" in ln)
    for package in ("tesseract-ocr", "tesseract-ocr-eng", "tesseract-ocr-osd"):
        assert f" {package} " in apt + " "
    assert "--no-install-recommends" in apt and "rm -rf /var/lib/apt/lists" in apt


def test_the_image_runs_portbot_as_a_user_with_its_state_on_a_volume() -> None:
    lines = _dockerfile()
    users = [ln.split()[1] for ln in lines if ln.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert 'ENTRYPOINT ["portbot"]' in lines
    assert 'VOLUME ["/var/lib/portbot"]' in lines
    assert "WORKDIR /var/lib/portbot" in lines
    env = " ".join(ln for ln in lines if ln.startswith("ENV "))
    assert "OMP_THREAD_LIMIT=1" in env


def test_the_image_copies_every_package_and_its_data() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    include = re.search(r"include = \[(.*?)\]", pyproject)
    assert include
    packages = {p.strip(' "*') for p in include.group(1).split(",")}
    copied = {ln.split()[1] for ln in _dockerfile() if ln.startswith("COPY ")}
    assert packages <= copied
    kept = {ln[1:] for ln in DOCKERIGNORE.read_text().splitlines() if ln.startswith("!")}
    assert packages | {"pyproject.toml", "README.md"} <= kept
    assert any("pip install ." in ln for ln in _dockerfile())


def test_the_health_check_and_exposed_port_are_the_metrics_port() -> None:
    port = MetricsSettings().port
    lines = _dockerfile()
    assert f"EXPOSE {port}" in lines
    health = next(ln for ln in lines if ln.startswith("HEALTHCHECK"))
    assert f"127.0.0.1:{port}/healthz" in health


def test_secrets_and_state_stay_out_of_the_build_context() -> None:
    rules = [ln for ln in DOCKERIGNORE.read_text().splitlines() if ln and not ln.startswith("#")]
    assert rules[0] == "*"  # everything out, then the package back in
    assert "**/*.env" in rules and "**/*.sqlite3" in rules
