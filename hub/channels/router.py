"""The routing shell: runs the pure escalation core against the hub's alerts.

It is a ``hub.service.Notifier``: the hub hands it every alert change. A new
open alert starts an escalation; accept stops it; on-site, resolve and cancel
close it; a resident's cancel tells those notified and quiets a mistaken press.
Effects go out through the channels, each delivery in its own task
(a slow webhook never holds up a handheld), and every step is appended to
the routing log with its time and actor. One timer task sleeps until the
earliest ``next_wake`` of any escalation, the next shift boundary, or a
change (new alert, roster change), whichever comes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from devices.events import EventBase
from devices.registry import Placement
from hub import resident_cancel
from hub.alerts import SYSTEM, Alert, AlertState, Command
from hub.channels.base import Channel, ChannelDown, Message, MessageKind
from hub.channels.gaps import GapWatch
from hub.channels.metrics import RoutingMetrics
from hub.errors import IllegalTransition, NotFound
from hub.relatives.book import RelativesBook
from hub.relatives.model import recipient_of
from hub.routing import engine, policy, restore, roster
from hub.routing.engine import Context, Escalation
from hub.routing.log import RoutingKind, RoutingRecord
from hub.routing.policy import RELATIVES_CHANNEL, Policy, Target
from hub.service import Hub
from rules.decisions import Category

log = logging.getLogger("trygg.routing")

LOG_WINDOW = timedelta(hours=24)  # shift-log entries older than this never matter
MAX_SLEEP_S = 60.0  # the coverage check runs at least this often


class Router:
    channel = "routing"

    def __init__(
        self,
        hub: Hub,
        channels: Sequence[Channel],
        *,
        policies: Sequence[Policy] = (),
        clock: Callable[[], datetime] | None = None,
        relatives: RelativesBook | None = None,
    ) -> None:
        self.hub = hub
        self.relatives = relatives  # None: every relatives step is skipped
        self.channels = {c.name: c for c in channels}
        self.policies = tuple(policies)
        self.metrics = RoutingMetrics(hub.metrics.registry)
        self._clock = clock or hub._clock
        self._escalations: dict[str, Escalation] = {}
        self._shifts: list[roster.Shift] = []
        self._logs: list[roster.ShiftLog] = []
        self.gaps = GapWatch(self)
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._seen_states: dict[str, AlertState] = {}

    # --- life cycle -----------------------------------------------------------------

    async def start(self) -> None:
        await self.reload_roster()
        for alert in self.hub.open_alerts():
            self.gaps.adopt(alert)
            if not await self._resume(alert):
                self._on_change(alert)

    async def _resume(self, alert: Alert) -> bool:
        """Carry on an escalation from the routing log (after a restart), not from step 1."""
        chain = self._chain(alert)
        if chain is None or alert.state not in (AlertState.RAISED, AlertState.NOTIFIED):
            return False
        records = await self.hub.run_store(self.hub.store.routing_log, alert.id)
        esc = restore.restore(alert, chain, records)
        if esc is None:
            return False
        if resident_cancel.stops_escalation(alert):
            esc = replace(esc, quiet=True)
        self._escalations[alert.id] = esc
        self._seen_states[alert.id] = alert.state
        now = self._clock()
        detail = f"step {esc.step}, {len(esc.recipients)} waiting"
        self.record(
            RoutingRecord(alert.id, now, RoutingKind.RESUMED, SYSTEM, step=esc.step, detail=detail)
        )
        log.info("escalation resumed", extra={"alert_id": alert.id, "step": esc.step})
        return True

    def _chain(self, alert: Alert) -> policy.Chain | None:
        return policy.choose(
            self.policies, alert.site, alert.unit, alert.category, alert.priority, alert.kind
        )

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            self.tick()
            delay = self._sleep_for()
            with contextlib.suppress(TimeoutError):
                waiter = asyncio.ensure_future(self._wake.wait())
                stopper = asyncio.ensure_future(stop.wait())
                try:
                    await asyncio.wait(
                        {waiter, stopper}, timeout=delay, return_when=asyncio.FIRST_COMPLETED
                    )
                finally:
                    waiter.cancel()
                    stopper.cancel()
        await self.drain()

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _sleep_for(self) -> float:
        now = self._clock()
        wakes = [w for e in self._escalations.values() if (w := engine.next_wake(e))]
        wakes.append(roster.next_change(self._shifts, now))
        seconds = (min(wakes) - now).total_seconds()
        return max(0.0, min(seconds, MAX_SLEEP_S))

    async def reload_roster(self) -> None:
        store = self.hub.store
        since = self._clock() - LOG_WINDOW
        self._shifts = await self.hub.run_store(store.list_shifts)
        self._logs = await self.hub.run_store(store.shift_logs, since)
        self._wake.set()

    def context(self, now: datetime, new: Alert | None = None) -> Context:
        duty = roster.on_duty(self._shifts, self._logs, now)
        busy: dict[str, int] = {}
        open_alerts = self.hub.open_alerts()
        for alert in open_alerts:
            if alert.accepted_by:
                busy[alert.accepted_by] = busy.get(alert.accepted_by, 0) + 1
        reach = {}
        if self.relatives is not None:
            alerts = [*open_alerts, new] if new is not None else open_alerts
            reach = self.relatives.reach_all(alerts, now, self._tells_relatives)
        return Context(duty, busy, reach)

    def _tells_relatives(self, alert: Alert) -> bool:
        chain = self._chain(alert)
        return chain is not None and any(s.target is Target.RELATIVES for s in chain.steps)

    def now(self) -> datetime:
        return self._clock()

    @property
    def shifts(self) -> list[roster.Shift]:
        return self._shifts

    @property
    def shift_log(self) -> list[roster.ShiftLog]:
        return self._logs

    def on_duty(self, now: datetime | None = None) -> roster.Duty:
        return roster.on_duty(self._shifts, self._logs, now or self._clock())

    # --- the hub's notifier port -------------------------------------------------------

    async def send(self, alert: Alert) -> bool:
        self._on_change(alert)
        return False  # "notified" is for a channel that delivered, not for the router

    def _on_change(self, alert: Alert) -> None:
        previous = self._seen_states.get(alert.id)
        self._seen_states[alert.id] = alert.state
        if not alert.is_open:
            self._seen_states.pop(alert.id, None)
        esc = self._escalations.get(alert.id)
        now = self._clock()
        if esc is None:
            if alert.state in (AlertState.RAISED, AlertState.NOTIFIED):
                self._start(alert, now)
            return
        before = esc.alert
        esc = engine.Escalation(**{**_fields(esc), "alert": alert})
        if alert.cancelled_by_resident and not before.cancelled_by_resident:
            stop = resident_cancel.stops_escalation(alert)
            esc, effects = engine.resident_cancelled(esc, stop)
        elif alert.state is AlertState.ACCEPTED and alert.accepted_by and previous != alert.state:
            if alert.accepted_by != SYSTEM:  # the system closing a roster gap is no response
                self.metrics.observe(alert, "accept", now)
            esc, effects = engine.accept(esc, alert.accepted_by)
        elif alert.state in (AlertState.ON_SITE, AlertState.RESOLVED, AlertState.CANCELLED):
            self.metrics.observe(alert, str(alert.state), now)
            esc, effects = engine.close(esc, alert.accepted_by)
        else:
            effects = []
        self._escalations[alert.id] = esc
        if not alert.is_open:
            del self._escalations[alert.id]
        self._carry_out(esc, effects, now)

    def _start(self, alert: Alert, now: datetime) -> None:
        chain = self._chain(alert)
        if chain is None or resident_cancel.stops_escalation(alert):
            return
        esc, effects = engine.start(alert, chain, self.context(now, alert), now)
        self._escalations[alert.id] = esc
        self._carry_out(esc, effects, now)
        self._wake.set()

    # --- inputs from staff, sensors and timers -------------------------------------------

    def on_event(self, event: EventBase, placement: Placement | None) -> None:
        """``presence.staff_in`` at an apartment records that help arrived (on site)."""
        if event.kind != "presence.staff_in" or placement is None or placement.apartment is None:
            return
        staff = getattr(event.data, "staff_id", None) or f"tag:{event.device}"
        for alert in self.hub.open_alerts():
            if (
                alert.site == placement.site
                and alert.apartment == placement.apartment
                and alert.category is not Category.TECHNICAL
                and alert.state is not AlertState.ON_SITE
            ):
                self.spawn(self._arrived(alert.id, staff))

    async def _arrived(self, alert_id: str, staff: str) -> None:
        try:
            await self.hub.command(alert_id, Command.ON_SITE, staff)
        except (IllegalTransition, NotFound) as exc:
            log.info("presence not applied: %s", exc, extra={"alert_id": alert_id})

    def tick(self) -> None:
        now = self._clock()
        ctx = self.context(now)
        for alert_id, esc in list(self._escalations.items()):
            wake = engine.next_wake(esc)
            if wake is not None and wake <= now:
                new, effects = engine.tick(esc, ctx, now)
                self._escalations[alert_id] = new
                self._carry_out(new, effects, now)
        self.gaps.check(ctx, now)

    def reject(self, alert_id: str, staff: str) -> None:
        esc = self._escalations.get(alert_id)
        if esc is None:
            raise NotFound(f"alert {alert_id} has no open escalation")
        now = self._clock()
        self.record(RoutingRecord(alert_id, now, RoutingKind.REJECTED, staff))
        new, effects = engine.reject(esc, staff, self.context(now), now)
        self._escalations[alert_id] = new
        self._carry_out(new, effects, now)
        self._wake.set()

    def relative_answer(self, alert_id: str, relative_id: str, answer: str) -> bool:
        """A relative's reply (``hub.relatives.api``): recorded in the alert's routing log
        for staff to see, then applied to the escalation. False: the alert is not open."""
        alert = next((a for a in self.hub.open_alerts() if a.id == alert_id), None)
        if alert is None:
            return False
        now = self._clock()
        who = recipient_of(relative_id)
        esc = self._escalations.get(alert_id)
        step = esc.step if esc is not None else None
        self.record(RoutingRecord(alert_id, now, RoutingKind.RELATIVE_ANSWER, who, who,
                                  RELATIVES_CHANNEL, step, answer))  # fmt: skip
        log.info("relative answered", extra={"alert_id": alert_id, "answer": answer})
        if esc is not None:
            new, effects = engine.relative_answer(esc, who, answer, self.context(now), now)
            self._escalations[alert_id] = new
            self._carry_out(new, effects, now)
            self._wake.set()
        return True

    def on_my_way(self, alert_id: str, staff: str) -> None:
        self.record(RoutingRecord(alert_id, self._clock(), RoutingKind.ON_MY_WAY, staff))

    async def accept(self, alert_id: str, staff: str, site: str | None = None) -> Alert | None:
        """An accept from a handheld: the hub decides; a loser is told who won. An alert
        that is no longer open is never taken (the hub refuses), only told about."""
        try:
            return await self.hub.command(alert_id, Command.ACCEPT, staff)
        except NotFound:
            log.warning("accept for an unknown alert ignored", extra={"alert_id": alert_id})
            return None
        except IllegalTransition:
            esc = self._escalations.get(alert_id)
            alert = (
                esc.alert if esc else await self.hub.run_store(self.hub.store.get_alert, alert_id)
            )
            if site is not None and alert is not None and alert.site != site:
                return None  # another site's alert: nothing to tell this handheld
            if alert is not None and alert.accepted_by and alert.accepted_by != staff:
                now = self._clock()
                self._carry_out(esc, [engine.Told(alert_id, staff, alert.accepted_by)], now, alert)
            return None

    def receipt(self, site: str, staff: str, alert_id: str, status: str) -> None:
        """From the handheld: delivered/read are recorded; the buttons act. Only on an
        open alert of the topic's site: a handheld never acts on another site's alert."""
        alert = next((a for a in self.hub.open_alerts() if a.id == alert_id), None)
        acts = status in ("reject", "on_my_way") or (status == "accept" and alert is not None)
        if acts and (alert is None or alert.site != site):
            log.warning(
                "handheld %s ignored: no open alert on its site", status,
                extra={"alert_id": alert_id, "site": site},
            )  # fmt: skip
            return
        if status in ("delivered", "read"):
            now = self._clock()
            self.record(
                RoutingRecord(
                    alert_id, now, RoutingKind.RECEIPT, staff, staff, "mqtt", detail=status
                )
            )
            alert = self._escalations.get(alert_id)
            if alert is not None:
                self.hub.delivered(alert.alert, "mqtt")
        elif status == "reject":
            with contextlib.suppress(NotFound):
                self.reject(alert_id, staff)
        elif status == "on_my_way":
            self.on_my_way(alert_id, staff)
        else:
            self.spawn(self.accept(alert_id, staff, site))

    def inform(self, alert: Alert, recipients: Sequence[str], reason: str) -> None:
        """Tell people about an alert outside any chain (supervision's technical alerts)."""
        now = self._clock()
        for who in recipients:
            self.record(
                RoutingRecord(alert.id, now, RoutingKind.NOTIFY, SYSTEM, who, "mqtt", 0, reason)
            )
            msg = Message(MessageKind.NOTIFY, who, alert.site, alert, now, step=0, reason=reason)
            self.deliver("mqtt", msg, escalate=False)

    def withdraw(self, alert: Alert, recipients: Sequence[str], by: str) -> None:
        """The alert of :meth:`inform` closed: withdraw it from those told."""
        now = self._clock()
        for who in recipients:
            self.record(
                RoutingRecord(alert.id, now, RoutingKind.WITHDRAWN, SYSTEM, who, "mqtt", detail=by)
            )
            msg = Message(MessageKind.WITHDRAW, who, alert.site, alert, now, by=by)
            self.deliver("mqtt", msg, escalate=False)

    # --- effects --------------------------------------------------------------------------

    def _carry_out(
        self,
        esc: Escalation | None,
        effects: Sequence[engine.Effect],
        now: datetime,
        alert: Alert | None = None,
    ) -> None:
        alert = alert or (esc.alert if esc else None)
        if alert is None:
            return
        for effect in effects:
            record = restore.record_of(alert.id, effect, now)
            if record is not None:
                self.record(record)
            if isinstance(effect, engine.Notify):
                msg = Message(
                    MessageKind.NOTIFY,
                    effect.recipient,
                    alert.site,
                    alert,
                    now,
                    step=effect.step,
                    reason=effect.reason,
                )
                self.deliver(effect.channel, msg, escalate=True)
            elif isinstance(effect, engine.Escalated):
                self.metrics.escalations.labels(str(alert.category), str(alert.priority)).inc()
                log.warning(
                    "alert escalated",
                    extra={"alert_id": alert.id, "step": effect.to_step, "reason": effect.reason},
                )
            elif isinstance(effect, engine.Withdraw):
                msg = Message(
                    MessageKind.WITHDRAW, effect.recipient, alert.site, alert, now, by=effect.by
                )
                self.deliver(effect.channel, msg, escalate=False)
            elif isinstance(effect, engine.Told):
                msg = Message(
                    MessageKind.TOLD, effect.recipient, alert.site, alert, now, by=effect.by
                )
                self.deliver("mqtt", msg, escalate=False)
            else:
                self.gaps.alert_in_gap(effect.site, effect.unit, alert, now)

    def deliver(self, channel_name: str, message: Message, *, escalate: bool) -> None:
        channel = self.channels.get(channel_name)
        if channel is None:
            log.error(
                "no channel %s configured", channel_name, extra={"alert_id": message.alert.id}
            )
            self.metrics.failures.labels(channel_name).inc()
            self.record(
                RoutingRecord(
                    message.alert.id,
                    self._clock(),
                    RoutingKind.FAILED,
                    SYSTEM,
                    message.recipient,
                    channel_name,
                    message.step,
                    "channel not configured",
                )
            )
            if escalate:
                # Not from inside this call: the next step may use the same missing channel.
                asyncio.get_running_loop().call_soon(self._failed, message)
            return
        self.spawn(self._send(channel, message, escalate))

    async def _send(self, channel: Channel, message: Message, escalate: bool) -> None:
        sent = asyncio.get_running_loop().time()
        try:
            await channel.deliver(message)
        except ChannelDown as exc:
            log.error(
                "delivery failed: %s",
                exc,
                extra={"alert_id": message.alert.id, "channel": channel.name},
            )
            self.metrics.failures.labels(channel.name).inc()
            self.record(
                RoutingRecord(
                    message.alert.id,
                    self._clock(),
                    RoutingKind.FAILED,
                    SYSTEM,
                    message.recipient,
                    channel.name,
                    message.step,
                    str(exc)[:200],
                )
            )
            if escalate:
                self._failed(message)
            return
        self.metrics.delivery.labels(channel.name).observe(asyncio.get_running_loop().time() - sent)
        self.record(
            RoutingRecord(
                message.alert.id,
                self._clock(),
                RoutingKind.DELIVERED,
                SYSTEM,
                message.recipient,
                channel.name,
                message.step,
            )
        )
        # A relative's text is not staff knowing: only staff channels make an alert notified.
        if message.kind is MessageKind.NOTIFY and channel.name != RELATIVES_CHANNEL:
            self.hub.delivered(message.alert, channel.name)

    def _failed(self, message: Message) -> None:
        esc = self._escalations.get(message.alert.id)
        if esc is None:
            return
        now = self._clock()
        new, effects = engine.failed(esc, message.recipient, self.context(now), now)
        self._escalations[esc.alert.id] = new
        self._carry_out(new, effects, now)
        self._wake.set()

    def record(self, record: RoutingRecord) -> None:
        self.spawn(self.hub.run_store(self.hub.store.append_routing, [record]))

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def escalation(self, alert_id: str) -> Escalation | None:
        return self._escalations.get(alert_id)

    def relatives_deadline(self, alert_id: str) -> datetime | None:
        """When staff are told if the alert is at a relatives step (the relative's text)."""
        esc = self._escalations.get(alert_id)
        if esc is None or esc.closed or esc.current.target is not Target.RELATIVES:
            return None
        return esc.step_started + esc.current.timeout


def _fields(esc: Escalation) -> dict[str, Any]:
    return {name: getattr(esc, name) for name in esc.__dataclass_fields__}
