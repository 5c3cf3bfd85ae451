"""Escalation of one alert as a pure state machine with timers as data.

``start`` opens an escalation at the chain's first step; ``tick`` (called at
``next_wake`` or later) moves to the next step when the step timed out, or
tells the current step's people again; ``reject``, ``failed`` (a channel
stayed down), ``accept`` and ``close`` are the other inputs. Each returns the
new state and the effects for the shell to carry out; ``resident_cancelled``
tells those notified that the resident cancelled, and may quiet the chain.
Recipients are resolved against the duty roster at every step and every
re-notify, so a shift change during an open alert reaches the people now on duty.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from hub.alerts import Alert
from hub.relatives.disclose import Reach
from hub.relatives.model import relative_of
from hub.routing.coverage import is_gap_alert
from hub.routing.policy import RESPONSE_CENTRE, Chain, Step, Target
from hub.routing.roster import Duty, in_unit, on_site


@dataclass(frozen=True, slots=True)
class Notify:
    alert_id: str
    recipient: str  # a username, or RESPONSE_CENTRE
    channel: str
    step: int
    reason: str  # "first", "escalated", "renotify", "cancelled_by_resident" (an update)


@dataclass(frozen=True, slots=True)
class Escalated:
    alert_id: str
    from_step: int
    to_step: int
    reason: str  # "timeout", "rejected by x", "channel down", "nobody to notify"


@dataclass(frozen=True, slots=True)
class Withdraw:
    """Tell someone who was notified that the alert is taken or closed."""

    alert_id: str
    recipient: str
    channel: str
    by: str | None


@dataclass(frozen=True, slots=True)
class Told:
    """A second accept lost: tell that person who has the alert."""

    alert_id: str
    recipient: str
    by: str


@dataclass(frozen=True, slots=True)
class NobodyOnDuty:
    alert_id: str
    site: str
    unit: str | None


Effect = Notify | Escalated | Withdraw | Told | NobodyOnDuty


@dataclass(frozen=True, slots=True)
class Context:
    """What the core needs to know about the world at ``now``."""

    duty: Duty
    # Open alerts each person has taken: the least busy is asked first.
    busy: Mapping[str, int] = field(default_factory=dict)
    # Alert id -> the relatives who may be told now (hub.relatives.disclose); an alert
    # missing here reaches no relative, and its relatives step is skipped.
    relatives: Mapping[str, Reach] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Escalation:
    alert: Alert
    chain: Chain
    step: int
    step_started: datetime
    last_sent: datetime
    recipients: tuple[str, ...] = ()
    notified: frozenset[tuple[str, str]] = frozenset()  # (recipient, channel) ever told
    rejected: frozenset[str] = frozenset()
    failed: frozenset[str] = frozenset()  # recipients of this step whose channel stayed down
    declined: frozenset[str] = frozenset()  # relatives of this step who answered "cannot"
    accepted_by: str | None = None
    closed: bool = False
    # The resident cancelled a press: no more re-notifying or escalating, but accept
    # and close still withdraw the alert from those told.
    quiet: bool = False

    @property
    def current(self) -> Step:
        return self.chain.steps[self.step]


def recipients(alert: Alert, step: Step, ctx: Context, rejected: frozenset[str]) -> list[str]:
    if step.target is Target.RESPONSE_CENTRE:
        return [RESPONSE_CENTRE]
    if step.target is Target.RELATIVES:
        return list(ctx.relatives.get(alert.id, Reach()).allowed)
    site_staff = on_site(ctx.duty, alert.site)
    unit_staff = in_unit(ctx.duty, alert.site, alert.unit) if alert.unit else site_staff
    if step.target is Target.SITE:
        return [s for s in site_staff if s not in rejected]
    candidates = [s for s in unit_staff if s not in rejected]
    if step.target is Target.UNIT or not candidates:
        return candidates
    primary = [s for s in candidates if alert.apartment in ctx.duty[s].primary_for]
    if primary:
        return primary[:1]
    return [min(candidates, key=lambda s: (ctx.busy.get(s, 0), s))]


def _enter(
    esc: Escalation, index: int, ctx: Context, now: datetime, reason: str
) -> tuple[Escalation, list[Effect]]:
    """Move to step ``index`` (the last step again once the chain is used up) and notify."""
    effects: list[Effect] = []
    last = len(esc.chain.steps) - 1
    while True:
        index = min(index, last)
        step = esc.chain.steps[index]
        people = recipients(esc.alert, step, ctx, esc.rejected)
        if index != esc.step or reason != "first":
            effects.append(Escalated(esc.alert.id, esc.step, index, reason))
        if people or index == last:
            break
        esc = replace(esc, step=index)
        reason = _nobody(esc.alert, step, ctx)
        index += 1
    sent = [
        Notify(esc.alert.id, p, ch, index, _why(reason)) for p in people for ch in step.channels
    ]
    effects.extend(sent)
    new = replace(
        esc,
        step=index,
        step_started=now,
        last_sent=now,
        recipients=tuple(people),
        failed=frozenset(),
        declined=frozenset(),
        notified=esc.notified | {(n.recipient, n.channel) for n in sent},
    )
    return new, effects


def _nobody(alert: Alert, step: Step, ctx: Context) -> str:
    """Why a step told nobody: a relatives step names the missing basis (or relative)."""
    if step.target is Target.RELATIVES:
        return f"skipped: {ctx.relatives.get(alert.id, Reach()).why_not}"
    return "nobody to notify"


def _why(reason: str) -> str:
    return "first" if reason == "first" else "escalated"


def start(
    alert: Alert, chain: Chain, ctx: Context, now: datetime
) -> tuple[Escalation, list[Effect]]:
    esc = Escalation(alert=alert, chain=chain, step=0, step_started=now, last_sent=now)
    effects: list[Effect] = []
    gap = _gap(alert, ctx)
    if gap is not None:
        effects.append(NobodyOnDuty(alert.id, *gap))
    esc, more = _enter(esc, 0, ctx, now, "first")
    return esc, effects + more


def _gap(alert: Alert, ctx: Context) -> tuple[str, str | None] | None:
    """The roster gap this alert falls into, if any (never for the gap alert itself)."""
    if is_gap_alert(alert):
        return None
    if alert.unit is not None and not in_unit(ctx.duty, alert.site, alert.unit):
        return alert.site, alert.unit
    if not on_site(ctx.duty, alert.site):
        return alert.site, None
    return None


def next_wake(esc: Escalation) -> datetime | None:
    if esc.closed or esc.quiet:
        return None
    return min(esc.step_started + esc.current.timeout, esc.last_sent + esc.chain.renotify)


def tick(esc: Escalation, ctx: Context, now: datetime) -> tuple[Escalation, list[Effect]]:
    if esc.closed or esc.quiet:
        return esc, []
    last = len(esc.chain.steps) - 1
    if now >= esc.step_started + esc.current.timeout and esc.step < last:
        return _enter(esc, esc.step + 1, ctx, now, "timeout")
    if esc.current.target is Target.RELATIVES:
        return _relatives_tick(esc, ctx, now)
    if now >= esc.last_sent + esc.chain.renotify or now >= esc.step_started + esc.current.timeout:
        people = recipients(esc.alert, esc.current, ctx, esc.rejected)
        sent = [
            Notify(esc.alert.id, p, ch, esc.step, "renotify")
            for p in people
            for ch in esc.current.channels
        ]
        started = now if now >= esc.step_started + esc.current.timeout else esc.step_started
        notified = esc.notified | {(n.recipient, n.channel) for n in sent}
        new = replace(
            esc, last_sent=now, step_started=started, recipients=tuple(people), notified=notified
        )
        return new, list(sent)
    return esc, []


def _relatives_tick(esc: Escalation, ctx: Context, now: datetime) -> tuple[Escalation, list[Effect]]:
    """Relatives are told once, never again every ``renotify``: that timer only checks
    that the basis still allows it. Withdrawn (expired, outside its window) mid-step:
    staff are told at once instead of waiting for the step's timeout."""
    reach = ctx.relatives.get(esc.alert.id, Reach())
    if esc.recipients and not set(esc.recipients) & set(reach.allowed):
        return _enter(esc, esc.step + 1, ctx, now, f"skipped: {reach.why_not or 'no basis'}")
    return replace(esc, last_sent=now), []


