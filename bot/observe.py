"""Wrappers that let the intake report to the logs and metrics without knowing them.

Each wraps one seam the intake already has, so wiring is a line at the composition
root or in the scheduler, and the intake itself stays free of metrics code:

    assess = watch_assessor(assess_thread, redactor=redactor, metrics=metrics)
    sinks  = [watch_sink(ticket_sink, metrics)]
    report = observed_poll(intake, metrics, stop)        # in Runner._cycle
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from bot.errors import DeskUnavailable
from bot.intake import Assessor, CycleReport, Delivery, Intake, Sink
from bot.logs import Redactor, secrets_of
from bot.mailbox import MailboxError
from bot.metrics import Metrics
from rules.assessment import Assessment


def watch_assessor(assess: Assessor, *, redactor: Redactor | None = None,
                   metrics: Metrics | None = None) -> Assessor:  # fmt: skip
    """The assessor, registering each request's secrets with the log redactor first thing.

    Registered before anything else sees the assessment, so no later log line about
    the request can carry them.
    """

    def assess_and_register(raws: Sequence[bytes]) -> Assessment:
        assessment = assess(raws)
        if redactor is not None:
            redactor.add_many(secrets_of(assessment))
        if metrics is not None:
            ocr = sum(1 for d in assessment.request.documents if d.ocr)
            if ocr:
                # pages and their seconds are not surfaced by the parsers yet: count documents
                metrics.ocr_pages(ocr, 0.0)
        return assessment

    return assess_and_register


def watch_sink(sink: Sink, metrics: Metrics) -> Sink:
    """The ticket sink, telling health whether Zendesk answers."""

    def deliver(delivery: Delivery) -> None:
        try:
            sink(delivery)
        except DeskUnavailable:
            metrics.desk_failed()
            raise
        metrics.desk_ok()

    return deliver


def observed_poll(intake: Intake, metrics: Metrics,
                  stop: Callable[[], bool] = lambda: False) -> CycleReport:  # fmt: skip
    """One `Intake.poll`, reported: the poll's result, the mailbox, each message's outcome.

    Raises what the poll raises (the scheduler's handling is unchanged).
    """
    started = time.monotonic()
    try:
        report = intake.poll(stop)
    except MailboxError:
        metrics.mailbox_failed()
        metrics.poll_failed()
        raise
    except Exception:
        metrics.poll_failed()
        raise
    metrics.poll_succeeded()
    handled = max(len(report.handled), 1)
    each = (time.monotonic() - started) / handled  # an average: the intake has no per-message clock
    for h in report.handled:
        metrics.message_done(h.outcome, each)
    metrics.quarantine_size(len(intake.state.quarantined()))
    return report


__all__ = ["observed_poll", "watch_assessor", "watch_sink"]
