"""Tables of numbers to port: CSV/TSV/TXT and XLSX attachments, tables pasted in a body.

Columns are found by their header ("Phone Number", "DID", "Port-out PIN",
"Assign to", "First Name" + "Last Name", ...) or, without a header, by what the
cells look like. Values are kept as written: the rules normalise numbers, and a
PIN is text ("0427" keeps its zero).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from parsers.errors import DocumentError, LimitExceeded
from parsers.model import NumberEntry, NumberList

# How many rows of a sheet or file are read: a number list is short, a bomb is not.
_MAX_ROWS = 20_000
_HEADER_SCAN_ROWS = 6

_EMAIL_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[A-Za-z]{2,}$")
_PHONE_CELL_RE = re.compile(
    r"^\s*(?:\+?1[\s.\-]?)?\(?\d{3}\)?[\s.\-]?\d{3}[\s.\-]?\d{4}\s*"
    r"(?:(?:x|ext\.?|extension)\s*\d{1,6})?\s*$",
    re.IGNORECASE,
)
_PIN_CELL_RE = re.compile(r"^\s*\d{4,8}\s*$")
_NAME_CELL_RE = re.compile(r"^[^\W\d_][\w.'\-]*(?:[ ,]+[^\W\d_][\w.'\-]*){0,4}$")
_SKIP_ROW_RE = re.compile(r"^\s*(?:total|totals|sum|count|notes?|comments?)\b", re.IGNORECASE)


@dataclass(frozen=True)
class _Columns:
    number: int
    pin: int | None = None
    name: int | None = None
    first: int | None = None
    last: int | None = None
    email: int | None = None


def _norm_header(cell: str) -> str:
    text = unicodedata.normalize("NFKD", cell.strip().lower().replace("_", " "))
    text = "".join(c for c in text if not unicodedata.combining(c))  # "Numéro" = "numero"
    text = re.sub(r"\([^)]*\)", " ", text)  # "Agent Email (in Lofty)"
    return re.sub(r"[^a-z0-9#@ ]+", " ", text).strip()


def _header_role(cell: str) -> str | None:
    """What a header cell names: number, pin, name, first, last, email, or None."""
    raw = cell.strip().lower()
    h = _norm_header(cell)
    if not h or len(h) > 40 or len(h.split()) > 5:
        return None  # a title or a sentence, not a column name
    words = set(h.split())
    if (
        "email" in words
        or "e mail" in h
        or "mail" in words
        or raw.startswith("e-mail")
        or (words & {"courriel", "courriels"})
    ):
        return "email"
    if (
        words & {"pin", "pins", "passcode", "password", "nip"}
        or "pass code" in h
        or ("security" in words and words & {"code", "pin"})
        or "port out" in h
        or "transfer code" in h
    ):
        return "pin"
    if words >= {"first", "last"} or h in {"full name", "contact", "user name", "nom complet"}:
        return "name"  # "First Last", "First & Last Name"
    if h in {"first", "first name", "firstname", "given name", "fname", "prenom"} or (
        "first" in words and "name" in words
    ):
        return "first"
    if h in {
        "last",
        "last name",
        "lastname",
        "surname",
        "family name",
        "lname",
        "nom de famille",
    } or ("last" in words and "name" in words):
        return "last"
    if words & {"account", "acct", "ext", "extension", "order", "ticket", "zip", "fax"}:
        return None
    if (
        words
        & {
            "phone",
            "phones",
            "number",
            "numbers",
            "did",
            "dids",
            "tn",
            "tns",
            "telephone",
            "line",
            "lines",
            "mobile",
            "cell",
            "wireless",
            "#",
            "no",
            "num",
        }
        or h in {"phone #", "tel", "tel #", "numero"}
        or words
        & {
            "numero",
            "numeros",
            "telephone",
            "ligne",
            "lignes",
        }
    ):
        return "number"
    if words & {
        "name",
        "user",
        "username",
        "assign",
        "assignee",
        "assigned",
        "agent",
        "employee",
        "owner",
        "person",
        "member",
        "staff",
        "who",
        "nom",
        "utilisateur",
        "utilisatrice",
        "employe",
        "attribue",
        "personne",
    }:
        return "name"
    return None


def _columns_from_header(row: Sequence[str]) -> _Columns | None:
    roles: dict[str, int] = {}
    for index, cell in enumerate(row):
        if _PHONE_CELL_RE.match(cell) or _EMAIL_RE.match(cell.strip()):
            return None  # a data row, not a header
        role = _header_role(cell)
        if role is not None and role not in roles:
            roles[role] = index
    if "number" not in roles:
        return None
    return _Columns(
        number=roles["number"],
        pin=roles.get("pin"),
        name=roles.get("name"),
        first=roles.get("first"),
        last=roles.get("last"),
        email=roles.get("email"),
    )


def _columns_from_content(rows: Sequence[Sequence[str]]) -> _Columns | None:
    width = max((len(r) for r in rows), default=0)
    phone = [0] * width
    pin = [0] * width
    email = [0] * width
    name = [0] * width
    filled = [0] * width
    for row in rows:
        for index, cell in enumerate(row):
            value = cell.strip()
            if not value:
                continue
            filled[index] += 1
            if _PHONE_CELL_RE.match(value):
                phone[index] += 1
            elif _PIN_CELL_RE.match(value):
                pin[index] += 1
            elif _EMAIL_RE.match(value):
                email[index] += 1
            elif _NAME_CELL_RE.match(value):
                name[index] += 1

    def best(counts: list[int], exclude: set[int]) -> int | None:
        choices = [
            (c, -i) for i, c in enumerate(counts) if i not in exclude and c and c * 2 >= filled[i]
        ]
        return -max(choices)[1] if choices else None

    number = best(phone, set())
    if number is None:
        return None
    used = {number}
    pin_col = best(pin, used)
    if pin_col is not None:
        used.add(pin_col)
    email_col = best(email, used)
    if email_col is not None:
        used.add(email_col)
    name_col = best(name, used)
    return _Columns(number=number, pin=pin_col, name=name_col, email=email_col)


def _cell(row: Sequence[str], index: int | None) -> str | None:
    if index is None or index >= len(row):
        return None
    value = row[index].strip()
    return value or None


def _entries(rows: Iterable[Sequence[str]], cols: _Columns) -> list[NumberEntry]:
    out: list[NumberEntry] = []
    for row in rows:
        if not any(c.strip() for c in row):
            continue
        if any(_SKIP_ROW_RE.match(c) for c in row[:2]):
            continue
        number = _cell(row, cols.number)
        if number is None or not re.search(r"\d", number):
            continue  # a notes line or a row without its number
        if not re.search(r"\d{3}", re.sub(r"[\s().\-+]", "", number)):
            continue
        name = _cell(row, cols.name)
        if name is None and (cols.first is not None or cols.last is not None):
            parts = [p for p in (_cell(row, cols.first), _cell(row, cols.last)) if p]
            name = " ".join(parts) or None
        email = _cell(row, cols.email)
        if email is None and name is not None and _EMAIL_RE.match(name):
            name, email = None, name
        out.append(
            NumberEntry(
                raw=number, pin=_cell(row, cols.pin), assignee_name=name, assignee_email=email
            )
        )
    return out


# "PIN: 6226" in a cell of its own: the label written into the value.
_LABELLED_CELL = re.compile(r"^\s*(?:pin|nip|passcode|pass\s+code)\s*[:#=-]?\s*(?=\S)", re.I)


def rows_from_table(rows: Sequence[Sequence[str]]) -> NumberList | None:
    """Read table rows (the first may be a header) as a number list; None if not one."""
    clean = [
        [_LABELLED_CELL.sub("", "" if c is None else str(c)) for c in row]
        for row in rows[:_MAX_ROWS]
    ]
    nonblank = [i for i, row in enumerate(clean) if any(c.strip() for c in row)]
    # The header is the row naming the most columns (a title row above it names one).
    best: tuple[int, int, _Columns] | None = None
    for i in nonblank[:_HEADER_SCAN_ROWS]:
        cols = _columns_from_header(clean[i])
        if cols is not None:
            named = sum(
                x is not None for x in (cols.pin, cols.name, cols.first, cols.last, cols.email)
            )
            if best is None or named > best[0]:
                best = (named, i, cols)
    if best is not None:
        entries = _entries(clean[best[1] + 1 :], best[2])
        return NumberList(tuple(entries)) if entries else None
    body = [clean[i] for i in nonblank]
    cols = _columns_from_content(body)
    if cols is None:
        return None
    entries = _entries(body, cols)
    return NumberList(tuple(entries)) if entries else None


# --- CSV / text ---------------------------------------------------------------------------


def decode_text(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    head = data[:400]
    if head and head.count(b"\x00") * 3 >= len(head):
        # UTF-16 without a BOM: every other byte is zero.
        enc = "utf-16-le" if head[1:2] == b"\x00" else "utf-16-be"
        return data.decode(enc, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _split_rows(text: str) -> list[list[str]]:
    lines = [ln for ln in text.replace("\x00", "").splitlines() if ln.strip()]
    if not lines:
        return []
    sample = "\n".join(lines[:50])
    delimiter: str | None = None
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        counts = {d: sum(ln.count(d) for ln in lines[:50]) for d in ",;\t|"}
        best = max(counts, key=lambda d: counts[d])
        delimiter = best if counts[best] else None
    if delimiter is not None:
        try:
            reader = csv.reader(
                io.StringIO("\n".join(lines)), delimiter=delimiter, skipinitialspace=True
            )
            rows = list(reader)
        except csv.Error:  # stray quotes, binary: read it as a text table below
            rows = []
        if any(len(r) > 1 for r in rows):
            return [[c.strip() for c in r] for r in rows[:_MAX_ROWS]]
    # A text table aligned with spaces: columns are two or more spaces apart.
    return [[c.strip() for c in re.split(r"\s{2,}|\t", ln.strip())] for ln in lines[:_MAX_ROWS]]


def read_text_table(text: str) -> NumberList | None:
    """A number table in plain text (a .txt attachment); None if the text is not one."""
    return rows_from_table(_split_rows(text))


def read_csv(data: bytes) -> NumberList:
    """Read a CSV/TSV/pipe/semicolon file of numbers."""
    text = decode_text(data)
    if "\x00" in text:
        raise DocumentError("the file is not a text table (it holds binary data)")
    rows = _split_rows(text)
    if not rows:
        raise DocumentError("the file is empty")
    result = rows_from_table(rows)
    if result is None:
        raise DocumentError("no column of phone numbers was found in the file")
    return result


# --- XLSX ---------------------------------------------------------------------------------


_ZERO_FORMAT_RE = re.compile(r'^(?:"?0"?|\\0)+$')


def _cell_text(value: object, number_format: str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not value.is_integer():
            return repr(value)
        text = str(int(value))
        fmt = (number_format or "").split(";")[0]
        if _ZERO_FORMAT_RE.match(fmt):
            # "0000" shows 427 as 0427: the PIN is what the customer sees.
            width = fmt.count("0")
            if len(text) < width and int(value) >= 0:
                text = text.zfill(width)
        return text
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


# An XLSX is a zip: a small file can unpack to gigabytes (openpyxl loads the shared
# strings whole). A real list of numbers unpacks to well under this.
_MAX_UNZIPPED_BYTES = 64 * 1024 * 1024


def _check_unzipped_size(data: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DocumentError(f"the spreadsheet is damaged ({type(exc).__name__})") from exc
    if total > _MAX_UNZIPPED_BYTES:
        raise LimitExceeded(
            f"the spreadsheet unpacks to {total // (1024 * 1024)} MB, over the limit of "
            f"{_MAX_UNZIPPED_BYTES // (1024 * 1024)} MB"
        )


def read_xlsx(data: bytes) -> NumberList:
    """Read the first sheet of an XLSX workbook that holds a table of numbers."""
    import openpyxl  # imported here: only spreadsheets pay for it
    from openpyxl.utils.exceptions import InvalidFileException

    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise DocumentError(
            "the spreadsheet is password-protected or an old Excel .xls file; "
            "please send it as CSV or XLSX without a password"
        )
    _check_unzipped_size(data)
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise DocumentError(f"the spreadsheet is damaged ({type(exc).__name__})") from exc
    except Exception as exc:  # openpyxl raises many kinds on malformed XML
        raise DocumentError(f"the spreadsheet is damaged ({type(exc).__name__})") from exc
    try:
        for sheet in book.worksheets:
            rows: list[list[str]] = []
            try:
                for row in sheet.iter_rows():
                    if len(rows) >= _MAX_ROWS:
                        break
                    rows.append(
                        [
                            _cell_text(getattr(c, "value", None), getattr(c, "number_format", None))
                            for c in row
                        ]
                    )
            except Exception as exc:  # malformed sheet XML
                raise DocumentError(f"the spreadsheet is damaged ({type(exc).__name__})") from exc
            result = rows_from_table(rows)
            if result is not None:
                return result
    finally:
        book.close()
    raise DocumentError("no column of phone numbers was found in the spreadsheet")
