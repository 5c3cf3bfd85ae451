"""Routing policy: which escalation chain an alert follows.

A chain is a list of steps, each naming whom to tell (``Target``), by which
channels, and how long to wait for an accept before the next step. While
nobody has accepted, the current step's people are told again every
``renotify``. Policies match on site, unit, category and priority; the most
specific match wins, and the built-in chains cover whatever matches nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from rules.decisions import Category, Priority


class Target(StrEnum):
    PRIMARY = "primary"  # the resident's primary contact on shift, else the least busy in the unit
    UNIT = "unit"  # everyone on duty in the alert's unit
    SITE = "site"  # everyone on duty on the site (the building)
    RESPONSE_CENTRE = "response_centre"  # the external response centre (webhook)
    # The resident's relatives whom the basis of the alert's measure names (hub.relatives):
    # told through the relatives channel, before staff; skipped when no basis allows it.
    RELATIVES = "relatives"


RESPONSE_CENTRE = "response_centre"  # the recipient id of the response centre
RELATIVES_CHANNEL = "relatives"  # the channel that reaches relatives (hub.relatives.channel)


@dataclass(frozen=True, slots=True)
class Step:
    target: Target
    timeout: timedelta
    channels: tuple[str, ...] = ("mqtt",)
    # Relatives step only: a relative's "I'm handling it" holds the next step until this
    # step's timeout (without it, any answer from a relative moves on to staff at once).
    relative_can_hold: bool = False

    def __post_init__(self) -> None:
        if self.timeout <= timedelta(0):
            raise ValueError("a step's timeout must be positive")
        if not self.channels:
            raise ValueError("a step needs at least one channel")
        if self.relative_can_hold and self.target is not Target.RELATIVES:
            raise ValueError("relative_can_hold is for a relatives step only")


@dataclass(frozen=True, slots=True)
class Chain:
    steps: tuple[Step, ...]
    renotify: timedelta

    def __post_init__(self) -> None:
        if self.renotify <= timedelta(0):
            raise ValueError("renotify must be positive")
        if self.steps and self.steps[-1].target is Target.RELATIVES:
            raise ValueError("a chain must not end with relatives: staff come after them")


@dataclass(frozen=True, slots=True)
class Policy:
    chain: Chain
    site: str | None = None
    unit: str | None = None
    category: Category | None = None
    priority: Priority | None = None
    kind: str | None = None  # the alert's kind, e.g. "roster.nobody_on_duty"

    def matches(
        self,
        site: str,
        unit: str | None,
        category: Category,
        priority: Priority,
        kind: str | None = None,
    ) -> bool:
        return (
            (self.site is None or self.site == site)
            and (self.unit is None or self.unit == unit)
            and (self.category is None or self.category == category)
            and (self.priority is None or self.priority == priority)
            and (self.kind is None or self.kind == kind)
        )

    @property
    def specificity(self) -> int:
        fields = (self.site, self.unit, self.category, self.priority, self.kind)
        return sum(x is not None for x in fields)


def _s(seconds: int) -> timedelta:
    return timedelta(seconds=seconds)


T = Target
WEBHOOK = ("webhook",)


def _resident(first: int, renotify: int) -> Chain:
    return Chain(
        steps=(
            Step(T.PRIMARY, _s(first)),
            Step(T.UNIT, _s(first)),
            Step(T.SITE, _s(first * 3 // 2)),
            Step(T.RESPONSE_CENTRE, _s(first * 2), WEBHOOK),
        ),
        renotify=_s(renotify),
    )


# Nobody on duty in a unit: straight to the escalation target (the response
# centre), told again every five minutes until someone is on duty again (the
# system then resolves it). The site's staff see it on the board, and the shell
# sends each of them a ``nobody_on_duty`` message when the gap opens.
NOBODY_CHAIN = Chain(
    steps=(Step(T.RESPONSE_CENTRE, _s(300), WEBHOOK),),
    renotify=_s(300),
)

DEFAULTS: tuple[Policy, ...] = (
    Policy(NOBODY_CHAIN, category=Category.COLLEAGUE, kind="roster.nobody_on_duty"),
    Policy(_resident(60, 30), category=Category.RESIDENT, priority=Priority.CRITICAL),
    Policy(_resident(120, 60), category=Category.RESIDENT, priority=Priority.HIGH),
    Policy(_resident(300, 120), category=Category.RESIDENT),
    # A colleague alarm goes to everyone in the building at once; the response
    # centre follows if nobody takes it.
    Policy(
        Chain(
            steps=(Step(T.SITE, _s(30)), Step(T.RESPONSE_CENTRE, _s(60), WEBHOOK)),
            renotify=_s(10),
        ),
        category=Category.COLLEAGUE,
    ),
)


def choose(
    policies: Sequence[Policy],
    site: str,
    unit: str | None,
    category: Category,
    priority: Priority,
    kind: str | None = None,
) -> Chain | None:
    """The chain for an alert; None when nobody is to be woken (technical alerts)."""
    if category is Category.TECHNICAL:
        return None
    for candidates in (policies, DEFAULTS):
        found = [p for p in candidates if p.matches(site, unit, category, priority, kind)]
        if found:
            # max() keeps the first of equals: earlier policies win ties.
            return max(found, key=lambda p: p.specificity).chain
    return None
