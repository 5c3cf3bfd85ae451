"""Resident feedback: the contract between the hub and a gateway (docs/resident-feedback.md).

The hub tells the gateway a resident's alarm got somewhere, on
``trygg/v1/{site}/{gateway}/commands`` (QoS 1, not retained)::

    {"v": 1, "type": "alert_feedback", "id": "<unique command id>", "alert_id": "...",
     "device": "<source device id>", "event_ids": ["..."],
     "state": "received" | "help_coming" | "help_arrived" | "closed" | "cancelled",
     "at": "<ISO 8601 UTC>", "expected_minutes": <int or null>}

No names and no resident ids: the device id is enough for the gateway, which
knows what the device can show. States only move forward (:data:`RANK`): a
device that has shown ``help_arrived`` never goes back to ``help_coming``.
``cancelled`` (the resident called it off) may still be followed by ``closed``;
after ``closed`` nothing more is shown for that alert.

Both sides import this module (devices is the base layer), so the hub writes
and the gateway reads the same model. Pure: no I/O, no clock.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from devices.errors import TryggError

CONTRACT_VERSION: Literal[1] = 1
COMMAND_TYPE: Literal["alert_feedback"] = "alert_feedback"
MAX_EXPECTED_MINUTES = 24 * 60
# Alarms a resident raises from their own device and so should hear about. A staff
# alarm or a technical alert never goes to a resident's device.
RESIDENT_KINDS = frozenset({"alarm.button", "fall.detected", "floor.person"})


class FeedbackState(StrEnum):
    RECEIVED = "received"
    HELP_COMING = "help_coming"
    HELP_ARRIVED = "help_arrived"
    CANCELLED = "cancelled"
    CLOSED = "closed"


# Forward only. Cancelled (by the resident) sits after help_arrived: once called
# off, "help is coming" would be wrong to show; closed still follows when staff close it.
RANK: dict[FeedbackState, int] = {
    FeedbackState.RECEIVED: 0,
    FeedbackState.HELP_COMING: 1,
    FeedbackState.HELP_ARRIVED: 2,
    FeedbackState.CANCELLED: 3,
    FeedbackState.CLOSED: 4,
}

_Id = Annotated[str, Field(min_length=1, max_length=64)]


class FeedbackInvalid(TryggError):
    """A command payload that is not the feedback contract; the message says why."""


class FeedbackCommand(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = CONTRACT_VERSION
    type: Literal["alert_feedback"] = COMMAND_TYPE
    id: _Id
    alert_id: _Id
    device: _Id
    event_ids: tuple[_Id, ...] = Field(default=(), max_length=1000)
    state: FeedbackState
    at: AwareDatetime
    expected_minutes: int | None = Field(default=None, ge=0, le=MAX_EXPECTED_MINUTES)

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()


def parse_command(raw: bytes) -> FeedbackCommand:
    """Bytes from the commands topic -> a command, or :class:`FeedbackInvalid` naming the field."""
    try:
        return FeedbackCommand.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in first["loc"]) or "payload"
        raise FeedbackInvalid(f"{loc}: {first['msg']}") from exc


def is_after(new: FeedbackState, old: FeedbackState | None) -> bool:
    """True when ``new`` moves the feedback forward from ``old`` (None: nothing yet)."""
    return old is None or RANK[new] > RANK[old]


def commands_topic(site: str, gateway: str) -> str:
    return f"trygg/v1/{site}/{gateway}/commands"


def utc(at: datetime) -> datetime:
    """Feedback times travel in UTC (the contract says so); naive means a bug upstream."""
    if at.tzinfo is None:
        raise ValueError("feedback time must carry a time zone")
    return at.astimezone(UTC)
