"""A small night for rule tests: compile YAML, feed events at local times, collect decisions.

Timers fire exactly when due (as the hub's timer does), then the event is evaluated
with ``now`` = its time, as ``trygg replay`` does.
"""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from devices.events import EventBase, make_event
from devices.registry import Placement
from rules.decisions import Cancel, Decision, Raise, Release, Resolve, Suppressed
from rules.engine import Engine, State
from rules.loader import parse_pack

OSLO = ZoneInfo("Europe/Oslo")
_ids = itertools.count(1)


def engine(yaml_text: str, *more: str) -> Engine:
    files = [("test.yaml", textwrap.dedent(yaml_text))]
    files += [(f"more{i}.yaml", textwrap.dedent(t)) for i, t in enumerate(more)]
    return Engine(parse_pack(files))


def local(day: str, at: str) -> datetime:
    """``local("2026-10-25", "02:30")`` -> that Oslo wall-clock time (first occurrence), in UTC."""
    naive = datetime.fromisoformat(f"{day}T{at}")
    return naive.replace(tzinfo=OSLO).astimezone(UTC)


def where(device: str, resident: str | None = "res-1", apartment: str | None = "H1", **kw: Any) -> Placement:
    return Placement(
        device=device, device_type="sensor", site="site-1", gateway="gw-1", unit=kw.pop("unit", "unit-A"),
        apartment=apartment, resident_id=resident, **kw,
    )  # fmt: skip


def ev(kind: str, at: datetime, device: str = "dev-1", data: dict[str, Any] | None = None) -> EventBase:
    n = next(_ids)
    return make_event(
        id=f"0190a3c4-5b6d-7e8f-9a0b-{n:012x}", site="site-1", gateway="gw-1", device=device,
        kind=kind, ts=at, seq=n, data=data or ({"zone": "home"} if kind.startswith("geofence") else {}),
    )  # fmt: skip


@dataclass(frozen=True)
class Seen:
    at: datetime
    what: str  # raise, cancel, resolve, suppressed
    rule: str
    device: str
    detail: str = ""


def label(d: Decision, at: datetime, event: EventBase | None) -> Seen:
    if isinstance(d, Raise):
        source = d.event or event
        assert source is not None
        return Seen(at, "raise", d.rule, source.device, d.message)
    if isinstance(d, Cancel):
        return Seen(at, "cancel", d.rule, d.device)
    if isinstance(d, Resolve):
        return Seen(at, "resolve", d.rule, d.device)
    if isinstance(d, Release):
        return Seen(at, "release", d.rule, d.device)
    assert isinstance(d, Suppressed)
    return Seen(at, "suppressed", d.rule, d.device, d.reason)


def run(
    eng: Engine,
    events: Sequence[tuple[EventBase, Placement | None]],
    until: datetime | None = None,
    state: State | None = None,
    extra_wakes: Sequence[datetime] = (),
) -> list[Seen]:
    """Feed ``events`` in order; fire timers when due (and tick at ``extra_wakes`` too)."""
    st = state or eng.initial_state()
    out: list[Seen] = []
    wakes = sorted(extra_wakes)

    def fire(to: datetime) -> None:
        nonlocal st
        while True:
            due = eng.next_wake(st)
            if wakes and wakes[0] <= to and (due is None or wakes[0] <= due):
                at = wakes.pop(0)
            elif due is not None and due <= to:
                at = due
            else:
                return
            st, ds = eng.tick(st, at)
            out.extend(label(d, at, None) for d in ds)

    for event, placement in events:
        fire(event.ts)
        st, ds = eng.evaluate(st, event, event.ts, placement)
        out.extend(label(d, event.ts, event) for d in ds)
    last = until or (events[-1][0].ts if events else None)
    if last is not None:
        fire(last)
    return out


def raised(seen: Sequence[Seen]) -> list[tuple[datetime, str]]:
    return [(s.at, s.rule) for s in seen if s.what == "raise"]


PLUS = timedelta
