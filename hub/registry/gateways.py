"""The gateways as the API shows them, pure: the registry's rows, the gateways its devices
name and the gateways whose status supervision has read, merged into one list.

A gateway that devices or a status name but the registry does not list is shown as
``unregistered``: it is there, and nobody has recorded it yet. Last seen is the
newest of its last status and its devices' last events (events travel through it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from hub.registry.records import (
    NO_GATEWAY,
    GatewayRecord,
    GatewaySighting,
    GatewayState,
)
from hub.store.base import DeviceView


@dataclass(frozen=True, slots=True)
class GatewayView:
    record: GatewayRecord
    sighting: GatewaySighting | None
    last_seen: datetime | None
    devices: int


def _newest(*values: datetime | None) -> datetime | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def gateway_views(
    records: Iterable[GatewayRecord],
    devices: Iterable[DeviceView],
    sightings: Mapping[tuple[str, str], GatewaySighting],
) -> list[GatewayView]:
    rows = {(r.site, r.id): r for r in records}
    counts: dict[tuple[str, str], int] = {}
    heard: dict[tuple[str, str], datetime | None] = {}
    for view in devices:
        d = view.device
        if d.gateway == NO_GATEWAY:
            continue
        key = (d.site, d.gateway)
        counts[key] = counts.get(key, 0) + 1
        heard[key] = _newest(heard.get(key), view.last_seen)
    keys = set(rows) | set(counts) | set(sightings)
    out = []
    for key in sorted(keys):
        record = rows.get(key) or GatewayRecord(key[0], key[1], GatewayState.UNREGISTERED)
        sighting = sightings.get(key)
        last = _newest(heard.get(key), sighting.at if sighting else None)
        out.append(GatewayView(record, sighting, last, counts.get(key, 0)))
    return out
