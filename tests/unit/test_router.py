"""The routing shell and its API over a real Hub on SQLite, with fake channels
(the real ones are tested against the real services in tests/integration).
Events go in through ``Hub.handle_message``; time is a settable clock."""

from __future__ import annotations

from routing_env import SITE, Env, env

from hub.alerts import AlertState
from hub.channels.base import MessageKind
from hub.routing.log import RoutingKind

__all__ = ["env"]


async def test_a_fall_goes_to_the_primary_and_escalates_on_timeout(env: Env) -> None:
    await env.send("fall.detected", "fall-1")
    assert env.mqtt.to() == ["kari"]
    alert_id = env.open_alert()
    assert env.hub.open_alerts()[0].state is AlertState.NOTIFIED  # the channel delivered
    await env.advance(61)
    assert env.mqtt.to() == ["kari", "kari", "ola"]
    r = await env.client.post(f"/api/v1/alerts/{alert_id}/accept", headers=env.auth("ola"))
    assert r.status_code == 200
    await env.settle()
    assert env.mqtt.to(MessageKind.WITHDRAW) == ["kari"]
    # The second accept loses and is told who has it.
    r = await env.client.post(f"/api/v1/alerts/{alert_id}/accept", headers=env.auth("kari"))
    assert r.status_code == 409
    assert r.json()["accepted_by"] == "ola" and "taken by ola" in r.json()["detail"]
    assert "res-" not in r.text and "H1" not in r.text  # who holds it, nothing on the resident
    log = await env.client.get(f"/api/v1/alerts/{alert_id}/routing", headers=env.auth("ola"))
    kinds = [x["kind"] for x in log.json()]
    assert kinds.count("notify") == 3 and "escalated" in kinds and "withdrawn" in kinds


async def test_reject_escalates_at_once(env: Env) -> None:
    await env.send("fall.detected", "fall-1")
    alert_id = env.open_alert()
    r = await env.client.post(f"/api/v1/alerts/{alert_id}/reject", headers=env.auth("kari"))
    assert r.status_code == 200
    await env.settle()
    assert env.mqtt.to() == ["kari", "ola"]
    log = env.store.routing_log(alert_id)
    assert (RoutingKind.REJECTED, "kari") in [(x.kind, x.actor) for x in log]


async def test_a_handheld_that_stays_down_escalates_to_the_next_step(env: Env) -> None:
    env.mqtt.down_for.add("kari")
    await env.send("fall.detected", "fall-1")
    assert env.mqtt.to() == ["ola"]
    failed = [x for x in env.store.routing_log(env.open_alert()) if x.kind is RoutingKind.FAILED]
    # Kari's handheld failed at step 0 (so step 1 ran at once) and again at step 1,
    # where Ola could still be reached: no further escalation.
    assert [(x.recipient, x.step) for x in failed] == [("kari", 0), ("kari", 1)]
    esc = env.router.escalation(env.open_alert())
    assert esc is not None and esc.step == 1


async def test_a_colleague_alarm_goes_to_everyone_on_duty_at_once(env: Env) -> None:
    await env.send("staff.alarm", "staff-1", location="Leil. 3, stue")
    assert sorted(env.mqtt.to()) == ["kari", "ola"]
    (message,) = {m.alert.message for m in env.mqtt.sent}
    assert "Leil. 3, stue" in message
    await env.send("staff.alarm", "staff-1", location="Leil. 3, stue")
    assert len(env.hub.open_alerts()) == 2  # every press is its own alarm


async def test_presence_at_the_door_records_help_on_site(env: Env) -> None:
    await env.send("fall.detected", "fall-1")
    alert_id = env.open_alert()
    await env.send("presence.staff_in", "tag-1", staff_id="ola")
    stored = env.store.get_alert(alert_id)
    assert stored is not None and stored.state is AlertState.ON_SITE
    assert stored.accepted_by == "ola"
    assert env.store.transitions(alert_id)[-1].actor == "ola"
    assert env.mqtt.to(MessageKind.WITHDRAW) == ["kari"]


async def test_roster_api_logon_logoff_and_scopes(env: Env) -> None:
    body = {"staff": "eva", "site": SITE, "units": ["unit-A"], "start": "07:00", "end": "15:00"}
    r = await env.client.put("/api/v1/roster/shifts/d-eva", json=body, headers=env.auth("kari"))
    assert r.status_code == 403  # nattevakt cannot manage
    r = await env.client.put("/api/v1/roster/shifts/d-eva", json=body, headers=env.auth("lisa"))
    assert r.status_code == 200, r.text
    bad = {**body, "units": ["unit-Z"]}
    r = await env.client.put("/api/v1/roster/shifts/x", json=bad, headers=env.auth("lisa"))
    assert r.status_code == 403
    r = await env.client.put(
        "/api/v1/roster/shifts/x", json={**body, "tz": "Mars/Olympus"}, headers=env.auth("admin")
    )
    assert r.status_code == 422
    r = await env.client.get("/api/v1/roster/shifts", headers=env.auth("kari"))
    assert [s["id"] for s in r.json()] == ["d-eva", "n-kari", "n-ola"]
    r = await env.client.post("/api/v1/shift/logoff", headers=env.auth("kari"))
    assert r.status_code == 200 and r.json() is None
    r = await env.client.get("/api/v1/roster/on-duty", headers=env.auth("kari"))
    assert [d["staff"] for d in r.json()] == ["ola"]
    await env.send("fall.detected", "fall-1")
    assert env.mqtt.to() == ["ola"]  # kari logged off: ola is the one
    r = await env.client.post("/api/v1/shift/logon", json={}, headers=env.auth("kari"))
    assert r.json()["units"] == ["unit-A"]
    r = await env.client.post(
        "/api/v1/shift/logon", json={"units": ["unit-B"]}, headers=env.auth("kari")
    )
    assert r.status_code == 403
    r = await env.client.delete("/api/v1/roster/shifts/d-eva", headers=env.auth("lisa"))
    assert r.status_code == 204
    r = await env.client.delete("/api/v1/roster/shifts/d-eva", headers=env.auth("lisa"))
    assert r.status_code == 404


