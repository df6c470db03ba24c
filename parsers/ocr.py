"""OCR of scanned PDF pages and photos: text, doubtful words and signature ink.

One Tesseract run per page in the normal case (TSV output gives the text, the
word confidences and the word boxes at once). Only when that first run reads
little, or reads it with low confidence, is the page's orientation detected
(`--psm 0`, slow) and the page read again turned upright.

The text is laid out as physical rows, left to right, the way a PDF text layer
reads: "Bill Date: November 2, 2026" stays one line even when Tesseract sees
the label and the value as two blocks, so the field extractors read OCR text
and text-layer text alike.

Tesseract runs as a subprocess with OMP_THREAD_LIMIT=1: its OpenMP threads
make a single page several times slower on a small machine, and the bot reads
documents one page at a time anyway.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from parsers import images
from parsers.errors import DocumentError, EncryptedDocument, LimitExceeded
from parsers.images import Box
from parsers.limits import Limits
from parsers.text import DocText, PageText

# Words read with less confidence (0-100) are reported as doubtful.
LOW_CONFIDENCE = 60.0
# Lone punctuation read with less confidence is taken for noise and left out.
_SPECK_CONFIDENCE = 70.0
# A first pass is trusted when it read this many words at this mean confidence.
_MIN_WORDS = 8
_MIN_MEAN_CONFIDENCE = 65.0
# A page counts as read when this many words were read with confidence.
_MIN_READABLE_WORDS = 3
# Below this mean confidence a page's words are guesses (a blur read as "ee oe").
_MIN_PAGE_MEAN_CONFIDENCE = 45.0
_RENDER_DPI = 300
# Rendering below this would leave letters too small to read.
_MIN_RENDER_DPI = 100
# PDF's own limit on a page side (200 inches), in points.
_MAX_PAGE_POINTS = 14400.0

# Layout columns, as parsers/pdf.py counts them; a page is taken as letter width.
_CHAR_PT = 4.5
_PAGE_WIDTH_PT = 612.0

NO_TEXT = "no text could be read from the scan"


@dataclass(frozen=True)
class Word:
    text: str
    conf: float
    box: Box
    line: tuple[int, int, int]  # Tesseract's block, paragraph and line numbers


def ocr_image(data: bytes, limits: Limits) -> DocText:
    """Reads a photo or scan (JPEG, PNG, TIFF with several pages, HEIC, WebP, ...).

    Raises LimitExceeded for an image over `limits.max_pixels` (checked before
    decoding) or a page that takes longer than `limits.ocr_seconds_per_page`,
    DocumentError when the file is no readable image or no text was found.
    """
    _check_enabled(limits)
    frames = images.load_frames(data, limits)
    pages = tuple(_read_page(f, n, limits) for n, f in enumerate(frames, start=1))
    if not any(p.text for p in pages):
        raise DocumentError(NO_TEXT)
    return DocText(pages)


def ocr_pdf_pages(data: bytes, pages: Sequence[int], limits: Limits) -> dict[int, PageText]:
    """Reads the given pages of a PDF (indices from 0) by rendering them at 300 dpi.

    Pages at or past `limits.max_pages` are not read and are absent from the
    result. A page where nothing could be read has empty text. Raises
    DocumentError(NO_TEXT) when none of the pages read has any text (a caller
    that has text-layer pages besides may catch it), LimitExceeded for an
    absurd page size or a page over the time limit.
    """
    _check_enabled(limits)
    wanted = sorted({p for p in pages if 0 <= p < limits.max_pages})
    if not wanted:
        return {}
    import pypdfium2 as pdfium  # imported here: only scanned PDFs need rendering

    try:
        doc = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        if "password" in str(e).lower():
            raise EncryptedDocument("the PDF is encrypted and could not be opened") from e
        raise DocumentError(f"the PDF could not be opened ({e})") from e
    out: dict[int, PageText] = {}
    try:
        for index in wanted:
            if index >= len(doc):
                continue
            img = _render(doc, index, limits)
            out[index] = _read_page(img, index + 1, limits)
    finally:
        doc.close()
    if not any(p.text for p in out.values()):
        raise DocumentError(NO_TEXT)
    return out


def _check_enabled(limits: Limits) -> None:
    if not limits.ocr:
        raise DocumentError("the document is a scan and OCR is turned off")


def _render(doc: object, index: int, limits: Limits) -> Image.Image:
    import pypdfium2 as pdfium

    from parsers.pdf import check_image_pixels

    assert isinstance(doc, pdfium.PdfDocument)
    page = doc[index]
    try:
        width, height = page.get_size()
        n = index + 1
        if not (0 < width <= _MAX_PAGE_POINTS and 0 < height <= _MAX_PAGE_POINTS):
            raise LimitExceeded(
                f"page {n} is {width / 72:.0f} x {height / 72:.0f} inches, too large to read"
            )
        scale = _RENDER_DPI / 72
        if width * height * scale * scale > limits.max_pixels:
            scale = math.sqrt(limits.max_pixels / (width * height)) * 0.999
        if scale * 72 < _MIN_RENDER_DPI:
            raise LimitExceeded(
                f"page {n} is {width / 72:.0f} x {height / 72:.0f} inches, too large to read "
                f"within the limit of {limits.max_pixels:,} pixels"
            )
        check_image_pixels(page, limits, n)  # before pdfium decodes any of them
        try:
            bitmap = page.render(scale=scale, grayscale=True, may_draw_forms=True)
            img: Image.Image = bitmap.to_pil()
        except pdfium.PdfiumError as e:
            raise DocumentError(f"page {n} could not be rendered ({e})") from e
    finally:
        page.close()
    img.info["dpi"] = (scale * 72, scale * 72)
    return img


def _read_page(img: Image.Image, page_no: int, limits: Limits) -> PageText:
    deadline = time.monotonic() + limits.ocr_seconds_per_page
    gray = images.prepare(img)
    words = _words(_tesseract(gray, [], page_no, deadline, limits))
    if _weak(words) and not (not words and images.looks_blank(gray)):
        # Sideways or upside down? Ask Tesseract's orientation detector, then read again.
        turn = _orientation(gray, page_no, deadline, limits)
        if turn:
            # Straightened again: the first deskew looked at the page lying sideways.
            turned = images.deskew(images.rotate(gray, turn))
            again = _words(_tesseract(turned, [], page_no, deadline, limits))
            if _score(again) > _score(words):
                gray, words = turned, again
    if not _readable(words):
        return PageText("", ocr=True)
    return PageText(
        text=layout_text(words, gray.width),
        ocr=True,
        low_confidence=frozenset(w.text for w in words if w.conf < LOW_CONFIDENCE),
        signature_ink=signature_ink(gray, words),
    )


def _tesseract(
    gray: Image.Image, args: list[str], page_no: int, deadline: float, limits: Limits
) -> str:
    remaining = deadline - time.monotonic()
    too_slow = LimitExceeded(
        f"page {page_no} took longer than {limits.ocr_seconds_per_page:g} seconds to read"
    )
    if remaining <= 0:
        raise too_slow
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    # An uncompressed TIFF file: written in milliseconds and read fastest.
    # Tesseract reads stdin byte by byte, PNG costs ~0.1 s to compress, and
    # leptonica's PNM reader is slower, all measurably on a 300 dpi page.
    with tempfile.TemporaryDirectory(prefix="portbot-ocr-") as tmp:
        path = os.path.join(tmp, "page.tif")
        gray.save(path, "TIFF", compression="raw")
        # No second reading of doubtful lines as white-on-black: it doubles the time
        # on a noisy scan, and the fields of a bill or LOA are dark on light.
        cmd = ["tesseract", path, "stdout", "-c", "tessedit_do_invert=0", *(args or ["tsv"])]
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=remaining, env=env, check=False)
        except FileNotFoundError as e:
            raise DocumentError(
                "the scan could not be read: tesseract (OCR) is not installed"
            ) from e
        except subprocess.TimeoutExpired as e:
            raise too_slow from e
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise DocumentError(
            f"OCR failed on page {page_no}" + (f" ({detail[-1]})" if detail else "")
        )
    return done.stdout.decode("utf-8", "replace")


def _words(tsv: str) -> list[Word]:
    out: list[Word] = []
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5":
            continue
        text = cols[11].strip()
        if not text:
            continue
        try:
            left, top, width, height = (int(c) for c in cols[6:10])
            conf = float(cols[10])
            line = (int(cols[2]), int(cols[3]), int(cols[4]))
        except ValueError:
            continue
        if conf < _SPECK_CONFIDENCE and not any(c.isalnum() for c in text):
            continue  # a toner speck or JPEG noise read as "." or "="
        text = _clean_word(text)
        out.append(Word(text, conf, Box(left, top, left + width, top + height), line))
    return _join_split_numbers(out)


_RULE_EDGE = re.compile(r"^_+(?=\w)|(?<=\w)_+$")
_STRAY_LEAD = re.compile(r"^[‘’“”'\"`|]+(?=[A-Za-z0-9])")


def _clean_word(text: str) -> str:
    """A word without the form line it touches ("_11/19/2026") or a speck read as a quote."""
    if any(c.isalnum() for c in text):
        text = _RULE_EDGE.sub("", text)
        text = _STRAY_LEAD.sub("", text)
    return text


def _join_split_numbers(words: list[Word]) -> list[Word]:
    """Joins a digit string that Tesseract cut in two where there is no real space.

    A printed space is about 0.4 of a digit's height wide; Tesseract sometimes
    splits a long account number at a gap of a tenth of that.
    """
    out: list[Word] = []
    for w in words:
        prev = out[-1] if out else None
        if (
            prev is not None
            and prev.line == w.line
            and prev.text.isdigit()
            and w.text[:1].isdigit()
            and 0 <= w.box.left - prev.box.right < 0.2 * max(prev.box.height, w.box.height)
        ):
            box = Box(
                prev.box.left,
                min(prev.box.top, w.box.top),
                w.box.right,
                max(prev.box.bottom, w.box.bottom),
            )
            out[-1] = Word(prev.text + w.text, min(prev.conf, w.conf), box, w.line)
            continue
        out.append(w)
    return out


def _is_wordlike(w: Word) -> bool:
    return sum(c.isalnum() for c in w.text) >= 2


def _readable(words: list[Word]) -> bool:
    """Did the page give text, rather than a few lucky guesses at a blur or a picture?"""
    real = [w for w in words if _is_wordlike(w)]
    sure = sum(1 for w in real if w.conf >= LOW_CONFIDENCE)
    if sure < _MIN_READABLE_WORDS:
        return False
    mean = sum(w.conf for w in real) / len(real)
    return mean >= _MIN_PAGE_MEAN_CONFIDENCE or sure >= 10 * _MIN_READABLE_WORDS


def _weak(words: list[Word]) -> bool:
    real = [w for w in words if _is_wordlike(w)]
    if len(real) < _MIN_WORDS:
        return True
    return sum(w.conf for w in real) / len(real) < _MIN_MEAN_CONFIDENCE


def _score(words: list[Word]) -> float:
    return sum(w.conf * len(w.text) for w in words if w.conf >= LOW_CONFIDENCE)


_ROTATE = re.compile(r"Rotate:\s*(\d+)")
_ORIENT_CONF = re.compile(r"Orientation confidence:\s*([\d.]+)")


def _orientation(gray: Image.Image, page_no: int, deadline: float, limits: Limits) -> int:
    """Counter-clockwise degrees (0, 90, 180, 270) that turn the page upright, 0 if unsure."""
    try:
        out = _tesseract(gray, ["--psm", "0"], page_no, deadline, limits)
    except LimitExceeded:
        raise
    except DocumentError:
        return 0  # too few letters to tell: keep the first reading
    rot = _ROTATE.search(out)
    conf = _ORIENT_CONF.search(out)
    if not rot or not conf or float(conf.group(1)) < 1.0:
        return 0
    # Tesseract's "Rotate" is clockwise; Pillow turns counter-clockwise.
    return (360 - int(rot.group(1))) % 360


def layout_text(words: list[Word], page_width: int) -> str:
    """The words as physical rows, top to bottom, each row left to right.

    Tesseract's lines that sit at the same height side by side (a label in one
    column, its value in another) are joined into one row; a line keeps its own
    word order. Wide gaps become runs of spaces that put a word at its column
    (one character per 4.5 pt of a page 8.5 inches wide), as parsers/pdf.py lays
    out a text layer, so the field extractors see the same cells either way.
    """
    by_line: dict[tuple[int, int, int], list[Word]] = {}
    for w in words:
        by_line.setdefault(w.line, []).append(w)
    lines = [_Line(ws) for ws in by_line.values()]
    lines.sort(key=lambda ln: ln.centre)
    rows: list[list[_Line]] = []
    for ln in lines:
        for row in reversed(rows[-3:]):
            if all(
                abs(ln.centre - o.centre) < 0.5 * min(ln.height, o.height)
                and (ln.left >= o.right or ln.right <= o.left)
                for o in row
            ):
                row.append(ln)
                break
        else:
            rows.append([ln])
    pt = _PAGE_WIDTH_PT / max(page_width, 1)
    out = []
    for row in rows:
        text = ""
        prev: Word | None = None
        height = max(ln.height for ln in row) * pt
        for ln in sorted(row, key=lambda ln: ln.left):
            for w in ln.words:
                target = int(w.box.left * pt / _CHAR_PT)
                if prev is None:
                    text = " " * target
                elif (w.box.left - prev.box.right) * pt > max(1.2 * height, 8.0):
                    text += " " * max(3, target - len(text))
                else:
                    text += " "
                text += w.text
                prev = w
        out.append(text)
    return "\n".join(out)


class _Line:
    def __init__(self, words: list[Word]) -> None:
        self.words = words
        self.left = min(w.box.left for w in words)
        self.right = max(w.box.right for w in words)
        top = min(w.box.top for w in words)
        bottom = max(w.box.bottom for w in words)
        self.centre = (top + bottom) / 2
        # Median word height: one tall word (a bracket, a logo) should not widen the line.
        heights = sorted(w.box.height for w in words)
        self.height = heights[len(heights) // 2]


_LABEL_WORDS = frozenset({"signature", "signatures", "sign", "signed"})
# Closing words of a letter: the signature is written below them.
_CLOSING_WORDS = frozenset(
    {"sincerely", "regards", "respectfully", "truly", "cordialement", "salutations"}
)
# Words that continue a signature label ("Signature du client :", "Signature of Customer").
_LABEL_TAIL_WORDS = frozenset(
    {
        "du",
        "de",
        "la",
        "of",
        "the",
        "client",
        "cliente",
        "customer",
        "authorized",
        "authorised",
        "autorisee",
        "autorise",
        "here",
        "applicant",
        "account",
        "holder",
        "titulaire",
        "by",
        "x",
    }
)
# A fallback stroke must be this many label heights wide and high: a scrawled name,
# not a printed word OCR read badly, a handwritten digit or a checkbox.
_FREE_INK_WIDTH = 3.0
_FREE_INK_HEIGHT = 1.3


def _letters(w: Word) -> str:
    return re.sub(r"[^a-z]", "", w.text.lower())


def _is_signature_label(w: Word) -> bool:
    return _letters(w) in _LABEL_WORDS


def _label_end(label: Word, line: list[Word]) -> Box:
    """The label's box grown over the words that continue it on its line ("du client :")."""
    box = label.box
    h = max(label.box.height, 8)
    for w in sorted((o for o in line if o.box.left >= label.box.right), key=lambda o: o.box.left):
        if w.box.left - box.right > 1.5 * h:
            break
        letters = _letters(w)
        if letters and letters not in _LABEL_TAIL_WORDS:
            break
        box = Box(box.left, min(box.top, w.box.top), w.box.right, max(box.bottom, w.box.bottom))
        if w.text.endswith(":"):
            break
    return box


