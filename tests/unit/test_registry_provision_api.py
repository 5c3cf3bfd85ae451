"""Provisioning over the API: the password is shown once and only its hash is kept; the
broker's files follow the registry; revoke removes the account; roles and scope."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from registry_env import Env, env

from hub.mqtt_acl import hash_password, parse_password_file
from hub.registry.gateway_api import ProvisioningSettings, install
from hub.registry.records import GatewayState

__all__ = ["env"]


def files_at(env: Env, auth: Path) -> None:
    settings = ProvisioningSettings(auth_dir=auth, broker_host="mqtt.kommune.test", tls=True,
                                    ca_file="/etc/trygg/ca.pem")  # fmt: skip
    install(env.app, settings)


async def test_provision_shows_the_password_once_and_writes_the_files(
    env: Env, tmp_path: Path
) -> None:
    auth = tmp_path / "auth"
    files_at(env, auth)
    r = await env.post("tore", "/api/v1/gateways/site-1/gw-3/provision", {"port": 8884})
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    out = r.json()
    password = out["password"]
    assert out["username"] == "site-1/gw-3" and len(password) >= 24
    assert out["broker_files_written"] is True
    assert out["gateway"]["state"] == "provisioned" and out["gateway"]["credentials_provisioned"]
    uplink = out["config"]["uplink"]
    assert (uplink["host"], uplink["port"], uplink["tls"], uplink["username"]) == (
        "mqtt.kommune.test", 8884, True, "site-1/gw-3")
    [record] = [g for g in env.store.list_gateways() if g.id == "gw-3"]
    assert record.password_hash is not None and password not in record.password_hash
    salt = record.password_hash.split("$")[3]
    assert hash_password(password, base64.b64decode(salt)) == record.password_hash
    users = parse_password_file((auth / "passwd").read_text())
    # gw-1 was provisioned in the registry already (registry_env): both accounts are there.
    assert set(users) == {"trygg-hub", "site-1/gw-1", "site-1/gw-3"}
    assert users["site-1/gw-3"] == record.password_hash
    assert "topic write trygg/v1/site-1/gw-3/#" in (auth / "acl").read_text()
    assert password not in (auth / "passwd").read_text()
    r = await env.get("tore", "/api/v1/gateways/site-1/gw-3")
    assert "password" not in r.text and record.password_hash not in r.text
    r = await env.post("tore", "/api/v1/gateways/site-1/gw-3/provision")
    assert r.status_code == 409 and "already provisioned" in r.text
    audit = [(a.entry.actor, a.entry.action, a.entry.target) for a in env.store.audit_records()]
    assert ("tore", "gateway.provision", "site-1/gw-3") in audit


async def test_revoke_removes_the_account(env: Env, tmp_path: Path) -> None:
    auth = tmp_path / "auth"
    files_at(env, auth)
    r = await env.post("tore", "/api/v1/gateways/site-1/gw-1/revoke")
    assert r.status_code == 200, r.text
    assert r.json()["gateway"]["state"] == "revoked"
    assert r.json()["gateway"]["credentials_provisioned"] is False
    assert "site-1/gw-1" not in parse_password_file((auth / "passwd").read_text())
    assert "user site-1/gw-1" not in (auth / "acl").read_text()
    [record] = [g for g in env.store.list_gateways() if g.id == "gw-1"]
    assert record.state is GatewayState.REVOKED and record.password_hash is None
    r = await env.post("tore", "/api/v1/gateways/site-1/gw-1/revoke")
    assert r.status_code == 409 and "not provisioned" in r.text
    r = await env.post("tore", "/api/v1/gateways/site-1/gw-1/provision")  # back again
    assert r.status_code == 200 and r.json()["gateway"]["notes"] == "bodrom"


async def test_without_broker_files_the_registry_still_records_it(env: Env) -> None:
    r = await env.post("admin", "/api/v1/gateways/site-2/gw-new/provision")
    assert r.status_code == 200, r.text
    assert r.json()["broker_files_written"] is False
    assert r.json()["config"]["uplink"]["host"] == "localhost"  # the defaults, not the env


@pytest.mark.parametrize(
    ("user", "path", "status", "reason"),
    [
        ("trude", "site-1/gw-9/provision", 404, "no site site-1 in your scope"),
        ("kari", "site-1/gw-9/provision", 403, "role"),
        ("admin", "nowhere/gw-9/provision", 422, "unknown site"),
        ("admin", "site-1/gw%2B9/provision", 422, "cannot be a broker user"),
        ("admin", "site-1/gw-3/revoke", 409, "not provisioned"),
        ("admin", "site-1/gw-404/revoke", 409, "not provisioned"),
    ],
)
async def test_refusals(env: Env, user: str, path: str, status: int, reason: str) -> None:
    r = await env.post(user, f"/api/v1/gateways/{path}")
    assert r.status_code == status, r.text
    assert reason in r.text


async def test_gateway_notes(env: Env) -> None:
    r = await env.client.patch("/api/v1/gateways/site-1/gw-2", json={"notes": "i kjelleren"},
                               headers=env.auth("tore"))  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "registered" and r.json()["notes"] == "i kjelleren"
    assert r.json()["devices"] == 1  # smoke-B
    r = await env.client.patch("/api/v1/gateways/site-1/gw-1", json={"notes": None},
                               headers=env.auth("admin"))  # fmt: skip
    assert r.json()["notes"] is None and r.json()["state"] == "provisioned"
    r = await env.client.patch("/api/v1/gateways/site-1/gw-1", json={"notes": "x"},
                               headers=env.auth("trude"))  # fmt: skip
    assert r.status_code == 404
    r = await env.client.patch("/api/v1/gateways/site-9/gw-1", json={"notes": "x"},
                               headers=env.auth("admin"))  # fmt: skip
    assert r.status_code == 422 and "unknown site" in r.text
