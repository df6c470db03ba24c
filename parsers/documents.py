"""One entry point for attachments: sniff, classify and read them.

`read_attachment` never raises for bad input: an attachment that cannot be
read becomes a Document with `error` set and `kind` judged from its name.
What a readable document is, is decided from its content alone: a bill named
"scan0001.pdf" is a bill, an LOA named "statement.pdf" is an LOA.
"""

from __future__ import annotations

import re
import struct
import time
from dataclasses import replace
from typing import Literal

from parsers import ocr
from parsers.bill import bill_score, read_bill, weighted_matcher
from parsers.errors import DocumentError
from parsers.limits import Limits
from parsers.loa import loa_score, read_loa
from parsers.model import Attachment, DocKind, Document
from parsers.numberlist import decode_text, read_csv, read_text_table, read_xlsx
from parsers.pdf import MIN_PAGE_CHARS, read_pdf
from parsers.text import DocText, PageText

Format = Literal["pdf", "image", "xlsx", "xls", "csv", "txt", "other"]

# Images smaller than this are signature logos and icons (image001.png), not documents.
_TINY_IMAGE_BYTES = 10 * 1024
_TINY_IMAGE_PX = 200
# Content scores below this do not make a document a bill or an LOA on their own.
_MIN_SCORE = 4

_LOA_NAME = re.compile(
    r"(?:^|[^a-z])loa(?:[^a-z]|$)|authori[sz]ation|letter[\s_\-]*of[\s_\-]*agency|\bauth\b",
    re.IGNORECASE,
)
_BILL_NAME = re.compile(
    r"bill|statement|invoice|(?:^|[^a-z])csr(?:[^a-z]|$)|customer[\s_\-]*service[\s_\-]*record",
    re.IGNORECASE,
)
_LIST_NAME = re.compile(
    r"numbers?|(?:^|[^a-z])(?:dids?|tns?|lines|list|port(?:ing)?|users|agents)(?:[^a-z]|$)",
    re.IGNORECASE,
)


def _extension(filename: str) -> str:
    name = filename.lower().strip()
    return name.rsplit(".", 1)[-1] if "." in name else ""


