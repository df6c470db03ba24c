"""Hostile attachments and messages, built in a moment without ever holding what they unpack to.

Shared by tests/integration/test_sandbox.py and bench/bench_assess.py --hostile.
A deflate stream of n identical blocks is made by compressing one block after a
full flush (which resets the compressor's state) and repeating its bytes.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from email.message import EmailMessage

_BLOCK = 1 << 20


def _deflate_zeros(n: int) -> tuple[bytes, bytes]:
    """(zlib header, raw deflate blocks, not final) of n zero bytes."""
    comp = zlib.compressobj(9)
    block = min(n, _BLOCK)
    first = comp.compress(b"\0" * block) + comp.flush(zlib.Z_FULL_FLUSH)
    again = comp.compress(b"\0" * block) + comp.flush(zlib.Z_FULL_FLUSH)
    count, rest = divmod(n, block)
    tail = comp.compress(b"\0" * rest) + comp.flush(zlib.Z_FULL_FLUSH) if rest else b""
    return first[:2], first[2:] + again * (count - 1) + tail


def zeros_zlib(n: int) -> bytes:
    """A zlib stream inflating to n zero bytes."""
    header, body = _deflate_zeros(n)
    adler = ((n % 65521) << 16) | 1  # of n zero bytes
    return header + body + b"\x03\x00" + struct.pack(">I", adler)


def _pdf(objects: list[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def pdf_image_xobject_bomb(side: int = 40000) -> bytes:
    """One page, no text, drawing a side x side 8-bit image (1.6 GB) from a ~1.6 MB stream."""
    data = zeros_zlib(side * side)
    content = b"q 612 0 0 792 0 0 cm /Im0 Do Q"
    return _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /XObject << /Im0 5 0 R >> >> /Contents 4 0 R >>",
            b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
            b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
            b"/BitsPerComponent 8 /Filter /FlateDecode /Length %d >>\nstream\n"
            % (side, side, len(data))
            + data
            + b"\nendstream",
        ]
    )


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body))
        + kind
        + body
        + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    )


def png_decompression_bomb(side: int = 32768) -> bytes:
    """An 8-bit gray PNG of side x side (1 GB of pixels) in about a megabyte."""
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    idat = zeros_zlib((side + 1) * side)  # each row: filter byte 0, then black pixels
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def jpeg_pixel_bomb(width: int = 65000, height: int = 65000) -> bytes:
    """A JPEG header claiming width x height pixels (4.2 G), padded past a logo's size."""
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    comment = b"\xff\xfe" + struct.pack(">H", 16002) + b"x" * 16000
    return b"\xff\xd8" + comment + sof + b"\xff\xd9"


def tiff_pixel_bomb(width: int = 100000, height: int = 100000) -> bytes:
    """A little-endian TIFF whose one strip claims width x height 8-bit pixels."""
    entries = [
        (256, 4, 1, width),
        (257, 4, 1, height),
        (258, 3, 1, 8),
        (259, 3, 1, 1),
        (262, 3, 1, 1),
        (273, 4, 1, 8 + 2 + 12 * 9 + 4),
        (277, 3, 1, 1),
        (278, 4, 1, height),
        (279, 4, 1, 16000),
    ]
    ifd = (
        struct.pack("<H", len(entries))
        + b"".join(
            struct.pack("<HHII", tag, kind, count, value)
            if kind == 4
            else struct.pack("<HHIHH", tag, kind, count, value, 0)
            for tag, kind, count, value in entries
        )
        + b"\0\0\0\0"
    )
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\0" * 16000


def _xlsx_parts() -> dict[str, bytes]:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Phone Number", "PIN"])
    sheet.append(["5125550101", "1234"])
    out = io.BytesIO()
    book.save(out)
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _zip(members: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A zip from (name, raw deflate data, crc, real size, declared size) members."""
    out = bytearray()
    central = bytearray()
    for name, data, crc, _real, declared in members:
        encoded = name.encode()
        offset = len(out)
        out += (
            struct.pack(
                "<IHHHHHIIIHH",
                0x04034B50,
                20,
                0,
                8,
                0,
                0x21,
                crc,
                len(data),
                declared,
                len(encoded),
                0,
            )
            + encoded
            + data
        )
        central += (
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                20,
                20,
                0,
                8,
                0,
                0x21,
                crc,
                len(data),
                declared,
                len(encoded),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + encoded
        )
    end = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(out), 0
    )
    return bytes(out + central + end)


def _raw_deflate(data: bytes) -> bytes:
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    return comp.compress(data) + comp.flush()


def xlsx_zip_bomb(gigabytes: int = 2, *, lying: bool = False) -> bytes:
    """A workbook whose sheet unpacks to `gigabytes` GB. `lying`: the zip declares 2 KB."""
    members = []
    for name, data in _xlsx_parts().items():
        if name == "xl/worksheets/sheet1.xml":
            size = gigabytes << 30
            _, body = _deflate_zeros(size)
            members.append((name, body + b"\x03\x00", 0, size, 2048 if lying else size))
        else:
            members.append((name, _raw_deflate(data), zlib.crc32(data), len(data), len(data)))
    return _zip(members)


def xlsx_entity_bomb() -> bytes:
    """A workbook whose sheet holds a billion-laughs entity (a few GB once expanded)."""
    entities = '<!ENTITY lol0 "lollollollollollollollollollol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )
    sheet = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<!DOCTYPE worksheet [{entities}]>"
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Phone Number</t></is></c></row>'
        '<row r="2"><c r="A2" t="inlineStr"><is><t>&lol9;</t></is></c></row></sheetData>'
        "</worksheet>"
    ).encode()
    parts = _xlsx_parts()
    parts["xl/worksheets/sheet1.xml"] = sheet
    return _zip(
        [
            (name, _raw_deflate(data), zlib.crc32(data), len(data), len(data))
            for name, data in parts.items()
        ]
    )


def deep_mime_message(
    depth: int,
    attachment: bytes = b"Phone Number,PIN\n5125550101,1234\n",
) -> bytes:
    """A request whose number list sits under `depth` nested multipart/mixed parts."""
    boundary = "b{}"
    lines = [
        "From: Dana Ortiz <dana@ortizlaw.example>",
        "To: support@lofty.example",
        "Subject: Port request",
        "Message-ID: <deep@ortizlaw.example>",
        "Date: Thu, 26 Nov 2026 10:00:00 -0600",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/mixed; boundary="{boundary.format(0)}"',
        "",
    ]
    for level in range(depth):
        lines += [
            f"--{boundary.format(level)}",
            f'Content-Type: multipart/mixed; boundary="{boundary.format(level + 1)}"',
            "",
        ]
    lines += [
        f"--{boundary.format(depth)}",
        "Content-Type: text/plain",
        "",
        "Please port the numbers attached.",
        f"--{boundary.format(depth)}",
        'Content-Type: text/csv; name="numbers.csv"',
        'Content-Disposition: attachment; filename="numbers.csv"',
        "",
        attachment.decode(),
        f"--{boundary.format(depth)}--",
    ]
    for level in range(depth - 1, -1, -1):
        lines.append(f"--{boundary.format(level)}--")
    return "\r\n".join(lines).encode()


def message_with(attachments: list[tuple[str, str, bytes]]) -> bytes:
    """A plain request carrying these (filename, content type, bytes) attachments."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "dana@ortizlaw.example", "support@x.example", "Port"
    msg["Message-ID"] = "<bombs@ortizlaw.example>"
    msg.set_content("Please port 512-555-0101. Documents attached.")
    for filename, ctype, data in attachments:
        maintype, subtype = ctype.split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()
