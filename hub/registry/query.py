"""Which devices a device list shows: the query's filters, pure.

``q`` is free text, matched case-insensitively as a substring of the device's id,
serial, model, room or notes. The other filters are exact. Access (role, site and
units) is decided apart, by :func:`hub.access.can_see_device`.
"""

from __future__ import annotations

from dataclasses import dataclass

from devices.lifecycle import DeviceState
from hub.store.base import DeviceView


@dataclass(frozen=True, slots=True)
class DeviceQuery:
    states: frozenset[DeviceState] | None = None
    site: str | None = None
    unit: str | None = None
    gateway: str | None = None
    model: str | None = None
    q: str | None = None


def unit_of(view: DeviceView) -> str | None:
    return view.placement.unit if view.placement else None


def _text(view: DeviceView) -> str:
    d, p = view.device, view.placement
    parts = (d.id, d.serial, d.type, p.room if p else None, view.info.notes)
    return "\n".join(part for part in parts if part).casefold()


def matches(view: DeviceView, query: DeviceQuery) -> bool:
    d = view.device
    return (
        (query.states is None or view.info.state in query.states)
        and (query.site is None or d.site == query.site)
        and (query.unit is None or unit_of(view) == query.unit)
        and (query.gateway is None or d.gateway == query.gateway)
        and (query.model is None or d.type == query.model)
        and (not query.q or query.q.casefold() in _text(view))
    )
