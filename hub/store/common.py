"""What every backend shares: the UTC rule for datetimes, the placement join and migrations.

Both the SQLite adapter and the in-memory fake normalise through these
functions, so a value read back from either is the same timezone-aware UTC
datetime, and both report the same schema version from ``migrate()``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources

from devices.events import EventBase
from devices.registry import Placement
from hub.alerts import Alert, Transition
from hub.store.base import DeviceView, PlacementRecord

MIGRATIONS_PACKAGE = "hub.migrations"
_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
ALERT_TIMES = ("raised_at", "updated_at", "event_ts")
# Set only on some alerts (None otherwise).
ALERT_OPTIONAL_TIMES = ("cancelled_by_resident_at",)


def utc(value: datetime) -> datetime:
    """The same instant in UTC; a naive datetime is a bug in the caller, not a guess."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} cannot be stored: give it an offset")
    return value.astimezone(UTC)


def to_micros(value: datetime) -> int:
    """Microseconds since the Unix epoch: exact, sortable and a small index key."""
    return (utc(value) - EPOCH) // MICROSECOND


def from_micros(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


def utc_event(event: EventBase) -> EventBase:
    return event.model_copy(update={"ts": utc(event.ts)})


def utc_alert(alert: Alert) -> Alert:
    times = {name: utc(getattr(alert, name)) for name in ALERT_TIMES}
    for name in ALERT_OPTIONAL_TIMES:
        if (value := getattr(alert, name)) is not None:
            times[name] = utc(value)
    return alert.model_copy(update=times)


def utc_transition(record: Transition) -> Transition:
    return record.model_copy(update={"at": utc(record.at)})


def placement_of(view: DeviceView) -> Placement:
    """The rules' view of a device: where it is placed, or only its site if nowhere."""
    where = view.placement or PlacementRecord(view.device.id, None)
    return Placement(
        device=view.device.id,
        device_type=view.device.type,
        site=view.device.site,
        gateway=view.device.gateway,
        unit=where.unit,
        apartment=where.apartment,
        room=where.room,
        resident_id=where.resident_id,
        tags=where.tags,
    )


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


@cache
def migrations(package: str = MIGRATIONS_PACKAGE) -> tuple[Migration, ...]:
    """The numbered ``NNNN_name.sql`` files of ``package``, in order, checked gap-free."""
    found: list[Migration] = []
    for entry in resources.files(package).iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if not versions or versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations in {package} must be numbered 1..n, got {versions}")
    return tuple(found)


def latest_version(package: str = MIGRATIONS_PACKAGE) -> int:
    return migrations(package)[-1].version
