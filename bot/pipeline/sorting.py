"""The intake's sorter: what a message to the shared support@ is (rules.mail_kind).

Gathers the cheap facts (the intake's MIME parse and the statements of its text, both
kept for the assessment, the loop rules' verdict, whether a carrier partner sent it) and asks the
rule once. No attachment is opened: other mail costs no OCR.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.render.reply_email import part_types
from parsers.carrier_notice import NoticePatterns
from parsers.model import Message, Statements
from rules.mail_kind import MailFacts, MailVerdict, SortPolicy, sort_mail
from rules.reply import Ours, loop_checks


class MailSorter:
    """`(raw, known_thread) -> MailVerdict`; `ours` None: nothing is recognised as ours."""

    def __init__(
        self,
        read_email: Callable[[bytes], Message],
        read_statements: Callable[[bytes], Statements],
        policy: SortPolicy,
        ours: Ours | None,
        partners: NoticePatterns | None,
    ) -> None:
        self.read_email, self.read_statements, self.policy = read_email, read_statements, policy
        self.ours = ours or Ours.of([], [])
        self.partners = partners.partners if partners is not None else ()

    def __call__(self, raw: bytes, known_thread: bool) -> MailVerdict:
        message = self.read_email(raw)
        statements = self.read_statements(raw)
        automatic: list[str] = []
        for found in loop_checks(message, self.ours, part_types(raw)):
            automatic.append(found.reason)
            if found.reason == "auto_submitted" and "auto-replied" in found.detail.lower():
                automatic.append("auto_replied")  # an answer, not a notification
        sender = message.sender or ""
        facts = MailFacts(
            subject=message.subject or "",
            body=message.body or "",
            attachment_names=tuple(a.filename or "" for a in message.attachments),
            numbers=len(statements.numbers),
            pin=bool(statements.pin_for_all or any(n.pin for n in statements.numbers)),
            carrier=statements.current_carrier is not None,
            known_thread=known_thread,
            automatic=tuple(dict.fromkeys(automatic)),
            from_partner=bool(sender) and any(p.sends(sender) for p in self.partners),
        )
        return sort_mail(facts, self.policy)


__all__ = ["MailSorter"]
