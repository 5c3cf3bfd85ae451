"""The API's request and response bodies. The wire contract lives here, apart from
the internal models, so an internal field can change without breaking a board."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from devices.events import KINDS, EventBase
from devices.lifecycle import DeviceState
from hub.alerts import Alert, AlertState, Outcome, Transition
from hub.store.base import DeviceView, EventFilter, Role, StoredEvent
from rules.decisions import Category, Priority


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class TokenOut(_Out):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds until the token expires")
    role: Role


class AlertOut(_Out):
    id: str
    site: str
    unit: str | None
    apartment: str | None
    resident_id: str | None
    device: str
    kind: str
    category: Category
    priority: Priority
    rule: str
    message: str
    state: AlertState
    is_open: bool
    raised_at: datetime
    updated_at: datetime
    event_ts: datetime
    event_ids: list[str]
    accepted_by: str | None
    outcome: Outcome | None
    note: str | None

    @classmethod
    def of(cls, alert: Alert) -> AlertOut:
        return cls(**alert.model_dump(), is_open=alert.is_open)


class TransitionOut(_Out):
    from_state: AlertState | None
    to_state: AlertState
    at: datetime
    actor: str
    outcome: Outcome | None = None
    note: str | None = None

    @classmethod
    def of(cls, record: Transition) -> TransitionOut:
        return cls(**record.model_dump(exclude={"alert_id"}))


class EventOut(_Out):
    """A canonical event exactly as the gateway sent it."""

    id: str
    site: str
    gateway: str
    device: str
    kind: str
    ts: datetime
    seq: int
    data: dict[str, Any]

    @classmethod
    def of(cls, event: EventBase) -> EventOut:
        return cls(**event.model_dump(mode="json"))


class StoredEventOut(EventOut):
    received_at: datetime

    @classmethod
    def of_stored(cls, row: StoredEvent) -> StoredEventOut:
        return cls(**row.event.model_dump(mode="json"), received_at=row.received_at)


class AlertDetailOut(AlertOut):
    events: list[EventOut]
    transitions: list[TransitionOut]
    resident_name: str | None = None


class EventPageOut(_Out):
    items: list[StoredEventOut]
    next_cursor: int | None = Field(
        description="pass as `cursor` for the next page; null on the last page"
    )


class PlacementOut(_Out):
    unit: str | None
    apartment: str | None = None
    room: str | None = None
    resident_id: str | None = None
    tags: list[str] = []


class LocationOut(_Out):
    site: str
    unit: str | None
    apartment: str | None
    room: str | None


class DeviceOut(_Out):
    """A device as the registry knows it. ``type`` and ``model`` are the same value (the
    catalogue model or device type); ``gateway`` is None while the device is on none."""

    id: str
    site: str
    gateway: str | None
    type: str
    serial: str | None
    placement: PlacementOut | None
    last_seen: datetime | None
    model: str
    firmware: str | None
    state: DeviceState
    location: LocationOut
    resident_id: str | None
    installed_at: datetime | None
    last_service_at: datetime | None
    service_due_at: datetime | None
    notes: str | None

    @classmethod
    def of(cls, view: DeviceView) -> DeviceOut:
        d, p, info = view.device, view.placement, view.info
        placement = (
            None
            if p is None
            else PlacementOut(
                unit=p.unit,
                apartment=p.apartment,
                room=p.room,
                resident_id=p.resident_id,
                tags=list(p.tags),
            )
        )
        return cls(
            id=d.id,
            site=d.site,
            gateway=d.gateway or None,
            type=d.type,
            serial=d.serial,
            placement=placement,
            last_seen=view.last_seen,
            model=d.type,
            firmware=info.firmware,
            state=info.state,
            location=LocationOut(
                site=d.site,
                unit=p.unit if p else None,
                apartment=p.apartment if p else None,
                room=p.room if p else None,
            ),
            resident_id=p.resident_id if p else None,
            installed_at=info.installed_at,
            last_service_at=info.last_service_at,
            service_due_at=info.service_due_at,
            notes=info.notes,
        )


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Outcome
    note: str | None = Field(default=None, max_length=1000)


class EventQuery(BaseModel):
    """Query parameters of ``GET /api/v1/events``: times are RFC 3339 with an offset,
    ``since`` inclusive and ``until`` exclusive, on the event's own time."""

    site: str | None = None
    gateway: str | None = None
    device: str | None = None
    kind: str | None = None
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    cursor: int | None = Field(default=None, ge=0, description="`next_cursor` of the last page")

    def to_filter(self) -> EventFilter:
        return EventFilter(**self.model_dump())

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str | None) -> str | None:
        if value is not None and value not in KINDS:
            raise ValueError(f"unknown event kind {value!r}")
        return value


class HealthOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: Literal["ok", "degraded"]
    broker_connected: bool | None = None
    store_ok: bool | None = None


class ErrorOut(_Out):
    detail: str
