"""The store ports. Small protocols, one implementation per backend.

Every method is synchronous and is called from one store thread by the async
shell (``hub.service``); implementations need not be thread-safe beyond that.
``append_events`` is idempotent on event id: a re-sent event is not stored
twice, and the return value counts only new rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from devices.events import EventBase
from devices.registry import Placement
from devices.tags import normalise_tags
from hub.alerts import Alert, AlertState, Transition
from hub.audit import AuditEntry, AuditRecord
from hub.consent.records import BasisChange, Notice
from hub.registry.ports import DeviceRegistryStore
from hub.registry.records import DeviceInfo
from hub.routing.ports import RoutingStore
from rules.consent import LegalBasis
from rules.decisions import Category


class Role(StrEnum):
    ADMIN = "admin"
    NATTEVAKT = "nattevakt"
    STAFF = "staff"
    TEKNIKER = "tekniker"
    LEADER = "leader"
    AUDITOR = "auditor"
    RESIDENT_DEVICE = "resident_device"


@dataclass(frozen=True, slots=True)
class Site:
    id: str
    name: str
    timezone: str = "Europe/Oslo"


@dataclass(frozen=True, slots=True)
class Unit:
    id: str
    site: str
    name: str


@dataclass(frozen=True, slots=True)
class Resident:
    id: str
    site: str
    unit: str
    name: str
    apartment: str | None = None


@dataclass(frozen=True, slots=True)
class Device:
    id: str
    site: str
    gateway: str
    type: str
    serial: str | None = None


@dataclass(frozen=True, slots=True)
class PlacementRecord:
    """Installs a device in a unit/apartment/room, optionally serving a resident."""

    device: str
    unit: str | None
    apartment: str | None = None
    room: str | None = None
    resident_id: str | None = None
    tags: tuple[str, ...] = ()  # devices.tags: valid, sorted, de-duplicated on construction

    def __post_init__(self) -> None:
        object.__setattr__(self, "tags", normalise_tags(self.tags))


@dataclass(frozen=True, slots=True)
class Account:
    username: str
    display_name: str
    role: Role
    password_hash: str
    site: str | None = None
    units: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EventFilter:
    site: str | None = None
    gateway: str | None = None
    device: str | None = None
    kind: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    units: tuple[str, ...] | None = None  # None: no unit scope
    limit: int = 100
    cursor: int | None = None  # return rows with a position below this


@dataclass(frozen=True, slots=True)
class StoredEvent:
    position: int
    event: EventBase
    received_at: datetime


@dataclass(frozen=True, slots=True)
class AlertFilter:
    states: tuple[AlertState, ...] | None = None
    site: str | None = None
    category: tuple[Category, ...] | None = None
    units: tuple[str, ...] | None = None  # None: no unit scope
    limit: int = 200


@dataclass(slots=True)
class DeviceView:
    """A device with its placement and what the hub last heard from it."""

    device: Device
    placement: PlacementRecord | None
    last_seen: datetime | None = None
    info: DeviceInfo = field(default_factory=DeviceInfo)  # state, firmware, notes (hub.registry)


class EventStore(Protocol):
    def append_events(self, events: Sequence[tuple[EventBase, datetime]]) -> int:
        """Store (event, received_at) pairs; ignore ids already stored; return new rows."""
        ...

    def list_events(self, flt: EventFilter) -> list[StoredEvent]: ...

    def get_events(self, ids: Sequence[str]) -> list[EventBase]: ...


class AlertStore(Protocol):
    def save_alert(self, alert: Alert, transition: Transition | None = None) -> None:
        """Insert or update the alert (with its event ids) and append the transition."""
        ...

    def get_alert(self, alert_id: str) -> Alert | None: ...

    def list_alerts(self, flt: AlertFilter) -> list[Alert]: ...

    def transitions(self, alert_id: str) -> list[Transition]: ...

    def alert_for_event(self, event_id: str) -> str | None:
        """The alert an event already raised or joined, so a redelivery raises nothing."""
        ...


class RegistryStore(Protocol):
    def upsert_site(self, site: Site) -> None: ...
    def upsert_unit(self, unit: Unit) -> None: ...
    def upsert_resident(self, resident: Resident) -> None: ...
    def upsert_device(self, device: Device) -> None: ...
    def place(self, placement: PlacementRecord) -> None: ...
    def placements(self) -> list[Placement]: ...
    def list_devices(self, site: str | None = None) -> list[DeviceView]: ...
    def get_resident(self, resident_id: str) -> Resident | None: ...


class AccountStore(Protocol):
    def upsert_account(self, account: Account) -> None: ...
    def get_account(self, username: str) -> Account | None: ...
    def list_accounts(self) -> list[Account]: ...


class ConsentStore(Protocol):
    """Legal bases with their history, and notices (hub.consent; shared tests in
    tests/unit/test_consent_store.py)."""

    def save_basis(self, basis: LegalBasis, change: BasisChange) -> None:
        """Insert or replace the basis and append the change, in one transaction."""
        ...

    def get_basis(self, basis_id: str) -> LegalBasis | None: ...
    def list_bases(self, resident_id: str | None = None) -> list[LegalBasis]: ...
    def basis_changes(self, basis_id: str) -> list[BasisChange]: ...
    def add_notice(self, notice: Notice) -> bool:
        """Record a notice once per (basis, kind, due date); False if it was already there."""
        ...

    def list_notices(self, site: str | None = None) -> list[Notice]: ...
    def acknowledge_notice(self, notice: Notice, by: str) -> bool: ...
    def site_zones(self) -> dict[str, str]:
        """Site id -> IANA time zone, for consent windows."""
        ...


class AuditStore(Protocol):
    """The hash-chained audit log (hub.audit): append-only, numbered 1, 2, 3, ..."""

    def append_audit(self, entries: Sequence[AuditEntry]) -> list[AuditRecord]: ...
    def audit_records(
        self, resident_id: str | None = None, after: int = 0, limit: int = 10_000
    ) -> list[AuditRecord]: ...
    def audit_head(self) -> tuple[int, str] | None: ...


@dataclass(frozen=True, slots=True)
class RetentionCutoffs:
    """Delete what is older than these instants (hub.retention computes them)."""

    events_before: datetime  # raw events of every kind
    gps_before: datetime  # gps.position not behind an open alert
    alerts_before: datetime  # closed alerts (and their transitions) last changed before
    # Stricter per-basis retention: events of these kinds from this device, older than this.
    per_device: tuple[DeviceCutoff, ...] = ()
    # Devices whose gps.position events an open locate request holds (gps_before spares them).
    gps_held: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class DeviceCutoff:
    device: str
    kinds: frozenset[str]
    before: datetime


@dataclass(frozen=True, slots=True)
class RetentionResult:
    events: int = 0
    gps_positions: int = 0
    alerts: int = 0


class RetentionStore(Protocol):
    def purge(self, cutoffs: RetentionCutoffs) -> RetentionResult: ...


class Store(
    EventStore,
    AlertStore,
    RegistryStore,
    DeviceRegistryStore,
    AccountStore,
    RoutingStore,
    ConsentStore,
    AuditStore,
    RetentionStore,
    Protocol,
):
    """Everything one backend provides."""

    def migrate(self) -> int:
        """Apply pending migrations; return the schema version now in force."""
        ...

    def close(self) -> None: ...
