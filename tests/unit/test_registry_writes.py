"""Registry writes through the API: register, every life cycle step from every state
(illegal ones refused with 409 and the reason, nothing changed), consent on activation,
edits, scope, and the hub's registry (and supervision) following each change."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import timedelta

import pytest
from registry_env import NOW, Env, change, env

from devices.lifecycle import TRANSITIONS, Action, DeviceState
from hub.store.base import Resident

from builders import basis_change, covering_basis

__all__ = ["env"]
INSTALL_BODY = {"location": {"unit": "unit-A", "apartment": "H2", "room": "stue"},
                "gateway": "gw-1", "note": "montert over sengen"}  # fmt: skip


def body_for(action: Action) -> dict[str, object]:
    return INSTALL_BODY if action is Action.INSTALL else {"note": f"{action} test"}


@pytest.mark.parametrize(("state", "action"), list(itertools.product(DeviceState, Action)),
                         ids=lambda v: str(v))  # fmt: skip
async def test_every_step_from_every_state(env: Env, state: DeviceState, action: Action) -> None:
    env.store.write_devices([change("dev-x", state)])
    before = env.store.device_history("dev-x")
    r = await env.post("tore", f"/api/v1/devices/dev-x/actions/{action}", body_for(action))
    to = TRANSITIONS.get((state, action))
    if to is None:
        assert r.status_code == 409, r.text
        assert f"cannot {action} a device that is {state}" in r.json()["detail"]
        assert env.state("dev-x") is state
        assert env.store.device_history("dev-x") == before
        return
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["state"] == to.value and env.state("dev-x") is to
    last = env.store.device_history("dev-x")[-1]
    assert (last.actor, last.action, last.from_state, last.to_state) == ("tore", action, state, to)
    assert last.note == body_for(action)["note"]
    assert len(env.store.device_history("dev-x")) == len(before) + 1
    if to.supervised:
        assert out["gateway"] == "gw-1" and out["location"]["unit"] == "unit-A"
    else:
        assert out["gateway"] is None and out["location"]["unit"] is None
        assert out["placement"] is None
    if action is Action.INSTALL:
        assert out["location"] == {"site": "site-1", "unit": "unit-A", "apartment": "H2",
                                   "room": "stue"}  # fmt: skip
        assert out["installed_at"] == "2026-11-23T10:00:00Z"
        assert last.location is not None and last.location.room == "stue"
    if action is Action.REPAIRED:
        assert out["last_service_at"] == "2026-11-23T10:00:00Z"


async def test_register_then_the_whole_life(env: Env) -> None:
    r = await env.post("tore", "/api/v1/devices", {
        "id": "fall-9", "model": "fall_sensor", "site": "site-1", "serial": "FS-009",
        "firmware": "1.0", "notes": "fra lager"})  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["state"] == "in_stock" and r.json()["gateway"] is None
    steps = [("install", INSTALL_BODY), ("activate", {}), ("deactivate", {}),
             ("send_to_repair", {"note": "knust deksel"}), ("repaired", {}),
             ("retire", {"note": "utslitt"})]  # fmt: skip
    for action, body in steps:
        r = await env.post("tore", f"/api/v1/devices/fall-9/actions/{action}", body)
        assert r.status_code == 200, (action, r.text)
    r = await env.get("tore", "/api/v1/devices/fall-9/history")
    history = r.json()
    assert [h["action"] for h in history] == ["register", *(a for a, _ in steps)]
    assert [h["to_state"] for h in history] == [
        "in_stock", "installed", "in_service", "installed", "in_repair", "in_stock", "retired"]
    assert {h["actor"] for h in history} == {"tore"}
    assert history[1]["location"]["room"] == "stue" and history[4]["location"] is None


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"id": "btn-1", "model": "alarm_button", "site": "site-1"}, 409, "already registered"),
        ({"id": "new-1", "model": "NO-SUCH", "site": "site-1"}, 422, "unknown model"),
        ({"id": "new-1", "model": "alarm_button", "site": "nowhere"}, 422, "unknown site"),
        ({"id": "new 1", "model": "alarm_button", "site": "site-1"}, 422, "pattern"),
        ({"id": "new-1", "model": "alarm_button", "site": "site-1", "colour": "red"}, 422,
         "Extra inputs"),
    ],
)
async def test_register_refuses_with_a_reason(
    env: Env, body: dict[str, str], status: int, reason: str
) -> None:
    r = await env.post("admin", "/api/v1/devices", body)
    assert r.status_code == status and reason in r.text


async def test_a_tekniker_writes_only_on_its_own_site(env: Env) -> None:
    r = await env.post("trude", "/api/v1/devices", {"id": "n-1", "model": "alarm_button",
                                                    "site": "site-1"})  # fmt: skip
    assert r.status_code == 422 and "unknown site" in r.text
    r = await env.post("trude", "/api/v1/devices/spare-1/actions/retire", {})
    assert r.status_code == 404  # not hers: not even its existence
    assert env.state("spare-1") is DeviceState.IN_STOCK
    r = await env.patch("trude", "/api/v1/devices/spare-1", {"notes": "x"})
    assert r.status_code == 404
    for user in ("kari", "revisor"):
        r = await env.post(user, "/api/v1/devices/spare-1/actions/retire", {})
        assert r.status_code == 403


async def test_activating_for_a_resident_needs_consent(env: Env) -> None:
    env.store.upsert_resident(Resident("res-2", "site-1", "unit-A", "Kari Nordmann"))
    env.store.write_devices([change("door-9", DeviceState.INSTALLED, type_="MCCGQ11LM")])
    r = await env.post("tore", "/api/v1/devices/door-9/actions/activate",
                       {"resident_id": "res-2"})  # fmt: skip
    assert r.status_code == 409
    assert "no legal basis in force for this resident covers door" in r.json()["detail"]
    assert env.state("door-9") is DeviceState.INSTALLED
    refused = [r.entry.action for r in env.store.audit_records("res-2")]
    assert refused == ["device.refused"]
    # res-1 has a covering basis (registry_env): allowed, and logged against res-1.
    r = await env.post("tore", "/api/v1/devices/door-9/actions/activate",
                       {"resident_id": "res-1", "note": "avtalt med pårørende"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["resident_id"] == "res-1" and r.json()["state"] == "in_service"
    assert ("tore", "device.activate") in [
        (a.entry.actor, a.entry.action) for a in env.store.audit_records("res-1")]
    placement = env.hub.registry.placement("door-9")
    assert placement is not None and placement.resident_id == "res-1"  # the hub reloaded


@pytest.mark.parametrize(
    ("action", "body", "status", "reason"),
    [
        ("install", {"location": {"unit": "unit-X"}, "gateway": "gw-1"}, 422, "no unit unit-X"),
        ("install", {"location": {"unit": "unit-A"}, "gateway": "gw/1"}, 422, "pattern"),
        ("install", {"gateway": "gw-1"}, 409, "install needs a site and unit"),
        ("install", {"location": {"unit": "unit-A"}}, 409, "install needs a gateway"),
        ("install", {**INSTALL_BODY, "resident_id": "res-404"}, 422, "no resident res-404"),
        ("retire", {"resident_id": "res-1"}, 422, "set by install or activate"),
        ("retire", {"gateway": "gw-1"}, 422, "set by install"),
        ("retire", {"unexpected": 1}, 422, "Extra inputs"),
    ],
)
async def test_bad_action_bodies(
    env: Env, action: str, body: dict[str, object], status: int, reason: str
) -> None:
    r = await env.post("tore", f"/api/v1/devices/spare-1/actions/{action}", body)
    assert r.status_code == status, r.text
    assert reason in r.text
    assert env.state("spare-1") is DeviceState.IN_STOCK
    r = await env.post("tore", "/api/v1/devices/spare-1/actions/fly", {})
    assert r.status_code == 422
    r = await env.post("tore", "/api/v1/devices/nope/actions/retire", {})
    assert r.status_code == 404


async def test_edit_notes_firmware_and_service_dates(env: Env) -> None:
    r = await env.patch("tore", "/api/v1/devices/btn-1", {
        "firmware": "2.2", "service_due_at": "2027-01-01T00:00:00+01:00",
        "note": "oppdatert ved besøk"})  # fmt: skip
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["firmware"] == "2.2" and out["service_due_at"] == "2026-12-31T23:00:00Z"
    assert out["notes"] == "Knapp på nattbordet"  # not sent: not touched
    assert out["state"] == "in_service" and out["resident_id"] == "res-1"
    r = await env.patch("tore", "/api/v1/devices/btn-1", {"notes": None})
    assert r.json()["notes"] is None
    last = env.store.device_history("btn-1")[-2:]
    assert [(h.action, h.actor, h.note) for h in last] == [
        ("update", "tore", "oppdatert ved besøk"), ("update", "tore", "changed notes")]
    r = await env.patch("tore", "/api/v1/devices/btn-1", {"service_due_at": "2027-01-01"})
    assert r.status_code == 422  # a time without an offset is refused


async def test_supervision_is_told_of_every_change(env: Env) -> None:
    calls: list[int] = []

    async def listener() -> None:
        calls.append(1)

    env.hub.registry_listeners.append(listener)
    await env.post("tore", "/api/v1/devices/spare-1/actions/retire", {})
    await env.patch("tore", "/api/v1/devices/btn-1", {"firmware": "3"})
    assert len(calls) == 2
    assert NOW.tzinfo is not None


async def test_activating_again_after_the_consent_was_withdrawn_is_refused(env: Env) -> None:
    env.store.write_devices([change("door-9", DeviceState.INSTALLED, type_="MCCGQ11LM")])
    r = await env.post("tore", "/api/v1/devices/door-9/actions/activate", {"resident_id": "res-1"})
    assert r.status_code == 200, r.text
    r = await env.post("tore", "/api/v1/devices/door-9/actions/deactivate", {})
    assert r.status_code == 200 and r.json()["resident_id"] == "res-1"  # still mounted for her
    basis = covering_basis("res-1")
    withdrawn = replace(basis, withdrawn_at=NOW - timedelta(hours=1))
    env.store.save_basis(withdrawn, basis_change(withdrawn))
    r = await env.post("tore", "/api/v1/devices/door-9/actions/activate", {})
    assert r.status_code == 409 and "placement refused" in r.json()["detail"]
    assert env.state("door-9") is DeviceState.INSTALLED
    logged = [(a.entry.action, a.entry.target) for a in env.store.audit_records("res-1")]
    assert ("device.refused", "door-9") in logged
