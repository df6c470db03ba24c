"""parse_message: what portbot reads of one email, from many mail clients."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import pytest

import parsers.body
import parsers.email
from parsers.email import MessageTooLarge, html_to_text, parse_message, split_new_text
from parsers.errors import NotAnEmail, ParseError
from parsers.limits import Limits
from tests.conftest import SHARED
from tests.work_count import calls_made, regex_work


def eml(headers: str, body: str | bytes, charset: str = "utf-8") -> bytes:
    head = headers.strip("\n").replace("\n", "\r\n").encode("ascii") + b"\r\n\r\n"
    data = body if isinstance(body, bytes) else body.replace("\n", "\r\n").encode(charset)
    return head + data


PLAIN_HEADERS = """\
From: "Smith, John" <John.Smith@Acme.Example>
To: support@ourco.example
Subject: Port request
Date: Mon, 3 Nov 2025 10:12:00 -0600
Message-ID: <abc123@acme.example>
In-Reply-To: <prev1@ourco.example>
References: <first@ourco.example>
 <prev1@ourco.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
"""


# --- headers -------------------------------------------------------------------------------


def test_sender_is_lower_case_and_name_is_kept() -> None:
    msg = parse_message(eml(PLAIN_HEADERS, "Please port 512-555-0101.\n"))
    assert msg.sender == "john.smith@acme.example"
    assert msg.sender_name == "Smith, John"


def test_ids_date_and_references_are_read() -> None:
    msg = parse_message(eml(PLAIN_HEADERS, "Hello\n"))
    assert msg.message_id == "<abc123@acme.example>"
    assert msg.in_reply_to == "<prev1@ourco.example>"
    assert msg.references == ("<first@ourco.example>", "<prev1@ourco.example>")
    assert msg.date == dt.datetime(2025, 11, 3, 16, 12, tzinfo=dt.UTC)


def test_unparseable_date_is_none_not_a_crash() -> None:
    headers = PLAIN_HEADERS.replace("Mon, 3 Nov 2025 10:12:00 -0600", "sometime last week")
    assert parse_message(eml(headers, "Hi\n")).date is None


def test_encoded_subject_and_all_headers_are_decoded() -> None:
    headers = (
        PLAIN_HEADERS.replace(
            "Subject: Port request", "Subject: =?utf-8?q?Portabilit=C3=A9_des_num=C3=A9ros?="
        )
        + "Auto-Submitted: auto-replied\n"
    )
    msg = parse_message(eml(headers, "Bonjour\n"))
    assert msg.subject == "Portabilité des numéros"
    assert ("Auto-Submitted", "auto-replied") in msg.headers
    assert ("Subject", "Portabilité des numéros") in msg.headers


# --- body text and charsets --------------------------------------------------------------


def test_plain_text_is_preferred_over_html() -> None:
    body = """\
--b1
Content-Type: text/plain; charset=utf-8

Account #: 287654321
--b1
Content-Type: text/html; charset=utf-8

<p>Account #: <b>999999999</b></p>
--b1--
"""
    headers = PLAIN_HEADERS.replace(
        "Content-Type: text/plain; charset=utf-8",
        'Content-Type: multipart/alternative; boundary="b1"',
    )
    msg = parse_message(eml(headers, body))
    assert "287654321" in msg.body
    assert "999999999" not in msg.body


def test_html_only_mail_is_turned_into_text_with_tables_as_cells() -> None:
    html = (
        "<html><head><style>p {color: red}</style></head><body>"
        "<p>Hi,<br>please port these:</p>"
        "<table><tr><th>Phone Number</th><th>PIN</th></tr>"
        "<tr><td>512-555-0101</td><td>4821</td></tr></table>"
        "<p>Name on the account: Acme&nbsp;Realty &amp; Sons</p></body></html>"
    )
    headers = PLAIN_HEADERS.replace("text/plain", "text/html")
    msg = parse_message(eml(headers, html))
    assert "color" not in msg.body
    assert "Phone Number | PIN" in msg.body
    assert "512-555-0101 | 4821" in msg.body
    assert "Name on the account: Acme Realty & Sons" in msg.body


@pytest.mark.parametrize(
    ("charset", "text"),
    [
        ("iso-8859-1", "Service address: 12 Rue Montréal, café"),
        ("windows-1252", "Name on the account: “Núñez Realty” – LLC"),
        ("iso-2022-jp", "口座番号: 287654321"),
    ],
)
def test_declared_charsets_are_decoded(charset: str, text: str) -> None:
    headers = PLAIN_HEADERS.replace("charset=utf-8", f"charset={charset}")
    msg = parse_message(eml(headers, text, charset=charset))
    assert text in msg.body


def test_broken_declared_charset_never_crashes() -> None:
    headers = PLAIN_HEADERS.replace("charset=utf-8", "charset=x-no-such-charset")
    msg = parse_message(eml(headers, b"Caf\xe9 account 287654321\r\n"))
    assert "287654321" in msg.body


def test_utf8_label_on_latin1_bytes_is_read_anyway() -> None:
    msg = parse_message(eml(PLAIN_HEADERS, b"Caf\xe9 Realty account 287654321\r\n"))
    assert "Café Realty" in msg.body


def test_quoted_printable_body_is_decoded() -> None:
    headers = PLAIN_HEADERS + "Content-Transfer-Encoding: quoted-printable\n"
    msg = parse_message(eml(headers, "Account name: Acme =\nRealty LLC=3D\n"))
    assert "Account name: Acme Realty LLC=" in msg.body


# --- attachments -----------------------------------------------------------------------------

MIXED_HEADERS = PLAIN_HEADERS.replace(
    "Content-Type: text/plain; charset=utf-8", 'Content-Type: multipart/mixed; boundary="mix"'
)


def test_attachments_keep_their_real_names_types_and_bytes() -> None:
    pdf = b"%PDF-1.4 fake bill"
    csv = b"Phone,PIN\n5125550101,4821\n"
    body = f"""\
