"""Limits on hostile or absurd input, passed into the parsers as a value."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    max_message_bytes: int = 40 * 1024 * 1024
    max_attachment_bytes: int = 25 * 1024 * 1024
    max_attachments: int = 20  # attachments read per message; the rest are listed unread
    max_pages: int = 30  # pages read per document
    max_pixels: int = 40_000_000  # per image or rendered page (a page is rendered within it)
    # The images a PDF page draws, judged from their dictionaries before any is decoded:
    # a 600 dpi tabloid scan is 67 million; a bomb declares billions behind a tiny stream.
    max_image_pixels: int = 150_000_000
    ocr_seconds_per_page: float = 30.0
    ocr_pages_per_message: int = 60  # OCR pages for all attachments of one message
    ocr: bool = True  # OCR pages without a text layer and images
    ocr_off_reason: str = "OCR is turned off"  # said of a scan left unread when ocr is off
    # Attachments are read in worker processes (bot/adapters/sandbox.py) within these limits;
    # the parsers themselves do not look at them.
    sandbox: bool = True  # false: read in the bot's own process (no limits below)
    worker_memory_mb: int = 768  # address space of each worker (RLIMIT_AS)
    worker_cpu_seconds: float = 60.0  # CPU time per attachment (RLIMIT_CPU)
    attachment_seconds: float = 60.0  # wall time per attachment, then the worker is killed
    worker_output_bytes: int = 8 * 1024 * 1024  # the read record sent back per attachment
    workers: int = 2  # workers reading at once (each kept for the next attachments)
    worker_reads: int = 200  # attachments one worker reads before a fresh one replaces it
