"""One store suite, run against the in-memory fake, SQLite and PostgreSQL with the same assertions.

If the fake and SQLite ever disagree, a unit test that passes on the fake would
lie about production; this suite is what keeps them the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import uuid6

from devices.events import EventBase, make_event
from devices.registry import Placement
from hub.alerts import (
    Alert,
    AlertState,
    Command,
    Outcome,
    attach_event,
    mark_cancelled_by_resident,
    raise_alert,
    transition,
)
from hub.errors import StoreError
from hub.store.base import (
    Account,
    AlertFilter,
    Device,
    EventFilter,
    PlacementRecord,
    Resident,
    Role,
    Site,
    Store,
    Unit,
)
from hub.store.common import latest_version, utc_alert
from hub.store.memory import MemoryStore
from hub.store.postgres import PostgresStore
from hub.store.sqlite import SqliteStore
from rules.decisions import Category, Priority, Raise

from pgtools import pg_schema

T0 = datetime(2024, 11, 23, 1, 0, tzinfo=UTC)
OSLO_WINTER = timezone(timedelta(hours=1))


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    backend: Store
    if request.param == "memory":
        backend = MemoryStore()
    elif request.param == "sqlite":
        backend = SqliteStore(tmp_path / "t.db")
    else:
        with pg_schema(request.getfixturevalue("postgres_dsn")) as (dsn, schema):
            backend = PostgresStore(dsn, schema=schema)
            backend.migrate()
            yield backend
            backend.close()
        return
    backend.migrate()
    yield backend
    backend.close()


# --- builders ---------------------------------------------------------------------


def ev(
    kind: str = "alarm.button",
    *,
    device: str = "dev-1",
    site: str = "site-1",
    gateway: str = "gw-1",
    ts: datetime = T0,
    seq: int = 1,
    data: dict[str, Any] | None = None,
) -> EventBase:
    return make_event(
        id=str(uuid6.uuid7()),
        site=site,
        gateway=gateway,
        device=device,
        kind=kind,
        ts=ts,
        seq=seq,
        data=data,
    )


def received(events: list[EventBase], at: datetime = T0) -> list[tuple[EventBase, datetime]]:
    return [(event, at) for event in events]


def seed_registry(store: Store) -> None:
    """site-1: unit-A (dev-1, resident res-1), unit-B (dev-2), dev-4 unplaced; site-2: dev-3."""
    store.upsert_site(Site("site-1", "Solsiden"))
    store.upsert_site(Site("site-2", "Elvebakken"))
    store.upsert_unit(Unit("unit-A", "site-1", "A"))
    store.upsert_unit(Unit("unit-B", "site-1", "B"))
    store.upsert_unit(Unit("unit-C", "site-2", "C"))
    store.upsert_resident(Resident("res-1", "site-1", "unit-A", "Johs Hansen", "H0101"))
    devices = [("dev-1", "site-1"), ("dev-2", "site-1"), ("dev-3", "site-2"), ("dev-4", "site-1")]
    for device, site in devices:
        store.upsert_device(Device(device, site, "gw-1" if site == "site-1" else "gw-2", "button"))
    store.place(PlacementRecord("dev-1", "unit-A", "H0101", "bedroom", "res-1"))
    store.place(PlacementRecord("dev-2", "unit-B", "H0201"))
    store.place(PlacementRecord("dev-3", "unit-C"))


def label(value: object) -> str:
    """A readable test id: a filter's non-default fields, or the expected names."""
    if isinstance(value, list):
        return "+".join(value) or "nothing"
    defaults = type(value)()
    changed = {
        name: getattr(value, name)
        for name in type(value).__dataclass_fields__  # type: ignore[attr-defined]
        if getattr(value, name) != getattr(defaults, name)
    }
    return ",".join(f"{k}={_short(v)}" for k, v in changed.items()) or "all"


