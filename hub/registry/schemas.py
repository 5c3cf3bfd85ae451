"""The registry API's bodies (device history, gateways). ``DeviceOut`` is in hub.schemas."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from devices.lifecycle import DeviceState
from hub.registry.gateways import GatewayView
from hub.registry.records import DeviceHistory, GatewayState
from hub.schemas import LocationOut


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class HistoryOut(_Out):
    at: datetime
    actor: str
    action: str
    from_state: DeviceState | None
    to_state: DeviceState | None
    note: str | None
    location: LocationOut | None

    @classmethod
    def of(cls, h: DeviceHistory) -> HistoryOut:
        loc = h.location
        where = (
            None
            if loc is None
            else LocationOut(site=loc.site, unit=loc.unit, apartment=loc.apartment, room=loc.room)
        )
        return cls(at=h.at, actor=h.actor, action=h.action, from_state=h.from_state,
                   to_state=h.to_state, note=h.note, location=where)  # fmt: skip


class GatewayOut(_Out):
    """A gateway. The broker password is never shown: only whether one is provisioned."""

    site: str
    id: str
    state: GatewayState
    software_version: str | None
    online: bool | None  # from its last retained status; None before any
    last_seen: datetime | None
    credentials_provisioned: bool
    provisioned_at: datetime | None
    revoked_at: datetime | None
    devices: int
    notes: str | None

    @classmethod
    def of(cls, view: GatewayView) -> GatewayOut:
        r, s = view.record, view.sighting
        return cls(
            site=r.site, id=r.id, state=r.state,
            software_version=s.software_version if s else None,
            online=s.online if s else None, last_seen=view.last_seen,
            credentials_provisioned=r.credentials_provisioned,
            provisioned_at=r.provisioned_at, revoked_at=r.revoked_at,
            devices=view.devices, notes=r.notes,
        )  # fmt: skip