def sniff(att: Attachment) -> Format:
    """What the attachment is, from its bytes first, then its name and type."""
    data = att.payload
    head = data[:16]
    ext = _extension(att.filename)
    ctype = att.content_type.lower()
    if b"%PDF" in data[:1024]:
        return "pdf"
    if (
        head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"II*\x00", b"MM\x00*", b"BM"))
        or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
        or (
            head[4:8] == b"ftyp"
            and head[8:12]
            in (b"heic", b"heix", b"mif1", b"msf1", b"hevc", b"heim", b"heis", b"avif")
        )
    ):
        return "image"
    if ext == "pdf":
        return "pdf"  # named a PDF but not one: read_pdf says it is damaged
    if head.startswith(b"PK\x03\x04"):
        if ext in ("xlsx", "xlsm") or "spreadsheetml" in ctype or b"xl/" in data[:4096]:
            return "xlsx"
        return "other"  # docx, zip, ...
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls" if ext == "xls" or "ms-excel" in ctype else "other"
    if ctype == "application/pdf":
        return "pdf"
    if ext in ("csv", "tsv") or ctype in ("text/csv", "text/tab-separated-values"):
        return "csv"
    if ext == "txt" or (ctype == "text/plain" and ext in ("", "text", "dat", "list")):
        return "txt"
    image_exts = ("jpg", "jpeg", "png", "tif", "tiff", "heic", "heif", "webp", "gif")
    if ext in image_exts or ctype.startswith("image/"):
        return "image"  # named an image, bytes unknown: OCR will say
    return "other"


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from the header of a PNG, GIF or JPEG; None if unknown."""
    try:
        if data.startswith(b"\x89PNG") and len(data) >= 24:
            w, h = struct.unpack(">II", data[16:24])
            return int(w), int(h)
        if data.startswith(b"GIF8") and len(data) >= 10:
            w, h = struct.unpack("<HH", data[6:10])
            return int(w), int(h)
        if data.startswith(b"\xff\xd8"):
            i = 2
            while i + 9 < len(data):
                if data[i] != 0xFF:
                    i += 1
                    continue
                marker = data[i + 1]
                if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                    i += 2
                    continue
                (length,) = struct.unpack(">H", data[i + 2 : i + 4])
                if marker in (
                    0xC0,
                    0xC1,
                    0xC2,
                    0xC3,
                    0xC5,
                    0xC6,
                    0xC7,
                    0xC9,
                    0xCA,
                    0xCB,
                    0xCD,
                    0xCE,
                    0xCF,
                ):
                    h, w = struct.unpack(">HH", data[i + 5 : i + 9])
                    return int(w), int(h)
                i += 2 + length
    except struct.error:
        return None
    return None


def _kind_from_name(filename: str, fallback: DocKind) -> DocKind:
    if _LOA_NAME.search(filename):
        return "loa"
    if _BILL_NAME.search(filename):
        return "bill"
    if _LIST_NAME.search(filename) and _extension(filename) in ("csv", "tsv", "txt", "xlsx", "xls"):
        return "number_list"
    return fallback


def _unreadable(att: Attachment, reason: str, fallback: DocKind) -> Document:
    return Document(
        filename=att.filename, kind=_kind_from_name(att.filename, fallback), error=reason
    )


def unread_document(att: Attachment, reason: str) -> Document:
    """The Document of an attachment that could not be read at all (its reader was
    stopped or crashed): the reason, and the kind its name and format suggest."""
    fallback: DocKind = "number_list" if sniff(att) in ("xlsx", "xls", "csv", "txt") else "bill"
    return _unreadable(att, reason, fallback)


# Signs of a bill that bill_score (English carrier bills) does not weigh: French
# (Quebec) bills, municipal utility statements, a wireless bill's plan pages.
_MORE_BILL_WORDS: tuple[tuple[str, int], ...] = (
    (r"\bfacture\b|relev[ée]\s+de\s+compte|[ée]tat\s+de\s+compte", 2),
    (r"num[ée]ro\s+(?:de|du)\s+compte|\bn[o°º]\.?\s+de\s+compte", 2),
    (r"date\s+de\s+(?:la\s+)?(?:facturation|facture)|date\s+du\s+relev[ée]", 3),
    (
        r"montant\s+(?:d[uû]|total|[àa]\s+payer)|total\s+[àa]\s+payer|solde\s+(?:d[uû]|pr[ée]c[ée]dent)"
        r"|date\s+d['’][ée]ch[ée]ance",
        3,
    ),
    (r"p[ée]riode\s+de\s+facturation|adresse\s+de\s+(?:service|facturation)", 2),
    (r"\btps\b|\btvq\b|\btvh\b|\bfrais\b", 1),
    (
        r"\b(?:water|sewer|wastewater|stormwater|electric(?:ity)?|natural\s+gas|refuse|kwh"
        r"|meter\s+(?:reading|number|read))\b",
        1,
    ),
    (r"utility\s+(?:bill|statement)|utilities\s+(?:department|statement)|\bccf\b|\bgallons\b", 2),
    (
        r"\bunlimited\b|talk\s*(?:&|and)\s*text|\bdata\s+plan\b|\bdevice\s+payment"
        r"|\bplans?\s+(?:&|and)\s+(?:services|devices)|\bequipment\s+charges|one[\s-]time\s+charges",
        1,
    ),
    # A wireless bill's first page: plan headings, a total, "Due Dec 1", "Account 958112044".
    (r"here['’]?s\s+your\s+bill|your\s+(?:monthly\s+)?bill\s+for\b|\bplease\s+pay\b", 2),
    (
        r"\bdue\s+(?:on\s+|by\s+)?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d"
        r"|\bdue\s+(?:on\s+|by\s+)?\d{1,2}/\d{1,2}",
        2,
    ),
    (r"\baccount\s*[:#]?\s*\d[\d\s-]{5,}\d", 2),
)
_MORE_BILL_WEIGHTS = weighted_matcher(_MORE_BILL_WORDS)
# A Customer Service Record printed in the carriers' field-code layout.
_CSR_CODE_LINE = re.compile(
    r"^[ \t]*(?:--LIST\b|(?:BN[12]|BA[12]|SA|SLA|BTN|TN|LN|LA|LST|SLN|ACTL|FID|ZIP|CSR)"
    r"(?=[ \t:]))",
    re.MULTILINE,
)
_CSR_CODES_MIN = 3
# Fewer real words than this in an OCR text that reads as nothing: an illegible photo.
_MIN_LEGIBLE_WORDS = 5
_REAL_WORD = re.compile(r"\b[^\W\d_]{3,}\b")


def _content_bill_score(text: DocText) -> int:
    """bill_score, with the signs of French bills, utility statements and CSR codes."""
    base = bill_score(text)
    sample = text.text[:20000]
    codes = {m.group(0).strip()[:3] for m in _CSR_CODE_LINE.finditer(sample)}
    if len(codes) >= _CSR_CODES_MIN:
        return max(base, 8)
    more = _MORE_BILL_WEIGHTS(sample)
    if sum(1 for w in more if w >= 2) < 2:
        return base + min(sum(more), 2) if base >= _MIN_SCORE else base
    return base + sum(more)


def _legible(text: DocText) -> bool:
    """Does the text hold real words, rather than OCR's guesses at a blur?"""
    words = [
        w
        for w in _REAL_WORD.findall(text.text[:20000])
        if re.search(r"[aeiouyAEIOUY]", w) and len(set(w.lower())) > 1
    ]
    return len(words) >= _MIN_LEGIBLE_WORDS


