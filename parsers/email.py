"""Read one email (bytes) into a `Message`: headers, the new text, attachments.

mail-parser parses the bytes and reads the date (tolerant); the MIME tree is
walked here with the stdlib objects it built, because the body needs structure
mail-parser flattens: plain text chosen over HTML per alternative, attached
messages (message/rfc822) kept apart, inline images named, parts after a
reused boundary recovered.

The body is the *new* text of the message (`split_new_text`): a reply's quoted
history is cut, but a forwarded request stays (a colleague's forward counts as
the customer's request). Where the two look alike, the subject prefix
(Fwd/Fw/TR/WG...) or a forwarded-message marker decides.
"""

from __future__ import annotations

import codecs
import datetime as dt
import email
import email.header
import email.message
import email.utils
import logging
import mimetypes
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser

import mailparser

from parsers.errors import NotAnEmail, ParseError
from parsers.limits import Limits
from parsers.model import Attachment, Message

# mail-parser logs every part it does not render; that is noise for a bot.
logging.getLogger("mailparser").addHandler(logging.NullHandler())
logging.getLogger("mailparser").propagate = False

__all__ = ["MessageTooLarge", "html_to_text", "parse_message", "split_new_text"]


class MessageTooLarge(ParseError):
    """The whole message is over `Limits.max_message_bytes`."""


_MB = 1024 * 1024
_MAX_DEPTH = 12  # nested multiparts / attached messages; deeper is hostile
_MAX_LINE_SCAN = 400  # characters of a line the marker patterns look at

# --- entry point -----------------------------------------------------------------------


def parse_message(raw: bytes, limits: Limits = Limits()) -> Message:  # noqa: B008
    """Parse raw RFC 5322 bytes. Raises NotAnEmail, MessageTooLarge."""
    if len(raw) > limits.max_message_bytes:
        raise MessageTooLarge(
            f"message is {len(raw) / _MB:.1f} MB, over the limit of "
            f"{limits.max_message_bytes / _MB:.0f} MB"
        )
    # A BOM or blank lines before the headers (saved by some tools) would end the header block.
    raw = raw.removeprefix(b"\xef\xbb\xbf").lstrip(b"\r\n")
    _check_is_email(raw)
    try:
        parsed = mailparser.MailParser.from_bytes(raw)
    except Exception as exc:  # the library's own errors, recursion included
        raise ParseError(f"could not parse the message: {exc}") from exc
    msg: email.message.Message = parsed.message
    headers = tuple((name, _decode_header(value)) for name, value in msg.raw_items())
    subject = _first(headers, "subject") or ""
    sender_name, sender = _address(_raw_header(msg, "from"))

    collector = _Collector(limits=limits)
    collector.walk(msg, 0)
    split = split_new_text(collector.text(), subject)
    body = split.text
    forwarded_from, forwarded_name = split.forwarded_from, split.forwarded_from_name

    for sub in collector.attached_messages:
        sub_subject = sub.subject
        sub_split = split_new_text(sub.text, sub_subject)
        who = sub.sender_name or sub.sender or "unknown sender"
        separator = f"----- Attached message from {who}: {sub_subject or '(no subject)'} -----"
        body = f"{body}\n\n{separator}\n{sub_split.text}".strip("\n")
        # "Forward as attachment": the attached message is the customer's.
        if forwarded_from is None and _is_forward_subject(subject):
            forwarded_from, forwarded_name = sub.sender, sub.sender_name

    return Message(
        message_id=_clean_id(_first(headers, "message-id")),
        in_reply_to=_clean_id(_first(headers, "in-reply-to")),
        references=tuple(_ids(_first(headers, "references") or "")),
        subject=subject,
        sender=sender,
        sender_name=sender_name,
        date=_date(parsed, _first(headers, "date")),
        body=body,
        attachments=tuple(collector.attachments),
        forwarded_from=forwarded_from,
        forwarded_from_name=forwarded_name,
        headers=headers,
    )


# --- is it an email at all ---------------------------------------------------------------

_HEADER_LINE = re.compile(rb"^[!-9;-~]{1,76}:")
_KNOWN_HEADERS = frozenset(
    b"from to cc subject date message-id received return-path mime-version "
    b"content-type reply-to sender delivered-to x-mailer in-reply-to references".split()
)