def _short(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")
    if isinstance(value, tuple):
        return "|".join(str(v) for v in value) or "none"
    return str(value)


def new_alert(
    event: EventBase,
    *,
    unit: str | None = "unit-A",
    category: Category = Category.RESIDENT,
    rule: str = "first.alarm_button",
    raised_at: datetime = T0,
) -> tuple[Alert, Any]:
    decision = Raise(rule=rule, category=category, priority=Priority.HIGH, message="Alarm")
    placement = Placement(
        device=event.device, device_type="button", site=event.site, gateway=event.gateway, unit=unit
    )
    return raise_alert(decision, event, placement, str(uuid6.uuid7()), raised_at)


# --- migrate --------------------------------------------------------------------------


def test_migrate_is_idempotent_and_returns_the_version(store: Store) -> None:
    assert store.migrate() == latest_version()
    assert store.migrate() == latest_version()


# --- events ---------------------------------------------------------------------------


def test_append_is_idempotent_by_id(store: Store) -> None:
    events = [ev(seq=n) for n in range(3)]
    assert store.append_events(received(events)) == 3
    assert store.append_events(received(events)) == 0
    fresh = ev(seq=3)
    assert store.append_events(received([events[0], fresh, fresh])) == 1
    assert len(store.list_events(EventFilter())) == 4


def test_an_id_stored_once_is_refused_under_another_month(store: Store) -> None:
    # PostgreSQL partitions events by month and its key holds ts: the refusal
    # must come from the id alone (event_ids, migration 0009), not from (ts, id).
    first = ev(seq=1, ts=datetime.now(UTC) - timedelta(days=1))
    later = first.model_copy(update={"ts": first.ts + timedelta(days=45)})
    assert store.append_events(received([first])) == 1
    assert store.append_events(received([later, ev(seq=2)])) == 1
    stored = [s.event for s in store.list_events(EventFilter())]
    assert [e.ts for e in stored if e.id == first.id] == [first.ts]
    assert len(stored) == 2


def test_append_nothing(store: Store) -> None:
    assert store.append_events([]) == 0


def test_events_round_trip_in_utc(store: Store) -> None:
    local = ev(
        "gps.position",
        ts=T0.astimezone(OSLO_WINTER),
        data={"lat": 59.9, "lon": 10.7, "accuracy_m": 8.5},
    )
    store.append_events([(local, T0.astimezone(OSLO_WINTER) + timedelta(seconds=1))])
    [stored] = store.list_events(EventFilter())
    assert stored.event == local
    assert stored.event.data == local.data
    assert stored.event.ts.utcoffset() == timedelta(0)
    assert stored.received_at == T0 + timedelta(seconds=1)
    assert stored.received_at.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="naive"):
        store.append_events([(ev(), datetime(2024, 11, 23, 1, 0))])
    assert store.list_events(EventFilter()) == []


def test_get_events_in_the_order_asked_skipping_unknown(store: Store) -> None:
    a, b, c = ev(seq=1), ev(seq=2), ev(seq=3)
    store.append_events(received([a, b, c]))
    assert store.get_events([c.id, str(uuid6.uuid7()), a.id]) == [c, a]
    assert store.get_events([]) == []


def test_list_events_pages_newest_first_by_cursor(store: Store) -> None:
    events = [ev(seq=n, ts=T0 + timedelta(seconds=n)) for n in range(7)]
    store.append_events(received(events[:4]))
    store.append_events(received(events[4:]))
    pages: list[list[str]] = []
    cursor = None
    while True:
        page = store.list_events(EventFilter(limit=3, cursor=cursor))
        if not page:
            break
        positions = [s.position for s in page]
        assert positions == sorted(positions, reverse=True)
        pages.append([s.event.id for s in page])
        cursor = page[-1].position
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [event_id for page in pages for event_id in page] == [e.id for e in reversed(events)]


