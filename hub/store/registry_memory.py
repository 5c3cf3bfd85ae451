"""The in-memory fake's device registry: device changes, history and gateways.

A mixin of :class:`hub.store.memory.MemoryStore` (its sites, units, residents,
devices and placements). ``write_devices`` checks every change before it applies
any, so a failed batch leaves nothing behind, as a rolled-back transaction does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from hub.errors import StoreError
from hub.registry.ports import DeviceChange
from hub.registry.records import DeviceHistory, DeviceInfo, GatewayRecord, GatewayState
from hub.store.base import Device, PlacementRecord, Resident, Site, Unit
from hub.store.common import utc


@dataclass
class RegistryTables:
    info: dict[str, DeviceInfo] = field(default_factory=dict)
    history: list[DeviceHistory] = field(default_factory=list)
    gateways: dict[tuple[str, str], GatewayRecord] = field(default_factory=dict)


def _missing(table: Mapping[str, object], key: str | None, what: str) -> str | None:
    return None if key is None or key in table else f"no {what} {key!r}"


class MemoryRegistryMixin:
    _registry: RegistryTables
    _sites: dict[str, Site]
    _units: dict[str, Unit]
    _residents: dict[str, Resident]
    _devices: dict[str, Device]
    _placements: dict[str, PlacementRecord]

    def write_devices(self, changes: Sequence[DeviceChange]) -> None:
        for change in changes:
            self._check(change)
        for change in changes:
            d = change.device
            self._devices[d.id] = d
            self._registry.info[d.id] = _utc_info(change.info)
            if change.placement is None:
                self._placements.pop(d.id, None)
            else:
                self._placements[d.id] = change.placement
            h = change.history
            self._registry.history.append(replace(h, at=utc(h.at)))

    def _check(self, change: DeviceChange) -> None:
        d, p, h = change.device, change.placement, change.history
        problems = [
            _missing(self._sites, d.site, "site"),
            _missing(self._units, p.unit if p else None, "unit"),
            _missing(self._residents, p.resident_id if p else None, "resident"),
        ]
        if (p is not None and p.device != d.id) or h.device != d.id:
            problems.append("the placement or history names another device")
        if not h.actor:
            problems.append("a history row without an actor")
        found = [p for p in problems if p is not None]
        if found:
            raise StoreError(f"device {d.id}: {found[0]}")
        utc(h.at)  # a naive datetime is refused before anything is written

    def device_history(self, device: str) -> list[DeviceHistory]:
        return [h for h in self._registry.history if h.device == device]

    def list_units(self) -> list[Unit]:
        return [unit for _, unit in sorted(self._units.items())]

    def list_gateways(self, site: str | None = None) -> list[GatewayRecord]:
        return [
            g for _, g in sorted(self._registry.gateways.items())
            if site is None or g.site == site
        ]  # fmt: skip

    def save_gateway(self, gateway: GatewayRecord) -> None:
        if gateway.state is GatewayState.UNREGISTERED:
            raise ValueError("an unregistered gateway is not stored: register it first")
        if gateway.site not in self._sites:
            raise StoreError(f"FOREIGN KEY constraint failed: no site {gateway.site!r}")
        g = gateway
        self._registry.gateways[(g.site, g.id)] = replace(
            g, provisioned_at=_utc(g.provisioned_at), revoked_at=_utc(g.revoked_at))


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


def _utc_info(info: DeviceInfo) -> DeviceInfo:
    return replace(info, installed_at=_utc(info.installed_at),
                   last_service_at=_utc(info.last_service_at),
                   service_due_at=_utc(info.service_due_at))  # fmt: skip
