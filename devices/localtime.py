"""Wall-clock times and daily windows in a site's time zone, correct across DST changes.

Every rule window, consent window and scenario time in Trygg is a wall-clock
time in the site's zone (default Europe/Oslo). Two facts of the calendar make
that tricky, and this module decides them once for everybody:

- A wall-clock time that happens twice (02:00-02:59 on the October night)
  means its first occurrence, still on summer time (``fold=0``).
- A wall-clock time that does not exist (02:00-02:59 on the March night) is
  read with the offset in force before the gap and so moves forward by the
  gap: 02:30 becomes 03:30 summer time. This is what ``zoneinfo`` does with
  ``fold=0`` and what iCalendar (RFC 5545) prescribes.

A :class:`TimeWindow` such as ``22:00-07:00`` is a set of wall-clock times
of day: an instant is inside when its local time of day is, so the window
lasts ten real hours on the night the clocks go back and eight on the night
they go forward. ``start == end`` means the whole day. Durations ("held for
20 minutes") are not wall-clock matters: subtract aware datetimes in UTC.

Pure: no clock is read here; callers pass the instant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_ZONE = "Europe/Oslo"

_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


def parse_time_of_day(value: Any) -> time:
    """``"07:00"`` or ``"07:00:30"`` (or a :class:`time`) -> :class:`time`; ValueError if not."""
    if isinstance(value, time):
        return value
    match = _TIME.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"expected a time 'HH:MM' or 'HH:MM:SS', got {value!r}")
    hour, minute, second = (int(g) if g else 0 for g in match.groups())
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"no such time of day: {value!r}")
    return time(hour, minute, second)


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ValueError (not a KeyError subclass) when it is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def wall_clock(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The instant, in UTC, of wall-clock ``at`` on ``day`` (first occurrence; gaps move forward).

    Returned in UTC on purpose: Python compares and subtracts two datetimes that share a
    ``tzinfo`` by their wall clocks, which is wrong across a DST change.
    """
    local = datetime.combine(day, at.replace(tzinfo=None, fold=0), tzinfo=tz)
    return local.astimezone(UTC)


def next_wall_clock(after: datetime, at: time, tz: ZoneInfo) -> datetime:
    """The first instant (UTC) after ``after`` whose wall clock reads ``at`` (see module doc)."""
    after = after.astimezone(UTC)
    day = after.astimezone(tz).date()
    for offset in range(-1, 3):
        candidate = wall_clock(day + timedelta(days=offset), at, tz)
        if candidate > after:
            return candidate
    raise AssertionError("unreachable: a wall-clock time recurs within two days")


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A daily window of wall-clock time, ``start`` inclusive, ``end`` exclusive."""

    start: time
    end: time

    @classmethod
    def parse(cls, value: Any) -> TimeWindow:
        """``"22:00-07:00"`` -> window; ValueError with the reason when malformed."""
        if isinstance(value, TimeWindow):
            return value
        if not isinstance(value, str):
            raise ValueError(f"expected a window 'HH:MM-HH:MM', got {value!r}")
        start, sep, end = value.partition("-")
        if not sep:
            raise ValueError(f"expected a window 'HH:MM-HH:MM', got {value!r}")
        return cls(parse_time_of_day(start), parse_time_of_day(end))

    @property
    def crosses_midnight(self) -> bool:
        return self.end < self.start

    @property
    def whole_day(self) -> bool:
        return self.start == self.end

    def contains_time(self, t: time) -> bool:
        t = t.replace(tzinfo=None, fold=0)
        if self.whole_day:
            return True
        if self.crosses_midnight:
            return t >= self.start or t < self.end
        return self.start <= t < self.end

    def contains(self, at: datetime, tz: ZoneInfo) -> bool:
        """Is the aware instant ``at`` inside the window, read on the wall clock of ``tz``?"""
        return self.contains_time(at.astimezone(tz).time())

    def next_edge(self, after: datetime, tz: ZoneInfo) -> datetime | None:
        """The next instant (UTC) after ``after`` where ``contains`` changes; None for a whole day.

        Lets a timer-driven caller sleep until the window opens or closes instead of polling.
        """
        if self.whole_day:
            return None
        return min(self._flip(after, self.start, tz), self._flip(after, self.end, tz))

    def _flip(self, after: datetime, at: time, tz: ZoneInfo) -> datetime:
        """The first instant after ``after`` whose local time of day reaches ``at``.

        That is :func:`next_wall_clock`, except when ``at`` falls in a spring-forward gap:
        the wall clock then jumps past ``at`` at the transition itself, and the window's
        membership changes there, not an hour later.
        """
        candidate = next_wall_clock(after, at, tz)
        if candidate.astimezone(tz).time() == at.replace(tzinfo=None, fold=0):
            return candidate

        def reached(x: datetime) -> bool:
            local = x.astimezone(tz)
            return local.date() == candidate.date() and local.time() >= at

        # Bisect whole seconds for the first instant that has reached ``at``.
        low, high = 0, 3 * 3600  # seconds before the candidate
        while low < high:
            mid = (low + high + 1) // 2
            if (
                reached(candidate - timedelta(seconds=mid))
                and candidate - timedelta(seconds=mid) > after
            ):
                low = mid
            else:
                high = mid - 1
        return candidate - timedelta(seconds=low)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"
