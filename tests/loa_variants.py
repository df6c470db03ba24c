"""LOAs in several layouts and media, for the signature and classification tests.

Each layout is drawn with reportlab as a text PDF and says where its signature
goes (`Sheet.sig_box`, in points from the page's top left). A signed copy is
made either in the PDF itself (a typed "/s/ Name", a signature image, a drawn
path) or on the page image after rasterising (pen strokes on a scan or photo),
then degraded with fixtures/build_ocr/degrade.py.
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image
from reportlab.lib.pagesizes import letter
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from fixtures.build_ocr import degrade
from fixtures.build_ocr.render import draw_signature, render_page

W, H = letter

# How the page is signed: not at all, typed "/s/ Name", a pasted image, a drawn pen path,
# or not at all under a blank pasted image.
Sign = str  # "none" | "slash" | "image" | "path" | "blank"


@dataclass(frozen=True)
class Sheet:
    pdf: bytes
    sig_box: tuple[float, float, float, float]  # left, top, right, bottom in points from top left
    account_name: str
    numbers: tuple[str, ...]  # E.164


def _scribble_png(width: int, height: int, seed: int) -> bytes:
    img = Image.new("L", (width, height), 255)
    draw_signature(img, (0, 0, width, height), seed)
    rgba = Image.new("RGBA", img.size, (0, 0, 0, 0))
    rgba.putalpha(Image.eval(img, lambda v: 255 - v))
    buf = io.BytesIO()
    rgba.save(buf, "PNG")
    return buf.getvalue()


def _sign(
    c: canvas.Canvas, sign: Sign, box: tuple[float, float, float, float], signer: str, seed: int = 3
) -> None:
    left, top, right, bottom = box
    if sign == "slash":
        c.setFont("Helvetica-Oblique", 12)
        c.drawString(left + 6, H - bottom + 4, f"/s/ {signer}")
        c.setFont("Helvetica", 11)
    elif sign == "image":
        png = _scribble_png(int((right - left) * 3), int((bottom - top) * 3), seed)
        c.drawImage(
            ImageReader(io.BytesIO(png)),
            left,
            H - bottom,
            width=right - left,
            height=bottom - top,
            mask="auto",
        )
    elif sign == "blank":  # an empty white image pasted over the line: no signature
        blank = Image.new("RGB", (int((right - left) * 3), int((bottom - top) * 3)), "white")
        buf = io.BytesIO()
        blank.save(buf, "PNG")
        c.drawImage(
            ImageReader(io.BytesIO(buf.getvalue())),
            left,
            H - bottom,
            width=right - left,
            height=bottom - top,
        )
    elif sign == "path":
        rnd = random.Random(seed)
        p = c.beginPath()
        mid = H - (top + bottom) / 2
        amp = (bottom - top) * 0.35
        p.moveTo(left + 5, mid)
        for i in range(1, 80):
            t = i / 79
            x = left + 5 + t * (right - left - 10)
            y = mid + math.sin(t * math.pi * rnd.uniform(6, 8)) * amp
            p.lineTo(x, y)
        c.setLineWidth(1.4)
        c.drawPath(p, stroke=1, fill=0)
        c.setLineWidth(1)


def form(sign: Sign = "none", *, label_under: bool = False, seed: int = 3) -> Sheet:
    """A carrier's LOA form; the label beside the line, or under it with an X."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=letter, invariant=1)
    c.setFont("Helvetica-Bold", 16)
    c.drawCentredString(W / 2, H - 72, "LETTER OF AUTHORIZATION")
    c.setFont("Helvetica", 11)
    y = H - 110
    for label, value in (
        ("Business Name:", "Harbor Dental Group"),
        ("Account Number:", "55120-7781"),
        ("Current Carrier:", "Spectrum Business"),
        ("Service Address:", "900 Harbor Blvd Ste 4, Tampa, FL 33602"),
    ):
        c.drawString(54, y, label)
        c.drawString(170, y, value)
        y -= 18
    y -= 10
    c.drawString(54, y, "Numbers to be ported:")
    y -= 18
    for n in ("(813) 555-0140", "(813) 555-0141", "(813) 555-0142"):
        c.drawString(72, y, n)
        y -= 16
    y -= 10
    for line in (
        "I authorize Nimbus Voice to act as my agent to port the numbers listed above",
        "from my current carrier, and I am authorized to make this request.",
    ):
        c.drawString(54, y, line)
        y -= 15
    y -= 50
    if label_under:
        c.drawString(54, y, "X")
        c.line(66, y - 2, 300, y - 2)
        c.line(340, y - 2, 520, y - 2)
        c.setFont("Helvetica", 9)
        c.drawString(66, y - 14, "Authorized Signature")
        c.drawString(340, y - 14, "Date")
        c.setFont("Helvetica", 11)
        box = (80.0, H - y - 34, 290.0, H - y)
        c.drawString(66, y - 40, "Maria Chen, Office Manager")
    else:
        c.drawString(54, y, "Authorized Signature:")
        c.line(175, y - 2, 400, y - 2)
        c.drawString(415, y, "Date:")
        c.line(447, y - 2, 560, y - 2)
        box = (185.0, H - y - 34, 390.0, H - y)
        c.drawString(54, y - 28, "Printed Name:")
        c.drawString(175, y - 28, "Maria Chen")
    _sign(c, sign, box, "Maria Chen", seed)
    c.showPage()
    c.save()
    return Sheet(
        buf.getvalue(), box, "Harbor Dental Group", ("+18135550140", "+18135550141", "+18135550142")
    )


