"""Reading one message of a thread: statements from its text and subject."""

from __future__ import annotations

from parsers.limits import Limits
from parsers.thread import read_message


def _raw(subject: str, body: str) -> bytes:
    return (
        "From: Dana Ortiz <dana@ortizlaw.example>\r\nTo: support@lofty.example\r\n"
        f"Subject: {subject}\r\nMessage-ID: <1@ortizlaw.example>\r\n"
        "Date: Thu, 26 Nov 2026 10:00:00 -0600\r\n\r\n" + body
    ).encode()


def test_a_carrier_named_only_in_the_subject_is_read() -> None:
    raw = _raw("Port request for our Verizon lines", "Please port 512-555-0101.\r\n")
    parsed = read_message(raw, Limits())
    assert parsed.statements.current_carrier == "Verizon"


def test_the_carrier_in_the_text_wins_over_the_subject() -> None:
    body = "Our current carrier is AT&T.\r\n"
    parsed = read_message(_raw("Moving off Verizon soon", body), Limits())
    assert parsed.statements.current_carrier == "AT&T"


def test_attachments_past_the_limit_are_listed_but_not_read() -> None:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@b.example", "support@x.example", "Port"
    msg.set_content("Numbers attached.")
    for i in range(3):
        msg.add_attachment(
            b"Phone Number,PIN\n5125550101,1234\n",
            maintype="text",
            subtype="csv",
            filename=f"numbers{i}.csv",
        )
    parsed = read_message(msg.as_bytes(), Limits(max_attachments=2))
    assert [d.kind for d in parsed.documents] == ["number_list", "number_list", "other"]
    assert "more than 2 attachments" in (parsed.documents[2].error or "")


def test_scans_past_the_messages_ocr_budget_are_listed_unread_with_the_reason() -> None:
    import io
    from email.message import EmailMessage

    from PIL import Image, ImageDraw

    def scan(text: str) -> bytes:
        image = Image.new("L", (1700, 600), 255)
        draw = ImageDraw.Draw(image)
        for row in range(12):  # a page of text, not a tiny logo
            draw.text((100, 40 + 45 * row), f"{text} line {row}", fill=0)
        out = io.BytesIO()
        image.save(out, "PNG")
        return out.getvalue()

    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@b.example", "support@x.example", "Port"
    msg.set_content("Scans attached.")
    for i in range(2):
        msg.add_attachment(
            scan(f"Account Number 28765432{i}"),
            maintype="image",
            subtype="png",
            filename=f"scan{i}.png",
        )
    parsed = read_message(msg.as_bytes(), Limits(ocr_pages_per_message=1))
    first, second = parsed.documents
    assert first.ocr_pages == 1
    assert second.ocr_pages == 0
    assert "1 pages of OCR are used up" in (second.error or "")
