"""Cancel by the resident: which open alerts a press cancels. Pure: alerts, rule
policies, the hub's window and ``now`` come in; marked alerts come out.

An ``alarm.button`` event cancels an open alert of the SAME device when

- it is the unit's cancel key (``press: cancel``), or a plain second press on an
  alert that a press raised (a press after a fall detection is a call for help,
  never a cancel),
- it happened within the window (the rule's ``resident_cancel.window``, else the
  hub's ``TRYGG_RESIDENT_CANCEL_WINDOW_S``) of the alert's first event, by the
  events' own times,
- the rule allows it (``resident_cancel.allowed``) and the alert is not a
  colleague alarm and not cancelled already,
- a plain press comes at least ``REPEAT_S`` after the device's previous press: a
  press hard on the heels of another is the same press again (a contact that
  bounces, a button held or hammered in a hurry), and joins the alert.

A cancel is a mark: the alert stays open, its priority goes down to the rule's
cancel priority (one step by default) and never up. A press after the window is
a press as before (it joins the open alert); a press on an alert the resident
already cancelled is a new call for help (the hub raises a new alert, see
``hub.decide``). A cancel key press that cancels nothing raises nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from devices.events import EventBase
from hub.alerts import Alert, Transition, mark_cancelled_by_resident
from rules.decisions import Category
from rules.model import ResidentCancel

BUTTON = "alarm.button"
CANCEL_KEY = "cancel"
DEFAULT_WINDOW_S = 30.0
# A press within this long of the device's previous press repeats it: never a cancel.
# Someone taking back a mistaken press looks, thinks and presses again: seconds, not
# the fraction of a second of a bouncing contact or a frightened resident hammering.
REPEAT_S = 2.0
# Alerts whose escalation a resident's cancel stops: a press made by mistake. A
# cancelled fall or smoke alert keeps its chain running: someone still goes.
QUIETED_KINDS = frozenset({BUTTON})

PolicyOf = Callable[[str], ResidentCancel | None]


@dataclass(frozen=True, slots=True)
class Cancelled:
    alert: Alert
    transition: Transition


@dataclass(frozen=True, slots=True)
class Verdict:
    cancelled: tuple[Cancelled, ...] = ()
    # The press is a cancel (or the cancel key): it raises no new alert and joins none.
    consumed: bool = False


NOT_A_CANCEL = Verdict()


def is_cancel_key(event: EventBase) -> bool:
    return event.kind == BUTTON and getattr(event.data, "press", None) == CANCEL_KEY


def stops_escalation(alert: Alert) -> bool:
    """A resident-cancelled alarm press: no more re-notifying or escalating."""
    return alert.cancelled_by_resident and alert.kind in QUIETED_KINDS


def judge(
    event: EventBase,
    open_alerts: Iterable[Alert],
    policy_of: PolicyOf,
    default_window_s: float,
    now: datetime,
    previous_press: datetime | None = None,
) -> Verdict:
    """``previous_press``: the time of the device's last plain press before this one,
    if the caller knows it (see ``REPEAT_S``)."""
    if event.kind != BUTTON:
        return NOT_A_CANCEL
    key = is_cancel_key(event)
    if not key and previous_press is not None and _repeats(event, previous_press):
        return NOT_A_CANCEL
    marks: list[Cancelled] = []
    for alert in sorted(open_alerts, key=lambda a: (a.raised_at, a.id)):
        why = _cancels(event, key, alert, policy_of, default_window_s)
        if why is None:
            continue
        policy = policy_of(alert.rule)
        assert policy is not None  # _cancels checked it
        priority = policy.priority or alert.priority.lowered()
        marks.append(Cancelled(*mark_cancelled_by_resident(alert, event, priority, now, why)))
    return Verdict(tuple(marks), consumed=key or bool(marks))


def _repeats(event: EventBase, previous_press: datetime) -> bool:
    return abs((event.ts - previous_press).total_seconds()) < REPEAT_S


def _cancels(
    event: EventBase, key: bool, alert: Alert, policy_of: PolicyOf, default_window_s: float
) -> str | None:
    """Why ``event`` cancels ``alert`` (for the record), or None when it does not."""
    if (
        alert.device != event.device
        or not alert.is_open
        or alert.cancelled_by_resident
        or alert.category is Category.COLLEAGUE
        or event.id in alert.event_ids
        or (not key and alert.kind != BUTTON)
    ):
        return None
    policy = policy_of(alert.rule)
    if policy is None or not policy.allowed:
        return None
    window = policy.window_s if policy.window_s is not None else default_window_s
    after = (event.ts - alert.event_ts).total_seconds()
    if not 0 <= after <= window:
        return None
    how = "cancel key" if key else "second press"
    return f"{how} {after:.0f} s after the first event, window {window:.0f} s"
