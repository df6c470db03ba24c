"""The carrier partner, applied (issue 17): portability at intake, one-step submission,
status from the partner.

Gather (the partner's answers through `bot.ports.CarrierPartner`, the tickets' stage
fields, queued webhooks), decide (`rules.partner`: findings, the order, the stage a
status asks for; `rules.stages.transition` through the keeper), apply (here: the
ledger, the ticket, the keeper's stage changes, which tell the customer).

- Portability: `portability_assessor` wraps the intake's assessor. Each number is
  asked once a day (the ledger caches answers); an outage leaves the check pending,
  a note on the ticket, and never holds up the message.
- Submission: `submit` (the command line) and `sync_submissions` (an agent set the
  ticket's stage to submitted) build the order from a fresh assessment, or refuse
  with the reasons (the ticket's stage is set back). Exactly once: the attempt is
  recorded before the upload, the document after it, `creating` before the create
  and the SID after; a restart in `creating` finds the port-in by its document.
- Status: webhooks are queued by the receiver (bot.adapters.twilio_webhook) and
  applied here each cycle (`apply_events`); `poll_status` asks for every open
  port-in as the fallback. Either way the port-in is fetched and `rules.partner.move_for`
  maps it; a status already applied (its fingerprint) changes nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.errors import PartnerRejected, PartnerUnavailable
from bot.pipeline.intake import Assessor, CycleReport
from bot.pipeline.stage_keeper import PortKeeper
from bot.ports import CarrierPartner, PartnerLedger, StateStore, Submission, TicketDesk
from bot.render.ticket import ZendeskNames, requester
from parsers.model import Attachment, Message
from rules.assessment import Assessment
from rules.partner import (
    Portability,
    PortInAddress,
    PortInOrder,
    Refused,
    e164_numbers,
    move_for,
    port_in_order,
    with_portability,
)
from rules.stages import FINAL, IllegalMove, Stage, StageChange

log = logging.getLogger("portbot.partner")


@dataclass(frozen=True)
class PartnerSettings:
    name: str = "Twilio"  # as agents and customers read it
    portability: bool = True
    cache: dt.timedelta = dt.timedelta(hours=24)
    min_days: int = 7
    notification_emails: tuple[str, ...] = ()
    poll_seconds: float = 900.0


# --- portability at intake -------------------------------------------------------------


def portability_assessor(
    assess: Assessor,
    partner: CarrierPartner,
    ledger: PartnerLedger,
    settings: PartnerSettings,
    now: Callable[[], dt.datetime],
) -> Assessor:
    """The intake's assessor with the partner's portability findings added."""

    def assessed(raws: Sequence[bytes]) -> Assessment:
        assessment = assess(raws)
        answers: dict[str, Portability] = {}
        pending: dict[str, str] = {}
        down: str | None = None
        for number in e164_numbers(assessment):
            cached = ledger.portability(number, now() - settings.cache)
            if cached is not None:
                answers[number] = cached
                continue
            if down is not None:  # one outage per message is enough to wait for
                pending[number] = down
                continue
            try:
                answer = partner.portability(number)
            except PartnerUnavailable as exc:
                down = pending[number] = str(exc)
                continue
            except PartnerRejected as exc:  # our side (credentials): the agent must see it
                pending[number] = str(exc)
                continue
            ledger.save_portability(answer, now())
            answers[number] = answer
        return with_portability(assessment, answers, pending, settings.name)

    return assessed


# --- the order, stored with its attempt ---------------------------------------------


def order_to_json(order: PortInOrder) -> str:
    d = dataclasses.asdict(order)
    d["target_date"] = order.target_date.isoformat()
    return json.dumps(d)


def order_from_json(text: str) -> PortInOrder:
    d = json.loads(text)
    return PortInOrder(
        **{
            **d,
            "address": PortInAddress(**d["address"]),
            "numbers": tuple((n, pin) for n, pin in d["numbers"]),
            "notification_emails": tuple(d["notification_emails"]),
            "target_date": dt.date.fromisoformat(d["target_date"]),
        }
    )


@dataclass(frozen=True)
class Submitted:
    request_id: str
    sid: str
    attempt: int
    already: bool = False  # it was created before: nothing was sent now


def _key(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


class PartnerDesk:
    """Submits ports to the carrier partner and carries its statuses to the stages."""

    def __init__(
        self,
        partner: CarrierPartner,
        ledger: PartnerLedger,
        state: StateStore,
        desk: TicketDesk | None,
        keeper: PortKeeper,
        *,
        assess: Assessor,
        read_email: Callable[[bytes], Message],
        names: ZendeskNames,
        settings: PartnerSettings,
        now: Callable[[], dt.datetime],
        today: Callable[[], dt.date],
    ) -> None:
        self.partner, self.ledger, self.state, self.desk = partner, ledger, state, desk
        self.keeper, self.assess, self.read_email = keeper, assess, read_email
        self.names, self.settings, self.now, self.today = names, settings, now, today
        self.stage_names = names.stages()
        self._last_poll: dt.datetime | None = None

    # -- submission ---------------------------------------------------------------------

    def plan(self, request_id: str, attempt: int) -> PortInOrder | Refused:
        """The order a submission would send now (also `--dry-run`)."""
        raws = self.state.thread_raws(request_id)
        if not raws:
            return Refused((f"no mail of request {request_id} is on record",))
        messages = [self.read_email(r) for r in raws]
        email, name = requester(messages)
        return port_in_order(
            self.assess(raws),
            reference=f"portbot:{request_id}:{attempt}",
            today=self.today(),
            representative=name,
            representative_email=email,
            notification_emails=self.settings.notification_emails,
            min_days=self.settings.min_days,
        )

    def submit(
        self, request_id: str, *, source: str, detail: str = "", event_key: str | None = None
    ) -> Submitted | Refused:
        """Create the request's port-in once, record its SID and move the stage."""
        standing = self._standing(request_id)
        if isinstance(standing, Submission):
            return self._carry(standing)
        if isinstance(standing, Submitted | Refused):
            return standing
        attempt = standing
        order = self.plan(request_id, attempt)
        if isinstance(order, Refused):
            return order
        submission = Submission(
            request_id=request_id,
            attempt=attempt,
            reference=order.reference,
            status="begun",
            document_sid=None,
            port_in_sid=None,
            created_on=self.today(),
            source=source,
            event_key=event_key or f"{source}:{request_id}:submit:{attempt}",
            detail=json.dumps({"order": json.loads(order_to_json(order)), "by": detail}),
        )
        self.ledger.begin_submission(submission)
        return self._carry(submission)

    def preview(self, request_id: str) -> PortInOrder | Submitted | Refused:
        """What `submit` would send now (`portbot submit --dry-run`); nothing is sent or
        recorded (an unfinished attempt shows the order it will carry on with)."""
        standing = self._standing(request_id)
        if isinstance(standing, Submission):
            return order_from_json(json.dumps(json.loads(standing.detail)["order"]))
        if isinstance(standing, Submitted | Refused):
            return standing
        return self.plan(request_id, standing)

    def _standing(self, request_id: str) -> Submission | Submitted | Refused | int:
        """Where the request's submission stands: an unfinished attempt to carry on, a
        port-in made already, a refusal (its stage), or the number of the next attempt."""
        latest = self.ledger.submission(request_id)
        port = self.state.port(request_id)
        stage = Stage(port.stage) if port else Stage.REQUEST_RECEIVED
        if latest is not None and latest.status in ("begun", "uploaded", "creating"):
            return latest
        if latest is not None and latest.status == "created" and stage != Stage.REQUEST_RECEIVED:
            assert latest.port_in_sid is not None
            return Submitted(request_id, latest.port_in_sid, latest.attempt, already=True)
        if stage != Stage.REQUEST_RECEIVED:
            return Refused(
                (f"the port is {stage.value}: only a request collecting information is submitted",)
            )
        return latest.attempt + 1 if latest else 1

    def _bill(self, request_id: str, filename: str | None) -> Attachment:
        found: Attachment | None = None
        for raw in self.state.thread_raws(request_id):
            for a in self.read_email(raw).attachments:
                if filename is None or a.filename == filename:
                    found = a  # the newest message's copy counts
        if found is None:
            raise PartnerRejected(f"the bill {filename!r} is not in the request's mail")
        return found

    def _carry(self, s: Submission) -> Submitted | Refused:
        stored = json.loads(s.detail)
        order = order_from_json(json.dumps(stored["order"]))
        document = s.document_sid
        try:
            if document is None:
                assessment = self.assess(self.state.thread_raws(s.request_id))
                bill = assessment.request.bill
                attachment = self._bill(s.request_id, bill.filename if bill else None)
                document = self.partner.upload_bill(
                    s.reference, attachment.filename, attachment.content_type, attachment.payload
                )
                self.ledger.update_submission(
                    s.request_id, s.attempt, status="uploaded", document_sid=document
                )
            sid = None
            if s.status == "creating":  # the create may have happened: look before repeating
                sid = self.partner.find_port_in(document, s.created_on)
            if sid is None:
                self.ledger.update_submission(s.request_id, s.attempt, status="creating")
                sid = self.partner.create_port_in(order, [document]).sid
        except PartnerRejected as exc:
            self.ledger.update_submission(
                s.request_id, s.attempt, status="refused", reason=str(exc)
            )
            why = f"{self.settings.name} refused the port-in: {exc}"
            self._note(s.request_id, f"Submission failed. {why}", f"partner-refused:{s.reference}")
            return Refused((why,))
        self.ledger.update_submission(s.request_id, s.attempt, status="created", port_in_sid=sid)
        self.state.set_port_ids(s.request_id, order_id=sid)
        numbers = "\n".join(f"  {n}" + (" (PIN given)" if pin else "") for n, pin in order.numbers)
        self._note(
            s.request_id,
            f"Port-in created at {self.settings.name}: {sid}\n"
            f"Customer: {order.customer_name} ({order.customer_type}); "
            f"authorised representative {order.authorized_representative} "
            f"<{order.authorized_representative_email}> (signs the partner's LOA)\n"
            f"Numbers:\n{numbers}\nTarget date: {order.target_date.isoformat()}\n"
            f"Bill uploaded as utility bill: {document}",
            f"partner-created:{s.reference}",
        )
        decision = self.keeper.move(
            s.request_id,
            Stage.SUBMITTED,
            source="agent" if s.source == "agent" else "cli",
            detail=f"{self.settings.name} port-in {sid}",
            event_key=s.event_key,
        )
        if isinstance(decision, IllegalMove):
            log.warning("request=%s port-in %s created; stage: %s", s.request_id, sid, decision)
        return Submitted(s.request_id, sid, s.attempt)

    def _note(self, request_id: str, text: str, key: str) -> None:
        ticket_id = self.state.tickets().get(request_id)
        if self.desk is not None and ticket_id is not None:
            self.desk.amend(ticket_id, note=text, note_key=key)

    def sync_submissions(self, report: CycleReport) -> None:
        """Unfinished submissions carried on; agents' approvals (stage set to submitted
        on the ticket) submitted, or refused with the reason and the stage set back."""
        for s in self.ledger.submissions("begun", "uploaded", "creating"):
            result = self._carry(s)
            report.events.append(f"{s.request_id}: submission {s.attempt} -> {result}")
        if self.desk is None:
            return
        tickets = self.state.tickets()
        candidates = {
            tickets[p.request_id]: p.request_id
            for p in self.state.ports()
            if Stage(p.stage) == Stage.REQUEST_RECEIVED and p.request_id in tickets
        }
        if not candidates:
            return
        sn = self.stage_names
        for ticket_id, ts in self.desk.ticket_states(sorted(candidates)).items():
            value = ts.fields.get("stage")
            read = sn.stage_of_ticket(value if isinstance(value, str) else None, ts.tags)
            if read != Stage.SUBMITTED or ts.status == "closed":
                continue
            request_id = candidates[ticket_id]
            result = self.submit(
                request_id,
                source="agent",
                detail=f"ticket #{ticket_id}",
                event_key=self.keeper.agent_event(
                    request_id, ticket_id, ts.updated_at, Stage.SUBMITTED
                ),
            )
            if isinstance(result, Refused):
                self.desk.amend(
                    ticket_id,
                    note=f"Submission to {self.settings.name} refused: {result}. "
                    f"The stage is set back to {Stage.REQUEST_RECEIVED.value}.",
                    fields={"stage": sn.value(Stage.REQUEST_RECEIVED)},
                    add_tags=[sn.tag(Stage.REQUEST_RECEIVED)],
                    remove_tags=[sn.tag(Stage.SUBMITTED)],
                )
            report.events.append(f"{request_id}: agent approved (ticket #{ticket_id}) -> {result}")

    # -- status ---------------------------------------------------------------------------

    def refresh(self, sid: str) -> str:
        """Fetch the port-in and apply what its status asks for, once."""
        s = self.ledger.by_port_in(sid)
        if s is None:
            return f"port-in {sid} is none of ours"
        latest = self.ledger.submission(s.request_id)
        if latest is not None and latest.attempt != s.attempt:
            return f"port-in {sid} was replaced by attempt {latest.attempt}"
        status = self.partner.port_in(sid)
        move = move_for(status)
        if self.ledger.applied(sid) == move.fingerprint:
            return f"port-in {sid}: {move.stage.value}, already applied"
        port = self.state.port(s.request_id)
        current = Stage(port.stage) if port else Stage.REQUEST_RECEIVED
        event_key = f"partner:{sid}:{_key(move.fingerprint)}"
        detail = f"{self.settings.name} port-in {sid}" + (f": {move.note}" if move.note else "")
        outcome = "noted"
        if move.stage == current or current in FINAL:
            self._note(s.request_id, f"{detail} (stage stays {current.value})", event_key)
        else:
            decision = self.keeper.move(
                s.request_id,
                move.stage,
                reason=move.reason,
                date=move.date,
                source="carrier",
                detail=detail,
                event_key=event_key,
            )
            if isinstance(decision, StageChange):
                outcome = f"{current.value} -> {decision.stage.value}"
            else:
                self._note(s.request_id, f"{detail}: {decision.message}", event_key)
                outcome = decision.message
        self.ledger.set_applied(sid, move.fingerprint)
        return f"port-in {sid}: {outcome}"

    def apply_events(self, report: CycleReport) -> None:
        """The webhooks the receiver queued, oldest first (each fetched afresh)."""
        for event_id, body in self.ledger.events():
            try:
                sid = json.loads(body).get("port_in_request_sid")
            except ValueError:
                sid = None
            if isinstance(sid, str) and sid:
                report.events.append(self.refresh(sid))
            self.ledger.event_done(event_id)

    def poll_status(self, report: CycleReport) -> None:
        """Every open port-in asked for, each `poll_seconds`: the webhooks' fallback."""
        now = self.now()
        if (
            self._last_poll is not None
            and (now - self._last_poll).total_seconds() < self.settings.poll_seconds
        ):
            return
        for s in self.ledger.submissions("created"):
            port = self.state.port(s.request_id)
            if s.port_in_sid is None or (port is not None and Stage(port.stage) in FINAL):
                continue
            report.events.append(self.refresh(s.port_in_sid))
        self._last_poll = now
