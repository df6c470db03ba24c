"""PDF attachments: the text layer per page, and evidence that someone signed.

Everything is read from one pdfium parse (pypdfium2): text, annotations, form
fields and the positions of images near a "Signature" label. pdfium is an
order of magnitude faster than the pure-Python PDF libraries, and bills are
read on every message.
"""

from __future__ import annotations

import ctypes
import re
from dataclasses import dataclass

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from parsers.errors import DocumentError, EncryptedDocument, LimitExceeded
from parsers.limits import Limits
from parsers.text import DocText, PageText

# A page with fewer visible characters than this has no usable text layer (a scan).
MIN_PAGE_CHARS = 20

# Where a signature is drawn: beside or above a label, or below a letter's closing.
_SIGNATURE_LABEL = re.compile(
    r"signature|\bsigned\b|sign here|\bsign[ée]\b"
    r"|\b(?:sincerely|regards|respectfully|cordialement)\b",
    re.IGNORECASE,
)
_SIGN_FIELD_NAME = re.compile(r"sign", re.IGNORECASE)


@dataclass(frozen=True)
class PdfDoc:
    text: DocText
    pages_without_text: tuple[int, ...]  # page indexes for OCR
    signature_field_filled: bool
    signature_ink: bool
    page_count: int = 0  # pages in the file, read or not
    truncated: bool = False  # more pages than limits.max_pages: only the first were read


@dataclass(frozen=True)
class _Box:
    left: float
    bottom: float
    right: float
    top: float

    @property
    def area(self) -> float:
        return max(0.0, self.right - self.left) * max(0.0, self.top - self.bottom)

    def intersects(self, other: _Box) -> bool:
        return (
            self.left < other.right
            and other.left < self.right
            and self.bottom < other.top
            and other.bottom < self.top
        )


# Layout text: a column gap becomes spaces so that cells keep their x position
# (one text column per _CHAR_PT points), as `pdftotext -layout` does.
_CHAR_PT = 4.5


# A placed run of text: (text, left, bottom, right, top) in PDF points.
_Run = tuple[str, float, float, float, float]

_SEPARATOR = re.compile(r"[ \r\n]")


def _runs(handle: pdfium_c.FPDF_TEXTPAGE, raw: str) -> list[_Run]:
    """The page text cut at pdfium's generated spaces and line breaks, with boxes.

    Generated characters are where pdfium joined separately placed text; the
    runs between them are placed text. Only run ends are measured (two cheap
    calls per run), not every character: this loop is the cost of the layout.
    """
    lo, ro, bo, to = ctypes.c_double(), ctypes.c_double(), ctypes.c_double(), ctypes.c_double()
    get_box = pdfium_c.FPDFText_GetCharBox
    is_generated = pdfium_c.FPDFText_IsGenerated
    runs: list[_Run] = []
    cuts = [m.start() for m in _SEPARATOR.finditer(raw)]
    cuts.append(len(raw))
    start = 0
    for i in cuts:
        if i < len(raw) and raw[i] == " " and is_generated(handle, i) != 1:
            continue
        if i > start:
            chunk = raw[start:i]
            stripped = chunk.strip()
            if stripped:
                first = start + len(chunk) - len(chunk.lstrip())
                last = start + len(chunk.rstrip()) - 1
                get_box(handle, first, lo, ro, bo, to)
                left, bottom, top = lo.value, bo.value, to.value
                get_box(handle, last, lo, ro, bo, to)
                runs.append(
                    (
                        stripped,
                        min(left, lo.value),
                        min(bottom, bo.value),
                        ro.value,
                        max(top, to.value),
                    )
                )
        start = i + 1
    return runs


