"""The hub's shell around the pure core: messages in, stored events and live alerts out.

Flow for one message (all on the event loop, no awaits on the hot path):
validate -> check topic -> drop duplicates by id -> look up the placement ->
evaluate the rules -> raise or join alerts and notify at once -> queue the
event for the store. A flusher task commits queued events in batches (group
commit: whatever arrived while the previous batch was being written goes into
the next one) and only then acknowledges the messages to the broker, so a hub
killed mid-batch loses nothing and the broker redelivers. Alerts never wait
for a batch: they are notified first and persisted by their own writer; an
event that raised an alert is acknowledged only once that alert is stored.

The store is synchronous and used from exactly one thread (``run_store``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from time import perf_counter
from typing import Any, Protocol, TypeVar

import uuid6

from devices.errors import EventRejected
from devices.events import EventBase, parse_event
from devices.registry import MemoryRegistry, Placement
from hub import decide, logctx, resident_cancel
from hub.alerts import SYSTEM, Alert, AlertState, Command, Outcome, Transition, transition
from hub.consent.gate import ConsentGate
from hub.errors import NotFound, StoreError
from hub.feed import AlertFeed
from hub.gateway_config import config_changed
from hub.metrics import Metrics
from hub.registry.sightings import GatewaySightings
from hub.ruleset import RuleSet
from hub.store.base import AlertFilter, Store
from rules.decisions import Decision, Raise, Release, Suppressed
from rules.flood import FloodGuard, Verdict

log = logging.getLogger("trygg.hub")

T = TypeVar("T")
Ack = Callable[[], None]
RuleFn = Callable[[Any, EventBase, datetime, Placement | None], tuple[Any, list[Decision]]]

OPEN_STATES = tuple(s for s in AlertState if s.is_open)
SEEN_IDS = 200_000  # recently seen event ids kept for duplicate detection
# Events per commit at most. Under a flood every commit is full and a commit
# has a large fixed part: on the loaded bench machine ~250 ms per 1,935 events
# and ~345 ms per 4,450 (PostgreSQL backlog runs back to back, 7,751 vs 12,163
# events/s; docs/benchmarks.md). Half of hub.mqtt.PENDING_MAX, so the next batch
# is handled while one commits. Under a light load a batch is what arrived while
# the previous commit ran, so this never delays an ack.
MAX_BATCH = 5_000
MAX_SKEW = timedelta(minutes=5)
RETRY_MAX_S = 30.0
COMMAND_PERSIST_WAIT_S = 5.0
RULE_WAKE_MAX_S = 60.0
LAST_PRESSES = 50_000  # devices whose last alarm press is remembered (resident cancel)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_alert_id() -> str:
    return str(uuid6.uuid7())


class Notifier(Protocol):
    """A delivery channel for alert changes (MQTT handhelds, webhooks, ...)."""

    channel: str

    async def send(self, alert: Alert) -> bool:
        """Deliver the alert's current state; True once the channel has it."""
        ...


