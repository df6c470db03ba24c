"""Limits on hostile or absurd input, passed into the parsers as a value."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    max_message_bytes: int = 40 * 1024 * 1024
    max_attachment_bytes: int = 25 * 1024 * 1024
    max_attachments: int = 20  # attachments read per message; the rest are listed unread
    max_pages: int = 30  # pages read per document
    max_pixels: int = 40_000_000  # per image or rendered page (decompression bombs)
    ocr_seconds_per_page: float = 30.0
    ocr_pages_per_message: int = 60  # OCR pages for all attachments of one message
    ocr: bool = True  # OCR pages without a text layer and images
    ocr_off_reason: str = "OCR is turned off"  # said of a scan left unread when ocr is off
