"""OCR of scanned PDF pages and photos (placeholder until the OCR work lands)."""

from __future__ import annotations

from collections.abc import Sequence

from parsers.errors import DocumentError
from parsers.limits import Limits
from parsers.text import DocText, PageText


def ocr_image(data: bytes, limits: Limits) -> DocText:
    raise DocumentError("image documents cannot be read yet (no OCR)")


def ocr_pdf_pages(data: bytes, pages: Sequence[int], limits: Limits) -> dict[int, PageText]:
    raise DocumentError("scanned pages cannot be read yet (no OCR)")