def letter_of_agency(sign: Sign = "none", *, signed_label: bool = False, seed: int = 5) -> Sheet:
    """A prose letter of agency: "I, Dana Ortiz, authorize ...", "Sincerely," then a name."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=letter, invariant=1)
    c.setFont("Helvetica", 11)
    y = H - 72
    for line in ("Dana Ortiz", "48 Elm Street", "Portland, OR 97205"):
        c.drawString(380, y, line)
        y -= 15
    y -= 20
    c.drawString(72, y, "November 18, 2026")
    y -= 30
    c.setFont("Helvetica-Bold", 12)
    c.drawString(72, y, "Re: Letter of Agency")
    c.setFont("Helvetica", 11)
    y -= 28
    for line in (
        "To whom it may concern,",
        "",
        "I, Dana Ortiz, authorize Twilio Inc. to act as my agent to port the following",
        "telephone numbers from my current carrier, Comcast Business, account",
        "number 8877665544, held in the name of Ortiz Design Studio:",
    ):
        c.drawString(72, y, line)
        y -= 16
    y -= 6
    for n in ("(503) 555-0142", "(503) 555-0143"):
        c.drawString(96, y, n)
        y -= 16
    y -= 8
    for line in (
        "I understand that service with my current carrier will end for these numbers",
        "once the port completes.",
        "",
        "Sincerely,",
    ):
        c.drawString(72, y, line)
        y -= 16
    y -= 44
    if signed_label:
        c.drawString(72, y, "Signed:")
        c.line(120, y - 2, 320, y - 2)
        box = (125.0, H - y - 36, 315.0, H - y)
    else:
        c.line(72, y - 2, 272, y - 2)
        box = (76.0, H - y - 36, 270.0, H - y)
    y -= 18
    c.drawString(72, y, "Dana Ortiz")
    c.drawString(72, y - 15, "Owner, Ortiz Design Studio")
    _sign(c, sign, box, "Dana Ortiz", seed)
    c.showPage()
    c.save()
    return Sheet(buf.getvalue(), box, "Ortiz Design Studio", ("+15035550142", "+15035550143"))


def french(sign: Sign = "none", *, seed: int = 7) -> Sheet:
    """A Quebec LOA in French: "Lettre d'autorisation", "Nom du client", "Signature du client"."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=letter, invariant=1)
    c.setFont("Helvetica-Bold", 16)
    c.drawCentredString(W / 2, H - 72, "Lettre d'autorisation")
    c.setFont("Helvetica", 11)
    y = H - 110
    for label, value in (
        ("Nom du client :", "Boulangerie Tremblay Inc."),
        ("Numéro de compte :", "4410 2287 93"),
        ("Fournisseur actuel :", "Vidéotron"),
        ("Adresse de service :", "1200 rue Saint-Denis, Montréal, QC H2X 3J6"),
    ):
        c.drawString(54, y, label)
        c.drawString(180, y, value)
        y -= 18
    y -= 10
    c.drawString(54, y, "Numéros à transférer :")
    y -= 18
    for n in ("(514) 555-0160", "(514) 555-0161"):
        c.drawString(72, y, n)
        y -= 16
    y -= 10
    for line in (
        "J'autorise Nimbus Voix à agir en mon nom pour le transfert des numéros",
        "ci-dessus auprès de mon fournisseur actuel.",
    ):
        c.drawString(54, y, line)
        y -= 15
    y -= 50
    c.drawString(54, y, "Signature du client :")
    c.line(170, y - 2, 390, y - 2)
    c.drawString(405, y, "Date :")
    c.line(440, y - 2, 560, y - 2)
    box = (180.0, H - y - 34, 380.0, H - y)
    c.drawString(54, y - 28, "Nom :")
    c.drawString(170, y - 28, "Luc Tremblay")
    _sign(c, sign, box, "Luc Tremblay", seed)
    c.showPage()
    c.save()
    return Sheet(buf.getvalue(), box, "Boulangerie Tremblay Inc.", ("+15145550160", "+15145550161"))


LAYOUTS: dict[str, Callable[..., Sheet]] = {
    "form": form,
    "form_under": lambda sign="none", **kw: form(sign, label_under=True, **kw),
    "letter": letter_of_agency,
    "letter_signed": lambda sign="none", **kw: letter_of_agency(sign, signed_label=True, **kw),
    "french": french,
}


def page_image(sheet: Sheet, *, ink: bool, dpi: int = 300, seed: int = 11) -> Image.Image:
    """The page rendered at `dpi`, with pen strokes in the signature box when `ink`."""
    img = render_page(sheet.pdf, dpi=dpi)
    if ink:
        s = dpi / 72
        left, top, right, bottom = sheet.sig_box
        draw_signature(img, (int(left * s), int(top * s), int(right * s), int(bottom * s)), seed)
    return img


def scanned_pdf(
    sheet: Sheet, *, ink: bool, dpi: int = 200, skew: float = 1.0, seed: int = 1
) -> bytes:
    """A scanner's image-only PDF of the page."""
    img = degrade.scan(
        page_image(sheet, ink=ink, seed=seed + 10), random.Random(seed), dpi=dpi, skew=skew
    )
    return degrade.image_pdf(degrade.jpeg(img, quality=60))


def photo_jpeg(
    sheet: Sheet, *, ink: bool, long_side: int = 2000, seed: int = 2, quality: int = 70
) -> bytes:
    """A phone photo of the page on a desk, as a JPEG."""
    img = degrade.phone_photo(
        page_image(sheet, ink=ink, seed=seed + 10), random.Random(seed), long_side=long_side
    )
    return degrade.jpeg(img, quality=quality)
