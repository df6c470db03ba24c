"""The emulator's ticket pages (issue 16, item 12): an index with requester, stage,
ready and what is missing; a page per ticket where the bot's note reads as in Zendesk
(its tables as tables, `We'd` as written); customer content escaped exactly once; bad
addresses and closed connections answered without a traceback; and, where Chromium
is installed, a screenshot of both pages in headless Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests

from bot.standins.localmail import LocalMail
from bot.standins.zendesk_emulator import Emulator
from tests.conftest import FIXTURES, ROOT
from tests.integration.mailbox_support import new_folder
from tests.integration.test_pipeline_zendesk import TOKEN, app, config_for, eml, tickets

ACME = FIXTURES / "01-ready-att-acme-csv"
MISSING = FIXTURES / "10-missing-name-address-bill-loa"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


class _Page(HTMLParser):
    """What a browser shows (the text) and the elements it builds."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def shown(self) -> str:
        return " ".join(" ".join(self.text).split())


def _get(em: Emulator, path: str) -> requests.Response:
    return requests.get(f"{em.url}{path}", timeout=10)


def _api(em: Emulator, method: str, path: str, body: object) -> dict[str, object]:
    answer = requests.request(
        method,
        f"{em.url}/api/v2/{path}",
        json=body,
        auth=("agent@ourco.example/token", TOKEN),
        timeout=10,
    )
    answer.raise_for_status()
    return answer.json()  # type: ignore[no-any-return]


def _poll_two_requests(server: LocalMail, em: Emulator, tmp_path: Path) -> None:
    folder = new_folder()
    server.append(folder, [eml(ACME, 1), eml(MISSING, 1)])
    with app(config_for(server, em, folder, tmp_path / "state.db"), "2026-11-20") as intake:
        assert intake.poll().delivered == 2


def test_the_index_and_a_ticket_read_as_an_agent_reads_them(
    server: LocalMail, em: Emulator, tmp_path: Path
) -> None:
    _poll_two_requests(server, em, tmp_path)
    index = _get(em, "/")
    assert index.status_code == 200
    page = _Page(index.text)
    assert '<meta http-equiv="refresh"' not in index.text  # no reload of every ticket
    ready, missing = sorted(tickets(em), key=lambda t: "Acme" not in t["subject"])
    for t in (ready, missing):
        assert ("a", {"href": f"/tickets/{t['id']}"}) in page.tags
    assert "dana@acmerealtytx.com" in page.shown
    assert "Ready" in page.shown and "Missing" in page.shown and "Stage" in page.shown
    assert "bill" in page.shown  # what the incomplete request lacks
    assert "yes" in page.shown and "no" in page.shown.split()

    one = _get(em, f"/tickets/{ready['id']}")
    assert one.status_code == 200
    note = _Page(one.text)
    assert "Internal note" in note.shown
    assert [tag for tag, _ in note.tags].count("table") >= 2  # fields, and the note's tables
    assert "&#x27;" not in note.shown and "&amp;" not in note.shown
    assert "AT&T" in note.shown  # escaped once: shown as written
    # the API's plain body of the note decodes every reference too
    plain = _api(em, "GET", f"tickets/{ready['id']}/comments.json", None)
    assert all("&#x27;" not in c["body"] for c in plain["comments"])  # type: ignore[index,union-attr]


def test_customer_content_is_escaped_and_bad_addresses_are_404(em: Emulator) -> None:
    created = _api(
        em,
        "POST",
        "tickets.json",
        {
            "ticket": {
                "subject": f"Port {HOSTILE} We'd like & more",
                "requester": {"name": f"Eve {HOSTILE}", "email": "eve@example.com"},
                "comment": {
                    "html_body": f"<p>We&#x27;d say {HOSTILE}</p>"
                    '<a href="javascript:alert(1)">click</a>'
                    "<table><tr><td>A&amp;B</td></tr></table><div onclick=x>",
                    "public": False,
                },
            }
        },
    )
    tid = created["ticket"]["id"]  # type: ignore[index]
    for path in ("/", f"/tickets/{tid}"):
        answer = _get(em, path)
        assert answer.status_code == 200
        page = _Page(answer.text)
        assert not [t for t, _ in page.tags if t in ("script", "img")]
        assert not [a for _, a in page.tags if any(k.startswith("on") for k in a)]
        assert "javascript:" not in answer.text
        assert "We'd" in page.shown and "&#x27;" not in page.shown
        assert '<script>alert("x")</script>' in page.shown  # the text, shown as text
    assert "A&B" in _Page(_get(em, f"/tickets/{tid}").text).shown
    for bad in ("/tickets/abc", "/tickets/999999", "/tickets/1%00", "/tickets/", "/tickets/-1"):
        answer = _get(em, bad)
        assert answer.status_code == 404, bad
        assert "Traceback" not in answer.text
    assert _get(em, "/?q=%ff%fe").status_code == 200


def test_a_closed_browser_connection_prints_no_traceback(tmp_path: Path) -> None:
    emulator_process = subprocess.Popen(
        [sys.executable, "-m", "bot.standins.zendesk_emulator", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert emulator_process.stdout is not None
        ready = emulator_process.stdout.readline()  # "Zendesk emulator on http://...": ready
        url = ready.split(" on ", 1)[1].split("/ ", 1)[0]
        host, port = url.removeprefix("http://").split(":")
        for _ in range(20):  # a browser closed mid-answer: the connection reset
            with socket.create_connection((host, int(port)), timeout=5) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with socket.create_connection((host, int(port)), timeout=5) as s:  # half a request
            s.sendall(b"GET /tick")
        assert requests.get(f"{url}/", timeout=10).status_code == 200  # still serving
    finally:
        emulator_process.terminate()
        _, err = emulator_process.communicate(timeout=10)
    assert "Traceback" not in err, err


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_headless_chromium_screenshots_of_the_index_and_a_ticket(
    server: LocalMail, em: Emulator, tmp_path: Path
) -> None:
    from PIL import Image

    _poll_two_requests(server, em, tmp_path)
    [first, *_] = sorted(t["id"] for t in tickets(em))
    for name, path in (("index", "/"), ("ticket", f"/tickets/{first}")):
        shot = tmp_path / f"{name}.png"
        with tempfile.TemporaryDirectory() as profile:
            done = subprocess.run(
                [
                    str(CHROMIUM),
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    f"--user-data-dir={profile}",
                    "--hide-scrollbars",
                    "--window-size=1280,1400",
                    f"--screenshot={shot}",
                    f"{em.url}{path}",
                ],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
        with Image.open(shot) as image:
            assert image.size == (1280, 1400)
            colours = image.convert("RGB").getcolors(maxcolors=1_000_000) or []
            assert len(colours) > 50, f"{name}: the page rendered blank"
        if os.environ.get("PORTBOT_SCREENSHOTS"):  # a folder, for a person to look at
            shutil.copy(shot, Path(os.environ["PORTBOT_SCREENSHOTS"]) / shot.name)
