"""The in-memory fake of :class:`hub.store.base.Store`, for unit tests and nothing else.

It behaves like :class:`hub.store.sqlite.SqliteStore`, and the one store suite
(``tests/unit/test_store.py``) runs against both to keep it so: the same
ordering, paging positions, filters, unit scopes, UTC normalisation, and the
same :class:`hub.errors.StoreError` where SQLite's foreign keys would refuse a
row. Writes check everything before they change anything, so a refused write
leaves the store as it was, like a rolled-back transaction. One difference:
it needs no ``migrate()`` before use (it reports the same version when asked).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from devices.events import EventBase
from devices.registry import Placement
from hub.alerts import Alert, Transition
from hub.errors import StoreError
from hub.registry.records import DeviceInfo
from hub.store.base import (
    Account,
    AlertFilter,
    Device,
    DeviceView,
    EventFilter,
    PlacementRecord,
    Resident,
    Site,
    StoredEvent,
    Unit,
)
from hub.store.common import (
    latest_version,
    placement_of,
    utc,
    utc_alert,
    utc_event,
    utc_transition,
)
from hub.store.consent_memory import ConsentTables, MemoryConsentMixin
from hub.store.registry_memory import MemoryRegistryMixin, RegistryTables
from hub.store.routing_stores import MemoryRoutingMixin


def _require(table: Mapping[str, object], key: str | None, what: str) -> None:
    """Refuse a reference to a row that does not exist, as SQLite's foreign keys do."""
    if key is not None and key not in table:
        raise StoreError(f"FOREIGN KEY constraint failed: no {what} {key!r}")


class MemoryStore(MemoryConsentMixin, MemoryRoutingMixin, MemoryRegistryMixin):
    def __init__(self) -> None:
        self._consent = ConsentTables()
        self._registry = RegistryTables()
        self._events: list[StoredEvent] = []  # in position order
        self._event_ids: dict[str, StoredEvent] = {}
        self._next_position = 1
        self._last_seen: dict[str, datetime] = {}  # by device, registered or not
        self._alerts: dict[str, Alert] = {}  # insertion order is the tie-break
        self._alert_by_event: dict[str, str] = {}  # the first alert an event joined
        self._transitions: dict[str, list[Transition]] = {}
        self._sites: dict[str, Site] = {}
        self._units: dict[str, Unit] = {}
        self._residents: dict[str, Resident] = {}
        self._devices: dict[str, Device] = {}
        self._placements: dict[str, PlacementRecord] = {}
        self._accounts: dict[str, Account] = {}

    def migrate(self) -> int:
        return latest_version()

    def close(self) -> None:
        pass

    # --- events --------------------------------------------------------------------

    def append_events(self, events: Sequence[tuple[EventBase, datetime]]) -> int:
        batch = [(utc_event(event), utc(received)) for event, received in events]
        added = 0
        for event, received in batch:
            if event.id in self._event_ids:
                continue
            stored = StoredEvent(self._next_position, event, received)
            self._next_position += 1
            self._events.append(stored)
            self._event_ids[event.id] = stored
            seen = self._last_seen.get(event.device)
            self._last_seen[event.device] = received if seen is None else max(seen, received)
            added += 1
        return added

    def list_events(self, flt: EventFilter) -> list[StoredEvent]:
        found: list[StoredEvent] = []
        limit = max(flt.limit, 0)
        for stored in reversed(self._events):
            if len(found) >= limit:
                break
            if self._event_matches(stored, flt):
                found.append(stored)
        return found

    def _event_matches(self, stored: StoredEvent, flt: EventFilter) -> bool:
        event = stored.event
        equal = (
            (flt.site, event.site),
            (flt.gateway, event.gateway),
            (flt.device, event.device),
            (flt.kind, event.kind),
        )
        if any(wanted is not None and wanted != actual for wanted, actual in equal):
            return False
        if flt.since is not None and event.ts < utc(flt.since):
            return False
        if flt.until is not None and event.ts >= utc(flt.until):
            return False
        if flt.cursor is not None and stored.position >= flt.cursor:
            return False
        return flt.units is None or self._unit_of(event.device) in flt.units

    def _unit_of(self, device: str) -> str | None:
        placement = self._placements.get(device)
        return placement.unit if placement else None

    def get_events(self, ids: Sequence[str]) -> list[EventBase]:
        return [self._event_ids[i].event for i in ids if i in self._event_ids]

    # --- alerts --------------------------------------------------------------------

    def save_alert(self, alert: Alert, transition: Transition | None = None) -> None:
        alert = utc_alert(alert)
        record = utc_transition(transition) if transition is not None else None
        if record is not None and record.alert_id != alert.id:
            _require(self._alerts, record.alert_id, "alert")
        self._alerts[alert.id] = alert
        for event_id in alert.event_ids:
            self._alert_by_event.setdefault(event_id, alert.id)
        if record is not None:
            self._transitions.setdefault(record.alert_id, []).append(record)

    def get_alert(self, alert_id: str) -> Alert | None:
        return self._alerts.get(alert_id)

    def list_alerts(self, flt: AlertFilter) -> list[Alert]:
        ordered = sorted(
            enumerate(self._alerts.values()),
            key=lambda pair: (pair[1].raised_at, pair[0]),
            reverse=True,
        )
        found = [alert for _, alert in ordered if _alert_matches(alert, flt)]
        return found[: max(flt.limit, 0)]

    def transitions(self, alert_id: str) -> list[Transition]:
        return list(self._transitions.get(alert_id, ()))

    def alert_for_event(self, event_id: str) -> str | None:
        return self._alert_by_event.get(event_id)

    # --- registry ------------------------------------------------------------------

    def upsert_site(self, site: Site) -> None:
        self._sites[site.id] = site

    def upsert_unit(self, unit: Unit) -> None:
        _require(self._sites, unit.site, "site")
        self._units[unit.id] = unit

    def upsert_resident(self, resident: Resident) -> None:
        _require(self._sites, resident.site, "site")
        _require(self._units, resident.unit, "unit")
        self._residents[resident.id] = resident

    def upsert_device(self, device: Device) -> None:
        _require(self._sites, device.site, "site")
        self._devices[device.id] = device

    def place(self, placement: PlacementRecord) -> None:
        _require(self._devices, placement.device, "device")
        _require(self._units, placement.unit, "unit")
        _require(self._residents, placement.resident_id, "resident")
        self._placements[placement.device] = placement

    def placements(self) -> list[Placement]:
        return [placement_of(view) for view in self.list_devices()]

    def list_devices(self, site: str | None = None) -> list[DeviceView]:
        return [
            DeviceView(device, self._placements.get(device.id), self._last_seen.get(device.id),
                       self._registry.info.get(device.id, DeviceInfo()))
            for _, device in sorted(self._devices.items())
            if site is None or device.site == site
        ]

    def get_resident(self, resident_id: str) -> Resident | None:
        return self._residents.get(resident_id)

    # --- accounts ------------------------------------------------------------------

    def upsert_account(self, account: Account) -> None:
        self._accounts[account.username] = account

    def get_account(self, username: str) -> Account | None:
        return self._accounts.get(username)

    def list_accounts(self) -> list[Account]:
        return [account for _, account in sorted(self._accounts.items())]


def _alert_matches(alert: Alert, flt: AlertFilter) -> bool:
    if flt.states is not None and alert.state not in flt.states:
        return False
    if flt.category is not None and alert.category not in flt.category:
        return False
    if flt.units is not None and alert.unit not in flt.units:
        return False
    return flt.site is None or alert.site == flt.site
