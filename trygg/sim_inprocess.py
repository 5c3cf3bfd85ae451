"""Run a scenario against an in-process hub on a simulated clock: a week in seconds, for tests.

The hub gets the scenario's clock (``Hub(clock=...)``): before each event is
handed over, the clock is set to the event's planned instant, so everything
the hub stamps (``raised_at``, transitions) is scenario time and DST nights
are exactly what they would be. Events go through ``Hub.handle_message``,
the same validation and rules path as MQTT messages, with the topic a gateway
would use. The store is a fresh ``MemoryStore`` seeded from the scenario
and with the demo's legal bases (so its events are lawful) unless one is given.

Between events the clock moves to every rule timer that is due and the hub's
timers are woken there (a stove left on raises 20 simulated minutes later, a held
alert is released a minute after that), and after the last event it runs on to
the scenario's end plus :data:`SETTLE` so a hold that started just before the end
is released. The rules are the default pack plus the scenario's
``rule_overrides`` (see :func:`scenario_rules`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import uuid6
import yaml

from devices.events import make_event
from hub.alerts import Alert
from hub.ruleset import RuleSet, default_pack_text
from hub.service import Hub, RuleFn
from hub.store.base import AlertFilter, Store
from hub.store.memory import MemoryStore
from simulators.player import event_topic
from simulators.scenario import PlannedEvent, Scenario
from simulators.verify import RaisedAlert, Report, due_alerts, match_alerts
from trygg.seed import seed_registry
from trygg.seed_consent import seed_demo_bases

ALERT_LIMIT = 100_000
SETTLE = timedelta(minutes=5)


def scenario_rule_file(scenario: Scenario) -> str | None:
    """The scenario's ``rule_overrides`` as a site rule file (for a hub's ``TRYGG_RULES``
    next to the default pack), or None when it has none."""
    if not scenario.rule_overrides:
        return None
    header = f"# Rule overrides of the scenario {scenario.name}: load after the default pack.\n"
    return header + yaml.safe_dump({"overrides": scenario.rule_overrides}, sort_keys=False)


def scenario_rules(scenario: Scenario) -> RuleSet:
    """The default pack with the scenario's overrides (a :class:`RulesInvalid` names the
    problem, with the scenario as its file)."""
    files = [default_pack_text()]
    extra = scenario_rule_file(scenario)
    if extra is not None:
        files.append((f"{scenario.name}: rule_overrides", extra))
    return RuleSet(files=files)


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
    hub: Hub  # stopped; its metrics and store stay readable


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
    hub = Hub(store, clock=clock.now, rules=rules if rules is not None else scenario_rules(scenario))
    await hub.start()
    seqs: dict[str, int] = {}

    def wake_until(at: datetime) -> None:
        while (due := hub.next_rule_wake()) is not None and due <= at:
            clock.set(due)
            hub.tick_rules()

    try:
        for item in planned:
            wake_until(item.at)
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
        wake_until(scenario.window(night)[1] + SETTLE)
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
    return InProcessRun(
        night_of=night, events=len(planned), alerts=alerts, report=report, hub=hub
    )
