"""Which carrier a customer is porting away from, named by its common name.

The carriers and their spellings are data (`parsers/data/carriers.toml`). An
explicit statement ("Current carrier: Cox", "we're moving from Shaw") wins over
a carrier merely mentioned; spellings that are also ordinary words or surnames
("Frontier", "Shaw", "Bell") count outside a statement only when capitalised
and when no unambiguous carrier is mentioned.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["Carrier", "carriers", "find_carrier"]


@dataclass(frozen=True)
class Carrier:
    name: str
    aliases: tuple[str, ...]
    strict: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Matchers:
    by_alias: dict[str, str]  # folded alias -> common name
    loose: re.Pattern[str]  # non-strict aliases, any case
    strict: re.Pattern[str]  # strict aliases, as capitalised in the data


@cache
def carriers() -> tuple[Carrier, ...]:
    """The carrier list, loaded once from the package data."""
    text = resources.files("parsers").joinpath("data/carriers.toml").read_text("utf-8")
    data = tomllib.loads(text)
    out = []
    for entry in data.get("carrier", []):
        out.append(
            Carrier(
                name=str(entry["name"]),
                aliases=tuple(str(a) for a in entry.get("aliases", [])),
                strict=tuple(str(a) for a in entry.get("strict", [])),
            )
        )
    return tuple(out)


def _fold(alias: str) -> str:
    return re.sub(r"\s+", " ", alias.casefold()).strip()


def _alternation(aliases: list[str]) -> str:
    # Longest first, so "Cincinnati Bell" wins over "Bell"; spaces match any spacing.
    ordered = sorted(set(aliases), key=len, reverse=True)
    parts = [r"\s+".join(re.escape(word) for word in a.split()) for a in ordered]
    return r"(?<![\w&@.-])(" + "|".join(parts) + r")(?![\w&]|-\w|\.\w)"


@cache
def _matchers() -> _Matchers:
    by_alias: dict[str, str] = {}
    loose: list[str] = []
    strict: list[str] = []
    for carrier in carriers():
        for alias in (*carrier.aliases, carrier.name):
            by_alias.setdefault(_fold(alias), carrier.name)
            if alias not in carrier.strict:
                loose.append(alias)
        for alias in carrier.strict:
            by_alias.setdefault(_fold(alias), carrier.name)
            strict.append(alias)
    loose = [a for a in loose if a not in strict]
    return _Matchers(
        by_alias=by_alias,
        loose=re.compile(_alternation(loose), re.I),
        strict=re.compile(_alternation(strict)),
    )


# "Current carrier: X", "our carrier is X", "currently with X", "moving from X", ...
_STRONG_STATEMENT = re.compile(
    r"(?:"
    r"(?:current|existing|losing|old|previous|present)\s+(?:phone\s+|voice\s+|service\s+|"
    r"telecom\s+|wireless\s+)?(?:carrier|provider|company|service\s+provider)\s*(?:is|:|-|=)?"
    r"|(?:^|\n)[ \t]*(?:[-*•][ \t]*)?(?:carrier|provider|service\s+provider|phone\s+company)\s*"
    r"(?:name)?\s*[:=-]"
    r"|(?:carrier|provider|phone\s+company)\s+is"
    r"|currently\s+(?:with|on|using|use|have|at|through)\b"
    r"|(?:moving|switching|porting|transferring|coming|leaving|migrating|"
    r"port(?:ing)?\s+(?:\w+\s+){0,3}?)\s*(?:away\s+)?(?:from|off(?:\s+of)?)\b"
    r"|\b(?:numbers?|lines?|service)\s+(?:are|is)\s+(?:currently\s+)?(?:with|on|at|through|in)\b"
    r")\s*",
    re.I,
)
# Weaker: "we're with X", "we use X". Read only when no strong statement names a carrier.
_WEAK_STATEMENT = re.compile(
    r"(?:\b(?:we|i)\s*(?:are|'re|am|'m|have\s+been)\s+(?:currently\s+)?(?:with|on|using)\b"
    r"|\b(?:we|i)\s+(?:currently\s+)?(?:use|have)\b|\bleaving\b)\s*",
    re.I,
)
_STATEMENT_SPAN = 70  # characters after a statement where the carrier is named

# Lines whose words are people, places or devices, never a carrier statement.
_SKIP_LINE = re.compile(
    r"^\s*(?:[-*•]\s*)?(?:(?:account\s+|business\s+|company\s+|contact\s+|customer\s+)?name|"
    r"account\s+holder|authori[sz]ed|contact|address|service\s+address|street|city|"
    r"email|e-mail|from|to|cc|sent|signed|attn)\b[^:\n]{0,40}:"
    r"|^\s*sent\s+from\s+my\b",
    re.I | re.M,
)
_NOISE = re.compile(r"\S+@\S+|https?://\S+|www\.\S+")


def _clean(text: str) -> str:
    lines = [line for line in text.splitlines() if not _SKIP_LINE.match(line)]
    return _NOISE.sub(" ", "\n".join(lines))


def _name_of(alias_text: str) -> str:
    return _matchers().by_alias.get(_fold(alias_text), alias_text)


def _explicit(text: str, statements: re.Pattern[str]) -> str | None:
    m = _matchers()
    for statement in statements.finditer(text):
        window = text[statement.end() : statement.end() + _STATEMENT_SPAN]
        window = re.split(r"[.;!?\n](?:\s|$)|\n", window, maxsplit=1)[0]
        # In a statement, a strict alias still has to be capitalised ("a consolidated bill").
        # "from our current provider to Lofty": the destination is no current carrier.
        hits = [
            h
            for h in (m.loose.search(window), m.strict.search(window))
            if h and not _DESTINATION_BEFORE.search(window[: h.start()])
        ]
        if hits:
            return _name_of(min(hits, key=lambda h: h.start()).group(1))
        whole = _fold(window.strip(" .,;:!*_\"'"))
        if whole in m.by_alias:  # "current carrier: cox" names nothing else
            return m.by_alias[whole]
    return None


def find_carrier(text: str) -> str | None:
    """The current carrier's common name, or None when the text names none."""
    if not text:
        return None
    text = _clean(text[:50_000])  # a request states its carrier early; bounds the time
    explicit = _explicit(text, _STRONG_STATEMENT) or _explicit(text, _WEAK_STATEMENT)
    if explicit:
        return explicit
    m = _matchers()
    for pattern in (m.loose, m.strict):
        for hit in pattern.finditer(text):
            if not _is_destination(text, hit):
                return _name_of(hit.group(1))
    return None


