"""Postal addresses: read, USPS-normalise and key for comparison.

US street lines are normalised with usaddress-scourgify (Street = St,
Suite = Ste, North = N); when it cannot parse a line, the same USPS tables are
applied word by word. Canadian addresses keep their words (French designators
are compared after folding only) and their postal code whole.

The output keeps the writer's casing for words it did not abbreviate, so a
customer's "123 Main Street" reads "123 Main St" and a bill's "123 MAIN STREET"
reads "123 MAIN ST".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import scourgify.address_constants as usps
import usaddress
from scourgify import normalize_address_record
from scourgify.exceptions import AddressNormalizationError

from parsers.model import Address

_US_STATES = frozenset(usps.STATE_ABBREVIATIONS.values())
_CA_PROVINCES = {
    "AB": "ALBERTA",
    "BC": "BRITISH COLUMBIA",
    "MB": "MANITOBA",
    "NB": "NEW BRUNSWICK",
    "NL": "NEWFOUNDLAND AND LABRADOR",
    "NS": "NOVA SCOTIA",
    "NT": "NORTHWEST TERRITORIES",
    "NU": "NUNAVUT",
    "ON": "ONTARIO",
    "PE": "PRINCE EDWARD ISLAND",
    "QC": "QUEBEC",
    "SK": "SASKATCHEWAN",
    "YT": "YUKON",
}
_STATE_NAMES = (
    {name: code for name, code in usps.STATE_ABBREVIATIONS.items()}
    | {name: code for code, name in _CA_PROVINCES.items()}
    | {"QUÉBEC": "QC", "PQ": "QC"}
)

_ZIP = r"(?P<zip>\d{5}(?:[- ]?\d{4})?)"
_POSTAL = r"(?P<postal>[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z][ -]?\d[ABCEGHJ-NPRSTV-Z]\d)"
_STATE_WORDS = "|".join(sorted((re.escape(s) for s in _STATE_NAMES), key=len, reverse=True))
# "... City, ST 78701" / "... City ST 78701" / "... City, Ontario M5V 2T6" at the end.
_TAIL = re.compile(
    rf"(?P<city>[^\d,;]+?)\s*,?\s+(?P<state>[A-Z]{{2}}|{_STATE_WORDS})\.?\s*,?\s+(?:{_ZIP}|{_POSTAL})"
    r"(?:\s*,?\s*(?:USA|U\.S\.A\.|US|United States|Canada))?\s*$",
    re.IGNORECASE,
)
_PO_BOX = re.compile(
    r"\b(?:P\.?\s*O\.?\s*Box|Post\s+Office\s+Box|P\.?\s*O\.?\s*Drawer|Lock\s*Box|"
    r"PMB|Private\s+Mail\s*Box|General\s+Delivery|Case\s+Postale|C\.?P\.?\s+\d|"
    r"(?:^|\s)Box\s+\d)",
    re.IGNORECASE,
)
_DIRECTIONALS = frozenset(usps.DIRECTIONAL_REPLACEMENTS.values())
_WORD_TABLE = (
    {k: v for k, v in usps.STREET_TYPE_ABBREVIATIONS.items()}
    | usps.DIRECTIONAL_REPLACEMENTS
    | usps.OCCUPANCY_TYPE_ABBREVIATIONS
)


def _fold(text: str) -> str:
    """Upper case, accents removed, punctuation to spaces, spaces collapsed."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"[^\w#]+", " ", text.upper())
    return " ".join(text.split())


def _recase(normalised: str, original: str) -> str:
    """Give normalised (upper-case) words the writer's casing where the word is theirs."""
    originals = {w.upper(): w for w in re.findall(r"[\w#'-]+", original)}
    words = []
    for word in normalised.split():
        if word in originals:
            words.append(originals[word])
        elif word in _DIRECTIONALS or word in ("#", "PO", "PMB") or original.isupper():
            words.append(word)
        else:
            words.append(word.capitalize())
    return " ".join(words)


def _normalise_us_street(street: str, city: str, state: str, zip_code: str) -> str:
    record = {
        "address_line_1": street,
        "address_line_2": None,
        "city": city,
        "state": state,
        "postal_code": zip_code[:5],
    }
    try:
        out = normalize_address_record(record)
        line = " ".join(p for p in (out.get("address_line_1"), out.get("address_line_2")) if p)
    except (AddressNormalizationError, Exception):  # the library raises several kinds
        line = " ".join(_WORD_TABLE.get(w, w) for w in _fold(street).split())
    return _recase(line, street)


def _split_lines(text: str | Sequence[str]) -> list[str]:
    lines = [text] if isinstance(text, str) else list(text)
    out: list[str] = []
    for line in lines:
        out.extend(p.strip(" \t,;") for p in line.splitlines())
    return [p for p in out if p]


def _split_street_city(head: str, street: str, city: str) -> tuple[str, str]:
    """Street and city of "500 W 2nd St Ste 300 Austin", by usaddress's tagging."""
    try:
        tokens = usaddress.parse(head)
    except Exception:  # the tagger's own errors on odd input: keep the regex's split
        return street, city
    place = [word for word, label in tokens if label == "PlaceName"]
    if not place or tokens[-1][1] != "PlaceName":
        return _split_after_street_type(head, tokens, street, city)
    n = len(place)
    if [w for w, _ in tokens[-n:]] != place:
        return street, city
    words = head.split()
    return " ".join(words[:-n]).strip(" ,"), " ".join(words[-n:]).strip(" ,")


_STREET_TYPES = frozenset(usps.STREET_TYPE_ABBREVIATIONS) | frozenset(
    usps.STREET_TYPE_ABBREVIATIONS.values()
)
_UNIT_WORDS = frozenset({"STE", "SUITE", "UNIT", "APT", "RM", "ROOM", "FL", "FLOOR", "#"})


def _split_after_street_type(
    head: str, tokens: list[tuple[str, str]], street: str, city: str
) -> tuple[str, str]:
    """ "9473 Cedar Place Albuquerque" (no place the tagger knows): the street ends with
    its type word (and a unit after it); the words after that are the city."""
    if street and not street.isdigit():
        return street, city
    words = head.split()
    if len(words) < 3 or not words[0][:1].isdigit():
        return street, city
    folded = [_fold(w) for w in words]
    types = [i for i in range(2, len(words) - 1) if folded[i] in _STREET_TYPES]
    if not types:
        return street, city
    k = types[-1] + 1
    if k < len(words) and folded[k] in _DIRECTIONALS:
        k += 1
    if k + 1 < len(words) and (folded[k] in _UNIT_WORDS or folded[k].startswith("#")):
        k += 1 if folded[k].startswith("#") and len(folded[k]) > 1 else 2
    if not 0 < k < len(words):
        return street, city
    return " ".join(words[:k]).strip(" ,"), " ".join(words[k:]).strip(" ,")


_PAREN_REGION = re.compile(rf"\s*\(\s*({_STATE_WORDS})\s*\)\s*", re.IGNORECASE)


_LOOSE_POSTAL = re.compile(
    r"(?<=\s)(?P<region>AB|BC|MB|NB|NL|NS|NT|NU|ON|PE|QC|SK|YT)(?P<sep>\s*,?\s+)"
    r"(?P<a>[A-Z0-9]{3})(?P<gap>[ -]?)(?P<b>[A-Z0-9]{3})(?=\s*(?:,?\s*Canada)?\s*$)",
    re.IGNORECASE,
)
_AS_DIGIT = str.maketrans("OoIlSZB", "0011528")
_AS_LETTER = str.maketrans("0158", "OISB")


def _ocr_postal(text: str) -> str:
    """ "EDMONTON, AB T5J ON3": a Canadian postal code with OCR's O-for-0 slips put right
    (letter, digit, letter, digit, letter, digit)."""
    m = _LOOSE_POSTAL.search(text)
    if m is None:
        return text
    code = (m.group("a") + m.group("b")).upper()
    fixed = "".join(
        ch.translate(_AS_LETTER if i % 2 == 0 else _AS_DIGIT) for i, ch in enumerate(code)
    )
    return (
        text[: m.start("a")] + fixed[:3] + (m.group("gap") or " ") + fixed[3:] + text[m.end("b") :]
    )


def parse_address(text: str | Sequence[str]) -> Address | None:
    """Read a one-line or multi-line US or Canadian address; None if it is not one."""
    lines = _split_lines(text)
    if not lines:
        return None
    joined = ", ".join(lines)
    joined = re.sub(r"\s+", " ", joined).strip(" ,")
    # "Montréal (Québec) H3A 1G1": the province in parentheses, as Québec writes it.
    joined = _PAREN_REGION.sub(r" \1 ", joined)
    # "9473, Cedar Place" and Québec's "1200, rue Saint-Denis": the number starts the street.
    joined = re.sub(r"^(\d+[A-Za-z]?),\s+(?=[^\d\s,])", r"\1 ", joined)
    m = _TAIL.search(joined) or _TAIL.search(_ocr_postal(joined))
    if not m:
        return None
    joined = m.string
    street = re.sub(r"\s*,\s*", " ", joined[: m.start()].strip(" ,"))
    city = m.group("city").strip(" ,")
    if "," not in joined[: m.start("state")].rstrip(" ,"):
        # No comma between street and city: let usaddress say where the city starts.
        street, city = _split_street_city(joined[: m.start("state")].strip(" ,"), street, city)
    # "123 Main St Austin TX 78701" with no comma: the city swallowed the street.
    if not street and "," not in joined and re.match(r"\d", city):
        return None
    state_word = m.group("state").upper().rstrip(".")
    state = _STATE_NAMES.get(state_word, state_word)
    po_box = bool(_PO_BOX.search(street))
    if m.group("postal"):
        if state not in _CA_PROVINCES:
            return None
        postal = m.group("postal").upper().replace("-", " ")
        if " " not in postal:
            postal = postal[:3] + " " + postal[3:]
        return Address(
            street=street or None, city=city or None, state=state, zip=postal, po_box=po_box
        )
    if state not in _US_STATES:
        return None
    zip_code = m.group("zip").replace(" ", "-")
    if len(zip_code) == 9:
        zip_code = zip_code[:5] + "-" + zip_code[5:]
    if street and not po_box:
        street = _normalise_us_street(street, city, state, zip_code)
    elif street:
        street = _recase(" ".join(_fold(street).replace("P O BOX", "PO BOX").split()), street)
    return Address(
        street=street or None, city=city or None, state=state, zip=zip_code, po_box=po_box
    )


# A region code, then a ZIP or postal code with a slip: its first token holds a digit.
_REGION_NEAR_END = re.compile(
    r"(?:^|[\s,])(?P<region>[A-Za-z]{2})\.?,?\s+(?=[A-Za-z]{0,3}\d)\S{3,7}(?:\s\S{3,4})?\s*$"
)


def ends_like_a_place(text: str) -> bool:
    """ "150 ELGIN ST OTTAWA ON K1P 532": a state or province and something ZIP-like end
    the line, though it did not read as an address (an OCR slip in the code)."""
    m = _REGION_NEAR_END.search(text)
    return m is not None and m.group("region").upper() in (_US_STATES | set(_CA_PROVINCES))


def address_key(a: Address) -> tuple[str, str, str, str]:
    """What two addresses must share to be the same service address.

    Street line, city and state after USPS normalisation and folding; the first
    five digits of a US ZIP, a Canadian postal code whole.
    """
    street = " ".join(_WORD_TABLE.get(w, w) for w in _fold(a.street or "").split())
    street = street.replace("# ", "#")
    # "Ste 200" and "# 200" name the same unit.
    street = re.sub(r"(?:\b(?:STE|APT|UNIT|RM)|#)\s*#?\s*(\w+)$", r"UNIT \1", street)
    zip_code = (a.zip or "").upper().replace(" ", "").replace("-", "")
    if zip_code[:5].isdigit():
        zip_code = zip_code[:5]
    return (street, _fold(a.city or ""), _fold(a.state or ""), zip_code)