async def test_stats_and_metrics_after_a_night(env: Env) -> None:
    await env.send("fall.detected", "fall-1")
    alert_id = env.open_alert()
    await env.advance(20)
    await env.client.post(f"/api/v1/alerts/{alert_id}/on-my-way", headers=env.auth("kari"))
    await env.advance(100)
    r = await env.client.post(
        f"/api/v1/alerts/{alert_id}/resolve",
        json={"outcome": "false_alarm"},
        headers=env.auth("kari"),
    )
    assert r.status_code == 200, r.text
    await env.settle()
    r = await env.client.get(
        "/api/v1/stats", params={"since": "2024-11-01T00:00:00Z"}, headers=env.auth("lisa")
    )
    body = r.json()
    assert body["alerts"] == 1
    assert body["times"]["accept"]["median_s"] == 20.0
    assert body["times"]["resolve"]["median_s"] == 120.0
    assert body["false_alarms"]["rule"]["fall"]["false_alarm_rate"] == 1.0
    assert "resident" not in body["false_alarms"]
    metrics = (await env.client.get("/metrics")).text
    assert 'trygg_alert_outcomes_total{outcome="false_alarm",rule="fall"} 1.0' in metrics
    assert "trygg_alert_time_to_accept_seconds_count" in metrics
    assert "res-" not in metrics and "H1" not in metrics
    log = [x.kind for x in env.store.routing_log(alert_id)]
    assert RoutingKind.ON_MY_WAY in log


async def test_board_page_is_served(env: Env) -> None:
    r = await env.client.get("/board/")
    assert r.status_code == 200 and "board.js" in r.text
    assert (await env.client.get("/board/board.js")).status_code == 200


async def test_no_response_centre_configured_and_every_handheld_down(env: Env) -> None:
    del env.router.channels["webhook"]
    env.mqtt.down_for.update({"kari", "ola"})
    await env.send("fall.detected", "fall-1")
    await env.settle()
    esc = env.router.escalation(env.open_alert())
    assert esc is not None and esc.step == 3  # at the response centre, still open
    await env.advance(30)  # the re-notify tries again, and nothing loops in between
    failures = [x for x in env.store.routing_log(esc.alert.id) if x.kind is RoutingKind.FAILED]
    assert len(failures) >= 4
    metrics = (await env.client.get("/metrics")).text
    assert 'trygg_notify_failures_total{channel="webhook"} 2.0' in metrics


async def test_handheld_receipts_and_buttons(env: Env) -> None:
    await env.send("fall.detected", "fall-1")
    alert_id = env.open_alert()
    env.router.receipt(SITE, "kari", alert_id, "delivered")
    env.router.receipt(SITE, "kari", alert_id, "read")
    env.router.receipt(SITE, "kari", alert_id, "reject")
    await env.settle()
    assert env.mqtt.to() == ["kari", "ola"]
    env.router.receipt(SITE, "ola", alert_id, "accept")
    await env.settle()
    env.router.receipt(SITE, "kari", alert_id, "accept")  # too late: told who has it
    await env.settle()
    env.router.receipt(SITE, "ola", alert_id, "on_my_way")
    env.router.receipt(SITE, "ola", "no-such-alert", "reject")  # ignored, no crash
    env.router.receipt(SITE, "ola", "no-such-alert", "accept")
    assert await env.router.accept("no-such-alert", "ola") is None
    await env.settle()
    told = [m for m in env.mqtt.sent if m.kind is MessageKind.TOLD]
    assert [(m.recipient, m.by) for m in told] == [("kari", "ola")]
    kinds = [(x.kind, x.actor, x.detail) for x in env.store.routing_log(alert_id)]
    assert (RoutingKind.RECEIPT, "kari", "read") in kinds
    assert (RoutingKind.REJECTED, "kari", None) in kinds
    assert (RoutingKind.TOLD, "system", "ola") in kinds
    assert (RoutingKind.ON_MY_WAY, "ola", None) in kinds
    stored = env.store.get_alert(alert_id)
    assert stored is not None and stored.accepted_by == "ola"


async def test_a_handheld_never_acts_on_another_sites_alert(env: Env) -> None:
    await env.send("fall.detected", "fall-1")
    alert_id = env.open_alert()
    for status in ("accept", "reject", "on_my_way"):
        env.router.receipt("other-site", "kari", alert_id, status)
    await env.settle()
    stored = env.store.get_alert(alert_id)
    assert stored is not None and stored.accepted_by is None
    assert env.mqtt.to() == ["kari"]  # no reject ran the next step
    kinds = {x.kind for x in env.store.routing_log(alert_id)}
    assert RoutingKind.REJECTED not in kinds and RoutingKind.ON_MY_WAY not in kinds
