"""The bot's filled-in LOA (bot/render/loa_form.py) as a customer sends it back.

Requests with any number of numbers (`assessment_with`), and copies of the form:
signed on screen (a typed "/s/ Name" and date, as a PDF editor's "fill and sign"
adds them, or a pen stroke drawn as an ink annotation), printed, signed by hand
and scanned (rasterised, toner specks, grey paper, turned a little), or
photographed on a desk. The degradation is fixtures/build_ocr/degrade.py's and
the pen strokes fixtures/build_ocr/render.py's, as for tests/loa_variants.py.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import io
import random
from collections.abc import Sequence
from email.message import EmailMessage

from PIL import Image
from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import letter
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from bot.render.loa_form import LoaForm
from fixtures.build.paperwork import add_ink_annotation
from fixtures.build_ocr import degrade
from fixtures.build_ocr.render import draw_signature, render_page
from parsers.model import Address, Message, NumberEntry, ParsedMessage, Statements
from rules.assessment import Assessment, assess
from rules.policy import Policy
from rules.request import build_request

W, H = letter
TODAY = dt.date(2026, 11, 27)
SIGNED_ON = dt.date(2026, 11, 30)
SIGNER = "Dana Ortiz"
NAME = "Acme Realty LLC"


def numbers(n: int, area: str = "512") -> list[str]:
    """`n` distinct valid local numbers (E.164)."""
    return [f"+1{area}555{1000 + i:04d}" for i in range(n)]


def assessment_with(n: int, *, account_name: str | None = NAME) -> Assessment:
    """A request stating every field and `n` numbers, with PINs, without bill or LOA."""
    statements = Statements(
        current_carrier="AT&T",
        account_number="287654321",
        account_name=account_name,
        service_address=Address("123 MAIN ST STE 200", "AUSTIN", "TX", "78701"),
        billing_telephone_number="+15125550100",
        pin_for_all="4821",
        numbers=tuple(NumberEntry(x, pin="4821", assignee_name="Mickey Mouse") for x in numbers(n)),
    )
    message = Message(
        "<req@acme.example>", None, (), "Port", "dana@acme.example", SIGNER, None, "", ()
    )
    return assess(build_request([ParsedMessage(message, statements, ())]), Policy(), TODAY)


def _overlay(pdf: bytes, page: int, draw: list[tuple[float, float, str, str, float]]) -> bytes:
    """Text stamped onto page `page` (x, y from the top, text, font, size)."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=letter, invariant=1)
    for x, y, text, font, size in draw:
        c.setFont(font, size)
        c.drawString(x, H - y, text)
    c.showPage()
    c.save()
    stamp = PdfReader(io.BytesIO(buf.getvalue())).pages[0]
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.pages[page].merge_page(stamp)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def dated(form: LoaForm, on: dt.date = SIGNED_ON) -> bytes:
    """The form with the date typed on its date line."""
    left, _, _, bottom = form.date_box
    return _overlay(
        form.pdf,
        form.signature_page,
        [(left + 6, bottom - 5, on.strftime("%m/%d/%Y"), "Helvetica", 11)],
    )


def typed_signature(form: LoaForm, signer: str = SIGNER, on: dt.date = SIGNED_ON) -> bytes:
    """Signed on screen: "/s/ Name" on the signature line and the date on its own."""
    left, _, _, bottom = form.signature_box
    d_left, _, _, d_bottom = form.date_box
    return _overlay(
        form.pdf,
        form.signature_page,
        [
            (left + 6, bottom - 5, f"/s/ {signer}", "Helvetica-Oblique", 12),
            (d_left + 6, d_bottom - 5, on.strftime("%m/%d/%Y"), "Helvetica", 11),
        ],
    )


def drawn_signature(form: LoaForm) -> bytes:
    """Signed on screen with a pen stroke (an /Ink annotation), dated by typing."""
    left, top, right, bottom = form.signature_box
    return add_ink_annotation(dated(form), (left, H - bottom, right, H - top))


def _pages(
    pdf: bytes, pages: int, *, ink_on: int | None, box: Sequence[float], dpi: int
) -> list[Image.Image]:
    out = []
    for index in range(pages):
        img = render_page(pdf, dpi=dpi, index=index)
        if index == ink_on:
            s = dpi / 72
            left, top, right, bottom = box
            draw_signature(img, (int(left * s), int(top * s), int(right * s), int(bottom * s)), 17)
        out.append(img)
    return out


def _image_pdf(jpegs: Sequence[bytes]) -> bytes:
    """One image per page and no text layer: a scanner's or a scanning app's PDF."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=letter, invariant=1)
    for data in jpegs:
        c.drawImage(ImageReader(io.BytesIO(data)), 0, 0, width=W, height=H)
        c.showPage()
    c.save()
    return buf.getvalue()


def scanned(form: LoaForm, *, signed: bool, seed: int = 1, skew: float = 1.2) -> bytes:
    """Printed, signed by hand (date filled in before printing) and scanned: an
    image-only PDF, one grey, noisy, slightly turned page per page of the form."""
    pdf = dated(form) if signed else form.pdf
    pages = _pages(
        pdf,
        form.pages,
        ink_on=form.signature_page if signed else None,
        box=form.signature_box,
        dpi=300,
    )
    rnd = random.Random(seed)
    turned = [skew if i % 2 == 0 else -skew * 0.7 for i in range(len(pages))]
    return _image_pdf(
        [
            degrade.jpeg(degrade.scan(p, rnd, dpi=200, skew=t), quality=60)
            for p, t in zip(pages, turned, strict=True)
        ]
    )


def photographed(form: LoaForm, *, signed: bool, seed: int = 2) -> tuple[str, str, bytes]:
    """Printed, signed by hand and photographed on a desk: a JPEG for one page; for
    more, the photos in one PDF, as a phone's scanning app sends them.
    (filename, content type, bytes)."""
    pdf = dated(form) if signed else form.pdf
    pages = _pages(
        pdf,
        form.pages,
        ink_on=form.signature_page if signed else None,
        box=form.signature_box,
        dpi=300,
    )
    rnd = random.Random(seed)
    photos = [degrade.jpeg(degrade.phone_photo(p, rnd, long_side=2400), quality=75) for p in pages]
    if len(photos) == 1:
        return "IMG_2041.jpg", "image/jpeg", photos[0]
    return "Scan 2026-11-30.pdf", "application/pdf", _image_pdf(photos)


def email_with(
    attachment: tuple[str, str, bytes],
    *,
    body: str = "Here is the signed LOA.",
    sender: str = "Dana Ortiz <dana@acme.example>",
    to: str = "support@ourco.example",
    subject: str = "Port request",
    message_id: str = "<signed-loa@acme.example>",
    in_reply_to: str | None = None,
) -> bytes:
    """A customer's email carrying one attachment."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    msg["Date"] = "Mon, 30 Nov 2026 10:00:00 -0600"
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content(body)
    name, ctype, data = attachment
    maintype, subtype = ctype.split("/")
    msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes(policy=email.policy.SMTP)