def _check_is_email(raw: bytes) -> None:
    if not raw.strip():
        raise NotAnEmail("the file is empty")
    if raw.startswith(b"\xd0\xcf\x11\xe0"):
        raise NotAnEmail("an Outlook .msg file (OLE2), not a MIME email; save it as .eml")
    head = raw.lstrip(b"\r\n\t ")[:65536]
    end = re.search(rb"\r?\n\r?\n", head)
    block = head[: end.start()] if end else head
    if b"\x00" in block:
        raise NotAnEmail("binary data, not an email")
    lines = block.splitlines()
    if lines and lines[0].startswith(b"From "):  # mbox separator line
        lines = lines[1:]
    if not lines or not _HEADER_LINE.match(lines[0]):
        raise NotAnEmail("no email header block at the start of the file")
    names = {line.split(b":", 1)[0].strip().lower() for line in lines if _HEADER_LINE.match(line)}
    if not names & _KNOWN_HEADERS:
        raise NotAnEmail("no email headers (From, To, Subject, Date...) found")


# --- headers --------------------------------------------------------------------------------


_CHARSET_ALIASES = {
    "iso-8859-1": "cp1252",
    "latin-1": "cp1252",
    "latin1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "shift_jis": "cp932",
    "sjis": "cp932",
    "iso-2022-jp": "iso2022_jp_ext",
    "iso-8859-8-i": "iso-8859-8",
    "big5": "big5hkscs",
    "windows-874": "cp874",
    "tis-620": "cp874",
}


