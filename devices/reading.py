"""A reading: what a device said, in canonical terms, before the gateway stamps it.

Converters (Zigbee2MQTT, OwnTracks, NMEA, the stove guard line protocol) turn a
vendor payload into readings: a canonical ``kind`` and its ``data``, and, when
the device itself says when it happened (a GPS fix, an OwnTracks ``tst``), that
instant. The gateway adds the envelope (id, seq, ts, site, gateway, device).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from devices.errors import EventRejected, TryggError
from devices.events import DATA_MODELS


class PayloadError(TryggError):
    """A vendor payload that cannot be read. ``reason`` is a short metric label."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class UnknownModel(TryggError):
    """A device model the catalogue does not define: reported, never guessed."""

    def __init__(self, model: str) -> None:
        super().__init__(f"unknown device model {model!r}")
        self.model = model


@dataclass(frozen=True, slots=True)
class Reading:
    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    at: datetime | None = None  # the device's own time, when it reports one

    def __post_init__(self) -> None:
        model = DATA_MODELS.get(self.kind)
        if model is None:
            raise EventRejected("unknown_kind", f"unknown kind {self.kind!r}")
        # Fail at the converter, not at the hub: the data must fit the kind.
        model.model_validate(self.data)