def _layout_text(textpage: pdfium.PdfTextPage, raw: str, extra: list[_Run]) -> str:
    """The page text laid out by position, wide gaps kept as runs of spaces.

    pdfium gives text in content-stream order and joins runs on one line with a
    single space, which merges side-by-side blocks (service address | remit-to)
    and can interleave columns. Placing runs by their boxes keeps the columns.
    """
    runs = _runs(textpage.raw, raw) + extra
    if not runs:
        return raw.replace("\r\n", "\n").replace("\r", "\n")
    runs.sort(key=lambda r: (-(r[4] + r[2]), r[1]))
    lines: list[list[_Run]] = []
    band_bottom = band_top = 0.0
    for run in runs:
        middle = (run[4] + run[2]) / 2
        if lines and band_bottom <= middle <= band_top:
            lines[-1].append(run)
            continue
        lines.append([run])
        band_bottom, band_top = run[2], run[4]
    out: list[str] = []
    for line in lines:
        line.sort(key=lambda r: r[1])
        text = ""
        prev: _Run | None = None
        for run in line:
            target = int(run[1] / _CHAR_PT)
            if prev is None:
                text = " " * target
            else:
                height = max(prev[4] - prev[2], run[4] - run[2], 1.0)
                gap = run[1] - prev[3]
                text += " " * max(3, target - len(text)) if gap > max(1.2 * height, 8.0) else " "
            text += run[0]
            prev = run
        out.append(text)
    return "\n".join(out)


def _annot_string(annot: pdfium_c.FPDF_ANNOTATION, key: str) -> str:
    """A string or name value of an annotation's dictionary ("" when absent)."""
    bkey = key.encode("ascii")
    size = pdfium_c.FPDFAnnot_GetStringValue(annot, bkey, None, 0)
    if size <= 2:
        return ""
    buf = ctypes.create_string_buffer(size)
    pdfium_c.FPDFAnnot_GetStringValue(
        annot, bkey, ctypes.cast(buf, ctypes.POINTER(pdfium_c.FPDF_WCHAR)), size
    )
    return buf.raw[: size - 2].decode("utf-16-le", errors="replace")


def _field(annot: pdfium_c.FPDF_ANNOTATION) -> tuple[bool, str]:
    """(signature evidence, text value) of a form widget.

    Evidence: a signature field with a value, or a filled text field named like
    "signature". The value of a text or choice field is returned because pdfium's
    text layer leaves out form values, and a filled LOA form holds the customer's
    name and numbers there. Field keys (/FT, /T, /V) may sit on the widget or on
    its parent field.
    """
    chain = [annot]
    parent = pdfium_c.FPDFAnnot_GetLinkedAnnot(annot, b"Parent")
    if parent:
        chain.append(parent)
    try:
        field_type = next((t for t in (_annot_string(a, "FT") for a in chain) if t), "")
        if field_type == "Sig":
            return any(pdfium_c.FPDFAnnot_HasKey(a, b"V") for a in chain), ""
        if field_type not in ("Tx", "Ch"):
            return False, ""
        value = next((v for v in (_annot_string(a, "V") for a in chain) if v.strip()), "")
        name = ".".join(n for n in (_annot_string(a, "T") for a in reversed(chain)) if n)
        signed = (
            field_type == "Tx"
            and bool(_SIGN_FIELD_NAME.search(name))
            and bool(value.strip(" _-.\t"))
        )
        return signed, value
    finally:
        if parent:
            pdfium_c.FPDFPage_CloseAnnot(parent)


def _value_runs(annot: pdfium_c.FPDF_ANNOTATION, value: str) -> list[_Run]:
    """A form value placed where the widget shows it, one run per line of the value."""
    rect = pdfium_c.FS_RECTF()
    if not pdfium_c.FPDFAnnot_GetRect(annot, rect):
        return []
    left, right = min(rect.left, rect.right), max(rect.left, rect.right)
    bottom, top = min(rect.bottom, rect.top), max(rect.bottom, rect.top)
    lines = [ln.strip() for ln in value.replace("\r", "\n").split("\n") if ln.strip()]
    if len(lines) == 1:
        return [(lines[0], left + 2, bottom, right, top)]
    step = 12.0
    return [
        (line, left + 2, top - step * (k + 1), right, top - step * k)
        for k, line in enumerate(lines)
    ]


