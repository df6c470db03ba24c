"""Benchmark: seconds per scanned page for the bot's OCR path beside bare `tesseract`.

For every scanned page in the ocr-* fixture threads, in the same run and
interleaved (so machine load hits both alike):
- the bot: `parsers.ocr.ocr_image` / `ocr_pdf_pages` on the attachment as it
  arrives (decoding, rendering, clean-up, Tesseract, layout, signature ink);
- the floor: `tesseract PAGE stdout` on the same page image (the attachment
  itself when Tesseract reads its format, else the decoded or rendered page as
  PNG), once with the environment as it is and once with OMP_THREAD_LIMIT=1.
Prints per-page figures, medians and the ratio. Goal (the issue): bot <= 1.3x bare.

It also reads every text-layer PDF of all fixture threads through
`parsers.documents.read_attachment` with OCR counted (a wrapper around
`parsers.ocr.ocr_pdf_pages` / `ocr_image` for the run): it must be zero.

    .venv/bin/python bench/bench_ocr.py [--repeat N]
"""

from __future__ import annotations

import argparse
import email
import email.policy
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
from PIL import ImageOps

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from parsers import documents, ocr  # noqa: E402
from parsers.errors import DocumentError  # noqa: E402
from parsers.images import load_frames  # noqa: E402
from parsers.limits import Limits  # noqa: E402
from parsers.model import Attachment  # noqa: E402

FIXTURES = ROOT / "fixtures" / "emails"
LIMITS = Limits()
# Formats the tesseract binary (leptonica) reads directly.
TESSERACT_READS = {"image/jpeg", "image/png", "image/tiff", "image/webp"}


@dataclass
class Case:
    name: str
    pages: int
    bot: Callable[[], Any]
    bare_inputs: list[Path]  # what `tesseract X stdout` is given, covering all pages


def _attachments(eml: Path) -> list[tuple[str, str, bytes]]:
    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    out = []
    for part in msg.walk():
        if part.get_content_disposition() != "attachment":
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            out.append((part.get_filename() or "", part.get_content_type(), payload))
    return out


def _text_layer_pdf(data: bytes) -> bool:
    """Every page carries text objects (checked with pdfium, not with the bot's reader)."""
    try:
        doc = pdfium.PdfDocument(data)
    except pdfium.PdfiumError:
        return False
    try:
        for page in doc:
            kinds = {obj.type for obj in page.get_objects()}
            page.close()
            if pdfium.raw.FPDF_PAGEOBJ_TEXT not in kinds:
                return False
        return True
    finally:
        doc.close()


def _cases(tmp: Path) -> list[Case]:
    cases: list[Case] = []
    for thread in sorted(FIXTURES.glob("ocr-*")):
        for eml in sorted(thread.glob("*.eml")):
            for filename, ctype, data in _attachments(eml):
                name = f"{thread.name}/{filename}"
                stem = tmp / f"{len(cases):03d}"
                if ctype == "application/pdf":
                    if _text_layer_pdf(data):
                        continue
                    doc = pdfium.PdfDocument(data)
                    n = len(doc)
                    paths = []
                    for i in range(n):
                        page = doc[i]
                        img = page.render(scale=300 / 72, grayscale=True).to_pil()
                        page.close()
                        paths.append(stem.with_name(f"{stem.name}-{i}.png"))
                        img.save(paths[-1])
                    doc.close()
                    cases.append(Case(name, n, _pdf_bot(data, n), paths))
                elif ctype.startswith("image/"):
                    try:
                        frames = load_frames(data, LIMITS)
                    except DocumentError:
                        continue  # the bomb: refused before decoding, nothing to time
                    if ctype in TESSERACT_READS:
                        path = stem.with_suffix("." + ctype.split("/")[1])
                        path.write_bytes(data)
                        paths = [path]
                    else:
                        paths = []
                        for i, frame in enumerate(frames):
                            paths.append(stem.with_name(f"{stem.name}-{i}.png"))
                            (ImageOps.exif_transpose(frame) or frame).save(paths[-1])
                    cases.append(Case(name, len(frames), _image_bot(data), paths))
    return cases


def _pdf_bot(data: bytes, n: int) -> Callable[[], Any]:
    def run() -> Any:
        try:
            return ocr.ocr_pdf_pages(data, range(n), LIMITS)
        except DocumentError:
            return None  # a blank scan: the time still counts

    return run


