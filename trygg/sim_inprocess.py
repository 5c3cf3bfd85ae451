"""Run a scenario against an in-process hub on a simulated clock: a week in seconds, for tests.

The hub gets the scenario's clock (``Hub(clock=...)``): before each event is
handed over, the clock is set to the event's planned instant, so everything
the hub stamps (``raised_at``, transitions) is scenario time and DST nights
are exactly what they would be. Events go through ``Hub.handle_message``,
the same validation and rules path as MQTT messages, with the topic a gateway
would use. The store is a fresh ``MemoryStore`` seeded from the scenario
and with the demo's legal bases (so its events are lawful) unless one is given.

Limit: the hub has no timer-driven rules yet (issue 3); when it has, this
runner must also advance the clock between events for them to fire.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import uuid6

from devices.events import make_event
from hub.alerts import Alert
from hub.service import Hub, RuleFn
from hub.store.base import AlertFilter, Store
from hub.store.memory import MemoryStore
from simulators.player import event_topic
from simulators.scenario import PlannedEvent, Scenario
from simulators.verify import RaisedAlert, Report, due_alerts, match_alerts
from trygg.seed import seed_registry
from trygg.seed_consent import seed_demo_bases

ALERT_LIMIT = 100_000


class SimClock:
    """A clock that only moves when told to; never goes backwards."""

    def __init__(self, start: datetime) -> None:
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, at: datetime) -> None:
        self._now = max(self._now, at.astimezone(UTC))


@dataclass(frozen=True)
class InProcessRun:
    night_of: date
    events: int
    alerts: list[Alert]
    report: Report


def _default_night(scenario: Scenario, today: date) -> date:
    return scenario.night_of or today


async def run_in_process(
    scenario: Scenario,
    night_of: date | None = None,
    *,
    store: Store | None = None,
    rules: RuleFn | None = None,
    transform: Callable[[list[PlannedEvent]], list[PlannedEvent]] | None = None,
) -> InProcessRun:
    """Play the whole scenario into a fresh hub at simulated time; return its alerts and the
    expected-vs-raised report. ``transform`` may reorder or drop planned events (faults)."""
    night = night_of or _default_night(scenario, datetime.now(UTC).date())
    planned = scenario.plan(night)
    if transform is not None:
        planned = transform(planned)
    seed = store is None
    if store is None:
        store = MemoryStore()
        store.migrate()
        seed_registry(store, scenario)
    start, _ = scenario.window(night)
    if seed:
        seed_demo_bases(store, scenario, start)
    clock = SimClock(start)
    hub = Hub(store, clock=clock.now, **({"rules": rules} if rules is not None else {}))
    await hub.start()
    seqs: dict[str, int] = {}
    try:
        for item in planned:
            clock.set(item.at)
            seqs[item.gateway] = seqs.get(item.gateway, 0) + 1
            event = make_event(
                id=str(uuid6.uuid7()),
                site=item.site,
                gateway=item.gateway,
                device=item.device,
                kind=item.kind,
                ts=item.at,
                seq=seqs[item.gateway],
                data=dict(item.data),
            )
            hub.handle_message(event.to_json().encode(), event_topic(item.site, item.gateway))
        await hub.drain(timeout=60.0)
        stored = await hub.run_store(
            store.list_alerts, AlertFilter(site=scenario.site.id, limit=ALERT_LIMIT)
        )
    finally:
        await hub.stop()
    live = {a.id: a for a in hub.open_alerts()}
    alerts = sorted({a.id: live.get(a.id, a) for a in stored}.values(), key=lambda a: a.raised_at)
    raised = [
        RaisedAlert(
            id=a.id,
            device=a.device,
            category=str(a.category),
            priority=str(a.priority),
            rule=a.rule,
            kind=a.kind,
            resident_id=a.resident_id,
            at=a.raised_at.astimezone(UTC),
        )
        for a in alerts
    ]
    report = match_alerts(due_alerts(scenario, night), raised)
    return InProcessRun(night_of=night, events=len(planned), alerts=alerts, report=report)