def test_positions_are_arrival_order_and_skip_no_numbers(store: Store) -> None:
    a, b, c = ev(seq=1), ev(seq=2), ev(seq=3)
    store.append_events(received([a, a, b]))
    store.append_events(received([b, c]))
    assert [s.position for s in store.list_events(EventFilter())] == [3, 2, 1]


@pytest.fixture
def night(store: Store) -> dict[str, EventBase]:
    """A small night across two sites, named so the filter table below reads."""
    seed_registry(store)
    events = {
        "press": ev("alarm.button", device="dev-1", ts=T0),
        "door": ev("door.opened", device="dev-2", ts=T0 + timedelta(minutes=1)),
        "other_site": ev(
            "alarm.button",
            device="dev-3",
            site="site-2",
            gateway="gw-2",
            ts=T0 + timedelta(minutes=2),
        ),
        "unplaced": ev("room.motion", device="dev-4", ts=T0 + timedelta(minutes=3)),
        "unregistered": ev("alarm.button", device="dev-9", ts=T0 + timedelta(minutes=4)),
    }
    store.append_events(received(list(events.values())))
    return events


MINUTE = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (EventFilter(), ["unregistered", "unplaced", "other_site", "door", "press"]),
        (EventFilter(site="site-2"), ["other_site"]),
        (EventFilter(gateway="gw-2"), ["other_site"]),
        (EventFilter(device="dev-2"), ["door"]),
        (EventFilter(kind="alarm.button"), ["unregistered", "other_site", "press"]),
        (EventFilter(site="site-1", kind="alarm.button"), ["unregistered", "press"]),
        # since is inclusive, until exclusive: [since, until)
        (EventFilter(since=T0 + MINUTE), ["unregistered", "unplaced", "other_site", "door"]),
        (EventFilter(until=T0 + MINUTE), ["press"]),
        (EventFilter(since=T0 + MINUTE, until=T0 + 3 * MINUTE), ["other_site", "door"]),
        (EventFilter(since=(T0 + MINUTE).astimezone(OSLO_WINTER), until=T0 + 2 * MINUTE), ["door"]),
        (EventFilter(units=("unit-A", "unit-C")), ["other_site", "press"]),
        (EventFilter(units=()), []),
        (EventFilter(limit=2), ["unregistered", "unplaced"]),
        (EventFilter(limit=0), []),
    ],
    ids=label,
)
def test_list_events_filters(
    store: Store, night: dict[str, EventBase], flt: EventFilter, expected: list[str]
) -> None:
    names = {event.id: name for name, event in night.items()}
    assert [names[s.event.id] for s in store.list_events(flt)] == expected


def test_unit_scope_follows_the_current_placement(
    store: Store, night: dict[str, EventBase]
) -> None:
    store.place(PlacementRecord("dev-4", "unit-A"))
    found = store.list_events(EventFilter(units=("unit-A",)))
    assert [s.event.id for s in found] == [night["unplaced"].id, night["press"].id]


# --- alerts ---------------------------------------------------------------------------


def test_alert_round_trip_with_transitions(store: Store) -> None:
    event = ev()
    alert, raised = new_alert(event, raised_at=T0.astimezone(OSLO_WINTER))
    store.save_alert(alert, raised)
    records = [raised]
    steps: list[tuple[Command, str, Outcome | None]] = [
        (Command.NOTIFY, "system", None),
        (Command.ACCEPT, "kari", None),
        (Command.RESOLVE, "kari", Outcome.ASSISTED),
    ]
    for command, actor, outcome in steps:
        at = T0 + MINUTE * len(records)
        alert, record = transition(alert, command, actor, at, outcome=outcome, note="helped")
        store.save_alert(alert, record)
        records.append(record)
    stored = store.get_alert(alert.id)
    assert stored == alert
    assert stored is not None and stored.raised_at.utcoffset() == timedelta(0)
    assert (stored.state, stored.accepted_by, stored.outcome) == ("resolved", "kari", "assisted")
    assert store.transitions(alert.id) == records
    assert [t.at.utcoffset() for t in store.transitions(alert.id)] == [timedelta(0)] * 4


