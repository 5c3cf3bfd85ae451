"""The gateway's retained status message, read at the boundary (pure).

``trygg/v1/{site}/{gateway}/status`` (retained, QoS 1, last will ``online:
false``) carries ``online``, ``ts`` and per-device health
``devices: {id: {last_seen, battery_pct, link_quality, online}}`` (see
``gateway/service.py::status`` and docs/gateway.md). Only what supervision
needs is read; the rest of the message is ignored. A status whose site or
gateway differs from its topic is refused: a gateway may speak only for itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MAX_STATUS_BYTES = 512 * 1024
STATUS_TOPIC = "trygg/v1/+/+/status"


class StatusRejected(ValueError):
    """A status message that cannot be used; the message says why."""


class DeviceHealth(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    last_seen: datetime | None = None
    battery_pct: Annotated[int, Field(ge=0, le=100)] | None = None
    online: bool | None = None


class Software(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str | None = None
    version: Annotated[str, Field(max_length=100)] | None = None


class GatewayStatus(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    online: bool
    site: str
    gateway: str
    ts: datetime | None = None
    software: Software | None = None  # the gateway's own version (device registry)
    devices: dict[str, DeviceHealth] = {}


def parse_status_topic(topic: str) -> tuple[str, str] | None:
    parts = topic.split("/")
    if len(parts) != 5 or parts[:2] != ["trygg", "v1"] or parts[4] != "status":
        return None
    return parts[2], parts[3]


def parse_status(payload: bytes, topic: str) -> GatewayStatus:
    origin = parse_status_topic(topic)
    if origin is None:
        raise StatusRejected(f"not a status topic: {topic[:200]}")
    if len(payload) > MAX_STATUS_BYTES:
        raise StatusRejected(f"status of {len(payload)} bytes is over {MAX_STATUS_BYTES}")
    try:
        status = GatewayStatus.model_validate_json(payload)
    except ValidationError as exc:
        raise StatusRejected(f"bad status: {exc.errors()[0]['msg']}") from exc
    if (status.site, status.gateway) != origin:
        raise StatusRejected(f"status of {status.site}/{status.gateway} on {topic[:200]}")
    for when in [status.ts, *(d.last_seen for d in status.devices.values())]:
        if when is not None and when.tzinfo is None:
            raise StatusRejected("status times must carry an offset")
    return status