# "port our lines to Lofty", "Hi Lofty team": the platform the customer is moving to.
_DESTINATION_BEFORE = re.compile(
    r"(?:\b(?:to|into|onto|over\s+to|with\s+you\s+at)|^\W*(?:hi|hello|hey|dear|good\s+\w+))\s*$",
    re.I,
)
_DESTINATION_AFTER = re.compile(r"^\s*(?:support|team|staff|folks|people|account\s+exec)", re.I)


def _is_destination(text: str, hit: re.Match[str]) -> bool:
    line_start = text.rfind("\n", 0, hit.start()) + 1
    before = text[max(line_start, hit.start() - 30) : hit.start()]
    after = text[hit.end() : hit.end() + 20]
    return bool(_DESTINATION_BEFORE.search(before) or _DESTINATION_AFTER.match(after))


# "We are currently with epb.", "leaving NextLight", "our number transfer from EPB": a
# carrier the data does not know, named in a sentence (capitalised, or one short word).
_SENTENCE_CARRIER = re.compile(
    r"(?i:\b(?:we|i)\s*(?:are|'re|am|'m)\s+(?:currently\s+)?(?:with|on|leaving)|\bleaving"
    r"|\b(?:transfer|move|moving|port|porting|switch|switching|lines\s+over)\s+from"
    r"|\bcurrent\s+(?:carrier|provider)(?:\s+is)?)\s+"
    r"(?P<v>[A-Z][\w&.'-]*(?:\s+[A-Z][\w&.'-]*){0,3}|[a-z][a-z&]{1,11})"
    r"(?=\s*(?:[.,;:!)]|$|\s+(?:to|and|for|in|are|is|was)\b))",
    re.M,
)
_NOT_A_CARRIER = frozenset(
    {
        "our",
        "the",
        "my",
        "them",
        "it",
        "us",
        "here",
        "there",
        "a",
        "an",
        "current",
        "existing",
        "old",
        "previous",
        "this",
        "that",
        "you",
    }
)


def stated_carrier(text: str) -> str | None:
    """The value of a "Current carrier: X" line as written, for carriers not in the data."""
    found = _stated_line(text)
    if found is not None:
        return found
    for m in _SENTENCE_CARRIER.finditer(text[:50_000]):
        value = m.group("v").strip(" .,;")
        if value.casefold() not in _NOT_A_CARRIER and not _DESTINATION_BEFORE.search(
            text[max(0, m.start("v") - 20) : m.start("v")]
        ):
            return value
    return None


def _stated_line(text: str) -> str | None:
    found = re.search(
        r"^\s*(?:[-*•]\s*)?(?:current|existing|losing)\s+(?:phone\s+)?(?:carrier|provider)"
        r"\s*(?:name)?\s*[:=-]\s*([^\n]{2,40}?)\s*$",
        text,
        re.I | re.M,
    )
    if not found:
        return None
    value = found.group(1).strip(" .,;*_")
    if not value or re.search(r"\b(?:unknown|not sure|n/?a|none|\?)", value, re.I):
        return None
    return value if len(value.split()) <= 5 else None
