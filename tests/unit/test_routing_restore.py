"""The escalation read back from its routing log is the escalation that wrote it:
a restarted hub carries on where the old one was, instead of starting again."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from test_routing import CHAIN, T0, S, ctx

from hub.alerts import SYSTEM
from hub.routing import engine, restore
from hub.routing.engine import Escalation
from hub.routing.log import RoutingKind, RoutingRecord
from hub.routing.policy import RESPONSE_CENTRE
from rules.decisions import Priority

from builders import alert

Step = tuple[str, int, str]


def run(inputs: list[Step]) -> tuple[Escalation, list[RoutingRecord]]:
    """Drive the core as the shell does, keeping the records the shell would append."""
    a = alert(priority=Priority.CRITICAL)
    esc, effects = engine.start(a, CHAIN, ctx(), T0)
    records = _records(a.id, effects, T0)
    for what, dt, who in sorted(inputs, key=lambda x: x[1]):
        now = T0 + dt * S
        c = ctx(now)
        if what == "tick":
            esc, effects = engine.tick(esc, c, now)
        elif what == "reject":
            records.append(RoutingRecord(a.id, now, RoutingKind.REJECTED, who))
            esc, effects = engine.reject(esc, who, c, now)
        else:
            failed = RoutingRecord(a.id, now, RoutingKind.FAILED, SYSTEM, who, "mqtt", esc.step)
            records.append(failed)
            esc, effects = engine.failed(esc, who, c, now)
        records += _records(a.id, effects, now)
    return esc, records


def _records(alert_id: str, effects: list[engine.Effect], now: object) -> list[RoutingRecord]:
    out = [restore.record_of(alert_id, e, now) for e in effects]  # type: ignore[arg-type]
    return [r for r in out if r is not None]


def same(live: Escalation, back: Escalation) -> None:
    assert (back.step, back.step_started, back.last_sent) == (
        live.step,
        live.step_started,
        live.last_sent,
    )
    assert back.recipients == live.recipients
    assert back.notified == live.notified
    assert back.rejected == live.rejected
    assert back.failed == live.failed & frozenset(live.recipients)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["tick", "tick", "reject", "failed"]),
            st.integers(0, 900),
            st.sampled_from(["kari", "ola", "per", RESPONSE_CENTRE]),
        ),
        max_size=30,
    )
)
def test_restore_gives_back_the_escalation_the_log_was_written_by(inputs: list[Step]) -> None:
    live, records = run(inputs)
    back = restore.restore(live.alert, CHAIN, records)
    assert back is not None
    same(live, back)
    # And it goes on the same way: the next wake and what it does then.
    wake = engine.next_wake(live)
    assert wake is not None and engine.next_wake(back) == wake
    assert engine.tick(back, ctx(wake), wake)[1] == engine.tick(live, ctx(wake), wake)[1]


def test_a_timeline_restored_mid_escalation() -> None:
    live, records = run([("tick", 30, ""), ("tick", 61, ""), ("reject", 70, "ola")])
    back = restore.restore(live.alert, CHAIN, records)
    assert back is not None and back.step == 2 and back.rejected == {"ola"}
    assert back.step_started == T0 + 70 * S
    # Nobody is told again at the restart; the next re-notify comes when it is due.
    assert engine.tick(back, ctx(T0 + 71 * S), T0 + 71 * S) == (back, [])
    assert engine.next_wake(back) == T0 + 100 * S


def test_nothing_to_restore() -> None:
    a = alert(priority=Priority.CRITICAL)
    assert restore.restore(a, CHAIN, []) is None
    live, records = run([])
    taken = replace(live, alert=live.alert.model_copy(update={"accepted_by": "kari"}))
    assert restore.restore(taken.alert, CHAIN, records) is None
    assert restore.record_of(a.id, engine.NobodyOnDuty(a.id, "site-1", None), T0) is None


def test_chain_shorter_after_a_config_change_keeps_to_its_last_step() -> None:
    live, records = run([("tick", 61, ""), ("tick", 121, ""), ("tick", 211, "")])
    assert live.step == 3
    short = replace(CHAIN, steps=CHAIN.steps[:2])
    back = restore.restore(live.alert, short, records)
    assert back is not None and back.step == 1
    assert timedelta(0) <= engine.next_wake(back) - T0  # type: ignore[operator]
