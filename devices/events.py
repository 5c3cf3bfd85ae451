"""The canonical event: the envelope every gateway sends and the closed kind vocabulary.

An event is set at its source (the gateway) and never rewritten. It carries no
personal data: the hub maps ``device`` -> placement -> resident. Each kind has
its own typed, frozen ``data`` model; an unknown kind, a wrong type, a missing
field, a timestamp without an offset or a payload over ``MAX_EVENT_BYTES`` is
rejected with a :class:`devices.errors.EventRejected` that names the reason.

Vocabulary version: ``VOCABULARY_VERSION``. Adding a kind is a minor change;
renaming or removing one is a major change and needs a new topic version.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal, TypeAlias, Union

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from devices.errors import EventRejected

VOCABULARY_VERSION = "1.0"
MAX_EVENT_BYTES = 16 * 1024

_ID_PATTERN = re.compile(
    # UUID (v7 expected, any RFC 4122 layout accepted) or a Crockford-base32 ULID.
    r"^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9A-HJKMNP-TV-Z]{26})$"
)
# Ids that appear in topics and logs: short, ASCII, no MQTT wildcards or separators.
Ident = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- data models, one per kind ------------------------------------------------


class NoData(_Frozen):
    """Kinds whose meaning is entirely in the kind itself."""


class AlarmButtonData(_Frozen):
    # "cancel": a unit's cancel key (a social-alarm base unit, a pendant with a cancel
    # button): the resident withdraws a press made by mistake, never a call for help.
    press: Literal["single", "double", "long", "cancel"] = "single"


class StaffAlarmData(_Frozen):
    # Where the presser is (room or apartment label); never a name.
    location: Annotated[str, Field(max_length=80)] | None = None


class DoorData(_Frozen):
    door: Literal["entrance", "exit", "balcony", "inner", "window"] = "entrance"


class StoveData(_Frozen):
    power_w: Annotated[float, Field(ge=0, le=20_000)] | None = None


class StoveCutoffData(_Frozen):
    reason: Literal["timer", "temperature", "absence", "manual", "other"] = "other"
    temperature_c: Annotated[float, Field(ge=-40, le=600)] | None = None


class FallData(_Frozen):
    confidence: Annotated[float, Field(ge=0, le=1)] | None = None


class NoMotionData(_Frozen):
    minutes: Annotated[int, Field(ge=0, le=10_080)] | None = None


class FloorPersonData(_Frozen):
    seconds_on_floor: Annotated[int, Field(ge=0)] | None = None


class GpsPositionData(_Frozen):
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    accuracy_m: Annotated[float, Field(ge=0, le=100_000)]
    speed_mps: Annotated[float, Field(ge=0, le=500)] | None = None


class GeofenceData(_Frozen):
    zone: Annotated[str, Field(min_length=1, max_length=64)]


class SmokeData(_Frozen):
    # A detector's own test button: proves the detector works, needs no one sent.
    test: bool = False


class StaffPresenceData(_Frozen):
    # The staff member's tag or handheld id (staff ids are not resident data).
    staff_id: Ident | None = None


class HeartbeatData(_Frozen):
    battery_pct: Annotated[int, Field(ge=0, le=100)] | None = None
    link_quality: Annotated[int, Field(ge=0, le=255)] | None = None
    uptime_s: Annotated[int, Field(ge=0)] | None = None


class BatteryLowData(_Frozen):
    battery_pct: Annotated[int, Field(ge=0, le=100)] | None = None
    voltage_mv: Annotated[int, Field(ge=0, le=20_000)] | None = None


# --- the envelope ---------------------------------------------------------------


class EventBase(_Frozen):
    id: str
    site: Ident
    gateway: Ident
    device: Ident
    ts: AwareDatetime
    seq: Annotated[int, Field(ge=0)]
    # Narrowed to a Literal and a data model in each kind's subclass.
    kind: str
    data: Any

    @field_validator("id")
    @classmethod
    def _id_is_uuid_or_ulid(cls, value: str) -> str:
        if not _ID_PATTERN.fullmatch(value):
            raise ValueError("must be a UUID (v7) or a ULID")
        return value

    def to_json(self) -> str:
        return self.model_dump_json()


def _event(kind: str, data: type[_Frozen]) -> type[EventBase]:
    """Build the envelope class for one kind: ``kind`` is the discriminator."""
    name = "".join(part.title() for part in re.split(r"[._]", kind)) + "Event"
    default: Any = (
        ...
        if data.model_fields and any(f.is_required() for f in data.model_fields.values())
        else data()
    )
    return type(
        name,
        (EventBase,),
        {
            "__annotations__": {"kind": Literal[kind], "data": data},
            "data": Field(default=default),
            "__module__": __name__,
        },
    )


# The closed vocabulary: kind -> data model. Order groups kinds by category.
DATA_MODELS: dict[str, type[_Frozen]] = {
    "alarm.button": AlarmButtonData,
    "staff.alarm": StaffAlarmData,
    "fall.detected": FallData,
    "floor.person": FloorPersonData,
    "smoke.detected": SmokeData,
    "water.leak": NoData,
    "door.opened": DoorData,
    "door.closed": DoorData,
    "stove.on": StoveData,
    "stove.off": StoveData,
    "stove.cutoff": StoveCutoffData,
    "bed.exit": NoData,
    "bed.enter": NoData,
    "room.motion": NoData,
    "room.no_motion": NoMotionData,
    "gps.position": GpsPositionData,
    "geofence.exit": GeofenceData,
    "geofence.enter": GeofenceData,
    "presence.staff_in": StaffPresenceData,
    "presence.staff_out": StaffPresenceData,
    "device.heartbeat": HeartbeatData,
    "device.battery_low": BatteryLowData,
    "device.tamper": NoData,
}
KINDS: frozenset[str] = frozenset(DATA_MODELS)
EVENT_CLASSES: dict[str, type[EventBase]] = {k: _event(k, m) for k, m in DATA_MODELS.items()}

# ``Event`` is any one of the kind classes; at run time it is a tagged union
# discriminated on ``kind``, so validation looks at one class only.
Event: TypeAlias = EventBase
_UNION: Any = Annotated[
    Union[tuple(EVENT_CLASSES.values())],  # noqa: UP007
    Field(discriminator="kind"),
]
_ADAPTER: TypeAdapter[EventBase] = TypeAdapter(_UNION)


def parse_event(raw: bytes | str) -> EventBase:
    """Validate one JSON payload into its kind's frozen event model.

    Raises :class:`EventRejected` with a short machine reason (used as a
    metric label) and a human detail naming the field and value.
    """
    size = len(raw.encode()) if isinstance(raw, str) else len(raw)
    if size > MAX_EVENT_BYTES:
        raise EventRejected("oversized", f"payload is {size} bytes, limit {MAX_EVENT_BYTES}")
    try:
        # Strict: JSON must carry the right types (no "7" for 7, no epoch for ts).
        return _ADAPTER.validate_json(raw, strict=True)
    except ValidationError as exc:
        raise EventRejected(*_reason(exc)) from exc


def event_from_dict(value: dict[str, Any]) -> EventBase:
    try:
        return _ADAPTER.validate_python(value)
    except ValidationError as exc:
        raise EventRejected(*_reason(exc)) from exc


def make_event(
    *,
    id: str,
    site: str,
    gateway: str,
    device: str,
    kind: str,
    ts: datetime,
    seq: int,
    data: dict[str, Any] | None = None,
) -> EventBase:
    """Build an event in code (gateways, simulators, tests) with full validation."""
    return event_from_dict(
        {
            "id": id,
            "site": site,
            "gateway": gateway,
            "device": device,
            "kind": kind,
            "ts": ts,
            "seq": seq,
            "data": data or {},
        }
    )


def _reason(exc: ValidationError) -> tuple[str, str]:
    first = exc.errors(include_url=False)[0]
    loc = ".".join(str(p) for p in first["loc"])
    kind = first["type"]
    if kind == "union_tag_invalid":
        tag = first.get("ctx", {}).get("tag")
        return "unknown_kind", f"unknown kind {tag!r}"
    if kind == "union_tag_not_found":
        return "missing_field", "missing field 'kind'"
    if kind == "json_invalid" or not first["loc"]:
        return "malformed", f"not a JSON event object: {first['msg']}"
    # Drop the discriminator step from the location: "fall.detected.data.x" -> "data.x".
    parts = [str(p) for p in first["loc"]]
    if parts and parts[0] in KINDS:
        parts = parts[1:]
        loc = ".".join(parts)
    if kind == "missing":
        return "missing_field", f"missing field {loc!r}"
    if kind == "extra_forbidden":
        return "unknown_field", f"unknown field {loc!r}"
    if loc == "ts" or loc.endswith(".ts"):
        return "bad_timestamp", f"ts: {first['msg']} (got {first.get('input')!r})"
    return "bad_value", f"{loc}: {first['msg']} (got {first.get('input')!r})"


def events_json_schema() -> dict[str, Any]:
    schema = _ADAPTER.json_schema()
    schema["title"] = f"Trygg canonical event (vocabulary {VOCABULARY_VERSION})"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
