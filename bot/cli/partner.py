"""The carrier partner's commands (issue 17): `portbot submit TICKET [--dry-run] [--json]`,
`portbot carrier setup`, and doctor's check of the partner's credentials.

`submit` is the command-line twin of an agent moving the ticket to "submitted": the
same `PartnerDesk.submit` (the bill uploaded, the port-in created exactly once, its SID
noted on the ticket, the stage moved, the customer told), refused with the reasons when
the request is not ready. `--dry-run` prints the port-in it would create, with PINs and
the account number masked, and sends and records nothing.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from pathlib import Path

from bot.adapters.sqlite_state import SqliteStateStore
from bot.app import build_partner_desk, partner_from_config
from bot.config import Config
from bot.errors import PartnerRejected, PartnerUnavailable, PortbotError
from bot.pipeline.partner import Submitted, order_to_json
from bot.ports import Clock
from rules.partner import PortInOrder, Refused

EX_TEMPFAIL = 75
MASK = "••••"


def _fail(message: str, status: int = 2) -> int:
    print(f"portbot: {message}", file=sys.stderr)
    return status


def _print_json(document: object) -> None:
    json.dump(document, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def request_of(state: SqliteStateStore, text: str) -> str | None:
    """A request id from a ticket number ("123", "#123") or a request id ("PR-000001")."""
    text = text.strip().lstrip("#")
    if text.isdigit():
        return state.request_of_ticket(int(text))
    return text.upper() if state.port(text.upper()) or text.upper() in state.tickets() else None


def masked_account(number: str | None) -> str | None:
    """The account number as a dry run shows it: its last four characters at most."""
    if not number:
        return number
    return MASK + (number[-4:] if len(number) >= 8 else "")


def masked_order(order: PortInOrder) -> dict[str, object]:
    """The port-in as JSON, PINs and the account number masked."""
    shown: dict[str, object] = json.loads(order_to_json(order))
    shown["account_number"] = masked_account(order.account_number)
    shown["numbers"] = [
        {"phone_number": n, "pin": MASK if pin else None} for n, pin in order.numbers
    ]
    return shown


def order_lines(order: PortInOrder) -> list[str]:
    a = order.address
    street = ", ".join(p for p in (a.street, a.street_2) if p)
    return [
        f"  reference      {order.reference}",
        f"  customer       {order.customer_name} ({order.customer_type})",
        f"  account        {masked_account(order.account_number) or '-'}"
        f"   billing number {order.account_telephone_number or '-'}",
        f"  address        {street}, {a.city}, {a.state} {a.zip}, {a.country}",
        f"  signer         {order.authorized_representative} "
        f"<{order.authorized_representative_email}> (signs the partner's LOA)",
        *(
            f"  number         {n}" + (f" (PIN {MASK})" if pin else " (no PIN)")
            for n, pin in order.numbers
        ),
        f"  notifications  {', '.join(order.notification_emails) or '-'}",
        f"  target date    {order.target_date.isoformat()}",
        "  document       the request's bill, uploaded as the utility bill",
    ]


def submit_command(
    config: Config,
    args: argparse.Namespace,
    clock: Clock | None = None,
) -> int:
    """`portbot submit TICKET`: 0 submitted (or it was already), 2 refused (why on stderr),
    75 the partner is down (the attempt is recorded; the bot's next cycle carries it on).
    `clock`: `--now` (the moment the assessment and the target date count from)."""
    as_json, dry_run = bool(args.json), bool(args.dry_run)
    state, desk = build_partner_desk(config, clock=clock)
    partner = desk.settings.name
    try:
        with state.exclusive():
            request_id = request_of(state, args.ticket)
            if request_id is None:
                return _fail(
                    f"no porting request with ticket or id {args.ticket!r} in {config.state.path}"
                )
            ticket = state.tickets().get(request_id)
            document: dict[str, object] = {
                "request_id": request_id,
                "ticket": ticket,
                "dry_run": dry_run,
                "partner": partner,
            }
            where = f"{request_id}" + (f" (ticket #{ticket})" if ticket else "")
            try:
                result = (
                    desk.preview(request_id)
                    if dry_run
                    else desk.submit(request_id, source="cli", detail=f"portbot submit by {_who()}")
                )
            except PartnerUnavailable as exc:
                if as_json:
                    _print_json({**document, "outcome": "waiting", "reasons": [str(exc)]})
                return _fail(
                    f"{where}: {partner} is unavailable ({exc}); the submission is recorded and "
                    "`portbot run` carries it on at its next cycle (or run submit again)",
                    EX_TEMPFAIL,
                )
            if isinstance(result, Refused):
                if as_json:
                    _print_json({**document, "outcome": "refused", "reasons": list(result.reasons)})
                    return 2
                return _fail(f"{where} is not submitted: {result}")
            if isinstance(result, Submitted):
                outcome = "already" if result.already else "created"
                if as_json:
                    _print_json({**document, "outcome": outcome, "port_in_sid": result.sid})
                elif result.already:
                    print(f"{where}: already submitted, port-in {result.sid}; nothing to do")
                else:
                    print(
                        f"{where}: port-in {result.sid} created at {partner}; "
                        "the ticket is submitted and the customer told"
                    )
                return 0
            if as_json:
                _print_json({**document, "outcome": "would_create", "order": masked_order(result)})
                return 0
            print(
                f"DRY RUN: nothing is sent to {partner}, nothing is recorded; PINs show as {MASK}"
            )
            print(f"{where}: would create this port-in at {partner}:")
            for line in order_lines(result):
                print(line)
            return 0
    finally:
        state.close()


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "an unknown user"


def carrier_setup(config: Config, path: Path, *, as_json: bool = False) -> int:
    """`portbot carrier setup`: point the account's port-in webhooks at [carrier]
    webhook_url; idempotent (an account already pointing there is left alone)."""
    carrier = config.carrier
    if carrier is None:
        return _fail(f"{path} has no [carrier] section (see config.example.toml)")
    if not carrier.webhook_url:
        return _fail(
            f"{path}: [carrier] webhook_url is not set: without webhooks the bot polls the "
            f"partner every {carrier.poll_seconds:g} s ([carrier] poll_seconds)"
        )
    partner = partner_from_config(carrier)
    before = partner.webhook_target()
    changed = before != carrier.webhook_url
    if changed:
        partner.set_webhook_target(carrier.webhook_url)
        after = partner.webhook_target()
        if after != carrier.webhook_url:
            return _fail(f"Twilio kept the port-in webhook at {after!r} after it was set")
    if as_json:
        _print_json({"webhook_url": carrier.webhook_url, "changed": changed, "was": before})
    elif changed:
        was = f" (was {before})" if before else ""
        print(f"Twilio's port-in webhooks now go to {carrier.webhook_url}{was}")
    else:
        print(f"Twilio's port-in webhooks already go to {carrier.webhook_url}; nothing changed")
    return 0


def check_carrier(config: Config, say: Callable[[bool, str], None]) -> None:
    """doctor: the auth token, a real call with it, and where the webhooks go."""
    carrier = config.carrier
    if carrier is None:
        say(True, "no [carrier] section: ports are submitted by hand, stages come by email")
        return
    try:
        partner = partner_from_config(carrier)
    except PortbotError as exc:
        say(False, str(exc))
        return
    say(True, "Twilio auth token found")
    try:
        target = partner.webhook_target()
    except PartnerRejected as exc:
        say(
            False,
            f"Twilio at {carrier.api_url} did not accept account {carrier.account_sid} "
            f"with the auth token: {exc}",
        )
        return
    except PartnerUnavailable as exc:
        say(False, f"cannot reach Twilio at {carrier.api_url}: {exc}")
        return
    say(True, f"logged in to Twilio at {carrier.api_url} as account {carrier.account_sid}")
    if not carrier.webhook_url:
        say(True, f"no webhooks: open port-ins are polled every {carrier.poll_seconds:g} s")
    elif target == carrier.webhook_url:
        say(True, f"Twilio's port-in webhooks go to {carrier.webhook_url}")
    else:
        say(
            False,
            f"Twilio's port-in webhooks go to {target or 'nowhere'}, not to [carrier] "
            f"webhook_url {carrier.webhook_url}: run `portbot carrier setup`",
        )
