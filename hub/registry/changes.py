"""What a registry write does to a device, pure: the device now and a request in, the
:class:`~hub.registry.ports.DeviceChange` to store out.

- :func:`register`: a new device, ``in_stock``, on no gateway and no unit.
- :func:`act`: a life cycle action through :func:`devices.lifecycle.transition` (an
  illegal one raises :class:`~devices.lifecycle.IllegalDeviceTransition`, the API's
  409). ``install`` places the device (site, unit, apartment, room) on a gateway and
  may name the resident it serves; ``activate`` may name the resident too. Taking a
  device down (``uninstall``, ``send_to_repair``, ``retire``) removes its placement
  and its gateway; ``repaired`` sets ``last_service_at``. The consent check for a
  resident is the shell's (it needs the bases): :func:`needs_consent` says when.
- :func:`update`: notes, firmware and service dates, no change of state.

Every change carries its history row with the actor, and where the device is after.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from devices.lifecycle import Action, DeviceRecord, DeviceState, Location, transition
from hub.registry.ports import DeviceChange
from hub.registry.records import NO_GATEWAY, DeviceHistory, DeviceInfo
from hub.store.base import Device, DeviceView, PlacementRecord

_TAKEN_DOWN = frozenset({Action.UNINSTALL, Action.SEND_TO_REPAIR, Action.RETIRE})
_FOR_RESIDENT = frozenset({Action.INSTALL, Action.ACTIVATE})
_UNSET = object()


class BadRequest(ValueError):
    """The request itself is wrong, whatever the device's state (HTTP 422)."""


@dataclass(frozen=True, slots=True)
class Registration:
    id: str
    serial: str | None
    model: str
    site: str
    firmware: str | None = None
    notes: str | None = None
    service_due_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """What an action may bring; each action uses what it needs (install: location and
    gateway; install/activate: resident; every action: note)."""

    action: Action
    location: Location | None = None
    gateway: str | None = None
    resident_id: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Patch:
    """Fields to set; a field left at its default is not touched (None clears it)."""

    notes: object = _UNSET
    firmware: object = _UNSET
    service_due_at: object = _UNSET
    last_service_at: object = _UNSET
    note: str | None = None  # why, for the history

    def fields(self) -> dict[str, object]:
        names = ("notes", "firmware", "service_due_at", "last_service_at")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not _UNSET}


def location_of(view: DeviceView) -> Location | None:
    p = view.placement
    if p is None or p.unit is None:
        return None
    return Location(view.device.site, p.unit, p.apartment, p.room)


def register(new: Registration, actor: str, at: datetime, action: str = "register",
             note: str | None = None) -> DeviceChange:  # fmt: skip
    if not actor:
        raise ValueError("every change to a device names who made it")
    info = DeviceInfo(DeviceState.IN_STOCK, new.firmware, new.notes,
                      service_due_at=new.service_due_at)  # fmt: skip
    device = Device(new.id, new.site, NO_GATEWAY, new.model, new.serial)
    history = DeviceHistory(new.id, at, actor, action, None, DeviceState.IN_STOCK, note)
    return DeviceChange(device, info, None, history)


def act(view: DeviceView, req: ActionRequest, actor: str, at: datetime) -> DeviceChange:
    d, info = view.device, view.info
    if req.location is not None and req.location.site != d.site:
        raise BadRequest(f"device {d.id} belongs to site {d.site}, not {req.location.site}")
    if req.resident_id is not None and req.action not in _FOR_RESIDENT:
        raise BadRequest(f"the resident is set by install or activate, not by {req.action}")
    if req.location is not None and req.action is not Action.INSTALL:
        raise BadRequest(f"the location is set by install, not by {req.action}")
    if req.gateway is not None and req.action is not Action.INSTALL:
        raise BadRequest(f"the gateway is set by install, not by {req.action}")
    record = DeviceRecord(d.id, d.serial or "", d.type, info.state, info.firmware,
                          d.gateway or None, location_of(view))  # fmt: skip
    new, entry = transition(record, req.action, actor, at, location=req.location,
                            gateway=req.gateway, note=req.note)  # fmt: skip
    placement = _placement_after(view, req, new.location)
    gateway = NO_GATEWAY if req.action in _TAKEN_DOWN else (new.gateway or NO_GATEWAY)
    new_info = replace(info, state=new.state)
    if req.action is Action.INSTALL:
        new_info = replace(new_info, installed_at=at)
    elif req.action is Action.REPAIRED:
        new_info = replace(new_info, last_service_at=at)
    history = DeviceHistory(d.id, at, actor, str(req.action), entry.from_state, entry.to_state,
                            req.note, new.location)  # fmt: skip
    return DeviceChange(replace(d, gateway=gateway), new_info, placement, history)


def _placement_after(
    view: DeviceView, req: ActionRequest, where: Location | None
) -> PlacementRecord | None:
    if req.action in _TAKEN_DOWN or where is None:
        return None
    old = view.placement
    resident = req.resident_id if req.resident_id is not None else (
        old.resident_id if old else None)  # fmt: skip
    tags = old.tags if old else ()
    return PlacementRecord(view.device.id, where.unit, where.apartment, where.room, resident, tags)


def needs_consent(change: DeviceChange) -> str | None:
    """The resident whose bases must allow this change, when it places a device for one."""
    p = change.placement
    return p.resident_id if p is not None and change.info.state.supervised else None


def update(view: DeviceView, patch: Patch, actor: str, at: datetime) -> DeviceChange:
    if not actor:
        raise ValueError("every change to a device names who made it")
    fields = patch.fields()
    info = replace(view.info, **fields)  # type: ignore[arg-type]
    changed = ", ".join(sorted(fields)) or "nothing"
    note = patch.note or f"changed {changed}"
    state = view.info.state
    history = DeviceHistory(view.device.id, at, actor, "update", state, state, note,
                            location_of(view))  # fmt: skip
    return DeviceChange(view.device, info, view.placement, history)
