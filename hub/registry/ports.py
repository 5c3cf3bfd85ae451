"""The registry's store port: device changes with their history, and gateways.

Shared assertions for every backend: ``tests/unit/test_registry_store.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from hub.registry.records import DeviceHistory, DeviceInfo, GatewayRecord

if TYPE_CHECKING:
    from hub.store.base import Device, PlacementRecord, Unit


@dataclass(frozen=True, slots=True)
class DeviceChange:
    """A device's whole registry state after one change, and the history row saying so.
    ``placement`` None removes the device's placement (it is on no unit)."""

    device: Device
    info: DeviceInfo
    placement: PlacementRecord | None
    history: DeviceHistory


class DeviceRegistryStore(Protocol):
    def write_devices(self, changes: Sequence[DeviceChange]) -> None:
        """Apply every change in one transaction: all of them, or (on any error) none."""
        ...

    def device_history(self, device: str) -> list[DeviceHistory]:
        """Oldest first."""
        ...

    def list_units(self) -> list[Unit]:
        """Every unit of every site, by id (the registry checks locations against them)."""
        ...

    def list_gateways(self, site: str | None = None) -> list[GatewayRecord]: ...
    def save_gateway(self, gateway: GatewayRecord) -> None: ...
