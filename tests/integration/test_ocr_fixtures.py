"""Scanned and photographed attachments read like text ones (fixtures/emails/ocr-*).

Each attachment of an ocr-* thread goes through `read_attachment` (text layer,
OCR, bill and LOA extractors) and must give the documents[] entry of the
thread's expected.json; a scanned bill must give the same fields as the text
layer of the very bill it was printed from.
"""

from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import ImageFile

from fixtures.build_ocr.render import bill_pdf
from fixtures.build_ocr.threads import THREADS
from parsers.address import address_key
from parsers.bill import read_bill
from parsers.documents import read_attachment
from parsers.limits import Limits
from parsers.model import Address, Attachment, Document
from parsers.pdf import read_pdf
from rules.contract import document_fields
from tests.conftest import FIXTURES
from tests.work_count import count_calls, count_ocr

OCR_THREADS = sorted(p for p in FIXTURES.glob("ocr-*") if (p / "expected.json").is_file())
LIMITS = Limits()


def _attachments(thread: Path) -> list[Attachment]:
    out = []
    for eml in sorted(thread.glob("*.eml")):
        msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
        for part in msg.iter_attachments():
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            out.append(Attachment(part.get_filename() or "", part.get_content_type(), payload))
    return out


def _comparable(entry: dict[str, Any]) -> dict[str, Any]:
    fields = dict(entry["fields"])
    if "error" in fields:
        fields = {"error": True}
    fields.pop("uncertain", None)
    addr = fields.get("service_address")
    if isinstance(addr, dict):
        fields["service_address"] = address_key(
            Address(addr["street"], addr["city"], addr["state"], addr["zip"])
        )
    return {**entry, "fields": fields}


def _entry(doc: Document) -> dict[str, Any]:
    return {
        "filename": doc.filename,
        "kind": doc.kind,
        "ocr": doc.ocr,
        "fields": document_fields(doc),
    }


def test_there_are_enough_scanned_fixture_threads() -> None:
    assert len(OCR_THREADS) >= 15


@pytest.mark.parametrize("thread", OCR_THREADS, ids=[p.name for p in OCR_THREADS])
def test_scanned_attachments_give_their_expected_documents(thread: Path) -> None:
    expected = json.loads((thread / "expected.json").read_text())["assessment"]["documents"]
    got = [_entry(read_attachment(att, LIMITS)) for att in _attachments(thread)]
    assert [_comparable(e) for e in got] == [_comparable(e) for e in expected]


TWINS = [t for t in THREADS if t.twin]


@pytest.mark.parametrize("thread", TWINS, ids=[t.slug for t in TWINS])
def test_ocr_reads_the_same_bill_fields_as_the_text_layer(thread: Any) -> None:
    docs = [d for m in thread.mails for d in m.docs if d.bill is not None and d.ocr]
    attachments = {a.filename: a for a in _attachments(FIXTURES / thread.slug)}
    assert docs
    for doc in docs:
        from_text = read_bill(read_pdf(bill_pdf(doc.bill), LIMITS).text)
        scanned = read_attachment(attachments[doc.filename], LIMITS)
        assert scanned.ocr and scanned.bill is not None, scanned.error
        assert scanned.bill.bill_date == from_text.bill_date
        assert scanned.bill.account_number == from_text.account_number
        assert scanned.bill.billing_telephone_number == from_text.billing_telephone_number
        assert scanned.bill.service_address == from_text.service_address
        assert scanned.bill.account_name == from_text.account_name


def test_a_decompression_bomb_attachment_is_refused_within_the_limits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    thread = FIXTURES / "ocr-15-decompression-bomb-png"
    bomb = next(a for a in _attachments(thread) if a.filename == "bill.png")
    # Work, not time: refused from its header, with no pixel decoded and no OCR run.
    loads = count_calls(monkeypatch, ImageFile.ImageFile, "load")
    ocr_runs = count_ocr(monkeypatch)
    doc = read_attachment(bomb, LIMITS)
    assert loads == [] and ocr_runs == []
    assert doc.kind == "bill"
    assert doc.error is not None and "pixels" in doc.error