--mix
Content-Type: text/plain; charset=utf-8

Bill and list attached.
--mix
Content-Type: application/pdf; name="bill.pdf"
Content-Disposition: attachment; filename*=utf-8''Facture%20d%C3%A9cembre.pdf
Content-Transfer-Encoding: base64

{base64.b64encode(pdf).decode()}
--mix
Content-Type: text/csv; name="=?utf-8?q?Num=C3=A9ros.csv?="
Content-Disposition: attachment; filename="=?utf-8?q?Num=C3=A9ros.csv?="
Content-Transfer-Encoding: quoted-printable

{csv.decode().replace(chr(10), "=0A")}
--mix--
"""
    msg = parse_message(eml(MIXED_HEADERS, body))
    names = [(a.filename, a.content_type) for a in msg.attachments]
    assert names == [("Facture décembre.pdf", "application/pdf"), ("Numéros.csv", "text/csv")]
    assert msg.attachments[0].payload == pdf
    assert msg.attachments[1].payload == csv
    assert msg.body == "Bill and list attached."


def test_inline_image_without_filename_gets_a_generated_name() -> None:
    png = b"\x89PNG\r\n\x1a\nfake"
    body = f"""\
--mix
Content-Type: multipart/related; boundary="rel"

--rel
Content-Type: text/html; charset=utf-8

<p>Photo of the bill below</p><img src="cid:img1">
--rel
Content-Type: image/png
Content-ID: <img1>
Content-Transfer-Encoding: base64

{base64.b64encode(png).decode()}
--rel--
--mix--
"""
    msg = parse_message(eml(MIXED_HEADERS, body))
    assert [a.filename for a in msg.attachments] == ["image001.png"]
    assert msg.attachments[0].payload == png
    assert msg.body == "Photo of the bill below"


def test_attached_message_text_and_attachments_count() -> None:
    inner = """\
From: Jane Customer <jane@acme.example>
Subject: Port our numbers
Content-Type: multipart/mixed; boundary="in"

--in
Content-Type: text/plain

Account #: 287654321
--in
Content-Type: application/pdf
Content-Disposition: attachment; filename="bill.pdf"

%PDF-1.4
--in--
"""
    body = f"""\
--mix
Content-Type: text/plain

See the customer's mail attached.
--mix
Content-Type: message/rfc822

{inner}
--mix--
"""
    headers = MIXED_HEADERS.replace("Subject: Port request", "Subject: FW: Port our numbers")
    msg = parse_message(eml(headers, body))
    assert msg.body.startswith("See the customer's mail attached.")
    assert "----- Attached message from Jane Customer: Port our numbers -----" in msg.body
    assert "Account #: 287654321" in msg.body
    assert [a.filename for a in msg.attachments] == ["bill.pdf"]
    assert msg.forwarded_from == "jane@acme.example"


# --- replies: quoted history is not new text -------------------------------------------------

REPLY_HEADERS = PLAIN_HEADERS.replace("Subject: Port request", "Subject: Re: Port request")


def test_gmail_reply_history_is_cut() -> None:
    body = """\
The new PIN is 5555.

On Mon, Nov 3, 2025 at 10:12 AM Support <support@ourco.example> wrote:
> Hi, please send the PIN.
>
> > PIN: 1111
"""
    msg = parse_message(eml(REPLY_HEADERS, body))
    assert msg.body == "The new PIN is 5555."


def test_attribution_wrapped_over_two_lines_is_cut() -> None:
    body = """\