HANDLING = "handling"  # a relative's answer: "I'm handling it"
CANNOT = "cannot"  # "I can't"
ANSWERS = (HANDLING, CANNOT)


def relative_answer(
    esc: Escalation, recipient: str, answer: str, ctx: Context, now: datetime
) -> tuple[Escalation, list[Effect]]:
    """A relative told at the current step answered. "cannot" from every relative told
    moves on to staff at once; "handling" does too unless the step lets a relative hold
    it (``relative_can_hold``: then staff are told at the step's timeout, no later).
    An answer after the step is over changes nothing (the shell still records it)."""
    if answer not in ANSWERS:
        raise ValueError(f"a relative answers one of {', '.join(ANSWERS)}, not {answer!r}")
    at_step = esc.current.target is Target.RELATIVES and recipient in esc.recipients
    if esc.closed or not at_step or esc.step == len(esc.chain.steps) - 1:
        return esc, []
    # The reason names no relative: it goes to the log; the routing log's
    # relative_answer entry (the shell's) says who answered.
    if answer == HANDLING:
        if esc.current.relative_can_hold:
            return esc, []
        return _enter(esc, esc.step + 1, ctx, now, "a relative is handling it")
    esc = replace(esc, declined=esc.declined | {recipient})
    if set(esc.recipients) <= esc.declined:
        return _enter(esc, esc.step + 1, ctx, now, "relatives cannot")
    return esc, []