def parse_topic(topic: str) -> tuple[str, str] | None:
    """``trygg/v1/{site}/{gateway}/events`` -> (site, gateway)."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != "trygg" or parts[1] != "v1" or parts[4] != "events":
        return None
    return parts[2], parts[3]


class _Pending:
    __slots__ = ("acks", "alert_written", "event", "received_at")

    def __init__(self, event: EventBase, received_at: datetime, ack: Ack | None) -> None:
        self.event = event
        self.received_at = received_at
        # Copies that arrive before the commit are acknowledged with it.
        self.acks: list[Ack] = [] if ack is None else [ack]
        self.alert_written: asyncio.Future[None] | None = None


class Hub:
    def __init__(
        self,
        store: Store,
        *,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime] = utcnow,
        new_id: Callable[[], str] = new_alert_id,
        rules: RuleFn | None = None,
        max_batch: int = MAX_BATCH,
        resident_cancel_window_s: float = resident_cancel.DEFAULT_WINDOW_S,
    ) -> None:
        self.store = store
        self.resident_cancel_window_s = resident_cancel_window_s
        self.metrics = metrics or Metrics()
        self.feed = AlertFeed()
        self.feed.on_subscribe = self._board_opened
        self.registry = MemoryRegistry()
        self.gateway_sightings = GatewaySightings()  # statuses as supervision read them
        # Called after every registry change (supervision re-reads which devices to watch).
        self.registry_listeners: list[Callable[[], Awaitable[None]]] = []
        self.consent = ConsentGate(self.metrics.registry)
        self.broker_connected = False
        self._clock = clock
        self._new_id = new_id
        # The default pack unless told otherwise; a RuleSet also has timers and reload.
        self._rules: RuleFn = rules if rules is not None else RuleSet()
        if (bind := getattr(self._rules, "bind_metrics", None)) is not None:
            bind(self.metrics)  # rule reloads ok/failed
        self._rule_state: Any = {}
        self._rule_timer: asyncio.TimerHandle | None = None
        self._rule_wake: datetime | None = None
        self._max_batch = max_batch
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="trygg-store")
        self._notifiers: list[Notifier] = []
        # Told about every valid new event after the rules (e.g. presence -> on site).
        self.event_listeners: list[Callable[[EventBase, Placement | None], None]] = []
        self._open: dict[str, Alert] = {}
        self._open_by_key: dict[decide.OpenKey, Alert] = {}
        # The latest plain alarm press per device: a press right after it repeats it.
        self._last_press: OrderedDict[str, datetime] = OrderedDict()
        # Alerts a rule may still cancel: kept from every channel until released.
        self._held: dict[decide.OpenKey, decide.Held] = {}
        # A device sending far more than any sensor does is stored, not evaluated.
        self.flood = FloodGuard()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._pending: list[_Pending] = []
        self._uncommitted: dict[str, _Pending] = {}
        self._alert_writes_open = 0  # queued or being written
        self._alert_writes: asyncio.Queue[tuple[Alert, Transition | None, asyncio.Future[None]]]
        self._wake: asyncio.Event
        self._idle: asyncio.Event
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()
        self._store_ok = True

    # --- life cycle ---------------------------------------------------------------

    async def start(self) -> None:
        self._alert_writes = asyncio.Queue()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        await self.reload_registry()
        await self.reload_consent()
        for alert in await self.run_store(
            self.store.list_alerts, AlertFilter(states=OPEN_STATES, limit=100_000)
        ):
            self._remember(alert)
            self._seen.update(dict.fromkeys(alert.event_ids))
        restore = getattr(self._rules, "restore", None)
        if restore is not None:  # rule timers (a stove already on) survive a restart
            try:
                await self.run_store(restore, self.store, self.registry.placement, self._clock())
            except Exception:  # a hub without its old timers beats a hub that will not start
                self.metrics.rule_errors.inc()
                log.exception("rule state not rebuilt: starting with no pending rule timers")
            self.arm_rule_timer(force=True)
        self._tasks = [
            asyncio.create_task(self._flush_loop(), name="trygg-flush"),
            asyncio.create_task(self._alert_writer(), name="trygg-alert-writer"),
        ]
        log.info(
            "hub started", extra={"open_alerts": len(self._open), "devices": len(self.registry)}
        )

    async def stop(self) -> None:
        """Commit what is queued, then stop. Unacknowledged messages stay with the broker."""
        try:
            await self.drain()
        except TimeoutError:
            # The store is down: what was not committed was not acked either, so
            # the broker redelivers it to the next hub.
            log.error("stopping with %d events not stored", len(self._pending))
        if self._rule_timer is not None:
            self._rule_timer.cancel()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._executor.shutdown(wait=True)

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait until every queued event and alert write has been committed."""

        async def _wait() -> None:
            while self._pending or not self._idle.is_set() or self._alert_writes_open:
                await asyncio.sleep(0.005)

        await asyncio.wait_for(_wait(), timeout)

    async def reload_registry(self) -> None:
        placements = await self.run_store(self.store.placements)
        registry = MemoryRegistry({p.device: p for p in placements})
        self.registry = registry
        config_changed()  # the gateways' synced configs follow (hub/gateway_config.py)
        for listener in list(self.registry_listeners):
            try:
                await listener()
            except Exception:  # one failing listener must not stop the others or the caller
                log.exception("registry listener failed")

    async def reload_consent(self) -> None:
        """Load the legal bases again (after any change to them: the API calls this)."""
        store = self.store
        bases, zones = await self.run_store(lambda: (store.list_bases(), store.site_zones()))
        self.consent.load(bases, zones)
        config_changed()

    def add_notifier(self, notifier: Notifier) -> None:
        self._notifiers.append(notifier)

    async def run_store(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def health(self) -> dict[str, object]:
        ok = self.broker_connected and self._store_ok
        return {
            "status": "ok" if ok else "degraded",
            "broker_connected": self.broker_connected,
            "store_ok": self._store_ok,
            "open_alerts": len(self._open),
            "queued_events": len(self._pending),
        }

    @property
    def queued_events(self) -> int:
        """Handled events waiting for the store (the MQTT adapter stops taking more)."""
        return len(self._pending)

    def open_alerts(self) -> list[Alert]:
        return list(self._open.values())

    # --- ingest (hot path) ---------------------------------------------------------

    def handle_message(self, payload: bytes, topic: str, ack: Ack | None = None) -> None:
        """Take one message from the broker. Never raises: a bad message is counted,
        logged and acknowledged (so it is not redelivered forever)."""
        m = self.metrics
        m.events_received.inc()
        try:
            event = parse_event(payload)
            origin = parse_topic(topic)
            if origin is None or origin != (event.site, event.gateway):
                raise EventRejected(
                    "bad_topic", f"event from {event.site}/{event.gateway} on {topic}"
                )
        except EventRejected as exc:
            m.events_rejected.labels(exc.reason).inc()
            log.warning(
                "event rejected",
                extra={"reason": exc.reason, "detail": exc.detail[:300], "topic": topic},
            )
            if ack is not None:
                ack()
            return
        # Every line logged while this event is handled carries its ids (hub.logctx).
        token = logctx.bind(
            event_id=event.id, site=event.site, gateway=event.gateway, kind=event.kind
        )
        try:
            self._accept(event, ack)
        finally:
            logctx.unbind(token)

    def _accept(self, event: EventBase, ack: Ack | None) -> None:
        m = self.metrics
        if event.id in self._seen:
            m.events_duplicate.inc()
            if ack is not None:
                waiting = self._uncommitted.get(event.id)
                # After a reconnect the broker redelivers the very message we hold:
                # acking this copy now would ack the original before it is stored.
                if waiting is not None:
                    waiting.acks.append(ack)
                else:
                    ack()
            return
        self._remember_seen(event.id)
        now = self._clock()
        if not self._lawful(event, now):
            if ack is not None:
                ack()
            return
        pending = _Pending(event, now, ack)
        started = perf_counter()
        try:
            self._evaluate(event, now, pending)
        except Exception:
            # A failing rule must never cost the event: it is still stored.
            m.rule_errors.inc()
            log.exception(
                "rule evaluation failed", extra={"event_id": event.id, "kind": event.kind}
            )
        m.rules_seconds.observe(perf_counter() - started)
        self._pending.append(pending)
        self._uncommitted[event.id] = pending
        self._wake.set()

    def _lawful(self, event: EventBase, now: datetime) -> bool:
        """No legal basis, no processing: dropped before rules and store, only counted."""
        return self.consent.admit(event, self.registry.placement(event.device), now)

    def _remember_seen(self, event_id: str) -> None:
        seen = self._seen
        seen[event_id] = None
        if len(seen) > SEEN_IDS:
            seen.popitem(last=False)

    def _evaluate(self, event: EventBase, now: datetime, pending: _Pending) -> None:
        placement = self.registry.placement(event.device)
        if placement is None:
            self.metrics.events_unknown_device.inc()
        if event.ts - now > MAX_SKEW:
            self.metrics.clock_skew.inc()
        verdict = self.flood.admit(event.device, event.ts)
        if verdict is not Verdict.EVALUATE:
            self.metrics.events_flood_contained.inc()
            if verdict is Verdict.STARTED:
                log.warning("device flooding", extra={"device": event.device})
                self._apply([self.flood.alert(event.device)], event, placement, now, pending)
            return
        self._rule_state, decisions = self._rules(self._rule_state, event, now, placement)
        for listener in self.event_listeners:
            listener(event, placement)
        decisions = self._cancel_by_resident(event, decisions, now, pending)
        if decisions:
            self._apply(decisions, event, placement, now, pending)
        self.arm_rule_timer()

    def _apply(
        self,
        decisions: list[Decision],
        event: EventBase,
        placement: Placement | None,
        now: datetime,
        pending: _Pending | None,
    ) -> None:
        for d in decisions:
            if isinstance(d, Suppressed):
                self.metrics.alerts_suppressed.labels(d.rule, d.reason).inc()
                log.info(
                    "alert suppressed",
                    extra={"rule": d.rule, "reason": d.reason, "event_id": event.id},
                )
        written: asyncio.Future[None] | None = None
        for effect in decide.apply(
            decisions, event, placement, self._open_by_key, self._new_id, now,
            self.registry.placement, self._held,
        ):  # fmt: skip
            if isinstance(effect, decide.Raised):
                written = self._on_raised(effect.alert, effect.transition, now)
            elif isinstance(effect, decide.Held | decide.Released | decide.Withdrawn):
                written = self._on_held(effect, now) or written
            else:
                if isinstance(effect, decide.Changed):
                    log.info(
                        "alert %s by rule", effect.alert.state, extra={"alert_id": effect.alert.id}
                    )
                record = effect.transition if isinstance(effect, decide.Changed) else None
                self._remember(effect.alert)
                self._dispatch(effect.alert)
                written = self._write_alert(effect.alert, record)
        if pending is not None and written is not None:
            pending.alert_written = written

    def _cancel_by_resident(
        self, event: EventBase, decisions: list[Decision], now: datetime, pending: _Pending
    ) -> list[Decision]:
        """A second press or the cancel key marks open alerts (``hub.resident_cancel``);
        such a press raises and joins nothing. Other events pass through untouched."""
        policy_of = getattr(self._rules, "resident_cancel", None)
        if event.kind != resident_cancel.BUTTON or policy_of is None:
            return decisions
        previous = self._last_press.get(event.device)
        if not resident_cancel.is_cancel_key(event):
            self._last_press[event.device] = max(event.ts, previous or event.ts)
            self._last_press.move_to_end(event.device)
            if len(self._last_press) > LAST_PRESSES:
                self._last_press.popitem(last=False)
        verdict = resident_cancel.judge(
            event, self._open.values(), policy_of, self.resident_cancel_window_s, now, previous
        )
        for cancelled in verdict.cancelled:
            alert = cancelled.alert
            self.metrics.alerts_cancelled_by_resident.labels(str(alert.category)).inc()
            log.info(
                "alert cancelled by resident",
                extra={"alert_id": alert.id, "rule": alert.rule, "priority": str(alert.priority)},
            )
            self._remember(alert)
            self._dispatch(alert)
            pending.alert_written = self._write_alert(alert, cancelled.transition)
        if not verdict.consumed:
            return decisions
        if not verdict.cancelled:
            log.info("cancel key with no alert to cancel", extra={"device": event.device})
        # The press was a cancel: it is no call for help, so none of its own raises stand.
        return [d for d in decisions if not (isinstance(d, Raise) and d.event is None)]

    # --- rule timers (the engine says when it next needs waking) -------------------

    def arm_rule_timer(self, force: bool = False) -> None:
        """Sleep until the engine's next timer (at most a minute, so a clock that jumps
        forward is noticed); ``force`` re-arms even when the wake time is unchanged."""
        next_wake = getattr(self._rules, "next_wake", None)
        wake = next_wake() if next_wake is not None else None
        if self._rule_timer is not None and wake == self._rule_wake and not force:
            return
        self._rule_wake = wake
        if self._rule_timer is not None:
            self._rule_timer.cancel()
            self._rule_timer = None
        if wake is None:
            return
        delay = min(RULE_WAKE_MAX_S, max(0.0, (wake - self._clock()).total_seconds()))
        self._rule_timer = asyncio.get_running_loop().call_later(delay, self._on_rule_timer)

    def next_rule_wake(self) -> datetime | None:
        next_wake = getattr(self._rules, "next_wake", None)
        return next_wake() if next_wake is not None else None

    def tick_rules(self) -> None:
        """Fire the rule timers due at the hub's clock (the asyncio timer calls this)."""
        if self._rule_timer is not None:
            self._rule_timer.cancel()
        self._on_rule_timer()

    def _on_rule_timer(self) -> None:
        self._rule_timer = None
        now = self._clock()
        try:
            for d in getattr(self._rules, "tick")(now):  # noqa: B009
                source = d.event if isinstance(d, Raise) and d.event is not None else None
                if source is not None:
                    self._apply([d], source, self.registry.placement(source.device), now, None)
                elif isinstance(d, Release) and (held := self._held.get((d.rule, d.device))):
                    self._on_held(decide.Released(held.alert, held.transition), now)
                elif isinstance(d, Suppressed):
                    self.metrics.alerts_suppressed.labels(d.rule, d.reason).inc()
                    log.info("alert suppressed", extra={"rule": d.rule, "reason": d.reason})
        except Exception:
            self.metrics.rule_errors.inc()
            log.exception("rule timer failed")
        self.arm_rule_timer()

    def _on_held(
        self, effect: decide.Held | decide.Released | decide.Withdrawn, now: datetime
    ) -> asyncio.Future[None] | None:
        """A held alert is in memory only: no channel, board or API sees it until released."""
        alert = effect.alert
        key = decide.open_key(alert)
        if isinstance(effect, decide.Held):
            if key not in self._held:
                log.info("alert held", extra={"alert_id": alert.id, "rule": alert.rule})
            self._held[key] = effect
            return None
        del self._held[key]
        if isinstance(effect, decide.Released):
            return self._on_raised(alert, effect.transition, now)
        log.info("alert cancelled before dispatch", extra={"alert_id": alert.id, "rule": alert.rule})
        self.metrics.alerts_withdrawn.labels(alert.rule).inc()
        self._write_alert(effect.held, effect.raised)
        return self._write_alert(alert, effect.cancelled)

    def _on_raised(self, alert: Alert, record: Transition, now: datetime) -> asyncio.Future[None]:
        with logctx.correlate(alert_id=alert.id, rule=alert.rule, unit=alert.unit):
            return self._raised(alert, record)

    def _raised(self, alert: Alert, record: Transition) -> asyncio.Future[None]:
        self.metrics.alerts_raised.labels(alert.category, alert.priority).inc()
        self._remember(alert)
        written = self._write_alert(alert, record)
        log.info(
            "alert raised",
            extra={
                "alert_id": alert.id,
                "rule": alert.rule,
                "category": str(alert.category),
                "priority": str(alert.priority),
                "site": alert.site,
                "unit": alert.unit,
                "event_id": alert.event_ids[0] if alert.event_ids else None,
            },
        )
        if len(self.feed):
            # Someone has the board open: it shows the alert now.
            return self._notify(alert.id, "board") or written
        self._dispatch(alert)  # notified once a channel confirms delivery
        return written

    def raise_alert(self, make: Callable[[str, datetime], tuple[Alert, Transition]]) -> Alert:
        """Raise an alert that no event raised (e.g. nobody on duty): ``make(id, now)``."""
        now = self._clock()
        alert, record = make(self._new_id(), now)
        self._on_raised(alert, record, now)
        return alert

    def delivered(self, alert: Alert, channel: str) -> None:
        """A channel confirms it has the alert (e.g. the broker acked it)."""
        self._notify(alert.id, channel)

    def _notify(self, alert_id: str, channel: str) -> asyncio.Future[None] | None:
        """``raised -> notified`` once a channel has the alert; later deliveries change nothing."""
        alert = self._open.get(alert_id)
        if alert is None or alert.state is not AlertState.RAISED:
            return None
        now = self._clock()
        notified, record = transition(alert, Command.NOTIFY, SYSTEM, now, note=f"via {channel}")
        self._remember(notified)
        self.metrics.alert_latency.observe(max(0.0, (now - alert.event_ts).total_seconds()))
        self._dispatch(notified)
        return self._write_alert(notified, record)

    def _board_opened(self) -> None:
        for alert in list(self._open.values()):
            if alert.state is AlertState.RAISED:
                self._notify(alert.id, "board")

    # --- alert commands (API) -------------------------------------------------------

    async def command(
        self,
        alert_id: str,
        command: Command,
        actor: str,
        *,
        outcome: Outcome | None = None,
        note: str | None = None,
    ) -> Alert:
        with logctx.correlate(alert_id=alert_id):
            return await self._command(alert_id, command, actor, outcome, note)

    async def _command(
        self, alert_id: str, command: Command, actor: str, outcome: Outcome | None,
        note: str | None,
    ) -> Alert:  # fmt: skip
        alert = self._open.get(alert_id)
        if alert is None:
            stored = await self.run_store(self.store.get_alert, alert_id)
            if stored is None:
                raise NotFound(f"alert {alert_id} not found")
            alert = self._open.get(alert_id, stored)
        new, record = transition(alert, command, actor, self._clock(), outcome=outcome, note=note)
        if new.state is AlertState.ACCEPTED and alert.state is not AlertState.ACCEPTED:
            waited = (record.at - alert.raised_at).total_seconds()
            self.metrics.alert_response.labels(new.unit or "", new.category).observe(waited)
        self._remember(new)
        self._dispatch(new)
        written = self._write_alert(new, record)
        log.info("alert %s", new.state, extra={"alert_id": new.id, "actor": actor})
        try:
            await asyncio.wait_for(asyncio.shield(written), COMMAND_PERSIST_WAIT_S)
        except TimeoutError:
            log.error("alert change not yet stored; retrying", extra={"alert_id": new.id})
        return new

    # --- alert bookkeeping ------------------------------------------------------------

    def _remember(self, alert: Alert) -> None:
        key = decide.open_key(alert)
        if alert.is_open:
            self._open[alert.id] = alert
            current = self._open_by_key.get(key)
            # An alert the resident cancelled takes no more presses: a newer one does.
            if (
                current is None
                or current.id == alert.id
                or not current.is_open
                or (current.cancelled_by_resident and not alert.cancelled_by_resident)
            ):
                self._open_by_key[key] = alert
        else:
            self._open.pop(alert.id, None)
            current = self._open_by_key.get(key)
            if current is not None and current.id == alert.id:
                del self._open_by_key[key]

    def _dispatch(self, alert: Alert) -> None:
        self.feed.publish(alert)
        # The send tasks keep the ids bound here (a task copies the context).
        with logctx.correlate(alert_id=alert.id, rule=alert.rule, unit=alert.unit):
            for notifier in self._notifiers:
                self._spawn(self._send(notifier, alert))

    async def _send(self, notifier: Notifier, alert: Alert) -> None:
        try:
            if await notifier.send(alert):
                self._notify(alert.id, notifier.channel)
        except Exception:
            log.exception(
                "notifier failed", extra={"alert_id": alert.id, "notifier": type(notifier).__name__}
            )

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _write_alert(self, alert: Alert, record: Transition | None) -> asyncio.Future[None]:
        if record is not None:
            self.metrics.alert_transitions.labels(str(record.to_state)).inc()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._alert_writes_open += 1
        self._alert_writes.put_nowait((alert, record, done))
        return done

    async def _alert_writer(self) -> None:
        # One writer, in order: a retried write can never overwrite a newer state.
        while True:
            alert, record, done = await self._alert_writes.get()
            with logctx.correlate(alert_id=alert.id):
                await self._retry(lambda a=alert, r=record: self.store.save_alert(a, r), "alert")
            self._alert_writes_open -= 1
            if not done.done():
                done.set_result(None)

    # --- batched event writes ------------------------------------------------------------

    async def _flush_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                self._idle.clear()
                self.metrics.queue_depth.set(len(self._pending))
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                await self._commit(batch)
                self.metrics.queue_depth.set(len(self._pending))
            self._idle.set()

    async def _commit(self, batch: Sequence[_Pending]) -> None:
        rows = [(p.event, p.received_at) for p in batch]
        started = asyncio.get_running_loop().time()
        stored = await self._retry(lambda: self.store.append_events(rows), "events")
        m = self.metrics
        m.store_batch_seconds.observe(asyncio.get_running_loop().time() - started)
        m.store_batch_size.observe(len(batch))
        m.events_stored.inc(stored)
        waits = [p.alert_written for p in batch if p.alert_written is not None]
        if waits:
            await asyncio.gather(*waits)
        for p in batch:
            del self._uncommitted[p.event.id]
            for ack in p.acks:
                ack()

    async def _retry(self, fn: Callable[[], T], what: str) -> T:
        delay = 0.1
        while True:
            try:
                result = await self.run_store(fn)
            except StoreError as exc:
                self._store_ok = False
                self.metrics.store_up.set(0)
                self.metrics.store_failures.inc()
                log.error(
                    "store write failed, retrying in %.1f s: %s", delay, exc, extra={"what": what}
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            self._store_ok = True
            self.metrics.store_up.set(1)
            return result
