"""Flood containment: a device that sends far more events than any real sensor does.

Pure: the hub asks :meth:`FloodGuard.admit` for every valid event with the event's
own time (set at the source), so a gateway that uploads an hour of backlog after an
outage is not mistaken for a flood. Events are counted per device in ten-second buckets. When a device goes over
``limit`` events in a bucket it is *flooding*: its further events are still
stored but no longer evaluated by the rules (so a stuck button cannot wake staff
two hundred times, nor a chattering sensor multiply alerts), and the hub raises
one technical alert saying so. It stops flooding after a whole bucket with at
most half the limit (hysteresis, so a device on the edge does not flip back and
forth). The first ``limit`` events of a burst are evaluated as usual: a real
alarm press at the start of a flood still raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from rules.decisions import Category, Priority, Raise

FLOOD_RULE = "device_flooding"
DEFAULT_LIMIT = 20  # events in ten seconds from one device; a 1 Hz GPS sends 10
DEFAULT_BUCKET_S = 10.0


class Verdict(Enum):
    EVALUATE = "evaluate"
    STARTED = "started"  # this event tipped the device into flooding: raise the alert
    CONTAINED = "contained"  # stored, not evaluated


@dataclass(slots=True)
class _Bucket:
    start: float
    count: int
    flooding: bool


class FloodGuard:
    """Per-device event rates; memory is one small record per device that sent recently."""

    def __init__(self, limit: int = DEFAULT_LIMIT, bucket_s: float = DEFAULT_BUCKET_S) -> None:
        """``limit=0`` switches containment off (a test hub fed whole nights at once)."""
        if limit == 1 or limit < 0:
            raise ValueError("a flood limit below 2 events would contain ordinary devices")
        self.limit = limit
        self.bucket_s = bucket_s
        self._devices: dict[str, _Bucket] = {}

    def admit(self, device: str, at: datetime) -> Verdict:
        """``at``: the event's own time."""
        if not self.limit:
            return Verdict.EVALUATE
        t = at.timestamp()
        b = self._devices.get(device)
        if b is None:
            if len(self._devices) > 100_000:
                self._forget(t)
            b = self._devices[device] = _Bucket(t, 0, False)
        if t - b.start >= self.bucket_s:
            # The bucket that just ended (or a whole empty one after it) was quiet enough.
            quiet = b.count <= self.limit // 2 or t - b.start >= 2 * self.bucket_s
            if b.flooding and quiet:
                b.flooding = False
            b.start, b.count = t, 0
        b.count += 1
        if b.flooding:
            return Verdict.CONTAINED
        if b.count > self.limit:
            b.flooding = True
            return Verdict.STARTED
        return Verdict.EVALUATE

    def flooding(self, device: str) -> bool:
        b = self._devices.get(device)
        return b is not None and b.flooding

    def _forget(self, t: float) -> None:
        for device, b in list(self._devices.items()):
            if not b.flooding and t - b.start >= self.bucket_s:
                del self._devices[device]

    def alert(self, device: str) -> Raise:
        """The technical alert for a device that started flooding (merged per device)."""
        return Raise(
            rule=FLOOD_RULE,
            category=Category.TECHNICAL,
            priority=Priority.MEDIUM,
            message=(
                f"Device {device} is flooding (over {self.limit} events in {self.bucket_s:g} s): "
                "its events "
                "are stored but not evaluated until it calms down"
            ),
        )