Account #: 222333444

On Mon, Nov 3, 2025 at 10:12 AM Support Team <support@ourco.example>
wrote:

Account #: 111111111
"""
    assert parse_message(eml(REPLY_HEADERS, body)).body == "Account #: 222333444"


@pytest.mark.parametrize(
    "attribution",
    [
        "Le lun. 3 nov. 2025 à 10:12, Support <support@ourco.example> a écrit :",
        "Am 03.11.2025 um 10:12 schrieb Support <support@ourco.example>:",
        "El lun, 3 nov 2025 a las 10:12, Support (<support@ourco.example>) escribió:",
        "-----Original Message-----",
        "-------- Original message --------",
    ],
)
def test_non_english_and_outlook_separators_cut_history(attribution: str) -> None:
    body = f"Nouveau NIP: 5555\n\n{attribution}\nPIN: 1111\n"
    assert parse_message(eml(REPLY_HEADERS, body)).body == "Nouveau NIP: 5555"


def test_outlook_reply_block_is_cut_also_with_bold_markers() -> None:
    body = """\
BTN is 512-555-0100.

*From:* Support <support@ourco.example>
*Sent:* Monday, November 3, 2025 10:12 AM
*To:* John Smith <john.smith@acme.example>
*Subject:* RE: Port request

What is the BTN? You wrote 512-555-0999.
"""
    assert parse_message(eml(REPLY_HEADERS, body)).body == "BTN is 512-555-0100."


def test_outlook_html_only_reply_is_cut() -> None:
    html = """<html><body><div>Account number is 222333444</div>
<div><br></div>
<hr style="display:inline-block;width:98%">
<div id="divRplyFwdMsg"><font><b>From:</b> Support &lt;support@ourco.example&gt;<br>
<b>Sent:</b> Monday, November 3, 2025 10:12 AM<br>
<b>To:</b> John Smith<br>
<b>Subject:</b> RE: Port request</font><div>&nbsp;</div></div>
<div>Old account number: 111111111</div></body></html>"""
    headers = REPLY_HEADERS.replace("text/plain", "text/html")
    assert parse_message(eml(headers, html)).body == "Account number is 222333444"


def test_gmail_html_only_reply_quote_is_cut() -> None:
    html = """<div dir="ltr">PIN is 5555</div><br><div class="gmail_quote">
<div dir="ltr" class="gmail_attr">On Mon, Nov 3, 2025 at 10:12 AM Support
&lt;support@ourco.example&gt; wrote:<br></div>
<blockquote class="gmail_quote" style="margin:0px">PIN: 1111</blockquote></div>"""
    headers = REPLY_HEADERS.replace("text/plain", "text/html")
    assert parse_message(eml(headers, html)).body == "PIN is 5555"


def test_gmail_quote_without_attribution_is_still_cut() -> None:
    html = """<div>PIN is 5555</div><div class="gmail_quote"><blockquote>PIN: 1111</blockquote>
<p>more old text</p></div>"""
    headers = REPLY_HEADERS.replace("text/plain", "text/html")
    assert parse_message(eml(headers, html)).body == "PIN is 5555"


def test_iphone_reply_keeps_only_the_new_line() -> None:
    body = """\
No PIN on the account.

Sent from my iPhone

> On Nov 3, 2025, at 10:12 AM, Support <support@ourco.example> wrote:
>
> PIN: 1111
"""
    msg = parse_message(eml(REPLY_HEADERS, body))
    assert "1111" not in msg.body
    assert msg.body.startswith("No PIN on the account.")


def test_reply_to_a_forward_cuts_the_forward_too() -> None:
    headers = PLAIN_HEADERS.replace("Subject: Port request", "Subject: RE: FW: Port request")
    body = """\
Here is the PIN: 5555

From: Support <support@ourco.example>
Sent: Monday, November 3, 2025 10:12 AM
To: John
Subject: RE: FW: Port request

---------- Forwarded message ---------
From: Jane <jane@acme.example>
PIN: 1111
"""
    msg = parse_message(eml(headers, body))
    assert msg.body == "Here is the PIN: 5555"
    assert msg.forwarded_from is None


# --- forwards: the forwarded request is the customer's --------------------------------------

FWD_HEADERS = PLAIN_HEADERS.replace("Subject: Port request", "Subject: Fwd: Port request")


def test_gmail_forward_is_kept_and_original_sender_recorded() -> None:
    body = """\
Forwarding Jane's request, she's the office manager.