def test_unknown_alert(store: Store) -> None:
    assert store.get_alert("nope") is None
    assert store.transitions("nope") == []
    assert store.alert_for_event(str(uuid6.uuid7())) is None


def test_attached_events_are_linked_without_a_transition(store: Store) -> None:
    first, second = ev(seq=1), ev(seq=2)
    alert, raised = new_alert(first)
    store.save_alert(alert, raised)
    alert = attach_event(alert, second, T0 + MINUTE)
    store.save_alert(alert)
    stored = store.get_alert(alert.id)
    assert stored is not None and stored.event_ids == (first.id, second.id)
    assert stored.updated_at == T0 + MINUTE
    assert store.alert_for_event(first.id) == alert.id
    assert store.alert_for_event(second.id) == alert.id
    assert len(store.transitions(alert.id)) == 1


def test_a_resident_cancel_round_trips_as_a_mark_on_the_open_alert(store: Store) -> None:
    first, second = ev(seq=1), ev(seq=2, ts=T0 + timedelta(seconds=10))
    alert, raised = new_alert(first)
    store.save_alert(alert, raised)
    at = (T0 + timedelta(seconds=11)).astimezone(OSLO_WINTER)
    marked, record = mark_cancelled_by_resident(alert, second, Priority.MEDIUM, at, "second press")
    store.save_alert(marked, record)
    stored = store.get_alert(alert.id)
    assert stored == utc_alert(marked)
    assert stored is not None and stored.is_open and stored.state is AlertState.RAISED
    assert stored.cancelled_by_resident_at == T0 + timedelta(seconds=11)
    assert stored.cancelled_by_resident_at.utcoffset() == timedelta(0)
    assert (stored.priority, stored.priority_before_cancel) == (Priority.MEDIUM, Priority.HIGH)
    assert store.alert_for_event(second.id) == alert.id
    (_, mark) = store.transitions(alert.id)
    assert (mark.from_state, mark.to_state, mark.actor) == ("raised", "raised", "device:dev-1")
    assert mark.note is not None and mark.note.startswith("cancelled_by_resident")
    # The mark stays through later transitions, and unmarked alerts read back as None.
    done, _ = transition(stored, Command.ACCEPT, "kari", at + MINUTE)
    store.save_alert(done)
    again = store.get_alert(alert.id)
    assert again is not None and again.cancelled_by_resident and again.accepted_by == "kari"
    other, raised_other = new_alert(ev(seq=3))
    store.save_alert(other, raised_other)
    plain = store.get_alert(other.id)
    assert plain is not None
    assert (plain.cancelled_by_resident_at, plain.priority_before_cancel) == (None, None)


def test_one_event_raising_under_two_rules(store: Store) -> None:
    event = ev("fall.detected")
    first, first_raised = new_alert(event, rule="rule.one")
    second, second_raised = new_alert(event, rule="rule.two")
    store.save_alert(first, first_raised)
    store.save_alert(second, second_raised)
    assert store.alert_for_event(event.id) == first.id
    stored = store.get_alert(second.id)
    assert stored is not None and stored.event_ids == (event.id,)


def test_a_refused_transition_saves_nothing(store: Store) -> None:
    alert, raised = new_alert(ev())
    stray = raised.model_copy(update={"alert_id": "no-such-alert"})
    with pytest.raises(StoreError):
        store.save_alert(alert, stray)
    assert store.get_alert(alert.id) is None
    assert store.alert_for_event(alert.event_ids[0]) is None


