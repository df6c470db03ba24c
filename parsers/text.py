"""The text of a document as the field extractors read it, from a text layer or OCR."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class PageText:
    text: str
    ocr: bool = False
    # Words OCR read with low confidence (as they appear in `text`).
    low_confidence: frozenset[str] = frozenset()
    # From a scan: was ink found in the box beside a signature label? None: not looked.
    signature_ink: bool | None = None


@dataclass(frozen=True)
class DocText:
    pages: tuple[PageText, ...]

    @property
    def text(self) -> str:
        return "\n\f\n".join(p.text for p in self.pages)

    @property
    def ocr(self) -> bool:
        return any(p.ocr for p in self.pages)

    @property
    def low_confidence(self) -> frozenset[str]:
        out: frozenset[str] = frozenset()
        for p in self.pages:
            out |= p.low_confidence
        return out


def uncertain_fields(doc: DocText, values: Mapping[str, str | None]) -> frozenset[str]:
    """Names of the fields whose value holds a word OCR read with low confidence."""
    low = {re.sub(r"\W", "", w).casefold() for w in doc.low_confidence}
    low.discard("")
    if not low:
        return frozenset()
    return frozenset(
        name
        for name, value in values.items()
        if value and any(re.sub(r"\W", "", w).casefold() in low for w in value.split())
    )
