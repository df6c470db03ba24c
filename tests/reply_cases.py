"""Automatic mail of every kind the auto-reply must never answer, as raw messages.

Shared by the unit tests of the rules and the SMTP integration test. Each case is
(name, raw bytes, the reason code `should_reply` must give). Every case is an
otherwise ordinary porting request, so only the automatic marker stops the reply.
"""

from __future__ import annotations

OUR_DOMAIN = "lofty.com"
SUPPORT = "support@lofty.com"

_BODY = (
    "Hi, we want to port our numbers from AT&T to you.\r\n"
    "Account number 287654321, account name Acme Realty LLC.\r\n"
    "Numbers: 512-476-2210 (PIN 4821).\r\n"
)


def message(
    extra: str = "",
    *,
    sender: str | None = "Dana Whitfield <dana@acmerealtytx.com>",
    subject: str = "Porting request - Acme Realty",
    message_id: str = "<case-1@acmerealtytx.com>",
    content_type: str = 'text/plain; charset="utf-8"',
    body: str = _BODY,
) -> bytes:
    head = ""
    if sender is not None:
        head += f"From: {sender}\r\n"
    head += (
        f"To: Lofty Support <{SUPPORT}>\r\n"
        f"Subject: {subject}\r\n"
        "Date: Tue, 24 Nov 2026 10:00:00 -0600\r\n"
        f"Message-ID: {message_id}\r\n"
        "MIME-Version: 1.0\r\n"
        f"Content-Type: {content_type}\r\n"
    )
    return (head + extra + "\r\n" + body).encode()


def _dsn() -> bytes:
    boundary = "dsn-boundary-1"
    body = (
        f"--{boundary}\r\nContent-Type: text/plain\r\n\r\n"
        "This is the mail system at host mx.example.net.\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n"
        f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n\r\n"
        "Final-Recipient: rfc822; dana@acmerealtytx.com\r\nAction: failed\r\n"
        "Status: 5.1.1\r\n\r\n"
        f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        "From: Lofty Support <support@lofty.com>\r\n"
        "Subject: Re: Porting request\r\nMessage-ID: <portbot.abc123@lofty.com>\r\n\r\n"
        f"--{boundary}--\r\n"
    )
    return message(
        sender="Mail Delivery System <MAILER-DAEMON@mx.example.net>",
        subject="Undelivered Mail Returned to Sender",
        content_type=f'multipart/report; report-type=delivery-status; boundary="{boundary}"',
        body=body,
    )


def _dsn_inside_mixed() -> bytes:
    # A report that arrives wrapped in multipart/mixed from an ordinary-looking sender.
    boundary = "mixed-1"
    body = (
        f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nDelivery report attached.\r\n"
        f"--{boundary}\r\nContent-Type: message/delivery-status\r\n"
        'Content-Disposition: attachment; filename="status.txt"\r\n\r\n'
        "Reporting-MTA: dns; mx.example.net\r\n\r\nFinal-Recipient: rfc822; x@y.z\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\n\r\n"
        f"--{boundary}--\r\n"
    )
    return message(
        sender="IT Desk <it@acmerealtytx.com>",
        subject="Port delivery info",
        content_type=f'multipart/mixed; boundary="{boundary}"',
        body=body,
    )