@pytest.fixture
def alerts(store: Store) -> dict[str, Alert]:
    """Four alerts raised a minute apart; 'resolved' is closed, 'tech' is technical."""
    specs: dict[str, dict[str, Any]] = {
        "a_unit_a": {"unit": "unit-A"},
        "b_unit_b": {"unit": "unit-B"},
        "tech": {"unit": None, "category": Category.TECHNICAL},
        "resolved": {"unit": "unit-A", "site": "site-2"},
    }
    saved: dict[str, Alert] = {}
    for n, (name, spec) in enumerate(specs.items()):
        event = ev(site=spec.pop("site", "site-1"))
        alert, record = new_alert(event, raised_at=T0 + n * MINUTE, **spec)
        store.save_alert(alert, record)
        saved[name] = alert
    done, record = transition(saved["resolved"], Command.ACCEPT, "kari", T0 + 9 * MINUTE)
    store.save_alert(done, record)
    done, record = transition(done, Command.RESOLVE, "kari", T0 + 9 * MINUTE, outcome=Outcome.OTHER)
    store.save_alert(done, record)
    saved["resolved"] = done
    return saved


OPEN = tuple(s for s in AlertState if s.is_open)


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (AlertFilter(), ["resolved", "tech", "b_unit_b", "a_unit_a"]),
        (AlertFilter(states=OPEN), ["tech", "b_unit_b", "a_unit_a"]),
        (AlertFilter(states=(AlertState.RESOLVED,)), ["resolved"]),
        (AlertFilter(states=()), []),
        (AlertFilter(site="site-2"), ["resolved"]),
        (AlertFilter(category=(Category.TECHNICAL,)), ["tech"]),
        (
            AlertFilter(category=(Category.RESIDENT, Category.COLLEAGUE)),
            ["resolved", "b_unit_b", "a_unit_a"],
        ),
        (AlertFilter(units=("unit-A",)), ["resolved", "a_unit_a"]),
        (AlertFilter(units=("unit-A",), states=OPEN), ["a_unit_a"]),
        (AlertFilter(units=()), []),
        (AlertFilter(limit=2), ["resolved", "tech"]),
    ],
    ids=label,
)
def test_list_alerts_filters(
    store: Store, alerts: dict[str, Alert], flt: AlertFilter, expected: list[str]
) -> None:
    names = {alert.id: name for name, alert in alerts.items()}
    found = store.list_alerts(flt)
    assert [names[a.id] for a in found] == expected
    assert all(a == alerts[names[a.id]] for a in found)


def test_alerts_raised_at_the_same_instant_list_newest_saved_first(store: Store) -> None:
    ids = []
    for _ in range(3):
        alert, record = new_alert(ev())
        store.save_alert(alert, record)
        ids.append(alert.id)
    assert [a.id for a in store.list_alerts(AlertFilter())] == ids[::-1]


# --- registry -------------------------------------------------------------------------


def test_placements_join_device_and_placement(store: Store) -> None:
    seed_registry(store)
    by_device = {p.device: p for p in store.placements()}
    assert list(by_device) == ["dev-1", "dev-2", "dev-3", "dev-4"]
    assert by_device["dev-1"] == Placement(
        device="dev-1",
        device_type="button",
        site="site-1",
        gateway="gw-1",
        unit="unit-A",
        apartment="H0101",
        room="bedroom",
        resident_id="res-1",
    )
    assert by_device["dev-3"].site == "site-2" and by_device["dev-3"].gateway == "gw-2"
    assert by_device["dev-4"] == Placement(
        device="dev-4", device_type="button", site="site-1", gateway="gw-1"
    )


def test_placing_again_replaces_the_placement(store: Store) -> None:
    seed_registry(store)
    store.place(PlacementRecord("dev-1", "unit-B", "H0201"))
    [view] = [v for v in store.list_devices() if v.device.id == "dev-1"]
    assert view.placement == PlacementRecord("dev-1", "unit-B", "H0201")
    assert len(store.placements()) == 4


