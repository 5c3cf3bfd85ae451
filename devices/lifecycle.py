"""A device's life with the technical aid service, as a pure state machine.

``in_stock -> installed -> in_service -> in_repair -> retired``, with the ways back
a real service needs (taken down again, back from repair to stock). :func:`transition`
takes the device's record, an action, who did it and when, and returns the new
record and the history entry; an action the table does not allow raises
:class:`IllegalDeviceTransition` (the API answers 409). Installing needs a location
(site and unit at least) and a gateway; only ``installed`` and ``in_service``
devices are supervised (a device on the shelf is silent by design). No I/O here:
the shell checks consent (``hub.consent.devices``) before ``activate`` for a resident.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from devices.errors import TryggError


class DeviceState(StrEnum):
    IN_STOCK = "in_stock"
    INSTALLED = "installed"
    IN_SERVICE = "in_service"
    IN_REPAIR = "in_repair"
    RETIRED = "retired"

    @property
    def supervised(self) -> bool:
        return self in (DeviceState.INSTALLED, DeviceState.IN_SERVICE)


class Action(StrEnum):
    INSTALL = "install"  # mounted at a location, on a gateway, not yet relied on
    ACTIVATE = "activate"  # in service: alerts are relied on (for a resident: consent checked)
    DEACTIVATE = "deactivate"  # taken out of service, still mounted
    UNINSTALL = "uninstall"  # taken down, back on the shelf
    SEND_TO_REPAIR = "send_to_repair"
    REPAIRED = "repaired"  # back from repair, on the shelf
    RETIRE = "retire"


S, A = DeviceState, Action
# (state, action) -> new state. Anything missing is illegal.
TRANSITIONS: dict[tuple[DeviceState, Action], DeviceState] = {
    (S.IN_STOCK, A.INSTALL): S.INSTALLED,
    (S.INSTALLED, A.ACTIVATE): S.IN_SERVICE,
    (S.IN_SERVICE, A.DEACTIVATE): S.INSTALLED,
    (S.INSTALLED, A.UNINSTALL): S.IN_STOCK,
    (S.IN_STOCK, A.SEND_TO_REPAIR): S.IN_REPAIR,
    (S.INSTALLED, A.SEND_TO_REPAIR): S.IN_REPAIR,
    (S.IN_SERVICE, A.SEND_TO_REPAIR): S.IN_REPAIR,
    (S.IN_REPAIR, A.REPAIRED): S.IN_STOCK,
    (S.IN_STOCK, A.RETIRE): S.RETIRED,
    (S.IN_REPAIR, A.RETIRE): S.RETIRED,
}


class IllegalDeviceTransition(TryggError):
    """The action is not allowed from the device's state (HTTP 409)."""


@dataclass(frozen=True, slots=True)
class Location:
    site: str
    unit: str | None = None
    apartment: str | None = None
    room: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    id: str
    serial: str
    model: str
    state: DeviceState = DeviceState.IN_STOCK
    firmware: str | None = None
    gateway: str | None = None
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    device: str
    action: Action
    from_state: DeviceState
    to_state: DeviceState
    actor: str
    at: datetime
    note: str | None = None


def transition(
    record: DeviceRecord,
    action: Action,
    actor: str,
    at: datetime,
    *,
    location: Location | None = None,
    gateway: str | None = None,
    note: str | None = None,
) -> tuple[DeviceRecord, HistoryEntry]:
    """The device after ``action``, and what goes into its history."""
    to = TRANSITIONS.get((record.state, action))
    if to is None:
        raise IllegalDeviceTransition(
            f"device {record.id}: cannot {action} a device that is {record.state}"
        )
    if not actor:
        raise ValueError("every change to a device names who made it")
    new = record
    if action is Action.INSTALL:
        if location is None or location.unit is None:
            raise IllegalDeviceTransition(f"device {record.id}: install needs a site and unit")
        if not (gateway or record.gateway):
            raise IllegalDeviceTransition(f"device {record.id}: install needs a gateway")
        new = replace(new, location=location, gateway=gateway or record.gateway)
    elif action in (Action.UNINSTALL, Action.SEND_TO_REPAIR, Action.RETIRE):
        new = replace(new, location=None)
    new = replace(new, state=to)
    return new, HistoryEntry(record.id, action, record.state, to, actor, at, note)