---------- Forwarded message ---------
From: Jane Customer <Jane@Acme.example>
Date: Mon, Nov 3, 2025 at 9:00 AM
Subject: Port request
To: John Smith <john.smith@acme.example>


Please port 512-555-0101. Account #: 287654321

On Sun, Nov 2, 2025 at 8:00 AM Support <support@ourco.example> wrote:
> Old account #: 111111111
"""
    msg = parse_message(eml(FWD_HEADERS, body))
    assert msg.body.startswith("Forwarding Jane's request")
    assert "Account #: 287654321" in msg.body
    assert "111111111" not in msg.body
    assert msg.forwarded_from == "jane@acme.example"
    assert msg.forwarded_from_name == "Jane Customer"


def test_apple_mail_html_forward_is_kept_and_unquoted() -> None:
    html = """<html><body><div>FYI</div><div><br><blockquote type="cite">
<div>Begin forwarded message:</div><br>
<div><b>From: </b>Jane Customer &lt;jane@acme.example&gt;</div>
<div><b>Subject: </b>Port request</div>
<div><b>Date: </b>November 3, 2025 at 9:00:00 AM CST</div>
<div><b>To: </b>John Smith &lt;john.smith@acme.example&gt;</div><br>
<div>Account #: 287654321</div></blockquote></div></body></html>"""
    headers = PLAIN_HEADERS.replace("text/plain", "text/html")  # no Fwd in subject
    msg = parse_message(eml(headers, html))
    assert "Account #: 287654321" in msg.body
    assert not any(line.startswith(">") for line in msg.body.splitlines())
    assert msg.forwarded_from == "jane@acme.example"


def test_outlook_forward_block_under_fw_subject_is_kept() -> None:
    headers = PLAIN_HEADERS.replace("Subject: Port request", "Subject: FW: Port request")
    body = """\
Please handle.

From: Jane Customer [mailto:jane@acme.example]
Sent: Monday, November 3, 2025 9:00 AM
To: John Smith <john.smith@acme.example>
Subject: Port request

Account #: 287654321

From: Support <support@ourco.example>
Sent: Sunday, November 2, 2025 8:00 AM
To: Jane Customer
Subject: RE: Port request

Old account #: 111111111
"""
    msg = parse_message(eml(headers, body))
    assert "Account #: 287654321" in msg.body
    assert "111111111" not in msg.body
    assert msg.forwarded_from == "jane@acme.example"
    assert msg.forwarded_from_name == "Jane Customer"


@pytest.mark.parametrize("prefix", ["Fwd:", "FW:", "TR:", "WG:", "[EXT] Fw:"])
def test_forward_subject_prefixes_mean_forward(prefix: str) -> None:
    text = "Note\n\nFrom: Jane <jane@acme.example>\nSent: today\nTo: John\nSubject: x\n\nPIN: 4821"
    result = split_new_text(text, f"{prefix} Port request")
    assert "PIN: 4821" in result.text
    assert result.forwarded_from == "jane@acme.example"


# --- not an email, limits --------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"   \r\n",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100,
        b"%PDF-1.4\n1 0 obj\n<< >>\n",
        b"Just some text a customer pasted.\nNo headers here.\n",
        b"PK\x03\x04\x14\x00\x00\x00",
    ],
)
def test_things_that_are_not_emails_are_refused(data: bytes) -> None:
    with pytest.raises(NotAnEmail):
        parse_message(data)


def test_message_over_the_size_limit_is_refused_with_a_clear_message() -> None:
    with pytest.raises(MessageTooLarge, match=r"over the limit") as info:
        parse_message(eml(PLAIN_HEADERS, "x" * 3000), Limits(max_message_bytes=2000))
    assert isinstance(info.value, ParseError)


def test_mbox_from_line_is_accepted() -> None:
    data = b"From john@acme.example Mon Nov  3 10:12:00 2025\r\n" + eml(PLAIN_HEADERS, "Hi\n")
    assert parse_message(data).sender == "john.smith@acme.example"


def test_html_to_text_survives_broken_markup() -> None:
    assert "PIN 4821" in html_to_text("<div><p>PIN <b>4821</div></td></table><<>>")


def _long_lines(k: int) -> bytes:
    line = ("On " + "a" * 20000 + " wrote no colon ") * k
    body = "Account #: 287654321\n" + line + "\n" + "From: x " * (1000 * k) + "\n>" * (400 * k)
    return eml(REPLY_HEADERS, body)


