"""Cancel by the resident through a real Hub on SQLite, the Router with fake channels and
the API: the mark, the one update to handhelds, the quiet escalation, the board's JSON,
and staff closing the alert afterwards. (Through Mosquitto: tests/e2e.)"""

from __future__ import annotations

import pytest
from routing_env import Env, FakeChannel, env

from hub.alerts import AlertState, Command
from hub.channels.base import MessageKind
from hub.channels.router import Router
from hub.service import Hub
from hub.store.base import Device, PlacementRecord
from rules.decisions import Priority

__all__ = ["env"]


@pytest.fixture(autouse=True)
async def button(env: Env) -> None:
    env.store.upsert_device(Device("btn-1", "site-1", "gw-1", "alarm_button"))
    env.store.place(PlacementRecord("btn-1", "unit-A", "H1"))
    await env.hub.reload_registry()


def reasons(env: Env) -> list[tuple[str, str | None]]:
    return [(m.recipient, m.reason) for m in env.mqtt.sent if m.kind is MessageKind.NOTIFY]


def metric(env: Env, category: str) -> float:
    value = env.hub.metrics.registry.get_sample_value(
        "trygg_alerts_cancelled_by_resident_total", {"category": category}
    )
    return value or 0.0


async def test_a_second_press_in_the_window_marks_quiets_and_staff_still_close(env: Env) -> None:
    await env.send("alarm.button", "btn-1")
    alert_id = env.open_alert()
    await env.advance(12)
    await env.send("alarm.button", "btn-1")
    (alert,) = env.hub.open_alerts()  # one alert, still open: a mark, not a closing
    assert alert.id == alert_id and alert.state is AlertState.NOTIFIED
    assert alert.cancelled_by_resident_at == env.clock()
    assert (alert.priority, alert.priority_before_cancel) == (Priority.MEDIUM, Priority.HIGH)
    assert len(alert.event_ids) == 2
    assert reasons(env) == [("kari", "first"), ("kari", "cancelled_by_resident")]
    assert env.mqtt.sent[-1].body()["alert"]["cancelled_by_resident"] is True
    assert metric(env, "resident") == 1.0
    # No re-notify and no escalation however long nobody answers.
    await env.advance(61)
    await env.advance(600)
    assert reasons(env) == [("kari", "first"), ("kari", "cancelled_by_resident")]
    # The board's JSON says so, and staff close it as usual.
    r = await env.client.get("/api/v1/alerts?state=open", headers=env.auth("ola"))
    (shown,) = [a for a in r.json() if a["id"] == alert_id]
    assert shown["cancelled_by_resident"] is True and shown["priority"] == "medium"
    assert shown["priority_before_cancel"] == "high" and shown["cancelled_by_resident_at"]
    r = await env.client.post(f"/api/v1/alerts/{alert_id}/accept", headers=env.auth("ola"))
    assert r.status_code == 200
    await env.settle()
    assert env.mqtt.to(MessageKind.WITHDRAW) == ["kari"]
    r = await env.client.post(
        f"/api/v1/alerts/{alert_id}/resolve",
        json={"outcome": "false_alarm", "note": "trykket ved en feil"},
        headers=env.auth("ola"),
    )
    assert r.status_code == 200 and r.json()["state"] == "resolved"
    assert r.json()["cancelled_by_resident"] is True
    await env.settle()
    history = [(t.from_state, t.to_state, t.actor) for t in env.store.transitions(alert_id)]
    assert history == [
        (None, "raised", "system"),
        ("raised", "notified", "system"),
        ("notified", "notified", "device:btn-1"),
        ("notified", "accepted", "ola"),
        ("accepted", "resolved", "ola"),
    ]
    stored = env.store.get_alert(alert_id)
    assert stored is not None and stored.cancelled_by_resident and stored.outcome == "false_alarm"


async def test_a_hammered_button_joins_and_never_cancels(env: Env) -> None:
    for _ in range(6):  # a frightened resident, or a bouncing contact: 0.5 s apart
        await env.send("alarm.button", "btn-1")
        await env.advance(0.5)
    (alert,) = env.hub.open_alerts()
    assert not alert.cancelled_by_resident and len(alert.event_ids) == 6
    assert metric(env, "resident") == 0.0
    await env.advance(5)
    await env.send("alarm.button", "btn-1")  # 5.5 s after the last one: deliberate
    (alert,) = env.hub.open_alerts()
    assert alert.cancelled_by_resident


