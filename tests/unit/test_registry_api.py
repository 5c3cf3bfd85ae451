"""The registry's read API: device list filters and shape, one device, its history, gateways.

A real hub on a SQLite store, called over ASGI with real tokens. Scope is checked
per role: a nattevakt sees its units' devices only, a tekniker its site's.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from registry_env import NOW, Env, env

from hub.registry.records import GatewaySighting

__all__ = ["env"]
SITE_1 = ["btn-1", "door-1", "legacy-1", "old-1", "smoke-B", "spare-1"]


async def test_filters_narrow_the_list(env: Env) -> None:
    assert await env.ids("admin") == [*SITE_1[:1], "btn-S2", *SITE_1[1:]]
    assert await env.ids("admin", site="site-1") == SITE_1
    assert await env.ids("admin", state="in_service") == ["btn-1", "btn-S2", "legacy-1", "smoke-B"]
    assert await env.ids("admin", state=["in_stock", "retired"]) == ["old-1", "spare-1"]
    assert await env.ids("admin", unit="unit-B") == ["smoke-B"]
    assert await env.ids("admin", gateway="gw-1") == ["btn-1", "door-1", "legacy-1"]
    assert await env.ids("admin", model="MCCGQ11LM") == ["door-1"]
    assert await env.ids("admin", site="site-1", state="in_service", gateway="gw-1") == [
        "btn-1", "legacy-1"]  # fmt: skip
    r = await env.get("admin", "/api/v1/devices", state="lost")
    assert r.status_code == 422


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("btn-", ["btn-1", "btn-S2"]),  # id
        ("lager-77", ["spare-1"]),  # serial, any case
        ("mccgq", ["door-1"]),  # model
        ("SOVEROM", ["btn-1"]),  # room
        ("nattbordet", ["btn-1"]),  # notes
        ("nothing like it", []),
    ],
)
async def test_free_text(env: Env, q: str, found: list[str]) -> None:
    assert await env.ids("admin", q=q) == found


async def test_the_shape_of_a_device(env: Env) -> None:
    r = await env.get("tore", "/api/v1/devices", q="btn-1")
    [btn] = r.json()
    assert btn == {
        "id": "btn-1", "site": "site-1", "gateway": "gw-1", "type": "alarm_button",
        "serial": "SN-btn-1",
        "placement": {"unit": "unit-A", "apartment": "H1", "room": "soverom",
                      "resident_id": "res-1", "tags": []},
        "last_seen": None, "model": "alarm_button", "firmware": "2.1", "state": "in_service",
        "location": {"site": "site-1", "unit": "unit-A", "apartment": "H1", "room": "soverom"},
        "resident_id": "res-1", "installed_at": "2026-11-23T10:00:00Z",
        "last_service_at": None, "service_due_at": "2027-09-19T10:00:00Z",
        "notes": "Knapp på nattbordet",
    }  # fmt: skip
    [spare] = (await env.get("tore", "/api/v1/devices", q="spare-1")).json()
    assert spare["gateway"] is None and spare["state"] == "in_stock"
    assert spare["location"] == {"site": "site-1", "unit": None, "apartment": None, "room": None}
    [legacy] = (await env.get("tore", "/api/v1/devices", q="legacy-1")).json()
    assert legacy["state"] == "in_service" and legacy["firmware"] is None


async def test_scope_by_role(env: Env) -> None:
    assert await env.ids("tore") == SITE_1
    assert await env.ids("trude") == ["btn-S2"]
    assert await env.ids("tore", site="site-2") == []
    # Units first; unit-less devices on the own site too (as for alerts): the shelf.
    assert await env.ids("kari") == ["btn-1", "door-1", "legacy-1", "old-1", "spare-1"]
    assert await env.ids("kari", unit="unit-B") == []
    r = await env.get("revisor", "/api/v1/devices")
    assert r.status_code == 403


async def test_one_device_and_its_history(env: Env) -> None:
    r = await env.get("kari", "/api/v1/devices/btn-1")
    assert r.status_code == 200 and r.json()["resident_id"] == "res-1"
    for user, device in (("kari", "smoke-B"), ("trude", "btn-1"), ("admin", "nope")):
        r = await env.get(user, f"/api/v1/devices/{device}")
        assert r.status_code == 404, (user, device)
        r = await env.get(user, f"/api/v1/devices/{device}/history")
        assert r.status_code == 404, (user, device)
    r = await env.get("tore", "/api/v1/devices/btn-1/history")
    assert r.json() == [{
        "at": "2026-11-23T10:00:00Z", "actor": "tore", "action": "import", "from_state": None,
        "to_state": "in_service", "note": "imported by tore",
        "location": {"site": "site-1", "unit": "unit-A", "apartment": "H1", "room": "soverom"},
    }]  # fmt: skip
    r = await env.get("tore", "/api/v1/devices/legacy-1/history")
    assert r.json() == []
    # The read is logged against the resident the device serves.
    actions = [(r.entry.actor, r.entry.action) for r in env.store.audit_records("res-1")]
    assert ("kari", "device.read") in actions and ("tore", "device.history") in actions


async def test_gateways(env: Env) -> None:
    env.hub.gateway_sightings.record(
        "site-1", "gw-1", GatewaySighting(True, NOW - timedelta(seconds=5), "0.4.1"))
    env.hub.gateway_sightings.record(
        "site-1", "gw-7", GatewaySighting(False, NOW - timedelta(hours=1), None))
    r = await env.get("tore", "/api/v1/gateways")
    assert r.status_code == 200
    by_id = {g["id"]: g for g in r.json()}
    assert list(by_id) == ["gw-1", "gw-2", "gw-3", "gw-7"]
    assert by_id["gw-1"] == {
        "site": "site-1", "id": "gw-1", "state": "provisioned", "software_version": "0.4.1",
        "online": True, "last_seen": "2026-11-23T09:59:55Z", "credentials_provisioned": True,
        "provisioned_at": "2026-11-23T10:00:00Z", "revoked_at": None,
        "devices": 3,  # btn-1, door-1, legacy-1: the shelf has no gateway
        "notes": "bodrom",
    }  # fmt: skip
    assert "hash" not in r.text and "c2FsdA" not in r.text
    assert by_id["gw-2"]["state"] == "unregistered" and by_id["gw-2"]["devices"] == 1
    assert by_id["gw-3"]["state"] == "registered" and by_id["gw-3"]["last_seen"] is None
    assert by_id["gw-7"]["online"] is False and by_id["gw-7"]["devices"] == 0
    r = await env.get("trude", "/api/v1/gateways")
    assert [(g["site"], g["id"]) for g in r.json()] == [("site-2", "gw-9")]
    r = await env.get("admin", "/api/v1/gateways", site="site-2")
    assert [g["id"] for g in r.json()] == ["gw-9"]
    r = await env.get("tore", "/api/v1/gateways/site-1/gw-3")
    assert r.status_code == 200 and r.json()["credentials_provisioned"] is False
    for user, path in (("trude", "site-1/gw-1"), ("tore", "site-1/gw-404"),
                       ("tore", "site-2/gw-9")):  # fmt: skip
        r = await env.get(user, f"/api/v1/gateways/{path}")
        assert r.status_code == 404, (user, path)