def _annotation_evidence(page: pdfium.PdfPage) -> tuple[bool, bool, list[_Run]]:
    """(signature field filled, ink or stamp annotation, form values) of one page."""
    filled = ink = False
    runs: list[_Run] = []
    count = pdfium_c.FPDFPage_GetAnnotCount(page.raw)
    for index in range(count):
        annot = pdfium_c.FPDFPage_GetAnnot(page.raw, index)
        if not annot:
            continue
        try:
            subtype = pdfium_c.FPDFAnnot_GetSubtype(annot)
            if subtype in (pdfium_c.FPDF_ANNOT_INK, pdfium_c.FPDF_ANNOT_STAMP):
                ink = True
            elif subtype == pdfium_c.FPDF_ANNOT_WIDGET:
                signed, value = _field(annot)
                filled |= signed
                if value.strip():
                    runs.extend(_value_runs(annot, value))
        finally:
            pdfium_c.FPDFPage_CloseAnnot(annot)
    return filled, ink, runs


def _label_boxes(textpage: pdfium.PdfTextPage, text: str) -> list[_Box]:
    """Boxes of the "Signature" labels on a page, in PDF points."""
    boxes: list[_Box] = []
    for match in _SIGNATURE_LABEL.finditer(text):
        # Text indexes from get_text_range count "\r\n" as pdfium's chars do.
        first = match.start()
        last = match.end() - 1
        try:
            l0, b0, r0, t0 = textpage.get_charbox(first)
            l1, b1, r1, t1 = textpage.get_charbox(last)
        except (pdfium.PdfiumError, IndexError, ValueError):
            continue
        boxes.append(_Box(min(l0, l1), min(b0, b1), max(r0, r1), max(t0, t1)))
    return boxes


def _mark_near_labels(page: pdfium.PdfPage, labels: list[_Box], max_pixels: int) -> bool:
    """Is an image, or a drawn (many-segment) path, in the box beside/above/below a label?"""
    width, height = page.get_size()
    page_area = max(width * height, 1.0)
    # Signatures sit on the line right of "Signature:", above a label printed under
    # the line, or just below a label heading a signature box.
    zones = [_Box(lb.left - 60, lb.bottom - 90, lb.right + 360, lb.top + 70) for lb in labels]
    kinds = (pdfium_c.FPDF_PAGEOBJ_IMAGE, pdfium_c.FPDF_PAGEOBJ_PATH)
    for obj in page.get_objects(filter=kinds, max_depth=3):
        try:
            left, bottom, right, top = obj.get_bounds()
        except (pdfium.PdfiumError, ValueError):
            continue
        box = _Box(left, bottom, right, top)
        if box.area > 0.35 * page_area:
            continue  # a full-page scan or background, not a signature
        if obj.type == pdfium_c.FPDF_PAGEOBJ_PATH:
            w, h = right - left, top - bottom
            if not (6 < h < 150 and 20 < w < 450):
                continue
            if pdfium_c.FPDFPath_CountSegments(obj.raw) < 20:
                continue  # a rule or a box, not handwriting
        elif box.right - box.left < 15 or box.top - box.bottom < 6:
            continue
        if any(box.intersects(z) for z in zones) and (
            obj.type != pdfium_c.FPDF_PAGEOBJ_IMAGE or _image_has_ink(obj, max_pixels)
        ):
            return True
    return False


# Share of dark pixels below which a placed image is blank (a white patch, an empty box).
_MIN_INK_SHARE = 0.002


