"""The compiled form of a rule file: plain slotted objects the engine reads on its hot path.

:mod:`rules.loader` builds these from YAML after checking them against the event
vocabulary; :mod:`rules.engine` evaluates them. Nothing here is validated again
at run time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from zoneinfo import ZoneInfo

from devices.events import EventBase
from devices.localtime import TimeWindow
from devices.registry import Placement
from rules.decisions import Category, Priority

Predicate = Callable[[EventBase, Placement | None], bool]


class Mode(StrEnum):
    """How a rule turns matching events into alerts."""

    INSTANT = "instant"  # every matching event (after debounce/cool-down)
    COUNT = "count"  # N matching events within a span
    ABSENT = "absent"  # a matching event not followed by a clearing one within a span
    EXPECT = "expect"  # an expected event not seen inside a daily window, checked at its end


class ActionKind(StrEnum):
    RAISE = "raise"
    CANCEL = "cancel"
    RESOLVE = "resolve"


@dataclass(frozen=True, slots=True)
class Params:
    """The tunable numbers of one rule for one resident (defaults or an override)."""

    enabled: bool = True
    window: TimeWindow | None = None
    within_s: float = 0.0
    count: int = 1
    # geofence rules: only these zones (the agreed area of this resident); empty: any zone
    zones: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ResidentCancel:
    """Whether the resident may cancel this rule's alert (a second press, a cancel key).

    A cancel only marks the alert and lowers its priority; staff still close it.
    """

    allowed: bool = False
    window_s: float | None = None  # None: the hub's TRYGG_RESIDENT_CANCEL_WINDOW_S
    priority: Priority | None = None  # None: one step below the rule's priority


NO_RESIDENT_CANCEL = ResidentCancel()


@dataclass(frozen=True, slots=True)
class Scope:
    """Empty sets match everything; a rule applies when every non-empty set matches."""

    sites: frozenset[str] = frozenset()
    units: frozenset[str] = frozenset()
    residents: frozenset[str] = frozenset()
    devices: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()

    @property
    def everything(self) -> bool:
        return not (self.sites or self.units or self.residents or self.devices or self.tags)

    def matches(self, event: EventBase, p: Placement | None) -> bool:
        if self.sites and event.site not in self.sites:
            return False
        if self.devices and event.device not in self.devices:
            return False
        if self.units and (p is None or p.unit not in self.units):
            return False
        if self.residents and (p is None or p.resident_id not in self.residents):
            return False
        return not self.tags or (p is not None and not self.tags.isdisjoint(p.tags))


@dataclass(frozen=True, slots=True)
class Rule:
    index: int
    name: str
    source: str  # file:line, for logs and `rules check`
    kinds: frozenset[str]  # trigger kinds (the index key); for EXPECT the expected kinds
    when: Predicate
    mode: Mode
    scope: Scope
    defaults: Params
    overrides: Mapping[str, Params]  # resident id -> params
    action: ActionKind
    target: str  # the rule a cancel/resolve action closes; this rule's name for raise
    category: Category
    priority: Priority
    message: str
    clear_kinds: frozenset[str] = frozenset()
    clear: Predicate | None = None
    cancel_on_clear: bool = False
    suppress_with_staff: bool = False
    debounce_s: float = 0.0
    cooldown_s: float = 0.0
    hold_s: float = 0.0  # cancel_on_clear: held back from staff this long after the deadline
    merge_open: bool = True
    resident_cancel: ResidentCancel = NO_RESIDENT_CANCEL
    scoped: bool = False  # scope narrows (precomputed: checked on every event)

    def params(self, resident: str | None) -> Params:
        if resident is None or not self.overrides:
            return self.defaults
        return self.overrides.get(resident, self.defaults)


@dataclass(frozen=True, slots=True)
class RulePack:
    """Every rule of the files loaded together, indexed by the kinds that concern them."""

    rules: tuple[Rule, ...]
    tz: ZoneInfo
    presence_max_s: float
    sources: tuple[str, ...] = ()
    by_kind: Mapping[str, tuple[Rule, ...]] = field(default_factory=dict)
    clears_by_kind: Mapping[str, tuple[Rule, ...]] = field(default_factory=dict)
    expect_rules: tuple[Rule, ...] = ()
