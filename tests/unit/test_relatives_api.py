"""The relatives registry's API (roles, unit scope, audit) and the relatives step through
a real Hub and Router: the daughter first, staff after the step, a reply by signed token."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest
from relatives_env import GPS_BASIS, KARI, NOW, SECRET, Env
from relatives_env import env as e
from routing_env import FakeChannel

from hub.alerts import AlertState
from hub.channels.router import Router
from hub.consent.records import BasisAction, BasisChange
from hub.relatives import token
from hub.relatives.book import RelativesBook
from hub.routing.log import RoutingKind
from hub.ruleset import RuleSet, default_pack_text
from hub.service import Hub

__all__ = ["e"]  # the fixture, as ``e``
BASE = "/api/v1/residents/res-johs/relatives"
OLA = {"display_name": "Ola Pedersen", "relation": "sønn", "address": "sms:ola", "language": "en"}


def audit_log(e: Env) -> list[tuple[str, str, str | None]]:
    return [(r.entry.actor, r.entry.action, r.entry.target)
            for r in e.store.audit_records("res-johs", 0, 10_000)]  # fmt: skip


# --- the registry ----------------------------------------------------------------------


async def test_a_leader_adds_lists_and_removes_a_relative_and_each_act_is_audited(e: Env) -> None:
    r = await e.client.put(f"{BASE}/ola", json=OLA, headers=e.auth("lisa"))
    assert r.status_code == 200, r.text
    assert r.json() == {"resident_id": "res-johs", "id": "ola", "phone": None, "notify": True} | OLA
    r = await e.client.get(BASE, headers=e.auth("lisa"))
    assert [x["id"] for x in r.json()] == ["kari", "ola"]
    assert e.book.get("res-johs", "ola") is not None  # the router's cache follows at once
    r = await e.client.delete(f"{BASE}/ola", headers=e.auth("lisa"))
    assert r.status_code == 204
    assert e.book.get("res-johs", "ola") is None
    assert (await e.client.delete(f"{BASE}/ola", headers=e.auth("lisa"))).status_code == 404
    assert [a for a in audit_log(e) if a[1].startswith("relative.")] == [
        ("lisa", "relative.set", "ola"),
        ("lisa", "relative.list", None),
        ("lisa", "relative.delete", "ola"),
    ]


@pytest.mark.parametrize("user", ["other", "liv"])
async def test_outside_the_units_is_404_and_staff_are_403(e: Env, user: str) -> None:
    expected = 404 if user == "other" else 403
    for method, url, body in (("GET", BASE, None), ("PUT", f"{BASE}/ola", OLA),
                              ("DELETE", f"{BASE}/kari", None)):  # fmt: skip
        r = await e.client.request(method, url, json=body, headers=e.auth(user))
        assert r.status_code == expected, (method, r.text)
    assert e.store.list_relatives("res-johs") == [KARI]


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({**OLA, "phone": "12"}, 422, "phone must be"),
        ({**OLA, "address": None}, 422, "phone number or a channel address"),
        ({**OLA, "language": "sv"}, 422, "language"),
        ({**OLA, "email": "x@y"}, 422, "email"),
    ],
)
async def test_bad_input_is_422_with_the_reason(
    e: Env, body: dict[str, object], status: int, says: str
) -> None:
    r = await e.client.put(f"{BASE}/ola", json=body, headers=e.auth("admin"))
    assert r.status_code == status and says in r.text
    r = await e.client.put(f"{BASE}/Ola!", json=OLA, headers=e.auth("admin"))
    assert r.status_code == 422 and "id must be" in r.text


async def test_a_basis_names_relatives_through_the_consent_api(e: Env) -> None:
    r = await e.client.get("/api/v1/bases/basis-gps", headers=e.auth("lisa"))
    assert r.json()["notify_relatives"] == ["kari"]


async def test_a_leader_changes_who_may_be_told_and_the_basis_history_says_so(e: Env) -> None:
    url = "/api/v1/bases/basis-gps/relatives"
    r = await e.client.post(url, json={"notify_relatives": ["ola"]}, headers=e.auth("lisa"))
    assert r.status_code == 422 and "not registered as relatives: ola" in r.text
    await e.client.put(f"{BASE}/ola", json=OLA, headers=e.auth("lisa"))
    body = {"notify_relatives": ["kari", "ola"], "note": "Ola tar over torsdager"}
    r = await e.client.post(url, json=body, headers=e.auth("lisa"))
    assert r.status_code == 200 and r.json()["notify_relatives"] == ["kari", "ola"]
    assert e.hub.consent.bases_for("res-johs", "geofence.exit")[0].notify_relatives == (
        "kari", "ola",
    )  # fmt: skip
    r = await e.client.post(url, json={"notify_relatives": []}, headers=e.auth("other"))
    assert r.status_code == 404
    r = await e.client.get("/api/v1/bases/basis-gps", headers=e.auth("lisa"))
    assert [h["action"] for h in r.json()["history"]] == ["record", "relatives"]
    assert ("lisa", "basis.relatives", "basis-gps") in audit_log(e)
    # Now both are told.
    await e.left_zone()
    assert sorted(e.relatives.to()) == ["relative:kari", "relative:ola"]


# --- the relatives step ------------------------------------------------------------------


async def test_kari_is_told_first_and_home_care_after_the_step(e: Env) -> None:
    alert = await e.left_zone()
    assert e.relatives.to() == ["relative:kari"] and e.mqtt.to() == []
    await e.advance(9 * 60)
    assert e.mqtt.to() == []
    await e.advance(60)
    assert e.mqtt.to() == ["liv"]
    assert e.relatives.to() == ["relative:kari"]  # told once
    assert e.escalations(alert) == ["timeout"]


async def test_a_relative_told_is_not_staff_told_the_alert_stays_raised(e: Env) -> None:
    alert_id = await e.left_zone()
    assert e.relatives.to() == ["relative:kari"]
    assert _state(e, alert_id) is AlertState.RAISED  # her text reached her, no staff has it
    await e.advance(10 * 60)
    assert e.mqtt.to() == ["liv"]
    assert _state(e, alert_id) is AlertState.NOTIFIED  # now a staff channel delivered it


def _state(e: Env, alert_id: str) -> AlertState:
    return next(a for a in e.hub.open_alerts() if a.id == alert_id).state


async def test_a_basis_that_names_nobody_means_home_care_at_once(e: Env) -> None:
    quiet = replace(GPS_BASIS, notify_relatives=())
    e.store.save_basis(quiet, BasisChange(quiet.id, NOW, "lisa", BasisAction.REVIEW))
    await e.hub.reload_consent()
    alert = await e.left_zone()
    assert e.relatives.to() == [] and e.mqtt.to() == ["liv"]
    assert e.escalations(alert) == ["skipped: no basis"]


async def test_her_basis_withdrawn_before_the_alert_skips_her_and_says_why(e: Env) -> None:
    r = await e.client.post("/api/v1/bases/basis-gps/withdraw", json={"reason": "trukket"},
                            headers=e.auth("lisa"))  # fmt: skip
    assert r.status_code == 200
    # A withdrawn basis drops the GPS event itself; another basis that allows the
    # measure but names no relative lets the alert through without telling anyone.
    quiet = {**r.json(), "id": "basis-gps-2", "notify_relatives": [], "withdrawn_at": None}
    r = await e.client.post("/api/v1/bases", json=quiet, headers=e.auth("lisa"))
    assert r.status_code == 201, r.text
    alert = await e.left_zone()
    assert e.relatives.to() == [] and e.mqtt.to() == ["liv"]
    assert e.escalations(alert) == ["skipped: no basis (withdrawn)"]


def test_no_relative_registered_is_said_too() -> None:
    from hub.relatives.disclose import NO_RELATIVE

    assert NO_RELATIVE == "no relative registered"


async def test_withdrawn_mid_step_home_care_is_told_at_the_next_check(e: Env) -> None:
    await e.left_zone()
    assert e.relatives.to() == ["relative:kari"]
    # The measure stays lawful on a basis that does not name her; hers is withdrawn.
    other = {"id": "basis-gps-2", "resident_id": "res-johs", "measure": "location",
             "kinds": ["geofence.exit"], "basis": "decision_4_6a", "reference": "HT-2",
             "valid_from": (NOW - timedelta(days=1)).isoformat()}  # fmt: skip
    assert (await e.client.post("/api/v1/bases", json=other, headers=e.auth("lisa"))).is_success
    r = await e.client.post("/api/v1/bases/basis-gps/withdraw", json={"reason": "trukket"},
                            headers=e.auth("lisa"))  # fmt: skip
    assert r.status_code == 200
    await e.advance(60)
    assert e.mqtt.to() == []
    await e.advance(60)  # the relatives step looks at the basis every renotify (2 min)
    assert e.mqtt.to() == ["liv"]
    (alert,) = e.hub.open_alerts()
    assert e.escalations(alert.id) == ["skipped: no basis (withdrawn)"]


def reply_url(e: Env, alert_id: str, minutes: float = 120) -> str:
    claims = token.Claims(alert_id, "kari", e.clock() + timedelta(minutes=minutes))
    return f"/api/v1/relatives/reply/{token.issue(SECRET, claims)}"


async def test_cannot_sends_home_care_at_once_and_staff_see_her_answer(e: Env) -> None:
    alert = await e.left_zone()
    await e.advance(60)
    r = await e.client.post(reply_url(e, alert), json={"answer": "cannot"})
    assert r.status_code == 200, r.text
    await e.settle()
    assert e.mqtt.to() == ["liv"]
    assert ("relative_answer", "relative:kari", "cannot") in e.routing(alert)
    assert e.escalations(alert) == ["relatives cannot"]
    r = await e.client.get(f"/api/v1/alerts/{alert}/routing", headers=e.auth("liv"))
    assert any(x["kind"] == "relative_answer" and x["detail"] == "cannot" for x in r.json())
    assert ("relative:kari", "relative.reply", alert) in audit_log(e)


async def test_handling_holds_home_care_until_the_step_timeout_only(e: Env) -> None:
    alert = await e.left_zone()
    r = await e.client.post(reply_url(e, alert), json={"answer": "handling"})
    assert r.status_code == 200
    await e.advance(9 * 60)
    assert e.mqtt.to() == []
    await e.advance(60)
    assert e.mqtt.to() == ["liv"]
    assert ("relative_answer", "relative:kari", "handling") in e.routing(alert)


async def test_bad_expired_or_late_replies_are_refused(e: Env) -> None:
    alert = await e.left_zone()
    good = reply_url(e, alert)
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    assert (await e.client.post(forged, json={"answer": "cannot"})).status_code == 403
    old = reply_url(e, alert, minutes=1)
    e.clock.now += timedelta(minutes=1)
    r = await e.client.post(old, json={"answer": "cannot"})
    assert r.status_code == 410 and "expired" in r.text
    assert (await e.client.post(good, json={"answer": "maybe"})).status_code == 422
    assert e.mqtt.to() == []
    r = await e.client.post(f"/api/v1/alerts/{alert}/accept", headers=e.auth("liv"))
    assert r.status_code == 200
    r = await e.client.post(f"/api/v1/alerts/{alert}/on-site", headers=e.auth("liv"))
    r = await e.client.post(f"/api/v1/alerts/{alert}/resolve", json={"outcome": "assisted"},
                            headers=e.auth("liv"))  # fmt: skip
    assert r.status_code == 200
    assert (await e.client.post(good, json={"answer": "cannot"})).status_code == 409
    kinds = [r.kind for r in e.store.routing_log(alert)]
    assert RoutingKind.RELATIVE_ANSWER not in kinds


async def test_a_restarted_hub_carries_on_the_step_without_telling_her_again(e: Env) -> None:
    alert = await e.left_zone()
    await e.advance(3 * 60)
    await e.router.drain()
    await e.hub.drain()
    hub = Hub(e.store, clock=e.clock, rules=RuleSet(files=[default_pack_text()]))
    await hub.start()
    book = RelativesBook(hub, e.book.reply)
    await book.reload()
    mqtt, relatives = FakeChannel("mqtt"), FakeChannel("relatives")
    router = Router(hub, [mqtt, relatives], policies=e.router.policies, clock=e.clock,
                    relatives=book)  # fmt: skip
    await router.start()
    await router.drain()
    assert relatives.sent == [] and mqtt.sent == []
    e.clock.now += timedelta(minutes=7)
    router.tick()
    await router.drain()
    assert mqtt.to() == ["liv"] and relatives.sent == []
    assert RoutingKind.RESUMED in [r.kind for r in e.store.routing_log(alert)]
    await router.drain()
    await hub.stop()


def test_gateways_never_learn_who_of_the_relatives_may_be_told(e: Env) -> None:
    from hub.gateway_config import build_config

    views = e.store.list_devices("johs-home")
    config = build_config("johs-home", "gw-johs", views, [GPS_BASIS], NOW)
    (basis,) = config["bases"]
    assert basis["id"] == "basis-gps" and basis["notify_relatives"] == []
    assert "kari" not in json.dumps(config)