def reject(
    esc: Escalation, staff: str, ctx: Context, now: datetime
) -> tuple[Escalation, list[Effect]]:
    """'Busy': this person is left out from now on, and the next step runs at once."""
    if esc.closed or esc.quiet:
        return esc, []
    esc = replace(esc, rejected=esc.rejected | {staff})
    return _enter(esc, esc.step + 1, ctx, now, f"rejected by {staff}")


def failed(
    esc: Escalation, recipient: str, ctx: Context, now: datetime
) -> tuple[Escalation, list[Effect]]:
    """A channel to ``recipient`` stayed down after its retries. When nobody at the
    current step can be reached any more, the next step runs at once."""
    if esc.closed or esc.quiet or recipient not in esc.recipients:
        return esc, []
    esc = replace(esc, failed=esc.failed | {recipient})
    # At the last step there is nowhere further to go: the re-notify timer tries again.
    if set(esc.recipients) <= esc.failed and esc.step < len(esc.chain.steps) - 1:
        return _enter(esc, esc.step + 1, ctx, now, "channel down")
    return esc, []


def accept(esc: Escalation, staff: str) -> tuple[Escalation, list[Effect]]:
    """The first accept stops the escalation; a later one by someone else is told who won."""
    if esc.accepted_by is not None:
        if esc.accepted_by == staff:
            return esc, []
        return esc, [Told(esc.alert.id, staff, esc.accepted_by)]
    done = replace(esc, accepted_by=staff, closed=True)
    return done, _withdraw(esc, staff)


def close(esc: Escalation, by: str | None) -> tuple[Escalation, list[Effect]]:
    """The alert is on site, resolved or cancelled: stop, and tell everyone still waiting."""
    if esc.closed:
        return esc, []
    return replace(esc, closed=True), _withdraw(esc, by)


CANCELLED_BY_RESIDENT = "cancelled_by_resident"


def resident_cancelled(esc: Escalation, stop: bool) -> tuple[Escalation, list[Effect]]:
    """The resident cancelled the alert: everyone told so far gets one update saying so.
    ``stop`` (a press made by mistake) ends re-notifying and escalating; the alert stays
    open for staff to close. Otherwise (a fall, smoke) the chain goes on."""
    if esc.closed or esc.quiet:
        return esc, []
    told = [
        Notify(esc.alert.id, who, ch, esc.step, CANCELLED_BY_RESIDENT)
        for who, ch in sorted(esc.notified)
    ]
    return (replace(esc, quiet=True) if stop else esc), list(told)


def _withdraw(esc: Escalation, by: str | None) -> list[Effect]:
    return [
        Withdraw(esc.alert.id, who, ch, by)
        for who, ch in sorted(esc.notified)
        if who != by and who != RESPONSE_CENTRE and relative_of(who) is None
    ]
