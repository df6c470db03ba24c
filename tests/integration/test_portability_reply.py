"""The partner's portability findings (issue 17) reach the customer's reply, where the
customer can act on them: a number the partner cannot port is named with its reason
and what to do, the request is not ready, no PIN in the email. Dovecot, the Zendesk and
Twilio emulators and a real SMTP server."""

from __future__ import annotations

from pathlib import Path

from bot.standins.localmail import LocalMail
from bot.standins.twilio_emulator import TwilioEmulator
from bot.standins.zendesk_emulator import Emulator
from tests.integration.mailbox_support import new_folder
from tests.integration.smtp_support import SmtpServer
from tests.integration.test_pipeline_partner import (
    CUSTOMER,
    bot,
    hook,
    partner_config,
    twilio,  # noqa: F401 (a fixture)
)
from tests.integration.test_pipeline_stages import VERIZON, first, notes, stage_config, ticket_now
from tests.integration.test_pipeline_zendesk import tickets


def test_a_number_the_partner_cannot_port_is_named_in_the_customers_reply(
    server: LocalMail,
    em: Emulator,
    smtp: tuple[SmtpServer, list[str]],
    twilio: TwilioEmulator,  # noqa: F811
    tmp_path: Path,
) -> None:
    running, copies = smtp
    folder = copies[0] = new_folder()
    config = partner_config(
        stage_config(server, em, running, folder, tmp_path), twilio, poll_seconds=1e9
    )
    hook(
        twilio,
        "portability",
        number="+13038614401",
        portable=False,
        not_portable_reason="NUMBER_IS_NOT_PORTABLE_TO_TWILIO",
        not_portable_reason_code=22136,
    )
    with bot(config) as intake:
        server.append(folder, [first(VERIZON)])
        intake.poll()
    [ticket] = tickets(em)
    assert (
        "+13038614401 NOT portable: NUMBER_IS_NOT_PORTABLE_TO_TWILIO" in notes(em, ticket["id"])[0]
    )
    fields, tags = ticket_now(em, config, ticket["id"])
    assert fields["ready"] is False and "partner_not_portable" in " ".join(tags)
    [reply] = running.handler.to(CUSTOMER)
    text = reply.text()
    assert "Numbers that cannot be ported" in text
    assert "take them off the request" in text
    assert "Twilio cannot port (303) 861-4401 (number is not portable to twilio)" in text
    assert "4821" not in text  # the PIN: never in an email