# (name, raw, expected reason)
LOOP_CASES: list[tuple[str, bytes, str]] = [
    (
        "gmail_vacation",
        message("Auto-Submitted: auto-replied\r\n", subject="Re: Porting request - Acme Realty"),
        "auto_submitted",
    ),
    ("auto_generated", message("Auto-Submitted: auto-generated\r\n"), "auto_submitted"),
    (
        "auto_notified",
        message("Auto-Submitted: auto-notified; owner-email=x@y.z\r\n"),
        "auto_submitted",
    ),
    ("dsn_multipart_report", _dsn(), "bounce"),
    ("delivery_status_part", _dsn_inside_mixed(), "bounce"),
    ("x_failed_recipients", message("X-Failed-Recipients: dana@acmerealtytx.com\r\n"), "bounce"),
    ("precedence_bulk", message("Precedence: bulk\r\n"), "precedence"),
    ("precedence_junk", message("Precedence: junk\r\n"), "precedence"),
    ("precedence_list", message("Precedence: list\r\n"), "precedence"),
    ("precedence_auto_reply", message("Precedence: auto_reply\r\n"), "precedence"),
    ("list_id", message("List-Id: Realtors <realtors.lists.example.org>\r\n"), "list"),
    ("list_unsubscribe", message("List-Unsubscribe: <mailto:leave@lists.example.org>\r\n"), "list"),
    ("list_post", message("List-Post: <mailto:realtors@lists.example.org>\r\n"), "list"),
    ("exchange_suppress_all", message("X-Auto-Response-Suppress: All\r\n"), "suppress_header"),
    (
        "exchange_suppress_oof",
        message("X-Auto-Response-Suppress: OOF, AutoReply\r\n"),
        "suppress_header",
    ),
    ("x_autoreply", message("X-Autoreply: yes\r\n"), "autoreply_header"),
    ("x_autorespond", message("X-Autorespond: Porting request\r\n"), "autoreply_header"),
    ("x_loop", message("X-Loop: helpdesk@acmerealtytx.com\r\n"), "autoreply_header"),
    (
        "x_autoreply_from",
        message("X-AutoReply-From: dana@acmerealtytx.com\r\n"),
        "autoreply_header",
    ),
    ("x_mail_autoreply", message("X-Mail-Autoreply: dtc-autoreply v0.3\r\n"), "autoreply_header"),
    ("x_fc_machinegenerated", message("X-FC-MachineGenerated: true\r\n"), "autoreply_header"),
    ("x_auto_generated", message("X-Auto-Generated: true\r\n"), "autoreply_header"),
    (
        "x_post_messageclass",
        message("X-POST-MessageClass: 9; Autoresponder\r\n"),
        "autoreply_header",
    ),
    ("null_return_path", message("Return-Path: <>\r\n"), "null_sender"),
    ("no_from", message(sender=None), "null_sender"),
    ("mailer_daemon", message(sender="MAILER-DAEMON@mx.acmerealtytx.com"), "noreply_sender"),
    ("postmaster", message(sender="postmaster@acmerealtytx.com"), "noreply_sender"),
    ("noreply", message(sender="Acme Portal <noreply@acmerealtytx.com>"), "noreply_sender"),
    ("no_reply", message(sender="no-reply@acmerealtytx.com"), "noreply_sender"),
    ("do_not_reply", message(sender="do-not-reply@acmerealtytx.com"), "noreply_sender"),
    ("donotreply", message(sender="DoNotReply@acmerealtytx.com"), "noreply_sender"),
    (
        "bounces_verp",
        message(sender="bounces+12345-dana=acme@mailer.example.com"),
        "noreply_sender",
    ),
    ("own_address", message(sender=f"Lofty Support <{SUPPORT}>"), "own_message"),
    ("own_message_id", message(message_id=f"<portbot.0123abcd@{OUR_DOMAIN}>"), "own_message"),
    ("own_header", message("X-Portbot-Reply: incomplete\r\n"), "own_message"),
    (
        "outlook_automatic_reply_subject",
        message(subject="Automatic reply: Porting request - Acme Realty"),
        "auto_subject",
    ),
    ("out_of_office_subject", message(subject="Out of Office: Porting request"), "auto_subject"),
]

# Messages a person wrote: these must be answered.
HUMAN_CASES: list[tuple[str, bytes]] = [
    ("plain", message()),
    ("auto_submitted_no", message("Auto-Submitted: no\r\n")),
    ("feedback_id_only", message("Feedback-ID: 1:acme:gmail\r\n")),
    ("suppress_none", message("X-Auto-Response-Suppress: None\r\n")),
    ("colleague_at_our_company", message(sender="Kyle Brennan <kyle.brennan@lofty.com>")),
    (
        "answer_to_our_reply",
        message(
            "In-Reply-To: <portbot.0123abcd@lofty.com>\r\n"
            "References: <case-0@acmerealtytx.com> <portbot.0123abcd@lofty.com>\r\n",
            subject="Re: Porting request - Acme Realty",
            message_id="<case-2@acmerealtytx.com>",
        ),
    ),
    ("report_in_words", message(subject="Re: the delivery report you asked for")),
]
