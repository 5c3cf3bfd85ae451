"""The supervisor: who has been silent too long, as a pure timer structure.

Every watched thing (a device id, or ``gateway_key(site, gateway)``) has a
window and the time it was last heard from. One binary heap holds at most one
*live* entry per watch, keyed by the deadline it had when the entry was pushed;
hearing from a device only updates ``last_seen`` (O(1), no heap work). When an
entry comes due, the watch's real deadline (``last_seen + window``) is checked:
still in the future -> pushed again with that deadline (one push per window,
not per message); passed -> the watch goes offline. Entries of forgotten or
re-armed watches are skipped when they come out (lazy invalidation), so there
is no per-device polling and no per-message heap traffic.

Timers are data: :meth:`Supervisor.next_wake` tells the shell when to call
:meth:`Supervisor.due`. No clock, no I/O, no asyncio here.

Findings: :class:`Offline` (silent past the window), :class:`Recovered` (heard
from again, with the outage), :class:`BatteryLow` (``BATTERY_LOW_READINGS``
consecutive low readings), :class:`BatteryOk`, :class:`Tampered`.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hub.supervision.policy import BATTERY_LOW_PCT, BATTERY_LOW_READINGS


def gateway_key(site: str, gateway: str) -> str:
    return f"gw:{site}/{gateway}"


@dataclass(frozen=True, slots=True)
class Offline:
    key: str
    last_seen: datetime
    detected_at: datetime
    deadline: datetime  # last_seen + window: detection delay = detected_at - deadline


@dataclass(frozen=True, slots=True)
class Recovered:
    key: str
    offline_since: datetime  # the last sign of life before the outage
    deadline: datetime  # when its window ran out
    back_at: datetime

    @property
    def outage(self) -> timedelta:
        return self.back_at - self.offline_since


@dataclass(frozen=True, slots=True)
class BatteryLow:
    key: str
    at: datetime
    readings: int


@dataclass(frozen=True, slots=True)
class BatteryOk:
    key: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Tampered:
    key: str
    at: datetime


Finding = Offline | Recovered | BatteryLow | BatteryOk | Tampered


class _Watch:
    __slots__ = ("armed", "last_seen", "low", "low_from", "offline_at", "tampered_at", "window")

    def __init__(self, window: float, last_seen: float) -> None:
        self.window = window
        self.last_seen = last_seen
        self.armed = 0.0  # deadline of this watch's live heap entry; 0: none
        self.offline_at: float | None = None
        self.low = 0  # consecutive low battery readings
        self.low_from = 0.0  # when the current run of low readings began
        self.tampered_at: float | None = None


def _ts(at: datetime) -> float:
    return at.timestamp()


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class Supervisor:
    def __init__(self, battery_readings: int = BATTERY_LOW_READINGS) -> None:
        if battery_readings < 1:
            raise ValueError("battery_readings must be at least 1")
        self._battery_readings = battery_readings
        self._watches: dict[str, _Watch] = {}
        self._heap: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._watches)

    def __contains__(self, key: object) -> bool:
        return key in self._watches

    # --- the registry side -----------------------------------------------------------

    def watch(self, key: str, window: timedelta, last_seen: datetime) -> None:
        """Supervise ``key`` (again): silent past ``last_seen + window`` means offline."""
        w = self._watches.get(key)
        seconds = window.total_seconds()
        if seconds <= 0:
            raise ValueError(f"window for {key} must be positive")
        if w is None:
            w = self._watches[key] = _Watch(seconds, _ts(last_seen))
        else:
            w.window = seconds
            w.last_seen = max(w.last_seen, _ts(last_seen))
        if w.offline_at is None:
            self._arm(key, w, w.last_seen + w.window)

    def assume_offline(self, key: str, deadline: datetime) -> None:
        """``key`` was already offline since its window ran out at ``deadline`` (an
        outage that was open when the hub restarted): the next sign of life recovers it."""
        w = self._watches.get(key)
        if w is None or w.offline_at is not None:
            return
        w.offline_at = _ts(deadline)
        w.last_seen = min(w.last_seen, w.offline_at - w.window)

    def forget(self, key: str) -> None:
        """No longer supervised (retired, removed); its heap entry is skipped later."""
        self._watches.pop(key, None)

    def keys(self) -> list[str]:
        return list(self._watches)

    # --- signs of life ---------------------------------------------------------------

    def seen(self, key: str, at: datetime) -> Recovered | None:
        """``key`` was heard from at ``at``; a watch that was offline recovers."""
        w = self._watches.get(key)
        if w is None:
            return None
        ts = _ts(at)
        if ts <= w.last_seen:
            return None  # an older report (a retained status, a late event): no news
        w.last_seen = ts
        if w.offline_at is None:
            return None
        deadline, w.offline_at = w.offline_at, None
        self._arm(key, w, ts + w.window)
        return Recovered(key, _dt(deadline - w.window), _dt(deadline), at)

    def battery(self, key: str, pct: int | None, flagged_low: bool, at: datetime) -> Finding | None:
        """One battery reading: ``flagged_low`` (the device says so) or ``pct`` below the
        threshold counts as low; a good ``pct`` resets the count."""
        w = self._watches.get(key)
        if w is None:
            return None
        low = flagged_low or (pct is not None and pct < BATTERY_LOW_PCT)
        if low:
            if w.low == 0:
                w.low_from = _ts(at)
            w.low += 1
            if w.low == self._battery_readings:
                return BatteryLow(key, at, w.low)
            return None
        if pct is None:
            return None
        was_low = w.low >= self._battery_readings
        w.low = 0
        return BatteryOk(key, at) if was_low else None

    def tampered(self, key: str, at: datetime) -> Tampered | None:
        """Tamper counts at once: no debounce."""
        w = self._watches.get(key)
        if w is None:
            return None
        w.tampered_at = _ts(at)
        return Tampered(key, at)

    def clear_tamper(self, key: str) -> None:
        w = self._watches.get(key)
        if w is not None:
            w.tampered_at = None

    # --- the timer -------------------------------------------------------------------

    def next_wake(self) -> datetime | None:
        """The earliest deadline in the heap (it may be stale: an early wake is harmless)."""
        return _dt(self._heap[0][0]) if self._heap else None

    def due(self, now: datetime) -> list[Offline]:
        """Everything whose window has passed by ``now``; re-arms what was heard from."""
        out: list[Offline] = []
        heap, watches, t = self._heap, self._watches, _ts(now)
        while heap and heap[0][0] <= t:
            deadline, key = heapq.heappop(heap)
            w = watches.get(key)
            if w is None or w.armed != deadline:
                continue  # forgotten or re-armed: a stale entry
            w.armed = 0.0
            if w.offline_at is not None:
                continue
            real = w.last_seen + w.window
            if real > t:
                self._arm(key, w, real)
                continue
            w.offline_at = real
            out.append(Offline(key, _dt(w.last_seen), now, _dt(real)))
        return out

    def _arm(self, key: str, w: _Watch, deadline: float) -> None:
        if w.armed and w.armed <= deadline:
            return  # the live entry comes first; it re-arms itself when it comes due
        w.armed = deadline
        heapq.heappush(self._heap, (deadline, key))

    # --- what the attention list shows -----------------------------------------------

    def state(self, key: str) -> WatchState | None:
        w = self._watches.get(key)
        if w is None:
            return None
        return WatchState(
            key=key,
            last_seen=_dt(w.last_seen),
            window=timedelta(seconds=w.window),
            offline_since=_dt(w.offline_at - w.window) if w.offline_at is not None else None,
            battery_low=w.low >= self._battery_readings,
            low_since=_dt(w.low_from) if w.low >= self._battery_readings else None,
            tampered_at=_dt(w.tampered_at) if w.tampered_at is not None else None,
        )

    def heap_size(self) -> int:
        return len(self._heap)


@dataclass(frozen=True, slots=True)
class WatchState:
    key: str
    last_seen: datetime
    window: timedelta
    offline_since: datetime | None
    battery_low: bool
    tampered_at: datetime | None
    low_since: datetime | None = None  # the first of the consecutive low readings
