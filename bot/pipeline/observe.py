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

from bot.errors import DeliveryDeferred, DeskRejected, DeskUnavailable, MailboxError
from bot.ops.logs import Redactor, secrets_of
from bot.ops.metrics import Metrics
from bot.pipeline.intake import Assessor, CycleReport, Delivery, Intake, Sink
from rules.assessment import Assessment


def watch_assessor(
    assess: Assessor, *, redactor: Redactor | None = None, metrics: Metrics | None = None
) -> Assessor:
    """The assessor, registering each request's secrets with the log redactor first thing.

    Registered before anything else sees the assessment, so no later log line about
    the request can carry them.
    """

    def assess_and_register(raws: Sequence[bytes]) -> Assessment:
        assessment = assess(raws)
        if redactor is not None:
            redactor.add_many(secrets_of(assessment))
        if metrics is not None:
            docs = [d for d in assessment.request.documents if d.ocr or d.ocr_pages]
            pages = sum(max(d.ocr_pages, 1) for d in docs)  # read by OCR: a page at least
            if pages:
                metrics.ocr_pages(pages, sum(d.ocr_seconds for d in docs))
        return assessment

    return assess_and_register


class _WatchedSink:
    def __init__(self, sink: Sink, metrics: Metrics) -> None:
        self.sink = sink
        self.metrics = metrics
        self.timing: str = getattr(sink, "timing", "hand_on")

    def __call__(self, delivery: Delivery) -> None:
        try:
            self.sink(delivery)
        except DeskUnavailable:
            self.metrics.desk_failed()
            raise
        except DeliveryDeferred as exc:
            if exc.everything and isinstance(exc.__cause__, DeskUnavailable | DeskRejected):
                self.metrics.desk_failed()  # the ticket sink says so when the desk is down
            raise
        self.metrics.desk_ok()


def watch_sink(sink: Sink, metrics: Metrics) -> Sink:
    """The ticket sink, telling health whether Zendesk answers."""
    return _WatchedSink(sink, metrics)


def observed_poll(
    intake: Intake, metrics: Metrics, stop: Callable[[], bool] = lambda: False
) -> CycleReport:
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
    each = (time.monotonic() - started) / handled  # for a message the intake did not time
    for h in report.handled:
        metrics.message_done(h.outcome, h.seconds or each)
    metrics.quarantine_size(len(intake.state.quarantined()))
    metrics.requests_by_stage(intake.state.requests_by_stage())
    return report


__all__ = ["observed_poll", "watch_assessor", "watch_sink"]
