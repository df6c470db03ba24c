"""The marker of a private note: how a note is recognised on the ticket after a lost
answer or a stop, so that it is posted once. Kept apart from the Zendesk adapter so
that the reply side (which never talks to Zendesk itself) can name a note too."""

from __future__ import annotations

import hashlib

NOTE_MARKER = "portbot_note"  # the key in a Zendesk audit's metadata.custom


def note_marker(text: str) -> str:
    """The marker of a note that has no key of its own: from its text alone (a note's
    text names what it is about: a Message-ID, a date), so a repeat finds the first."""
    return "note-" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


__all__ = ["NOTE_MARKER", "note_marker"]
