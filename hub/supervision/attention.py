"""What needs a tekniker's attention, most urgent first (pure).

A *subject* is a device or a gateway with one or more *concerns*, each a reason
and since when it holds: ``offline`` (silent past its window), ``battery_low``
(``BATTERY_LOW_READINGS`` consecutive low readings), ``tamper`` (a tamper report
in the last ``TAMPER_SHOWN``) and ``service_overdue`` (its service date has passed).

Urgency is a rank, then how long it has been so (longest first):

| rank | what                                                                  |
|------|-----------------------------------------------------------------------|
| 0    | safety-critical offline: a resident's alarm button, fall, floor or    |
|      | exit-door sensor, or a gateway that carries one                       |
| 1    | an offline gateway (it takes all its devices with it)                 |
| 2    | tamper                                                                |
| 3    | battery low on a safety-critical device                               |
| 4    | any other offline device                                              |
| 5    | battery low                                                           |
| 6    | service overdue                                                       |

A subject with several concerns is ranked by its most urgent one. No clock and no
I/O: the states and ``now`` come in, an ordered list goes out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum
from typing import Literal

from hub.supervision.core import WatchState

# A tamper report stays on the list this long; the technical alert the rule pack
# raises for it is where it is followed up after that.
TAMPER_SHOWN = timedelta(hours=24)

SubjectKind = Literal["device", "gateway"]


class Reason(StrEnum):
    OFFLINE = "offline"
    BATTERY_LOW = "battery_low"
    TAMPER = "tamper"
    SERVICE_OVERDUE = "service_overdue"


class Rank(IntEnum):
    CRITICAL_OFFLINE = 0
    GATEWAY_OFFLINE = 1
    TAMPER = 2
    CRITICAL_BATTERY_LOW = 3
    OFFLINE = 4
    BATTERY_LOW = 5
    SERVICE_OVERDUE = 6


@dataclass(frozen=True, slots=True)
class Concern:
    reason: Reason
    since: datetime


@dataclass(frozen=True, slots=True)
class Subject:
    """A device (``device`` set) or a gateway (``device`` None) and what is wrong with it."""

    kind: SubjectKind
    site: str
    gateway: str
    device: str | None
    device_class: str
    unit: str | None  # a device's unit; None for a gateway
    units: tuple[str, ...]  # the units it serves (a gateway: those of its devices)
    critical: bool  # a hole in a resident's safety net when it fails
    concerns: tuple[Concern, ...]
    last_seen: datetime | None = None
    behind_offline_gateway: bool = False

    @property
    def key(self) -> str:
        return self.device if self.device is not None else f"gw:{self.site}/{self.gateway}"


@dataclass(frozen=True, slots=True)
class Item:
    subject: Subject
    rank: Rank
    since: datetime  # since when the concern that sets the rank holds


def rank_of(kind: SubjectKind, critical: bool, reason: Reason) -> Rank:
    if reason is Reason.OFFLINE:
        if critical:
            return Rank.CRITICAL_OFFLINE
        return Rank.GATEWAY_OFFLINE if kind == "gateway" else Rank.OFFLINE
    if reason is Reason.TAMPER:
        return Rank.TAMPER
    if reason is Reason.BATTERY_LOW:
        return Rank.CRITICAL_BATTERY_LOW if critical else Rank.BATTERY_LOW
    return Rank.SERVICE_OVERDUE


def concerns_of(
    state: WatchState | None, now: datetime, service_due: datetime | None = None
) -> tuple[Concern, ...]:
    """The concerns a supervision state (and a service date) show at ``now``."""
    found: list[Concern] = []
    if state is not None:
        if state.offline_since is not None:
            found.append(Concern(Reason.OFFLINE, state.offline_since))
        if state.battery_low:
            found.append(Concern(Reason.BATTERY_LOW, state.low_since or state.last_seen))
        if state.tampered_at is not None and now - state.tampered_at < TAMPER_SHOWN:
            found.append(Concern(Reason.TAMPER, state.tampered_at))
    if service_due is not None and service_due < now:
        found.append(Concern(Reason.SERVICE_OVERDUE, service_due))
    return tuple(found)


def with_concern(subject: Subject, concern: Concern) -> Subject:
    """``subject`` with ``concern`` added (one per reason: the earliest since wins)."""
    kept = [c for c in subject.concerns if c.reason is not concern.reason]
    same = [c for c in subject.concerns if c.reason is concern.reason]
    since = min([concern.since, *(c.since for c in same)])
    return replace(subject, concerns=(*kept, Concern(concern.reason, since)))


def merge(subjects: Iterable[Subject], more: Iterable[Subject]) -> list[Subject]:
    """``subjects`` with the concerns of ``more`` added to the same key (or as their own)."""
    by_key = {s.key: s for s in subjects}
    for extra in more:
        have = by_key.get(extra.key)
        if have is None:
            by_key[extra.key] = extra
            continue
        for c in extra.concerns:
            have = with_concern(have, c)
        by_key[extra.key] = have
    return list(by_key.values())


def item(subject: Subject) -> Item | None:
    """The subject ranked by its most urgent concern (the longest-standing on a tie)."""
    if not subject.concerns:
        return None
    rank, since = min(
        (rank_of(subject.kind, subject.critical, c.reason), c.since) for c in subject.concerns
    )
    return Item(subject, rank, since)


def urgency(it: Item) -> tuple[int, datetime, str]:
    return (int(it.rank), it.since, it.subject.key)


def order(subjects: Iterable[Subject]) -> list[Item]:
    """Everything that needs attention, most urgent first."""
    items = [i for i in (item(s) for s in subjects) if i is not None]
    return sorted(items, key=urgency)
