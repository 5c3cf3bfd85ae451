"""Builders for the unit tests: minimal valid events, placements and alerts.

Plain functions with defaults, so a test names only what it is about.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from devices.events import KINDS, EventBase, make_event
from devices.registry import Placement
from hub.alerts import Alert, AlertState
from hub.consent.records import BasisAction, BasisChange
from rules.consent import NO_BASIS_KINDS, BasisKind, LegalBasis
from rules.decisions import Category, Priority

NOW = datetime(2024, 11, 23, 2, 30, tzinfo=UTC)
EVENT_ID = "0190a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6b"
ULID = "01HZY8Q4R5S6T7V8W9X0YZABCD"
RESIDENT_ID = "res-4711"

# The smallest ``data`` each kind accepts; kinds not named here need none.
_REQUIRED_DATA: dict[str, dict[str, Any]] = {
    "gps.position": {"lat": 59.91, "lon": 10.75, "accuracy_m": 12.0},
    "geofence.exit": {"zone": "home"},
    "geofence.enter": {"zone": "home"},
}


def minimal_data(kind: str) -> dict[str, Any]:
    return dict(_REQUIRED_DATA.get(kind, {}))


def event_id(n: int) -> str:
    """A distinct, valid UUID-shaped id per ``n``."""
    return f"0190a3c4-5b6d-7e8f-9a0b-{n:012x}"


def payload(kind: str = "alarm.button", **overrides: Any) -> dict[str, Any]:
    """A minimal valid event as a JSON-ready dict; ``overrides`` replace fields."""
    body: dict[str, Any] = {
        "id": EVENT_ID,
        "site": "site-1",
        "gateway": "gw-1",
        "device": "dev-1",
        "kind": kind,
        "ts": "2024-11-23T03:30:00+01:00",
        "seq": 7,
    }
    data = minimal_data(kind)
    if data:
        body["data"] = data
    body.update(overrides)
    return body


def without(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != key}


def raw(body: object) -> bytes:
    return json.dumps(body).encode()


def event(
    kind: str = "alarm.button",
    *,
    id: str = EVENT_ID,
    device: str = "dev-1",
    data: dict[str, Any] | None = None,
    ts: datetime = NOW,
    seq: int = 1,
) -> EventBase:
    return make_event(
        id=id,
        site="site-1",
        gateway="gw-1",
        device=device,
        kind=kind,
        ts=ts,
        seq=seq,
        data=minimal_data(kind) if data is None else data,
    )


def placement(device: str = "dev-1", **overrides: Any) -> Placement:
    fields: dict[str, Any] = {
        "device": device,
        "device_type": "alarm_button",
        "site": "site-1",
        "gateway": "gw-1",
        "unit": "unit-A",
        "apartment": "H0102",
        "room": "bedroom",
        "resident_id": RESIDENT_ID,
    }
    fields.update(overrides)
    return Placement(**fields)


def alert(state: AlertState = AlertState.RAISED, **overrides: Any) -> Alert:
    fields: dict[str, Any] = {
        "id": "alert-1",
        "site": "site-1",
        "unit": "unit-A",
        "apartment": "H0102",
        "resident_id": RESIDENT_ID,
        "device": "dev-1",
        "kind": "alarm.button",
        "category": Category.RESIDENT,
        "priority": Priority.HIGH,
        "rule": "first.alarm_button",
        "message": "Alarm button pressed: H0102",
        "state": state,
        "raised_at": NOW,
        "updated_at": NOW,
        "event_ts": NOW,
        "event_ids": (EVENT_ID,),
    }
    fields.update(overrides)
    return Alert(**fields)


def id_source(prefix: str = "alert") -> Callable[[], str]:
    """A ``new_id`` for hub.decide.apply: alert-1, alert-2, ..."""
    counter: Iterator[int] = itertools.count(1)
    return lambda: f"{prefix}-{next(counter)}"


def clock(start: datetime = NOW, step: timedelta = timedelta(seconds=5)) -> Iterator[datetime]:
    """Successive ``now`` values for a scripted sequence."""
    return (start + step * i for i in itertools.count())


def covering_basis(resident_id: str = RESIDENT_ID, basis_id: str | None = None) -> LegalBasis:
    """A consent covering every kind that needs a basis, valid from 2000 on, at any hour."""
    return LegalBasis(
        id=basis_id or f"basis-{resident_id}",
        resident_id=resident_id,
        measure="all",
        kinds=frozenset(KINDS - set(NO_BASIS_KINDS)),
        basis=BasisKind.CONSENT,
        decided_by="test",
        reference="TEST-1",
        valid_from=datetime(2000, 1, 1, tzinfo=UTC),
        valid_to=None,
        review_at=None,
    )


def basis_change(basis: LegalBasis, actor: str = "test") -> BasisChange:
    return BasisChange(basis.id, datetime(2000, 1, 1, tzinfo=UTC), actor, BasisAction.RECORD)
