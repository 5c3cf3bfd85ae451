"""Local fallback: which critical alarms the hub has not confirmed in time.

"Confirmed by the hub" means: the hub published an alert on
``trygg/v1/{site}/alerts`` whose ``event_ids`` holds the event's id. That is
the hub's own word that it stored the event, raised (or joined) an alert and
notified staff; a PUBACK only says the broker has it. An alarm the hub does
not confirm within ``after_s`` (default 5 s) sounds locally, once, and the
uplink keeps retrying it until PUBACK regardless.

Pure: the service passes instants in; no clock, no I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


def is_cancel_key(kind: str, data: Mapping[str, Any]) -> bool:
    """A press of the device's cancel key (``press: cancel``): the resident calls off."""
    return kind == "alarm.button" and data.get("press") == "cancel"


@dataclass(frozen=True, slots=True)
class Pending:
    event_id: str
    device: str
    kind: str
    due: datetime


@dataclass
class Fallback:
    after: timedelta
    kinds: frozenset[str]
    _pending: dict[str, Pending] = field(default_factory=dict)
    confirmed: int = 0
    sounded: int = 0

    def watch(self, event_id: str, device: str, kind: str, now: datetime) -> None:
        if kind in self.kinds:
            self._pending[event_id] = Pending(event_id, device, kind, now + self.after)

    def withdraw(self, device: str, kind: str = "alarm.button") -> int:
        """The resident called the alarm off on the device itself (its cancel key): the
        device's waiting ``kind`` alarms do not sound. Only the alarm button: a cancel
        never silences a fall or smoke alarm (the hub never quiets those either)."""
        gone = [p.event_id for p in self._pending.values() if p.device == device and p.kind == kind]
        for event_id in gone:
            del self._pending[event_id]
        return len(gone)

    def confirm(self, event_ids: list[str] | tuple[str, ...]) -> None:
        for event_id in event_ids:
            if self._pending.pop(event_id, None) is not None:
                self.confirmed += 1

    def due(self, now: datetime) -> list[Pending]:
        """Alarms to sound now; each is returned once and then forgotten."""
        out = [p for p in self._pending.values() if p.due <= now]
        for p in out:
            del self._pending[p.event_id]
        self.sounded += len(out)
        return out

    @property
    def waiting(self) -> int:
        return len(self._pending)
