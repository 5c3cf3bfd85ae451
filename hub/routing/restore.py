"""The routing log as the escalation's memory: what the shell records for each
effect, and the escalation state read back from those records after a restart.

``record_of`` is the one mapping from an effect to its log record (the shell
uses it, so the log always says what ``restore`` needs). ``restore`` replays an
open alert's records: the step it reached and when, who was told at that step
and when last, who rejected it, whose channel failed at this step. The restarted
hub carries on from there (its next ``tick`` does whatever fell due while it was
down) instead of starting the chain again and waking everyone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from hub.alerts import SYSTEM, Alert
from hub.routing.engine import (
    CANNOT,
    Effect,
    Escalated,
    Escalation,
    NobodyOnDuty,
    Notify,
    Told,
    Withdraw,
)
from hub.routing.log import RoutingKind, RoutingRecord
from hub.routing.policy import Chain


def record_of(alert_id: str, effect: Effect, now: datetime) -> RoutingRecord | None:
    """The routing-log record of an effect (None: the shell records it itself)."""
    k = RoutingKind
    if isinstance(effect, Notify):
        return RoutingRecord(
            alert_id, now, k.NOTIFY, SYSTEM, effect.recipient, effect.channel, effect.step,
            effect.reason,
        )  # fmt: skip
    if isinstance(effect, Escalated):
        return RoutingRecord(
            alert_id, now, k.ESCALATED, SYSTEM, step=effect.to_step, detail=effect.reason
        )
    if isinstance(effect, Withdraw):
        return RoutingRecord(
            alert_id, now, k.WITHDRAWN, SYSTEM, effect.recipient, effect.channel, detail=effect.by
        )
    if isinstance(effect, Told):
        return RoutingRecord(
            alert_id, now, k.TOLD, SYSTEM, effect.recipient, "mqtt", detail=effect.by
        )
    assert isinstance(effect, NobodyOnDuty)
    return None


def restore(alert: Alert, chain: Chain, records: Sequence[RoutingRecord]) -> Escalation | None:
    """The open escalation the log describes; None when nothing was sent for the alert
    yet (the shell then starts the chain)."""
    notifies = [r for r in records if r.kind is RoutingKind.NOTIFY]
    if not notifies or alert.accepted_by is not None or not alert.is_open:
        return None
    step, entered = 0, notifies[0].at
    here: list[RoutingRecord] = []  # the notifies since the step was (last) entered
    rejected: set[str] = set()
    failed: set[str] = set()
    declined: set[str] = set()  # relatives of this step who answered "cannot"
    for r in records:
        if r.kind is RoutingKind.ESCALATED and r.step is not None:
            step, entered, here, failed, declined = r.step, r.at, [], set(), set()
        elif r.kind is RoutingKind.NOTIFY and r.step == step:
            here.append(r)
        elif r.kind is RoutingKind.REJECTED:
            rejected.add(r.actor)
        elif r.kind is RoutingKind.FAILED and r.step == step and r.recipient:
            failed.add(r.recipient)
        elif r.kind is RoutingKind.RELATIVE_ANSWER and r.step == step and r.detail == CANNOT:
            declined.add(r.actor)
    step = min(step, len(chain.steps) - 1)
    # At the last step a re-notify after the timeout starts the step's clock again.
    started = entered
    for r in here:
        if r.at >= started + chain.steps[step].timeout:
            started = r.at
    last_sent = max((r.at for r in here), default=entered)
    latest = [r.recipient for r in here if r.at == last_sent and r.recipient]
    recipients = tuple(dict.fromkeys(latest))
    return Escalation(
        alert=alert,
        chain=chain,
        step=step,
        step_started=started,
        last_sent=last_sent,
        recipients=recipients,
        notified=frozenset((r.recipient, r.channel) for r in notifies if r.recipient and r.channel),
        rejected=frozenset(rejected),
        failed=frozenset(failed) & frozenset(recipients),
        declined=frozenset(declined) & frozenset(recipients),
    )
