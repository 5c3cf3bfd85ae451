"""Faults, injected on purpose and reproducibly: the same seed breaks things the same way.

Two layers, both pure (no I/O, no clock):

- **Plan faults** change what devices do, on a planned scenario
  (``list[PlannedEvent]``): :func:`flood` (a device that sends far too much),
  :func:`flap` (a sensor that toggles fast), :func:`battery_dies` (a low-battery
  report, then silence) and :func:`gateway_silent` (nothing more from a gateway).
- **Wire faults** change what the uplink delivers, on the messages a gateway
  publishes (``list[Wire]``): :func:`duplicate`, :func:`reorder`,
  :func:`skew_clock` (a gateway whose clock runs ahead), :func:`malform`
  (broken JSON, wrong types, unknown kinds), :func:`oversize` (over the hub's
  16 KiB limit) and :func:`uplink_drops` (markers where the connection drops and
  comes back; a player reconnects there and re-sends what was not acknowledged).

:class:`FaultSpec` bundles the wire faults with one seed; :func:`apply_wire`
applies them in a fixed order so a run is reproducible.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from devices.events import make_event
from simulators.scenario import PlannedEvent

MAX_PAYLOAD = 16 * 1024  # the hub's limit (README: a message over 16 KiB is rejected)


@dataclass(frozen=True, slots=True)
class Wire:
    """One MQTT message, or a connection drop (``drop=True``, no payload)."""

    topic: str
    payload: bytes
    event_id: str | None = None  # the id of the valid event it carries, else None
    fault: str | None = None  # what was done to it: "duplicate", "malformed", ...
    drop: bool = False

    @property
    def valid(self) -> bool:
        return self.event_id is not None and not self.drop


DROP = "uplink_drop"


# --- plan faults ------------------------------------------------------------------------


def flood(
    planned: Sequence[PlannedEvent],
    device: str,
    kind: str,
    *,
    start: datetime,
    count: int,
    every_s: float,
    data: dict[str, Any] | None = None,
) -> list[PlannedEvent]:
    """Add ``count`` ``kind`` events from ``device``, one every ``every_s`` from ``start``."""
    template = _template(planned, device)
    origin = planned[0].at - timedelta(seconds=planned[0].offset_s) if planned else start
    extra = []
    for i in range(count):
        at = start + timedelta(seconds=i * every_s)
        extra.append(
            replace(
                template,
                offset_s=round((at - origin).total_seconds(), 3),
                at=at,
                kind=kind,
                data=dict(data or {}),
                source="timeline",
                note=f"fault: flood {i + 1}/{count}",
            )
        )
    return _sorted([*planned, *extra])


def flap(
    planned: Sequence[PlannedEvent],
    device: str,
    *,
    start: datetime,
    toggles: int,
    period_s: float,
    kinds: tuple[str, str] = ("door.opened", "door.closed"),
    data: dict[str, Any] | None = None,
) -> list[PlannedEvent]:
    """A sensor that toggles between ``kinds`` every ``period_s`` seconds, ``toggles`` times
    (``data`` on every event, e.g. ``{"door": "exit"}``)."""
    out = list(planned)
    for i in range(toggles):
        out = flood(
            out,
            device,
            kinds[i % 2],
            start=start + timedelta(seconds=i * period_s),
            count=1,
            every_s=period_s,
            data=data,
        )
    return out


def battery_dies(
    planned: Sequence[PlannedEvent],
    device: str,
    *,
    at: datetime,
    battery_pct: int = 3,
    reports: int = 1,
    every_s: float = 60.0,
) -> list[PlannedEvent]:
    """``reports`` low-battery reports from ``device``, ``every_s`` apart from ``at``, and
    nothing from it afterwards (the hub's supervision counts consecutive low readings)."""
    if reports < 1:
        raise ValueError("a dying battery reports at least once")
    kept = [p for p in planned if not (p.device == device and p.at >= at)]
    return flood(
        kept,
        device,
        "device.battery_low",
        start=at,
        count=reports,
        every_s=every_s,
        data={"battery_pct": battery_pct},
    )


def gateway_silent(
    planned: Sequence[PlannedEvent], gateway: str, *, at: datetime
) -> list[PlannedEvent]:
    """Nothing from ``gateway`` from ``at`` on (power cut, dead uplink)."""
    return [p for p in planned if not (p.gateway == gateway and p.at >= at)]


def _template(planned: Sequence[PlannedEvent], device: str) -> PlannedEvent:
    for p in planned:
        if p.device == device:
            return p
    raise ValueError(f"device {device!r} sends nothing in this plan; cannot fake its events")


def _sorted(planned: list[PlannedEvent]) -> list[PlannedEvent]:
    return sorted(planned, key=lambda p: p.offset_s)


# --- wire faults -------------------------------------------------------------------------


def duplicate(rng: random.Random, wire: Sequence[Wire], p: float) -> list[Wire]:
    """Each valid message is sent again, later (1-20 messages on), with probability ``p``."""
    out = list(wire)
    for i, w in enumerate(wire):
        if w.valid and rng.random() < p:
            pos = min(len(out), i + 1 + rng.randint(1, 20))
            out.insert(pos, replace(w, fault="duplicate"))
    return out


def reorder(rng: random.Random, wire: Sequence[Wire], window: int) -> list[Wire]:
    """Shuffle messages inside consecutive windows of ``window`` (drops stay in place)."""
    if window < 2:
        return list(wire)
    out: list[Wire] = []
    for i in range(0, len(wire), window):
        chunk = [w for w in wire[i : i + window] if not w.drop]
        drops = [w for w in wire[i : i + window] if w.drop]
        rng.shuffle(chunk)
        out += chunk + drops
    return out


def skew_clock(wire: Sequence[Wire], gateway: str, seconds: float) -> list[Wire]:
    """Events of ``gateway`` carry a ``ts`` ``seconds`` off (its clock is wrong)."""
    out = []
    for w in wire:
        if w.valid and w.topic.split("/")[3:4] == [gateway]:
            body = json.loads(w.payload)
            ts = datetime.fromisoformat(body["ts"]) + timedelta(seconds=seconds)
            body["ts"] = ts.isoformat()
            w = replace(w, payload=json.dumps(body).encode(), fault="skew")
        out.append(w)
    return out


_BROKEN: tuple[tuple[str, Any], ...] = (
    ("not_json", None),
    ("truncated", None),
    ("unknown_kind", "smoke.maybe"),
    ("bad_seq", "not-a-number"),
    ("no_offset", None),
)


def malform(rng: random.Random, wire: Sequence[Wire], p: float) -> list[Wire]:
    """Insert a broken copy after each valid message with probability ``p``; the valid
    message still goes (a broken neighbour must not cost a valid event)."""
    out = []
    for w in wire:
        out.append(w)
        if w.valid and rng.random() < p:
            how, value = rng.choice(_BROKEN)
            out.append(Wire(w.topic, _break(w.payload, how, value), None, f"malformed:{how}"))
    return out


def _break(payload: bytes, how: str, value: Any) -> bytes:
    if how == "not_json":
        return b"\x00\xffnot json at all"
    if how == "truncated":
        return payload[: max(1, len(payload) // 2)]
    body = json.loads(payload)
    if how == "unknown_kind":
        body["kind"] = value
    elif how == "bad_seq":
        body["seq"] = value
    elif how == "no_offset":
        body["ts"] = body["ts"][:19]
    return json.dumps(body).encode()


def oversize(rng: random.Random, wire: Sequence[Wire], p: float) -> list[Wire]:
    """Insert, with probability ``p`` after each valid message, one over ``MAX_PAYLOAD``."""
    out = []
    for w in wire:
        out.append(w)
        if w.valid and rng.random() < p:
            body = json.loads(w.payload)
            body["data"] = {"padding": "x" * (MAX_PAYLOAD + rng.randint(1, 4096))}
            out.append(Wire(w.topic, json.dumps(body).encode(), None, "oversized"))
    return out


def uplink_drops(rng: random.Random, wire: Sequence[Wire], count: int) -> list[Wire]:
    """Put ``count`` connection drops at random places between messages."""
    out = list(wire)
    for _ in range(count):
        out.insert(rng.randint(1, max(1, len(out))), Wire("", b"", None, DROP, drop=True))
    return out


@dataclass(frozen=True)
class FaultSpec:
    """Wire faults with one seed. Applied in this order: malform, oversize, skew,
    duplicate, reorder, drops."""

    seed: int = 1
    duplicate: float = 0.0
    reorder: int = 0
    malformed: float = 0.0
    oversized: float = 0.0
    skew: tuple[tuple[str, float], ...] = ()  # (gateway, seconds)
    drops: int = 0


def apply_wire(spec: FaultSpec, wire: Sequence[Wire]) -> list[Wire]:
    rng = random.Random(f"faults:{spec.seed}")
    out = malform(rng, wire, spec.malformed)
    out = oversize(rng, out, spec.oversized)
    for gateway, seconds in spec.skew:
        out = skew_clock(out, gateway, seconds)
    out = duplicate(rng, out, spec.duplicate)
    out = reorder(rng, out, spec.reorder)
    return uplink_drops(rng, out, spec.drops)


def wire_from_plan(
    planned: Sequence[PlannedEvent],
    new_id: Callable[[], str],
    stamp: Callable[[PlannedEvent], datetime],
) -> list[Wire]:
    """Canonical events for a plan, as a gateway would publish them: ids from ``new_id``,
    ``ts`` from ``stamp`` (the planned time, or the wall clock for a live hub), per-gateway
    ``seq`` from 1."""
    seqs: dict[str, int] = {}
    out = []
    for p in planned:
        seqs[p.gateway] = seqs.get(p.gateway, 0) + 1
        event = make_event(
            id=new_id(),
            site=p.site,
            gateway=p.gateway,
            device=p.device,
            kind=p.kind,
            ts=stamp(p),
            seq=seqs[p.gateway],
            data=dict(p.data),
        )
        out.append(
            Wire(f"trygg/v1/{p.site}/{p.gateway}/events", event.to_json().encode(), event.id)
        )
    return out
