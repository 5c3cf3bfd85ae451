"""The duty roster: shifts (local wall times, across midnight) and log on/off.

Who is on duty at ``t``:

- a staff member whose shift covers ``t`` is on duty, unless they logged off
  during this occurrence of the shift (a missed log-on must never leave a
  unit unattended: the schedule counts);
- a staff member who logged on (handheld or API) is on duty for the units of
  that log-on until they log off or ``MAX_LOGON`` has passed.

Shift times are wall-clock times in the site's time zone, so "22:00-07:00"
stays right across daylight-saving changes (``devices.localtime`` decides the
DST edge cases for all of Trygg).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from devices.localtime import TimeWindow, wall_clock, zone

MAX_LOGON = timedelta(hours=16)


@dataclass(frozen=True, slots=True)
class Shift:
    id: str
    staff: str  # the account's username
    site: str
    units: tuple[str, ...]
    start: time  # local wall time
    end: time  # end <= start: the shift runs across midnight
    tz: str = "Europe/Oslo"
    # Apartments this person is the primary contact for while on this shift.
    primary_for: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.units:
            raise ValueError(f"shift {self.id} has no units")
        zone(self.tz)  # ValueError for an unknown zone

    @property
    def window(self) -> TimeWindow:
        """``start == end`` is a whole-day shift (devices.localtime's rule)."""
        return TimeWindow(self.start, self.end)

    def covers(self, t: datetime) -> bool:
        return self.window.contains(t, zone(self.tz))

    def began(self, t: datetime) -> datetime:
        """When the occurrence of this shift that covers ``t`` began (UTC)."""
        tz = zone(self.tz)
        day = t.astimezone(tz).date()
        candidate = wall_clock(day, self.start, tz)
        return candidate if candidate <= t else wall_clock(day - timedelta(days=1), self.start, tz)


@dataclass(frozen=True, slots=True)
class ShiftLog:
    """A staff member logging on (``on``) or off at ``at``, for ``units``."""

    staff: str
    site: str
    on: bool
    at: datetime
    units: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OnDuty:
    staff: str
    site: str
    units: frozenset[str]
    primary_for: frozenset[str] = frozenset()


Duty = Mapping[str, OnDuty]


def _latest(logs: Iterable[ShiftLog], staff: str, t: datetime) -> ShiftLog | None:
    mine = [(log.at, i, log) for i, log in enumerate(logs) if log.staff == staff and log.at <= t]
    # Entries at the same instant: the later one in the log wins.
    return max(mine, key=lambda x: (x[0], x[1]))[2] if mine else None


def on_duty(shifts: Sequence[Shift], logs: Sequence[ShiftLog], t: datetime) -> dict[str, OnDuty]:
    """Everyone on duty at ``t``, by username."""
    found: dict[str, OnDuty] = {}
    staff_ids = {s.staff for s in shifts} | {log.staff for log in logs}
    for staff in sorted(staff_ids):
        latest = _latest(logs, staff, t)
        covering = [s for s in shifts if s.staff == staff and s.covers(t)]
        units: set[str] = set()
        primary: set[str] = set()
        site: str | None = None
        for shift in covering:
            if latest is not None and not latest.on and latest.at >= shift.began(t):
                continue  # logged off during this shift
            units.update(shift.units)
            primary.update(shift.primary_for)
            site = shift.site
        if latest is not None and latest.on and t - latest.at < MAX_LOGON:
            units.update(latest.units)
            site = site or latest.site
        if units and site is not None:
            found[staff] = OnDuty(staff, site, frozenset(units), frozenset(primary))
    return found


def in_unit(duty: Duty, site: str, unit: str) -> list[str]:
    return sorted(d.staff for d in duty.values() if d.site == site and unit in d.units)


def on_site(duty: Duty, site: str) -> list[str]:
    return sorted(d.staff for d in duty.values() if d.site == site)


def uncovered(units: Iterable[tuple[str, str]], duty: Duty) -> list[tuple[str, str]]:
    """The (site, unit) pairs with nobody on duty: each is itself a critical alert."""
    return [(site, unit) for site, unit in units if not in_unit(duty, site, unit)]


def next_change(shifts: Sequence[Shift], t: datetime) -> datetime:
    """The next shift boundary after ``t`` (at most a day ahead), for the shell's timer."""
    best = t + timedelta(days=1)
    for shift in shifts:
        edge = shift.window.next_edge(t, zone(shift.tz))
        if edge is not None and edge < best:
            best = edge
    return best