def _image_bot(data: bytes) -> Callable[[], Any]:
    def run() -> Any:
        try:
            return ocr.ocr_image(data, LIMITS)
        except DocumentError:
            return None

    return run


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _bare(paths: list[Path], env: dict[str, str]) -> Callable[[], Any]:
    def run() -> None:
        for p in paths:
            subprocess.run(
                ["tesseract", str(p), "stdout"], capture_output=True, env=env, check=False
            )

    return run


def bench_pages(repeat: int) -> None:
    ambient = dict(os.environ)
    ambient.pop("OMP_THREAD_LIMIT", None)  # as a user's shell would run it
    one_thread = {**ambient, "OMP_THREAD_LIMIT": "1"}
    with tempfile.TemporaryDirectory(prefix="bench-ocr-") as tmp:
        cases = _cases(Path(tmp))
        bot_pp: list[float] = []
        bare_pp: list[float] = []
        bare1_pp: list[float] = []
        print(f"{'page':58} {'bot':>7} {'bare':>7} {'bare1':>7}  (seconds per page)")
        for case in cases:
            case.bot()  # warm the file cache and imports
            bot_t, bare_t, bare1_t = [], [], []
            for _ in range(repeat):
                bare1_t.append(_timed(_bare(case.bare_inputs, one_thread)))
                bot_t.append(_timed(case.bot))
                bare_t.append(_timed(_bare(case.bare_inputs, ambient)))
            b, a, a1 = (statistics.median(t) / case.pages for t in (bot_t, bare_t, bare1_t))
            bot_pp.append(b)
            bare_pp.append(a)
            bare1_pp.append(a1)
            print(f"{case.name[:58]:58} {b:7.2f} {a:7.2f} {a1:7.2f}")
    bot_m, bare_m, bare1_m = (statistics.median(x) for x in (bot_pp, bare_pp, bare1_pp))
    ratios1 = [b / a for b, a in zip(bot_pp, bare1_pp, strict=True)]
    print()
    print(f"pages: {len(bot_pp)}, repeats: {repeat}")
    print(
        f"median s/page  bot {bot_m:.2f}   bare tesseract {bare_m:.2f}   "
        f"bare tesseract, OMP_THREAD_LIMIT=1 {bare1_m:.2f}"
    )
    print(
        f"ratio of medians  bot/bare {bot_m / bare_m:.2f}   bot/bare(1 thread) "
        f"{bot_m / bare1_m:.2f}   (goal <= 1.3)"
    )
    print(
        f"median of per-page ratios bot/bare(1 thread) {statistics.median(ratios1):.2f}, "
        f"worst {max(ratios1):.2f}"
    )


def count_ocr_on_text_pdfs() -> None:
    calls = {"ocr_pdf_pages": 0, "ocr_image": 0}
    real_pages, real_image = ocr.ocr_pdf_pages, ocr.ocr_image

    def pages(*args: Any, **kwargs: Any) -> Any:
        calls["ocr_pdf_pages"] += 1
        return real_pages(*args, **kwargs)

    def image(*args: Any, **kwargs: Any) -> Any:
        calls["ocr_image"] += 1
        return real_image(*args, **kwargs)

    ocr.ocr_pdf_pages, ocr.ocr_image = pages, image  # type: ignore[assignment]
    n = 0
    started = time.perf_counter()
    try:
        for thread in sorted(FIXTURES.iterdir()):
            for eml in sorted(thread.glob("*.eml")):
                for filename, ctype, data in _attachments(eml):
                    if not (ctype == "application/pdf" or filename.lower().endswith(".pdf")):
                        continue
                    if not _text_layer_pdf(data):
                        continue
                    documents.read_attachment(Attachment(filename, ctype, data), LIMITS)
                    n += 1
    finally:
        ocr.ocr_pdf_pages, ocr.ocr_image = real_pages, real_image  # type: ignore[assignment]
    took = time.perf_counter() - started
    total = sum(calls.values())
    print(
        f"text-layer PDFs read: {n} in {took:.2f} s; OCR calls: {total} "
        f"({calls})  {'OK' if total == 0 else 'FAIL: text PDFs must not be OCRed'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-pages", action="store_true", help="only count OCR calls")
    args = parser.parse_args()
    count_ocr_on_text_pdfs()
    if not args.skip_pages:
        bench_pages(args.repeat)


if __name__ == "__main__":
    main()
