"""``trygg mqtt acl`` as an operator runs it, on a SQLite registry."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub.mqtt_acl import parse_password_file
from hub.store.base import Device, Site
from hub.store.sqlite import SqliteStore

pytestmark = pytest.mark.e2e


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("TRYGG_")} | env
    return subprocess.run(
        [sys.executable, "-m", "trygg", *args], capture_output=True, text=True, timeout=60,
        env=full,
    )  # fmt: skip


def test_mqtt_acl_writes_accounts_for_the_registry(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    store = SqliteStore(data / "trygg.db")
    store.migrate()
    store.upsert_site(Site("solsiden", "Solsiden"))
    for device, gateway in (("d1", "gw-1"), ("d2", "gw-1"), ("d3", "gw-2")):
        store.upsert_device(Device(device, "solsiden", gateway, "door"))
    store.close()
    out = tmp_path / "broker"
    env = {"TRYGG_MQTT_PASSWORD": "hub-password-for-tests"}
    result = _run("mqtt", "acl", "--out", str(out), "--data-dir", str(data), env=env)
    assert result.returncode == 0, result.stderr
    assert "2 gateways" in result.stdout
    users = parse_password_file((out / "passwd").read_text())
    assert set(users) == {"trygg-hub", "solsiden/gw-1", "solsiden/gw-2"}
    creds = sorted(p.name for p in (out / "credentials").iterdir())
    assert creds == ["solsiden__gw-1.env", "solsiden__gw-2.env"]  # the hub's came from env
    assert "topic write trygg/v1/solsiden/gw-2/#" in (out / "acl").read_text()
    assert "hub-password-for-tests" not in result.stdout + result.stderr
    again = _run("mqtt", "acl", "--out", str(out), "--data-dir", str(data), env={})
    assert again.returncode == 0, again.stderr
    assert parse_password_file((out / "passwd").read_text()) == users  # hashes kept