def classify(text: DocText) -> DocKind:
    """bill, loa or other, from the content alone (never from the file name)."""
    bill = _content_bill_score(text)
    loa = loa_score(text)
    if max(bill, loa) < _MIN_SCORE:
        # A printed account page: no bill words, but the account's details are there
        # (the contract: a bill with bill_date_unknown).
        return "bill" if loa < _MIN_SCORE and _account_details(text) else "other"
    return "loa" if loa > bill else "bill"


def _account_details(text: DocText) -> bool:
    """An account number beside the account's name, service address or main number."""
    fields = read_bill(text)
    return fields.account_number is not None and any(
        (fields.account_name, fields.service_address, fields.billing_telephone_number)
    )


def _split_bill_and_loa(text: DocText) -> tuple[DocText, DocText] | None:
    """The bill pages and the LOA pages of a document holding both, else None."""
    if len(text.pages) < 2:
        return None
    bills: list[PageText] = []
    loas: list[PageText] = []
    for page in text.pages:
        one = DocText((page,))
        bill, loa = _content_bill_score(one), loa_score(one)
        if loa >= 8 and loa > bill:
            loas.append(page)
        elif bill >= 6 and bill > loa:
            bills.append(page)
        elif loas and not bills:
            loas.append(page)  # an LOA's second page or its e-signature certificate
        elif bills:
            bills.append(page)
    if not bills or not loas:
        return None
    return DocText(tuple(bills)), DocText(tuple(loas))


def _read_text_document(
    att: Attachment, text: DocText, *, field_filled: bool, ink: bool
) -> Document:
    kind = classify(text)
    ocr_used = text.ocr
    if ocr_used and kind == "other" and not _legible(text):
        # OCR read a few stray marks of an illegible photo: nothing could be read, so
        # only the name can say what it was meant to be.
        return _unreadable(att, "the scan could not be read: OCR found no readable text", "bill")
    combined = _split_bill_and_loa(text)
    if combined is not None and kind in ("bill", "loa"):
        # One PDF holding both the LOA and the bill: both are read.
        bill_pages, loa_pages = combined
        return Document(
            filename=att.filename,
            kind=kind,
            ocr=ocr_used,
            bill=read_bill(bill_pages),
            loa=read_loa(loa_pages, signature_field_filled=field_filled, signature_ink=ink),
        )
    if kind == "bill":
        bill = read_bill(text)
        if (
            ocr_used
            and _content_bill_score(text) < _MIN_SCORE
            and not any(
                (
                    bill.bill_date,
                    bill.account_name,
                    bill.account_number,
                    bill.service_address,
                    bill.billing_telephone_number,
                )
            )
        ):
            # OCR read a few stray words of an illegible photo: nothing of a bill.
            return _unreadable(att, "the scan could not be read: OCR found no bill text", "bill")
        return Document(filename=att.filename, kind="bill", ocr=ocr_used, bill=bill)
    if kind == "loa":
        loa = read_loa(text, signature_field_filled=field_filled, signature_ink=ink)
        return Document(filename=att.filename, kind="loa", ocr=ocr_used, loa=loa)
    return Document(filename=att.filename, kind="other", ocr=ocr_used)


def _has_text(text: DocText) -> bool:
    return len(re.sub(r"\s", "", text.text)) >= MIN_PAGE_CHARS


