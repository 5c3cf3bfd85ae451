"""Resident feedback out to the gateways: the shell around :mod:`hub.feedback`.

A :class:`hub.service.Notifier` like the others, so it sees every alert change
the moment the hub dispatches it (before any batch commit). It publishes on
the hub's own MQTT link, QoS 1, to ``trygg/v1/{site}/{gateway}/commands`` of
the gateway the source device is placed on.

It never makes an alert ``notified``: the resident's device hearing about the
alarm is not staff being told, so :meth:`send` always answers False.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

import uuid6
from prometheus_client import CollectorRegistry, Counter, Histogram

from devices.feedback import MAX_EXPECTED_MINUTES, FeedbackState
from devices.registry import Placement
from hub.alerts import Alert
from hub.feedback import Ledger, Outgoing, command, eligible

log = logging.getLogger("trygg.feedback")

# Hands the message to the broker link now; the future says whether the broker acked it.
Publish = Callable[[str, bytes], "asyncio.Future[bool]"]
PUBACK_WAIT_S = 10.0
ETA_MAX = 10_000  # announced ETAs waiting for their accept


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return str(uuid6.uuid7())


class FeedbackMetrics:
    """Labels: the feedback state only; never a device, resident or alert."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.sent = Counter(
            "trygg_feedback_sent_total",
            "Feedback commands the broker acknowledged, by state",
            ["state"],
            registry=registry,
        )
        self.failed = Counter(
            "trygg_feedback_failed_total",
            "Feedback commands not acknowledged by the broker, by state",
            ["state"],
            registry=registry,
        )
        self.received_seconds = Histogram(
            "trygg_feedback_received_seconds",
            "From the event's own time to the broker acknowledging the 'received' feedback",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )


class ResidentFeedback:
    channel = "resident"

    def __init__(
        self,
        publish: Publish,
        placement: Callable[[str], Placement | None],
        registry: CollectorRegistry,
        *,
        clock: Callable[[], datetime] = _utcnow,
        new_id: Callable[[], str] = _new_id,
        puback_wait_s: float = PUBACK_WAIT_S,
    ) -> None:
        self._publish = publish
        self._placement = placement
        self._clock = clock
        self._new_id = new_id
        self._wait = puback_wait_s
        self.ledger = Ledger()
        self.metrics = FeedbackMetrics(registry)
        self._eta: dict[str, int] = {}

    def expect(self, alert_id: str, minutes: int) -> None:
        """An ETA from the staff member's "on my way": carried by the ``help_coming`` sent next."""
        if not 0 <= minutes <= MAX_EXPECTED_MINUTES:
            raise ValueError(f"expected minutes out of range: {minutes}")
        if len(self._eta) >= ETA_MAX:
            self._eta.pop(next(iter(self._eta)))
        self._eta[alert_id] = minutes

    async def send(self, alert: Alert) -> bool:
        """Publish what this change means for the resident's device; always False (see module)."""
        placement = self._placement(alert.device)
        if placement is None or not eligible(alert, placement):
            return False
        # Planned and handed to the link before the first await: changes dispatched in
        # order go out in order, and nothing waits for another turn of the event loop.
        now = self._clock()
        out = [self._outgoing(alert, s, placement, now) for s in self.ledger.advance(alert)]
        if not alert.is_open:
            self._eta.pop(alert.id, None)
        started = [(message, self._start(message)) for message in out]
        for message, acked in started:
            await self._settle(message, acked, alert)
        return False

    def _outgoing(
        self, alert: Alert, state: FeedbackState, placement: Placement, now: datetime
    ) -> Outgoing:
        eta = self._eta.pop(alert.id, None) if state is FeedbackState.HELP_COMING else None
        return command(alert, state, placement, self._new_id(), now, eta)

    def _start(self, message: Outgoing) -> asyncio.Future[bool] | str:
        """The publish under way, or why it could not start."""
        try:
            return self._publish(message.topic, message.command.to_json())
        except (OSError, RuntimeError, ValueError) as exc:
            return str(exc) or type(exc).__name__

    async def _settle(
        self, message: Outgoing, acked: asyncio.Future[bool] | str, alert: Alert
    ) -> None:
        state = str(message.command.state)
        ok, reason = False, acked if isinstance(acked, str) else "refused by the broker"
        if not isinstance(acked, str):
            try:
                ok = await asyncio.wait_for(acked, self._wait)
            except TimeoutError:
                reason = f"no PUBACK within {self._wait:g} s"
            except (OSError, RuntimeError) as exc:
                reason = str(exc) or type(exc).__name__
        if not ok:
            self.metrics.failed.labels(state).inc()
            log.error("feedback to the resident's device failed: %s", reason,
                      extra={"alert_id": alert.id, "state": state})  # fmt: skip
            return
        self.metrics.sent.labels(state).inc()
        if message.command.state is FeedbackState.RECEIVED:
            waited = (self._clock() - alert.event_ts).total_seconds()
            self.metrics.received_seconds.observe(max(0.0, waited))
        log.info("feedback sent", extra={"alert_id": alert.id, "state": state})