def _image_has_ink(obj: pdfium.PdfObject, max_pixels: int) -> bool:
    """Does an image in the signature area show strokes, rather than blank paper?

    The image is decoded as drawn (masks applied, transparency on white); when it
    cannot be decoded (or is over the pixel limit) it is given the benefit of the doubt.
    """
    if not isinstance(obj, pdfium.PdfImage):
        return True
    width, height = image_pixel_size(obj)
    if width * height > max_pixels:
        return True  # never decoded: a bomb, or nothing a signature needs
    try:
        pil = obj.get_bitmap(render=True).to_pil()
    except (pdfium.PdfiumError, ValueError, OSError):
        return True
    if pil.mode in ("RGBA", "LA", "PA"):
        paper = Image.new("RGBA", pil.size, (255, 255, 255, 255))
        paper.alpha_composite(pil.convert("RGBA"))
        pil = paper
    gray = pil.convert("L")
    if gray.width * gray.height > 4_000_000:
        gray = gray.reduce(4)
    hist: list[int] = gray.histogram()
    dark: int = sum(hist[:128])
    return dark >= _MIN_INK_SHARE * max(1, sum(hist))


def image_pixel_size(obj: pdfium.PdfObject) -> tuple[int, int]:
    """An image object's /Width and /Height from its own dictionary: nothing is decoded."""
    width, height = ctypes.c_uint(), ctypes.c_uint()
    if not pdfium_c.FPDFImageObj_GetImagePixelSize(obj.raw, width, height):
        return 0, 0
    return int(width.value), int(height.value)


def check_image_pixels(page: pdfium.PdfPage, limits: Limits, number: int) -> None:
    """Raises LimitExceeded before page `number` is rendered if the images it draws
    (in forms too) hold more than `limits.max_image_pixels` in all, judged from their
    dictionaries: a huge image XObject behind a tiny Flate stream is never decoded."""
    total = 0
    for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,)):
        width, height = image_pixel_size(obj)
        total += width * height
        if width * height > limits.max_image_pixels:
            raise LimitExceeded(
                f"page {number} draws an image of {width} x {height} pixels, more than the "
                f"limit of {limits.max_image_pixels:,} pixels"
            )
        if total > limits.max_image_pixels:
            raise LimitExceeded(
                f"page {number} draws images of more than {limits.max_image_pixels:,} pixels in all"
            )


def _open(data: bytes) -> pdfium.PdfDocument:
    if b"%PDF" not in data[:1024]:
        raise DocumentError("the PDF is damaged: it does not start like a PDF file")
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        message = str(exc)
        if "password" in message.lower():
            raise EncryptedDocument("the PDF is password-protected") from exc
        reason = re.sub(r"^.*\(PDFium: ([^)]*)\).*$", r"\1", message).strip() or message
        raise DocumentError(f"the PDF is damaged: {reason.lower()}") from exc


def read_pdf(data: bytes, limits: Limits) -> PdfDoc:
    """Read the text layer of a PDF and what it shows of a signature."""
    pdf = _open(data)
    try:
        page_count = len(pdf)
        if page_count == 0:
            raise DocumentError("the PDF is damaged: it has no pages")
        read = min(page_count, limits.max_pages)
        pages: list[PageText] = []
        empty: list[int] = []
        field_filled = ink = False
        for index in range(read):
            try:
                page = pdf[index]
            except pdfium.PdfiumError as exc:
                raise DocumentError(f"the PDF is damaged: page {index + 1} cannot be read") from exc
            try:
                textpage = page.get_textpage()
                try:
                    raw = textpage.get_text_range()
                    filled, annot_ink, values = _annotation_evidence(page)
                    field_filled |= filled
                    ink |= annot_ink
                    text = _layout_text(textpage, raw, values)
                    if len(re.sub(r"\s", "", text)) < MIN_PAGE_CHARS:
                        empty.append(index)
                    if not ink and _SIGNATURE_LABEL.search(raw):
                        labels = _label_boxes(textpage, raw)
                        ink = bool(labels) and _mark_near_labels(page, labels, limits.max_pixels)
                finally:
                    textpage.close()
            finally:
                page.close()
            pages.append(PageText(text=text))
    finally:
        pdf.close()
    return PdfDoc(
        text=DocText(tuple(pages)),
        pages_without_text=tuple(empty),
        signature_field_filled=field_filled,
        signature_ink=ink,
        page_count=page_count,
        truncated=page_count > read,
    )
