"""Is this a porting request? What each message to support@ is, with its reasons.

support@ is shared with the help desk: most of its mail is not about porting. Each
message is sorted, before anything costly is read (no attachment is opened), into:

- `porting_request`: a new conversation that asks for a port;
- `follow_up`: a customer's message in a conversation the bot already follows;
- `partner_mail`: mail from a carrier partner's address (a notice the stage keeper did
  not recognise is still never a customer's request);
- `automatic`: an out-of-office, a bounce, a list digest, a notification;
- `other`: anything else (a question for the desk).

Only the first two go on to the assessment, the ticket and the reply; the rest is
recorded and counted, never answered. The words, their weights and the threshold are
data (rules/data/porting_mail.toml), the threshold and extra words configuration.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Literal

MailKind = Literal["porting_request", "follow_up", "partner_mail", "automatic", "other"]

# Automatic mail that answers something (an out-of-office, a bounce) is never a request;
# a notification (a web form's, a list's) may carry one, and must then say so plainly.
ANSWERING = frozenset(
    {"bounce", "null_sender", "autoreply_header", "auto_subject", "auto_replied", "own_message"}
)


@dataclass(frozen=True)
class Weighted:
    pattern: re.Pattern[str]
    weight: int


def _weighted(entries: list[dict[str, object]]) -> tuple[Weighted, ...]:
    return tuple(
        Weighted(re.compile(str(e["pattern"]), re.IGNORECASE), int(str(e["weight"])))
        for e in entries
    )


def _load_defaults() -> tuple[int, tuple[Weighted, ...], tuple[Weighted, ...]]:
    text = resources.files("rules").joinpath("data/porting_mail.toml").read_text("utf-8")
    data = tomllib.loads(text)
    return int(data["threshold"]), _weighted(data["words"]), _weighted(data["attachments"])


_THRESHOLD, _WORDS, _ATTACHMENTS = _load_defaults()


@dataclass(frozen=True)
class SortPolicy:
    """`threshold`: the score a new conversation needs to be a porting request.
    `extra_words`: more patterns that ask for a port (configuration), weight 3 each."""

    threshold: int = _THRESHOLD
    words: tuple[Weighted, ...] = _WORDS
    attachments: tuple[Weighted, ...] = _ATTACHMENTS

    @classmethod
    def configured(cls, threshold: int | None, extra_words: tuple[str, ...] = ()) -> SortPolicy:
        extra = tuple(Weighted(re.compile(w, re.IGNORECASE), 3) for w in extra_words)
        return cls(threshold=_THRESHOLD if threshold is None else threshold, words=_WORDS + extra)


@dataclass(frozen=True)
class MailFacts:
    """What the shell gathered about one message: its text and headers, nothing costly."""

    subject: str
    body: str
    attachment_names: tuple[str, ...] = ()
    numbers: int = 0  # phone numbers the text lists
    pin: bool = False  # a PIN stated (account numbers come with every billing question)
    carrier: bool = False  # a carrier named
    known_thread: bool = False  # answers a conversation the bot follows
    automatic: tuple[str, ...] = ()  # the loop rules' reasons (rules.reply.loop_checks)
    from_partner: bool = False  # a carrier partner's address


@dataclass(frozen=True)
class MailVerdict:
    kind: MailKind
    score: int
    reasons: tuple[str, ...] = field(default=())

    @property
    def is_request(self) -> bool:
        return self.kind in ("porting_request", "follow_up")

    def summary(self) -> str:
        """One line, secret-free (names of signals, never the text)."""
        why = ", ".join(self.reasons) or "nothing speaks of a port"
        return f"{self.kind.replace('_', ' ')} (score {self.score}: {why})"


def porting_score(facts: MailFacts, policy: SortPolicy = SortPolicy()) -> tuple[int, list[str]]:
    """How strongly the message asks for a port, and the signals that say so."""
    score = 0
    reasons: list[str] = []
    for n, w in enumerate(policy.words):
        in_subject = bool(w.pattern.search(facts.subject))
        if in_subject or w.pattern.search(facts.body):
            score += w.weight + int(in_subject)
            reasons.append(f"words#{n + 1}{' in subject' if in_subject else ''}")
    for n, w in enumerate(policy.attachments):
        if any(w.pattern.search(name) for name in facts.attachment_names):
            score += w.weight
            reasons.append(f"attachment#{n + 1}")
    if facts.numbers >= 2:
        score += 1 + int(facts.numbers >= 5)
        reasons.append(f"{facts.numbers} numbers")
    if facts.pin:
        score += 1
        reasons.append("PIN")
    if facts.carrier:
        score += 1
        reasons.append("carrier named")
    return score, reasons


def sort_mail(facts: MailFacts, policy: SortPolicy = SortPolicy()) -> MailVerdict:
    """What the message is (see the module's docstring)."""
    score, reasons = porting_score(facts, policy)
    answering = sorted(set(facts.automatic) & ANSWERING)
    if facts.from_partner:
        return MailVerdict("partner_mail", score, ("partner address", *reasons))
    if answering:
        return MailVerdict("automatic", score, (*answering, *reasons))
    if facts.known_thread:
        if facts.automatic:
            return MailVerdict("automatic", score, (*facts.automatic, *reasons))
        return MailVerdict("follow_up", score, ("known conversation", *reasons))
    # a notification (a web form) carries a request only if it plainly is one, with the
    # request's own data; a list digest that talks about porting is no request
    concrete = facts.numbers >= 1 or facts.pin
    needed = policy.threshold + (2 if facts.automatic else 0)
    if score >= needed and (concrete or not facts.automatic):
        return MailVerdict("porting_request", score, tuple(reasons))
    if facts.automatic:
        return MailVerdict("automatic", score, (*facts.automatic, *reasons))
    return MailVerdict("other", score, tuple(reasons))


def speaks_of_porting(subject: str, body: str) -> bool:
    """Whether the words alone ask for a port (the reply's last check on a first message)."""
    return any(w.pattern.search(subject) or w.pattern.search(body) for w in _WORDS)


__all__ = [
    "MailFacts",
    "MailKind",
    "MailVerdict",
    "SortPolicy",
    "porting_score",
    "sort_mail",
    "speaks_of_porting",
]