async def test_a_press_after_the_window_joins_and_is_no_cancel(env: Env) -> None:
    await env.send("alarm.button", "btn-1")
    await env.advance(31)
    await env.send("alarm.button", "btn-1")
    (alert,) = env.hub.open_alerts()
    assert not alert.cancelled_by_resident and alert.priority is Priority.HIGH
    assert len(alert.event_ids) == 2
    await env.advance(61)
    assert reasons(env) == [("kari", "first"), ("kari", "renotify")]  # the chain goes on
    assert metric(env, "resident") == 0.0


async def test_a_press_after_a_cancel_is_a_new_call_for_help(env: Env) -> None:
    await env.send("alarm.button", "btn-1")
    await env.advance(5)
    await env.send("alarm.button", "btn-1")  # cancel
    await env.advance(5)
    await env.send("alarm.button", "btn-1")  # help wanted after all
    first, second = sorted(env.hub.open_alerts(), key=lambda a: a.raised_at)
    assert first.cancelled_by_resident and not second.cancelled_by_resident
    assert second.priority is Priority.HIGH
    assert reasons(env)[-1] == ("kari", "first")
    await env.advance(40)
    await env.send("alarm.button", "btn-1")  # after the window: joins the new one
    assert len(env.hub.open_alerts()) == 2
    newest = next(a for a in env.hub.open_alerts() if a.id == second.id)
    assert len(newest.event_ids) == 2 and not newest.cancelled_by_resident
    await env.advance(61)
    assert (second.id, "renotify") in [(m.alert.id, m.reason) for m in env.mqtt.sent]


async def test_the_cancel_key_marks_a_fall_but_its_escalation_goes_on(env: Env) -> None:
    env.store.upsert_device(Device("fall-1", "site-1", "gw-1", "fall_pendant"))
    await env.send("fall.detected", "fall-1")
    await env.advance(10)
    await env.send("alarm.button", "fall-1", press="cancel")
    (alert,) = env.hub.open_alerts()
    assert alert.cancelled_by_resident and alert.is_open
    assert (alert.priority, alert.priority_before_cancel) == (Priority.HIGH, Priority.CRITICAL)
    assert reasons(env) == [("kari", "first"), ("kari", "cancelled_by_resident")]
    await env.advance(61)
    assert ("ola", "escalated") in reasons(env)  # a cancelled fall is still worth a visit


async def test_a_plain_press_after_a_fall_is_a_call_not_a_cancel(env: Env) -> None:
    await env.send("fall.detected", "fall-1")
    await env.advance(5)
    await env.send("alarm.button", "fall-1")
    alerts = env.hub.open_alerts()
    assert len(alerts) == 2 and not any(a.cancelled_by_resident for a in alerts)


async def test_the_cancel_key_with_nothing_open_raises_nothing(env: Env) -> None:
    await env.send("alarm.button", "btn-1", press="cancel")
    assert env.hub.open_alerts() == [] and env.mqtt.sent == []
    await env.send("alarm.button", "btn-1")
    await env.advance(60)  # far outside the window: the cancel key is not a call for help
    await env.send("alarm.button", "btn-1", press="cancel")
    (alert,) = env.hub.open_alerts()
    assert not alert.cancelled_by_resident and len(alert.event_ids) == 1


async def test_a_restarted_router_keeps_a_cancelled_press_quiet(env: Env) -> None:
    await env.send("alarm.button", "btn-1")
    await env.advance(5)
    await env.send("alarm.button", "btn-1")
    alert_id = env.open_alert()
    await env.router.drain()
    await env.hub.drain()
    hub = Hub(env.store, clock=env.clock)
    await hub.start()
    mqtt = FakeChannel("mqtt")
    fresh = Router(hub, [mqtt, FakeChannel("webhook")], clock=env.clock)
    await fresh.start()
    hub.add_notifier(fresh)
    esc = fresh.escalation(alert_id)
    assert esc is not None and esc.quiet
    (alert,) = hub.open_alerts()
    assert alert.cancelled_by_resident and alert.priority is Priority.MEDIUM
    env.clock.now += esc.current.timeout * 3 + esc.chain.renotify
    fresh.tick()
    await fresh.drain()
    assert mqtt.sent == []
    await hub.command(alert_id, Command.ACCEPT, "ola")
    await fresh.drain()
    assert mqtt.to(MessageKind.WITHDRAW) == ["kari"]  # those told before the restart
    await hub.stop()