def _read_pdf(att: Attachment, limits: Limits) -> Document:
    pdf = read_pdf(att.payload, limits)
    pages = list(pdf.text.pages)
    ocr_error: str | None = None
    ocr_pages, ocr_seconds = 0, 0.0
    if pdf.pages_without_text:
        if limits.ocr:
            started = time.monotonic()
            try:
                scanned = ocr.ocr_pdf_pages(att.payload, pdf.pages_without_text, limits)
            except DocumentError as exc:
                ocr_error = str(exc)
                ocr_pages = len(pdf.pages_without_text)
            else:
                ocr_pages = len(scanned)
                for index, page in scanned.items():
                    if 0 <= index < len(pages):
                        pages[index] = page
            ocr_seconds = time.monotonic() - started
        else:
            ocr_error = limits.ocr_off_reason
    text = DocText(tuple(pages))
    if not _has_text(text):
        reason = "the PDF has no readable text (a scan)"
        if ocr_error:
            reason += f" and it could not be read: {ocr_error}"
        doc = _unreadable(att, reason, "bill")
    else:
        doc = _read_text_document(
            att, text, field_filled=pdf.signature_field_filled, ink=pdf.signature_ink
        )
    return replace(doc, ocr_pages=ocr_pages, ocr_seconds=ocr_seconds) if ocr_pages else doc


def _read_image(att: Attachment, limits: Limits) -> Document:
    data = att.payload
    size = _image_size(data)
    if len(data) < _TINY_IMAGE_BYTES or (size is not None and min(size) < _TINY_IMAGE_PX):
        return Document(filename=att.filename, kind="other")
    if not limits.ocr:
        return _unreadable(att, f"the image could not be read: {limits.ocr_off_reason}", "bill")
    started = time.monotonic()
    try:
        text = ocr.ocr_image(data, limits)
    except DocumentError as exc:
        return replace(
            _unreadable(att, f"the image could not be read: {exc}", "bill"),
            ocr_pages=1,
            ocr_seconds=time.monotonic() - started,
        )
    n, seconds = max(len(text.pages), 1), time.monotonic() - started
    if not _has_text(text):
        return replace(
            _unreadable(att, "the image could not be read: OCR found no text", "bill"),
            ocr_pages=n,
            ocr_seconds=seconds,
        )
    # OCR text counts as OCR even if the helper forgot to say so.
    pages = tuple(
        p if p.ocr else PageText(p.text, True, p.low_confidence, p.signature_ink)
        for p in text.pages
    )
    return replace(
        _read_text_document(att, DocText(pages), field_filled=False, ink=False),
        ocr_pages=n,
        ocr_seconds=seconds,
    )


def _read_list(att: Attachment, fmt: Format) -> Document:
    if fmt == "xlsx":
        numbers = read_xlsx(att.payload)
    elif fmt == "csv":
        numbers = read_csv(att.payload)
    else:
        table = read_text_table(decode_text(att.payload))
        if table is None:
            return Document(filename=att.filename, kind="other")
        numbers = table
    return Document(filename=att.filename, kind="number_list", number_list=numbers)


def read_attachment(att: Attachment, limits: Limits) -> Document:
    """Classify and read one attachment; failures become `Document.error`."""
    fmt = sniff(att)
    if fmt == "other":
        return Document(filename=att.filename, kind="other")
    if len(att.payload) > limits.max_attachment_bytes:
        mb = len(att.payload) / (1024 * 1024)
        limit = limits.max_attachment_bytes / (1024 * 1024)
        fallback: DocKind = "number_list" if fmt in ("xlsx", "xls", "csv") else "bill"
        return _unreadable(
            att,
            f"the attachment is too large to read ({mb:.1f} MB, the limit is {limit:.0f} MB)",
            "other" if fmt == "txt" else fallback,
        )
    if not att.payload:
        return _unreadable(
            att, "the attachment is empty", "bill" if fmt in ("pdf", "image") else "other"
        )
    try:
        if fmt == "pdf":
            return _read_pdf(att, limits)
        if fmt == "image":
            return _read_image(att, limits)
        if fmt == "xls":
            return _unreadable(
                att, "it is an old Excel .xls file, please send CSV or XLSX", "number_list"
            )
        return _read_list(att, fmt)
    except DocumentError as exc:
        fallback = "number_list" if fmt in ("xlsx", "csv", "txt") else "bill"
        return _unreadable(att, str(exc), fallback)