def _bytes_to_text(data: bytes, charset: str | None) -> str:
    """Decode with the declared charset; never raise (replace what cannot be read)."""
    name = (charset or "").strip().strip('"').lower()
    if name in ("", "unknown-8bit", "x-unknown", "unknown", "8bit", "default"):
        name = ""
    # What senders labelled so usually is (supersets that decode more).
    name = _CHARSET_ALIASES.get(name, name)
    if name:
        try:
            codecs.lookup(name)
        except LookupError:
            name = ""
    if name and name not in ("utf-8", "utf8", "cp1252"):
        return data.decode(name, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _decode_header(value: object) -> str:
    """A header value as text: encoded-words decoded, 8-bit bytes guessed, unfolded."""
    if isinstance(value, email.header.Header):
        chunks: list[tuple[bytes | str, str | None]] = email.header.decode_header(value)
    else:
        text = str(value)
        if any("\udc80" <= ch <= "\udcff" for ch in text):  # raw 8-bit bytes
            text = _bytes_to_text(text.encode("ascii", "surrogateescape"), None)
        try:
            chunks = email.header.decode_header(text)
        except Exception:  # malformed encoded-word: keep the text as it is
            chunks = [(text, None)]
    out: list[str] = []
    for chunk, charset in chunks:
        if isinstance(chunk, bytes):
            out.append(_bytes_to_text(chunk, charset))
        else:
            out.append(chunk)
    return re.sub(r"\s*\r?\n\s*", " ", "".join(out)).strip()


def _first(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _raw_header(msg: email.message.Message, name: str) -> str | None:
    """A header as on the wire (encoded words kept, 8-bit bytes decoded), unfolded."""
    for key, value in msg.raw_items():
        if key.lower() == name:
            text = str(value)
            if any("\udc80" <= ch <= "\udcff" for ch in text):
                text = _bytes_to_text(text.encode("ascii", "surrogateescape"), None)
            return re.sub(r"\s*\r?\n\s*", " ", text).strip()
    return None


def _address(value: str | None) -> tuple[str | None, str | None]:
    """(display name, lower-case address) of an address header.

    Split before decoding: an encoded name may hold a comma ("Smith, John").
    """
    if not value:
        return None, None
    try:
        pairs = email.utils.getaddresses([value])
    except Exception:
        pairs = []
    for name, addr in pairs:
        if "@" in addr:
            decoded = _decode_header(name).strip().strip('"') if name else ""
            return (decoded or None), addr.strip().lower()
    found = re.search(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", value)
    if found:
        name = value[: found.start()].strip(" <\"'")
        return (name or None), found.group(0).lower()
    return None, None


def _clean_id(value: str | None) -> str | None:
    if not value:
        return None
    ids = _ids(value)
    return ids[0] if ids else (value.strip() or None)


def _ids(value: str) -> list[str]:
    bracketed = re.findall(r"<[^<>\s]+>", value)
    if bracketed:
        return bracketed
    return [v for v in re.split(r"[\s,]+", value) if v]


def _date(parsed: mailparser.MailParser, raw: str | None) -> dt.datetime | None:
    value = parsed.date
    if isinstance(value, dt.datetime):
        return value
    if raw:
        try:
            return email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
    return None


# --- the MIME tree -----------------------------------------------------------------------


@dataclass
class _AttachedMessage:
    subject: str
    sender: str | None
    sender_name: str | None
    text: str


@dataclass
class _Collector:
    limits: Limits
    texts: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    attached_messages: list[_AttachedMessage] = field(default_factory=list)
    _counter: int = 0

    def text(self) -> str:
        return "\n\n".join(t for t in self.texts if t.strip())

    def walk(self, part: email.message.Message, depth: int) -> None:
        if depth > _MAX_DEPTH:
            return
        ctype = part.get_content_type()
        if ctype == "message/rfc822" or (part.is_multipart() and ctype.startswith("message/")):
            self._attached_message(part, depth)
        elif part.is_multipart():
            children = [c for c in part.get_payload() if isinstance(c, email.message.Message)]
            if ctype == "multipart/alternative":
                self._alternative(children, depth)
            else:
                for child in children:
                    self.walk(child, depth + 1)
            self._epilogue(part, depth)
        elif part.get_content_maintype() == "multipart":
            self._broken_multipart(part, depth)
        elif self._is_attachment(part):
            self._attachment(part)
        elif ctype == "text/html":
            self.texts.append(html_to_text(_part_text(part), mark_quotes=True))
        else:  # text/plain and any unlabelled text
            self.texts.append(_part_text(part))

    def _alternative(self, children: list[email.message.Message], depth: int) -> None:
        """Plain text wins over HTML; other alternatives (calendar...) are kept as files."""
        plain = [
            c
            for c in children
            if c.get_content_type() == "text/plain"
            and not self._is_attachment(c)
            and _part_text(c).strip()
        ]
        chosen: email.message.Message | None = plain[0] if plain else None
        if chosen is None:
            for c in children:
                if c.get_content_type() == "text/html" or c.is_multipart():
                    chosen = c
                    break
        if chosen is None and children:
            chosen = children[0]
        if chosen is not None:
            self.walk(chosen, depth + 1)
        for c in children:
            # Files hidden in an HTML alternative (multipart/related images) still count.
            if c is not chosen and c.is_multipart():
                sub = _Collector(limits=self.limits, _counter=self._counter)
                sub.walk(c, depth + 1)
                self._counter = sub._counter
                self.attachments.extend(
                    a
                    for a in sub.attachments
                    if a.payload not in {x.payload for x in self.attachments}
                )

    def _attached_message(self, part: email.message.Message, depth: int) -> None:
        payload = part.get_payload()
        inner: email.message.Message | None = None
        if isinstance(payload, list) and payload and isinstance(payload[0], email.message.Message):
            inner = payload[0]
        elif isinstance(payload, str) and payload.strip():
            inner = email.message_from_string(payload)
        elif isinstance(payload, bytes):
            inner = email.message_from_bytes(payload)
        if inner is None:
            return
        sub = _Collector(limits=self.limits, _counter=self._counter)
        sub.walk(inner, depth + 1)
        self._counter = sub._counter
        self.attachments.extend(sub.attachments)
        headers = [(k, _decode_header(v)) for k, v in inner.raw_items()]
        name, addr = _address(_raw_header(inner, "from"))
        self.attached_messages.append(
            _AttachedMessage(_first(headers, "subject") or "", addr, name, sub.text())
        )
        self.attached_messages.extend(sub.attached_messages)

    def _epilogue(self, part: email.message.Message, depth: int) -> None:
        """Parts after a premature closing boundary (an inner part reused the outer one)."""
        epilogue, boundary = part.epilogue, part.get_boundary()
        if not epilogue or not boundary or f"--{boundary}" not in epilogue:
            return
        for chunk in epilogue.split(f"--{boundary}")[1:]:
            chunk = chunk.lstrip("\r\n") if not chunk.startswith("--") else ""
            if chunk.strip():
                self.walk(email.message_from_string(chunk), depth + 1)

    def _broken_multipart(self, part: email.message.Message, depth: int) -> None:
        """A multipart whose boundary is not found: re-read with the boundary it uses."""
        payload = part.get_payload(decode=False)
        text = payload if isinstance(payload, str) else ""
        found = re.search(r"^--([^\s-][^\r\n]{0,68}?|-[^\r\n]{1,69}?)\s*$", text, re.M)
        if not found:
            if text.strip():
                self.texts.append(text)
            return
        boundary = found.group(1).rstrip("-") if found.group(1).endswith("--") else found.group(1)
        rebuilt = f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n{text}'
        sub = email.message_from_string(rebuilt)
        if sub.is_multipart():
            self.walk(sub, depth + 1)
        elif text.strip():
            self.texts.append(text)

    @staticmethod
    def _is_attachment(part: email.message.Message) -> bool:
        disposition = (part.get_content_disposition() or "").lower()
        if disposition == "attachment" or _filename(part):
            return True
        return part.get_content_maintype() != "text" or part.get_content_type() not in (
            "text/plain",
            "text/html",
        )

    def _attachment(self, part: email.message.Message) -> None:
        ctype = part.get_content_type()
        try:
            payload = part.get_payload(decode=True)
        except Exception:
            payload = None
        if not isinstance(payload, bytes):
            raw = part.get_payload(decode=False)
            payload = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
        name = _filename(part)
        if not name:
            self._counter += 1
            ext = _EXTENSIONS.get(ctype) or mimetypes.guess_extension(ctype) or ".bin"
            stem = "image" if part.get_content_maintype() == "image" else "attachment"
            name = f"{stem}{self._counter:03d}{ext}"
        self.attachments.append(Attachment(filename=name, content_type=ctype, payload=payload))


_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "text/plain": ".txt",
    "text/csv": ".csv",
    "application/pdf": ".pdf",
}


def _filename(part: email.message.Message) -> str | None:
    """The real filename: RFC 2231 and encoded-word names decoded, path parts dropped."""
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if not name:
        ctype_name = part.get_param("name")
        if isinstance(ctype_name, tuple):
            name = email.utils.collapse_rfc2231_value(ctype_name)
        elif isinstance(ctype_name, str):
            name = ctype_name
    if not name:
        return None
    if "\ufffd" in name:  # raw 8-bit name the stdlib could not decode: read the bytes
        name = _raw_filename(part) or name
    name = _decode_header(name)
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip().strip('"')
    return name or None


def _raw_filename(part: email.message.Message) -> str | None:
    for key, value in part.raw_items():
        if key.lower() in ("content-disposition", "content-type") and isinstance(value, str):
            text = _bytes_to_text(value.encode("ascii", "surrogateescape"), None)
            probe = email.message.Message()
            probe[key] = text
            found = probe.get_filename() or probe.get_param("name")
            if isinstance(found, str) and found:
                return found
    return None


def _part_text(part: email.message.Message) -> str:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if not isinstance(payload, bytes):
        raw = part.get_payload(decode=False)
        return raw if isinstance(raw, str) else ""
    charset: str | None
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    text = _bytes_to_text(payload, charset).replace("\r\n", "\n").replace("\r", "\n")
    if str(part.get_param("format") or "").lower() == "flowed":
        text = _unflow(text, delsp=str(part.get_param("delsp") or "").lower() == "yes")
    return text


def _unflow(text: str, delsp: bool) -> str:
    """RFC 3676 format=flowed: a line ending in a space continues on the next line."""
    out: list[str] = []
    pending: str | None = None
    pending_depth = -1
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        body = line[depth:]
        if body.startswith(" "):  # space-stuffing
            body = body[1:]
        if pending is not None and depth == pending_depth:
            body = pending + body
        elif pending is not None:
            out.append(">" * pending_depth + (" " if pending_depth else "") + pending)
        pending = None
        if body.endswith(" ") and body != "-- ":
            pending, pending_depth = (body[:-1] if delsp else body), depth
            continue
        out.append(">" * depth + (" " if depth else "") + body)
    if pending is not None:
        out.append(">" * pending_depth + (" " if pending_depth else "") + pending)
    return "\n".join(out)


# --- HTML to text --------------------------------------------------------------------------

_BLOCK = frozenset(
    [
        "p",
        "div",
        "br",
        "li",
        "ul",
        "ol",
        "table",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "pre",
        "address",
        "section",
        "article",
        "header",
        "footer",
        "blockquote",
        "dl",
        "dt",
        "dd",
        "center",
        "form",
    ]
)
_PARAGRAPH = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6"})
_SKIP = frozenset({"script", "style", "head", "title", "template", "noscript", "xml"})


class _HtmlText(HTMLParser):
    """HTML to plain lines: blocks to newlines, table cells to ` | `, quotes to `> `."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = [""]
        self.quote = 0
        self.skip = 0
        self.cell = 0

    def _newline(self, blank: bool = False) -> None:
        """Start a new line; `blank` also leaves an empty line (a paragraph's margin)."""
        if self.lines[-1].strip():
            self.lines.append("")
        if blank and len(self.lines) > 1 and self.lines[-2].strip():
            self.lines.append("")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip += 1
        elif tag == "br":
            self.lines.append("")
        elif tag == "blockquote":
            self._newline()
            self.quote += 1
        elif tag == "div" and "gmail_quote" in (dict(attrs).get("class") or "").split():
            # Gmail wraps quoted history (and forwards) in this div: mark where it starts.
            self._newline()
            self.lines[-1] = _SENTINEL
            self.lines.append("")
        elif tag in ("td", "th"):
            if self.cell:
                self.lines[-1] += " | "
            self.cell += 1
        elif tag == "tr":
            self._newline()
            self.cell = 0
        elif tag == "li":
            self._newline()
            self.lines[-1] += "- "
        elif tag in _PARAGRAPH:
            # Outlook writes every line as <p class=MsoNormal> with no margin.
            self._newline(blank="msonormal" not in (dict(attrs).get("class") or "").lower())
        elif tag in _BLOCK:
            self._newline()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag == "blockquote":
            self._newline()
            self.quote = max(0, self.quote - 1)
        elif tag == "table":
            self._newline()
            self.cell = 0
        elif tag in _BLOCK and tag not in ("br", "td", "th"):
            self._newline()

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        text = re.sub(r"[ \t\r\n\f\u00a0]+", " ", data)
        if not text.strip() and not self.lines[-1]:
            if "\u00a0" in data and self.lines[-1] == "" and not self.cell:
                self.lines.append("")  # <p>&nbsp;</p>: an empty line the writer meant
            return
        if self.quote and not self.lines[-1]:
            self.lines[-1] = "> " * self.quote
            text = text.lstrip()
        self.lines[-1] += text


def html_to_text(html: str, mark_quotes: bool = False) -> str:
    """Readable text of an HTML body; `mark_quotes` leaves a line where a Gmail quote starts."""
    parser = _HtmlText()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # HTMLParser is tolerant; this is belt and braces
        return re.sub(r"<[^>]{0,2000}>", " ", html)
    lines = [line.strip() for line in parser.lines if mark_quotes or line != _SENTINEL]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# --- new text: cut the quoted history, keep a forward ----------------------------------------

_FORWARD_SUBJECT = re.compile(
    r"^\s*(?:\[[^\]]{0,40}\]\s*)?(?:fwd?|fw|tr|wg|rv|enc|i|vs|vb|doorst|fs)\s*(?:\[\d+\])?\s*:",
    re.I,
)
_REPLY_SUBJECT = re.compile(
    r"^\s*(?:\[[^\]]{0,40}\]\s*)?(?:re|aw|sv|antw|ref|r|rif|res)\s*(?:\[\d+\])?\s*:", re.I
)

_FORWARD_MARKER = re.compile(
    r"^[\s>*_]*+(?:-{2,}\s*)?(?:"
    r"forwarded message|begin forwarded message|forwarded by|"
    r"message transf[ée]r[ée]|weitergeleitete nachricht|mensaje reenviado|"
    r"(?:inizio )?messaggio inoltrato|mensagem encaminhada|doorgestuurd bericht|"
    r"original message follows"
    r")\s*:?\s*(?:-{2,})?[\s*_]*$",
    re.I,
)
_ORIGINAL_MESSAGE = re.compile(
    r"^[\s>*_]*+-{2,}\s*(?:original message|original|message d'origine|"
    r"urspr[üu]ngliche nachricht|mensaje original|messaggio originale|"
    r"mensagem original|oorspronkelijk bericht)\s*-{2,}[\s*_]*$",
    re.I,
)
# "On Mon, 3 Nov 2025 at 10:12, John Smith <john@x.com> wrote:" and its translations.
_ATTRIBUTION = re.compile(
    r"^[\s>*_]*+(?:"
    r"on\b.{0,300}\bwrote|le\b.{0,300}\ba [ée]crit|am\b.{0,300}\bschrieb.{0,120}|"
    r"el\b.{0,300}\bescribi[óo]|il\b.{0,300}\bha scritto|op\b.{0,300}\bschreef.{0,120}|"
    r"em\b.{0,300}\bescreveu|den\b.{0,300}\bskrev.{0,120}|.{0,300}\b(?:wrote|schrieb)"
    r")\s*:[\s*_]*$",
    re.I,
)
# A header line of a quoted or forwarded message: "From: ...", "*From:* ...", "Von: ...".
_HDR_FROM = re.compile(r"^[\s>*_]*+(?:from|von|de|da|van|från|fra|od)\s*[*_]*\s*:[*_]*\s*\S", re.I)
_HDR_OTHER = re.compile(
    r"^[\s>*_]*+(sent|date|to|cc|subject|gesendet|datum|an|betreff|envoy[ée]|[àa]|objet|"
    r"enviado|para|asunto|inviato|oggetto|verzonden|onderwerp|aan)\s*[*_]*\s*:",
    re.I,
)
_HDR_SUBJECT = re.compile(
    r"^[\s>*_]*+(?:subject|betreff|objet|asunto|oggetto|onderwerp)\s*[*_]*\s*:[*_]*\s*(.*)$", re.I
)
# Left by html_to_text where a Gmail quote starts; never in the returned body.
_SENTINEL = "\u2063quote\u2063"


@dataclass(frozen=True)
class NewText:
    text: str
    forwarded_from: str | None = None
    forwarded_from_name: str | None = None


@dataclass(frozen=True)
class _Marker:
    line: int  # first line of the marker
    end: int  # first line after its header block
    kind: str  # "reply" or "forward"
    header_from: str | None = None  # the From line of its header block


def _is_forward_subject(subject: str) -> bool:
    return bool(_FORWARD_SUBJECT.match(subject))


def _header_block(lines: list[str], start: int) -> tuple[int, str | None, str | None]:
    """Scan a quoted/forwarded header block from `start`: (end, from value, subject)."""
    i, seen, from_value, subject = start, 0, None, None
    while i < len(lines) and i < start + 12:
        line = lines[i][:_MAX_LINE_SCAN]
        if not line.strip():
            if seen:
                break
            i += 1
            continue
        if _HDR_FROM.match(line):
            from_value = re.sub(r"^[\s>*_]*+\w+\s*[*_]*\s*:[*_]*\s*", "", line)
            seen += 1
        elif _HDR_OTHER.match(line):
            m = _HDR_SUBJECT.match(line)
            if m:
                subject = m.group(1)
            seen += 1
        elif (
            seen
            and re.match(r"^\s+\S", lines[i]) is None
            and not lines[i].startswith(">")
            and not re.search(r"[@,;]|^\s*<", line)
        ):
            break  # prose ends the block; a wrapped value ("To: a@x.com,\n b@x.com") does not
        i += 1
    return i, from_value, subject


def _outlook_block_at(lines: list[str], i: int) -> bool:
    """ "From: ..." followed within a few lines by Sent/Date and To/Subject lines."""
    if not _HDR_FROM.match(lines[i][:_MAX_LINE_SCAN]):
        return False
    found = set()
    for line in lines[i + 1 : i + 8]:
        m = _HDR_OTHER.match(line[:_MAX_LINE_SCAN])
        if m:
            found.add(m.group(1).lower())
    has_date = bool(
        found
        & {
            "sent",
            "date",
            "gesendet",
            "datum",
            "envoyé",
            "envoye",
            "enviado",
            "inviato",
            "verzonden",
        }
    )
    has_to = bool(
        found
        & {
            "to",
            "subject",
            "an",
            "betreff",
            "à",
            "a",
            "objet",
            "para",
            "asunto",
            "oggetto",
            "aan",
            "onderwerp",
        }
    )
    return has_date and has_to


def _markers(lines: list[str], forward_subject: bool) -> list[_Marker]:
    out: list[_Marker] = []
    i = 0
    while i < len(lines):
        line = lines[i][:_MAX_LINE_SCAN]
        stripped = line.strip()
        kind: str | None = None
        if not stripped:
            i += 1
            continue
        if stripped == _SENTINEL:
            kind = "quote"
        elif _FORWARD_MARKER.match(line):
            kind = "forward"
        elif _ORIGINAL_MESSAGE.match(line):
            kind = "original"
        elif _ATTRIBUTION.match(line):
            kind = "reply"
        elif (
            i + 1 < len(lines)
            and re.match(r"^[\s>]*(?:on|le|am|el)\b", line, re.I)
            and (_ATTRIBUTION.match(line + " " + lines[i + 1][:_MAX_LINE_SCAN].lstrip("> ")))
        ):
            kind = "reply"  # "On Mon, 3 Nov 2025, John Smith <john@x.com>\nwrote:"
        elif _outlook_block_at(lines, i):
            kind = "outlook"
        if kind is None:
            i += 1
            continue
        if kind == "reply":  # a reply cuts everything below: nothing further matters
            wrapped = not _ATTRIBUTION.match(line)
            out.append(_Marker(i, i + (2 if wrapped else 1), "reply"))
            break
        start = i + 1 if kind in ("forward", "original", "quote") else i
        end, from_value, block_subject = _header_block(lines, start)
        if kind == "outlook" or kind == "original":
            fwd = (block_subject is not None and _is_forward_subject(block_subject)) or (
                not out and forward_subject
            )
            kind = "forward" if fwd else "reply"
        out.append(_Marker(i, max(end, i + 1), kind, from_value))
        i = max(end, i + 1)
    return out


def split_new_text(text: str, subject: str = "") -> NewText:
    """The new text of a message: reply history cut, forwarded text kept.

    The first marker decides: a forward marker (or an Outlook header block under a
    forward subject) keeps what follows and records the original sender; a reply
    marker cuts. After a kept forward, the next reply marker cuts its own history.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    forward_subject = _is_forward_subject(subject)
    markers = _markers(lines, forward_subject)
    # A Gmail quote wrapper is just a container: what decides is the marker inside it.
    cleaned: list[_Marker] = []
    for n, m in enumerate(markers):
        if m.kind == "quote":
            nxt = markers[n + 1] if n + 1 < len(markers) else None
            if nxt is not None and nxt.line - m.line <= 3:
                continue
            cleaned.append(_Marker(m.line, m.end, "reply"))
        else:
            cleaned.append(m)

    cut = len(lines)
    forward: _Marker | None = None
    for m in cleaned:
        if m.kind == "forward":
            forward = m
            continue
        cut = m.line
        break
    kept = lines[:cut] + _interleaved_answers(lines, cleaned, cut)
    if forward is not None:
        # Forwarded text quoted with ">" (Apple Mail HTML, "forward inline") is unquoted.
        head, tail = kept[: forward.line], kept[forward.line :]
        kept = [line for line in head if not _is_quoted(line)] + [_unquote(t) for t in tail]
    else:
        kept = [line for line in kept if not _is_quoted(line)]
    kept = [line for line in kept if line.strip() != _SENTINEL]
    while kept and re.fullmatch(r"[\s_\-=*~]*", kept[-1]):  # rule left above a cut
        kept.pop()
    body = re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in kept)).strip()
    name = addr = None
    if forward is not None and forward.header_from:
        name, addr = _address(_strip_marks(forward.header_from))
        if addr is None:
            name = _strip_marks(forward.header_from) or None
    return NewText(body, addr, name)


def _interleaved_answers(lines: list[str], markers: list[_Marker], cut: int) -> list[str]:
    """Answers written between the quoted lines below "On ... wrote:" (inline replies).

    Only when the history right below the attribution is quoted with ">" and new,
    unquoted lines follow quoted ones; the quoted lines themselves stay out.
    """
    marker = next((m for m in markers if m.line == cut), None)
    if marker is None or marker.kind != "reply":
        return []
    after = lines[marker.end :]
    first = next((line for line in after if line.strip()), "")
    if not _is_quoted(first):
        return []
    answers: list[str] = []
    seen_quote = False
    for line in after:
        if _is_quoted(line):
            seen_quote = True
            answers.append("")
        elif line.strip() and seen_quote:
            if _SIG_START.match(line) or _ATTRIBUTION.match(line[:_MAX_LINE_SCAN]):
                break
            answers.append(line)
        elif seen_quote:
            answers.append(line)
    return answers if any(a.strip() for a in answers) else []


_SIG_START = re.compile(r"^(?:--\s?|sent from my\b.*|get outlook for\b.*)$", re.I)


def _strip_marks(value: str) -> str:
    found = re.search(r"\[mailto:([^\]\s>]+)\]", value)  # Outlook's "Name [mailto:a@b]"
    if found:
        value = value[: found.start()].strip() + f" <{found.group(1)}>"
    return value.strip(" *_")


def _is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _unquote(line: str) -> str:
    return re.sub(r"^\s*(?:>\s?)+", "", line)