def test_upserts_update_in_place(store: Store) -> None:
    seed_registry(store)
    store.upsert_resident(Resident("res-1", "site-1", "unit-B", "Johs Hansen", "H0201"))
    store.upsert_device(Device("dev-1", "site-1", "gw-1", "fall_sensor", "SN-1"))
    assert store.get_resident("res-1") == Resident(
        "res-1", "site-1", "unit-B", "Johs Hansen", "H0201"
    )
    assert store.get_resident("nobody") is None
    [view] = store.list_devices("site-1")[:1]
    assert view.device == Device("dev-1", "site-1", "gw-1", "fall_sensor", "SN-1")
    assert view.placement is not None and view.placement.resident_id == "res-1"


@pytest.mark.parametrize(
    "write",
    [
        lambda s: s.upsert_unit(Unit("unit-X", "no-site", "X")),
        lambda s: s.upsert_resident(Resident("res-X", "site-1", "no-unit", "X")),
        lambda s: s.upsert_device(Device("dev-X", "no-site", "gw-1", "button")),
        lambda s: s.place(PlacementRecord("no-device", "unit-A")),
        lambda s: s.place(PlacementRecord("dev-4", "no-unit")),
        lambda s: s.place(PlacementRecord("dev-4", "unit-A", resident_id="no-resident")),
    ],
    ids=["unit", "resident", "device", "placement-device", "placement-unit", "placement-res"],
)
def test_references_to_missing_rows_are_refused(store: Store, write: Any) -> None:
    seed_registry(store)
    before = (store.placements(), store.list_devices())
    with pytest.raises(StoreError):
        write(store)
    assert (store.placements(), store.list_devices()) == before


def test_list_devices_by_site(store: Store) -> None:
    seed_registry(store)
    assert [v.device.id for v in store.list_devices("site-1")] == ["dev-1", "dev-2", "dev-4"]
    assert [v.device.id for v in store.list_devices("site-2")] == ["dev-3"]
    assert store.list_devices("nowhere") == []
    unplaced = store.list_devices("site-1")[2]
    assert (unplaced.placement, unplaced.last_seen) == (None, None)


def test_last_seen_is_the_latest_stored_receipt(store: Store) -> None:
    seed_registry(store)
    early, late = T0 + MINUTE, T0 + 5 * MINUTE
    heard = ev("device.heartbeat", device="dev-2", data={"battery_pct": 80})
    store.append_events([(ev(device="dev-1"), early), (heard, late)])
    store.append_events([(ev(device="dev-2"), early)])  # arrives late, received earlier
    store.append_events([(heard, T0 + 9 * MINUTE)])  # a redelivery stores nothing
    seen = {v.device.id: v.last_seen for v in store.list_devices()}
    assert seen == {"dev-1": early, "dev-2": late, "dev-3": None, "dev-4": None}
    assert seen["dev-2"] is not None and seen["dev-2"].utcoffset() == timedelta(0)


def test_a_device_registered_after_its_events_keeps_its_last_seen(store: Store) -> None:
    seed_registry(store)
    store.append_events([(ev(device="dev-9"), T0 + MINUTE), (ev(device="dev-9"), T0)])
    store.upsert_device(Device("dev-9", "site-1", "gw-1", "button"))
    [view] = [v for v in store.list_devices() if v.device.id == "dev-9"]
    assert view.last_seen == T0 + MINUTE


# --- accounts -------------------------------------------------------------------------


def test_accounts_round_trip(store: Store) -> None:
    kari = Account(
        "kari", "Kari Nordmann", Role.NATTEVAKT, "$argon2id$x", "site-1", ("unit-A", "unit-B")
    )
    admin = Account("admin", "Admin", Role.ADMIN, "$argon2id$y")
    store.upsert_account(kari)
    store.upsert_account(admin)
    assert store.get_account("kari") == kari
    assert store.get_account("nobody") is None
    moved = Account("kari", "Kari N.", Role.LEADER, "$argon2id$z", "site-2", ())
    store.upsert_account(moved)
    assert store.list_accounts() == [admin, moved]
    assert isinstance(store.list_accounts()[1].role, Role)


def test_close_twice(store: Store) -> None:
    store.close()
    store.close()
