"""The contract's matching rules, one function each."""

from __future__ import annotations

import re
import unicodedata

from parsers.address import address_key
from parsers.model import Address


def fold_name(name: str) -> str:
    """Case, accents, punctuation and spacing folded; '&' read as 'and'."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = text.replace("&", " and ")
    text = re.sub(r"[^\w\s]", "", text)
    return " ".join(text.split())


def names_equal(a: str, b: str) -> bool:
    return fold_name(a) == fold_name(b)


def fold_account(number: str) -> str:
    return re.sub(r"[\s\-]", "", number).casefold()


def accounts_equal(a: str, b: str) -> bool:
    return fold_account(a) == fold_account(b)


def addresses_equal(a: Address, b: Address) -> bool:
    return address_key(a) == address_key(b)


def edit_distance(a: str, b: str, limit: int = 3) -> int:
    """Levenshtein distance, stopping early past `limit` (for OCR near-misses)."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        if min(cur) > limit:
            return limit + 1
        prev = cur
    return prev[-1]
