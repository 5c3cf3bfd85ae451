"""Nobody on duty in a unit is itself a critical alert: stored with its life cycle,
on the board of the site's staff, routed to the response centre, raised once per
uncovered period and resolved by the system when someone is on duty again."""

from __future__ import annotations

from datetime import time

from routing_env import SITE, Env, env

from hub.alerts import SYSTEM, Alert, AlertState, Outcome
from hub.channels.base import MessageKind
from hub.routing.coverage import NOBODY_KIND
from hub.routing.log import RoutingKind
from hub.routing.roster import Shift
from hub.store.base import AlertFilter

__all__ = ["env"]


def gap_alerts(env: Env) -> list[Alert]:
    return [a for a in env.store.list_alerts(AlertFilter()) if a.kind == NOBODY_KIND]


async def test_a_fall_in_an_empty_unit_raises_one_gap_alert_to_the_response_centre(
    env: Env,
) -> None:
    await env.send("fall.detected", "fall-B")  # unit-B has nobody on duty
    await env.send("fall.detected", "fall-B")  # the same fall again: still one gap
    (gap,) = [a for a in env.hub.open_alerts() if a.kind == NOBODY_KIND]
    stored = env.store.get_alert(gap.id)
    assert stored is not None and stored.state is AlertState.NOTIFIED
    assert (stored.priority, stored.unit, stored.apartment, stored.resident_id) == (
        "critical",
        None,
        None,
        None,
    )
    assert stored.device == "roster:unit-B" and "unit-B" in stored.message
    # Routed to the escalation target, and everyone on duty on the site is told.
    assert [(m.recipient, m.alert.id) for m in env.webhook.sent] == [("response_centre", gap.id)]
    assert sorted(env.mqtt.to(MessageKind.NOBODY_ON_DUTY)) == ["kari", "ola"]
    assert "res-" not in str([m.body() for m in env.webhook.sent + env.mqtt.sent])
    # The fall's own routing log points at the gap's alert.
    fall = next(a for a in env.hub.open_alerts() if a.kind == "fall.detected")
    entries = [x for x in env.store.routing_log(fall.id) if x.kind is RoutingKind.NOBODY_ON_DUTY]
    assert entries and gap.id in (entries[0].detail or "")
    # On the board of the site's staff (a nattevakt of another unit, the leader).
    for who in ("kari", "lisa"):
        r = await env.client.get("/api/v1/alerts", headers=env.auth(who))
        assert gap.id in [a["id"] for a in r.json()], who
    # Re-notified while the gap lasts.
    await env.advance(301)
    told = [m for m in env.webhook.sent if m.alert.id == gap.id]
    assert [m.reason for m in told] == ["first", "renotify"]
    # Someone logs on for the unit: the system resolves the gap with an outcome.
    r = await env.client.post(
        "/api/v1/shift/logon", json={"units": ["unit-B"]}, headers=env.auth("lisa")
    )
    assert r.status_code == 200, r.text
    await env.advance(1)
    await env.settle()
    done = env.store.get_alert(gap.id)
    assert done is not None and done.state is AlertState.RESOLVED
    assert (done.outcome, done.note) == (Outcome.OTHER, "covered again: log-on")
    assert [t.actor for t in env.store.transitions(gap.id)] == [SYSTEM] * 4
    withdrawn = [m.alert.id for m in env.webhook.sent if m.kind is MessageKind.WITHDRAW]
    assert withdrawn == [gap.id]
    metrics = (await env.client.get("/metrics")).text
    assert 'trygg_unit_uncovered{site="site-1",unit="unit-B"} 0.0' in metrics
    assert "trygg_nobody_on_duty_total 1.0" in metrics


async def test_a_rostered_unit_left_empty_and_a_shift_that_starts(env: Env) -> None:
    # unit-B gets a shift from 04:00; at 03:30 nobody is there.
    env.store.save_shift(Shift("d-per", "per", SITE, ("unit-B",), time(4), time(12)))
    await env.router.reload_roster()
    await env.advance(1)
    (gap,) = [a for a in env.hub.open_alerts() if a.kind == NOBODY_KIND]
    for _ in range(3):  # later checks do not raise it again
        await env.advance(60)
    assert len(gap_alerts(env)) == 1
    # The shift starts at 04:00 (Oslo): covered, resolved by the system.
    await env.advance(27 * 60)
    await env.settle()
    done = env.store.get_alert(gap.id)
    assert done is not None and done.state is AlertState.RESOLVED
    assert done.note == "covered again: shift started"
    assert not [a for a in env.hub.open_alerts() if a.kind == NOBODY_KIND]


async def test_a_gap_taken_by_the_leader_and_a_new_period(env: Env) -> None:
    # Both night staff of unit-A log off: unit-A (rostered) is uncovered.
    for who in ("kari", "ola"):
        r = await env.client.post("/api/v1/shift/logoff", headers=env.auth(who))
        assert r.status_code == 200
    await env.advance(1)
    (gap,) = [a for a in env.hub.open_alerts() if a.kind == NOBODY_KIND]
    assert gap.device == "roster:unit-A"
    r = await env.client.post(f"/api/v1/alerts/{gap.id}/accept", headers=env.auth("lisa"))
    assert r.status_code == 200
    await env.settle()
    await env.advance(60)  # still uncovered: no second alert for the same period
    assert len(gap_alerts(env)) == 1
    r = await env.client.post("/api/v1/shift/logon", json={}, headers=env.auth("ola"))
    assert r.status_code == 200
    await env.advance(1)
    await env.settle()
    done = env.store.get_alert(gap.id)
    assert done is not None and done.state is AlertState.RESOLVED
    assert done.accepted_by == "lisa" and done.outcome is Outcome.OTHER
    # A new uncovered period is a new alert.
    r = await env.client.post("/api/v1/shift/logoff", headers=env.auth("ola"))
    await env.advance(1)
    assert len(gap_alerts(env)) == 2
