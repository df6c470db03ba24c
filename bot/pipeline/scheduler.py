"""`portbot run`: a poll every N seconds (APScheduler), and IMAP IDLE to wake it.

IDLE is on by default ([schedule] idle) where the server announces it: a new message
is read as it arrives; the poll stays as the fallback (a server without IDLE, an
IDLE connection lost, mail in the other folders).

One poll runs at a time. A SIGTERM or SIGINT asks the running poll to stop after
the message in hand (`Intake.poll` checks between messages), waits for it, and
returns: no message is ever left half done.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
from collections.abc import Callable
from contextlib import suppress
from types import FrameType

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler

from bot.config import ScheduleConfig
from bot.errors import MailboxAuthError, MailboxError, StateError
from bot.ops.metrics import Metrics
from bot.pipeline.intake import Intake
from bot.pipeline.observe import observed_poll
from bot.ports import Mailbox

log = logging.getLogger("portbot.scheduler")


class Runner:
    """The poll job, the IDLE watcher and their shutdown; `run` blocks until stopped."""

    def __init__(
        self,
        intake: Intake,
        schedule: ScheduleConfig,
        idle_connect: Callable[[], Mailbox] | None = None,
        *,
        metrics: Metrics | None = None,
    ) -> None:
        self.intake = intake
        self.metrics = metrics
        self.schedule = schedule
        self.idle_connect = idle_connect if schedule.idle else None
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self.cycles = 0
        self.scheduler = BackgroundScheduler(timezone=dt.UTC)

    def stop(self, *_: object) -> None:
        self.stopping.set()

    def _cycle(self) -> None:
        while not self.stopping.is_set():
            self.wake.clear()
            try:
                if self.metrics is not None:
                    report = observed_poll(self.intake, self.metrics, self.stopping.is_set)
                else:
                    report = self.intake.poll(self.stopping.is_set)
            except MailboxAuthError as exc:
                log.error("mailbox: %s (a person must fix this; retrying each poll)", exc)
                return
            except (MailboxError, StateError) as exc:
                log.warning("poll failed, will retry: %s", exc)
                return
            except Exception:  # a bug: say so loudly, and keep the schedule alive
                log.exception("poll crashed, will retry")
                return
            finally:
                self.cycles += 1
            for event in report.events:  # what the ticks did: stage moves, port-ins
                log.info("cycle: %s", event)
            if report.handled or report.delivered or report.delivery_failures:
                log.info(
                    "poll: %d assessed, %d quarantined, %d duplicates, %d handed on",
                    report.count("assessed"),
                    report.count("quarantined"),
                    report.count("duplicate"),
                    report.delivered,
                )
            if not self.wake.is_set():
                return

    def poll_now(self) -> None:
        """A cycle now, or right after the running one: new mail (IDLE), a partner's
        webhook queued (`[carrier] webhook_listen`); any thread may call it."""
        self._poll_now()

    def _poll_now(self) -> None:
        self.wake.set()
        # while shutting down the job is gone: nothing left to wake
        with suppress(JobLookupError, SchedulerNotRunningError):
            self.scheduler.modify_job("poll", next_run_time=dt.datetime.now(dt.UTC))

    def _watch(self, connect: Callable[[], Mailbox]) -> None:
        folder = self.intake.settings.folders[0]
        while not self.stopping.is_set():
            try:
                mailbox = connect()
                try:
                    if not mailbox.can_idle():
                        log.warning(
                            "the IMAP server does not announce IDLE: new mail is read by the "
                            "poll every %ss (lower [schedule] poll_seconds for sooner)",
                            self.schedule.poll_seconds,
                        )
                        return
                    log.info(
                        "IMAP IDLE on %s: new mail is read as it arrives (poll every %ss "
                        "as the fallback)",
                        folder,
                        self.schedule.poll_seconds,
                    )
                    while not self.stopping.is_set():
                        if mailbox.wait_for_news(
                            folder, self.schedule.idle_renew_seconds, self.stopping.is_set
                        ):
                            log.info("IDLE: new mail in %s", folder)
                            self._poll_now()
                finally:
                    mailbox.close()
            except MailboxError as exc:
                log.warning(
                    "IDLE lost (%s); polling every %ss meanwhile", exc, self.schedule.poll_seconds
                )
                self.stopping.wait(min(self.schedule.poll_seconds, 30.0))

    def run(self, install_signals: bool = True) -> None:
        if install_signals:
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)
        self.scheduler.add_job(
            self._cycle,
            "interval",
            seconds=self.schedule.poll_seconds,
            id="poll",
            max_instances=1,
            coalesce=True,
            next_run_time=dt.datetime.now(dt.UTC),
        )
        self.scheduler.start()
        watcher = None
        if self.idle_connect is not None:
            watcher = threading.Thread(
                target=self._watch, args=(self.idle_connect,), name="imap-idle", daemon=True
            )
            watcher.start()
        log.info(
            "running: poll every %ss%s",
            self.schedule.poll_seconds,
            ", IMAP IDLE where the server announces it" if watcher else "",
        )
        self.stopping.wait()
        log.info("stopping: finishing the message in hand")
        self.scheduler.shutdown(wait=True)
        if watcher is not None:
            watcher.join(timeout=5)
        log.info("stopped")

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s received", signal.Signals(signum).name)
        self.stopping.set()
