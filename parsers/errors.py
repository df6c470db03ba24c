"""The one exception family of the parsers.

    ParseError              anything a parser could not read
    ├── NotAnEmail          the bytes are not an email at all (exit 2 in `assess`)
    └── DocumentError       an attachment could not be read (a note, never a crash)
        ├── EncryptedDocument
        └── LimitExceeded   size, pages, pixels or time over the configured limit

Parsers wrap the libraries' own errors in these, saying which attachment,
which page or which line.
"""

from __future__ import annotations


class ParseError(Exception):
    """Something portbot could not read."""


class NotAnEmail(ParseError):
    """The input is not an RFC 5322 message (an Outlook .msg, a binary, empty)."""


class DocumentError(ParseError):
    """An attachment that could not be read; the message says why, in plain words."""


class EncryptedDocument(DocumentError):
    pass


class LimitExceeded(DocumentError):
    pass