def test_very_long_lines_do_not_hang() -> None:
    # Work, not time (timing: bench/bench_assess.py --pathological): twice the input
    # costs at most about twice the calls and regex characters; quadratic would be 4x.
    work = []
    for k in (5, 10):
        with regex_work(parsers.email, parsers.body) as regex, calls_made() as calls:
            msg = parse_message(_long_lines(k))
        work.append((regex.chars, calls[0]))
        assert msg.body.startswith("Account #: 287654321")
    (chars5, calls5), (chars10, calls10) = work
    assert chars10 <= 2.5 * chars5 and calls10 <= 2.5 * calls5


# --- real mail from the wild ---------------------------------------------------------------


def _real_mail_dir() -> Path | None:
    for candidate in (
        SHARED / "real-mail" / "mail-parser",
        Path("/work/shared/real-mail/mail-parser"),
    ):
        if candidate.is_dir():
            return candidate
    return None


REAL = _real_mail_dir()
REAL_FILES = sorted(REAL.iterdir()) if REAL else []


@pytest.mark.skipif(REAL is None, reason="shared/real-mail not available")
@pytest.mark.parametrize("path", REAL_FILES, ids=[p.name for p in REAL_FILES])
def test_real_mail_parses_quickly_or_is_refused_as_not_an_email(path: Path) -> None:
    data = path.read_bytes()
    if path.suffix == ".msg":
        with pytest.raises(NotAnEmail):
            parse_message(data)
        return
    # Work bounded by the size (real mail: at most 6,000 + 0.3 calls a byte, 5.5 regex
    # characters a byte): a few times that, never a product of sizes.
    with regex_work(parsers.email, parsers.body) as regex, calls_made() as calls:
        msg = parse_message(data)
    assert calls[0] <= 30_000 + 2 * len(data)
    assert regex.chars <= 20_000 + 20 * len(data)
    assert msg.sender is None or msg.sender == msg.sender.lower()
    assert all(a.filename for a in msg.attachments)


@pytest.mark.skipif(REAL is None, reason="shared/real-mail not available")
def test_malformed_multipart_still_yields_its_text() -> None:
    assert REAL is not None
    msg = parse_message((REAL / "mail_malformed_3.eml").read_bytes())
    assert "Toallero" in msg.body


@pytest.mark.skipif(REAL is None, reason="shared/real-mail not available")
def test_attachment_after_a_reused_boundary_is_found() -> None:
    assert REAL is not None
    msg = parse_message((REAL / "mail_malformed_1.eml").read_bytes())
    assert [a.filename for a in msg.attachments] == ["20160523_916527.jpg_.zip"]


@pytest.mark.skipif(REAL is None, reason="shared/real-mail not available")
def test_raw_utf8_attachment_name_is_decoded() -> None:
    assert REAL is not None
    msg = parse_message((REAL / "mail_test_1.eml").read_bytes())
    assert [a.filename for a in msg.attachments] == ["ФНС_РФ558.zip"]


def test_answers_written_between_quoted_lines_are_kept_without_the_quotes() -> None:
    body = """\
Answers below.

On Mon, Nov 3, 2025 at 10:12 AM Support <support@ourco.example> wrote:
> What is the account number? You sent 111111111.
Account #: 287654321
> And the PIN?
PIN: 4821
"""
    msg = parse_message(eml(REPLY_HEADERS, body))
    assert "111111111" not in msg.body
    assert "Account #: 287654321" in msg.body
    assert "PIN: 4821" in msg.body
    assert msg.body.startswith("Answers below.")


def test_format_flowed_lines_are_joined_back() -> None:
    headers = PLAIN_HEADERS.replace("charset=utf-8", "charset=utf-8; format=flowed")
    body = "Service address: 123 Main Street, Suite 200, Austin, \nTX 78701\n\nPIN: 4821\n"
    msg = parse_message(eml(headers, body))
    assert "Service address: 123 Main Street, Suite 200, Austin, TX 78701" in msg.body
    assert "\nPIN: 4821" in msg.body


def test_encoded_display_name_with_a_comma_keeps_the_address() -> None:
    headers = PLAIN_HEADERS.replace(
        '"Smith, John" <John.Smith@Acme.Example>',
        "=?utf-8?q?N=C3=BA=C3=B1ez=2C_Mar=C3=ADa?= <maria@nunez.example>",
    )
    msg = parse_message(eml(headers, "Hi\n"))
    assert msg.sender == "maria@nunez.example"
    assert msg.sender_name == "Núñez, María"


def test_bom_and_blank_lines_before_the_headers_are_tolerated() -> None:
    data = b"\xef\xbb\xbf\r\n\r\n" + eml(PLAIN_HEADERS, "Account #: 287654321\n")
    msg = parse_message(data)
    assert msg.subject == "Port request"
    assert msg.body == "Account #: 287654321"