def signature_ink(gray: Image.Image, words: list[Word]) -> bool | None:
    """True when pen strokes are found at a signature label, False when it is blank.

    None when the page has no signature label. The label may stand left of the
    line ("Signature: ______"), under it ("______ / Authorized Signature"), or
    be a letter's closing ("Sincerely,") with the signature below it; each
    place is looked at. A label inside running text ("by my signature below")
    is not one. When OCR lost the label itself (a scrawl across the label's
    line makes Tesseract drop the whole line), a large free stroke below the
    last mention of a signature or a closing counts.
    """
    by_line: dict[tuple[int, int, int], list[Word]] = {}
    for w in words:
        by_line.setdefault(w.line, []).append(w)
    labels: list[tuple[Word, bool]] = []
    cues: list[Word] = []
    for w in words:
        closing = _letters(w) in _CLOSING_WORDS
        if not (closing or _is_signature_label(w)):
            continue
        cues.append(w)
        before = [o for o in by_line[w.line] if o.box.right <= w.box.left]
        if len(before) <= 3:
            labels.append((w, closing))
    if not cues:
        return None
    printed_all = [w for w in words if w.conf >= LOW_CONFIDENCE and _is_wordlike(w)]
    for label, closing in labels:
        h = max(label.box.height, 8)
        printed = [w.box for w in printed_all if w is not label and w.box.height <= 1.6 * h]
        end = _label_end(label, by_line[label.line])
        # Stop at the next label on the same row ("Date:"), if there is one.
        next_labels = [
            w.box.left
            for w in words
            if w.box.left > end.right
            and w.text.endswith(":")
            and abs((w.box.top + w.box.bottom) - (label.box.top + label.box.bottom)) < h
        ]
        right_end = min([*next_labels, end.right + 25 * h]) - h // 3
        beside = Box(end.right + h // 3, label.box.top - 2 * h, right_end, label.box.bottom + h)
        above = Box(
            label.box.left - h,
            label.box.top - 3 * h,
            label.box.right + 12 * h,
            label.box.top - h // 4,
        )
        regions = [beside, above]
        if closing:
            regions = [
                Box(
                    label.box.left - 2 * h,
                    label.box.bottom + h // 4,
                    label.box.left + 25 * h,
                    label.box.bottom + 6 * h,
                )
            ]
        for region in regions:
            if images.ink_in_region(gray, region, printed, h):
                return True
    last = max(cues, key=lambda w: w.box.bottom)
    h = max(last.box.height, 8)
    printed = [w.box for w in printed_all if w.box.height <= 1.6 * h]
    below = Box(0, last.box.top - 4 * h, gray.width, last.box.bottom + 8 * h)
    if images.ink_in_region(
        gray, below, printed, h, min_width=_FREE_INK_WIDTH, min_height=_FREE_INK_HEIGHT
    ):
        return True
    return False if labels else None
