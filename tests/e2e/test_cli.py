"""The ``trygg`` command as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devices.events import KINDS
from hub.auth import hash_password
from hub.store.base import Account, Role
from hub.store.sqlite import SqliteStore

pytestmark = pytest.mark.e2e
TRYGG = [sys.executable, "-m", "trygg"]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TRYGG_")}
    full_env.update(env or {})
    return subprocess.run([*TRYGG, *args], capture_output=True, text=True, timeout=60, env=full_env)


def test_schema_events_prints_every_kind() -> None:
    result = _run("schema", "events")
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    assert set(schema["discriminator"]["mapping"]) == KINDS


@pytest.mark.parametrize(
    ("env", "accounts", "reason"),
    [
        ({"TRYGG_ADMIN_PASSWORD": "demo"}, [], "placeholder"),
        ({"TRYGG_ADMIN_PASSWORD": "short"}, [], "placeholder or shorter"),
        ({}, [], "no accounts"),
        ({}, ["nattevakt"], "demo password: nattevakt"),
    ],
)
def test_hub_refuses_default_credentials_outside_demo_mode(
    tmp_path: Path, env: dict[str, str], accounts: list[str], reason: str
) -> None:
    store = SqliteStore(tmp_path / "trygg.db")
    store.migrate()
    for name in accounts:
        store.upsert_account(
            Account(
                username=name,
                display_name=name,
                role=Role.NATTEVAKT,
                password_hash=hash_password("demo"),
            )
        )
    store.close()
    result = _run("hub", env={"TRYGG_DATA_DIR": str(tmp_path), "TRYGG_HTTP_PORT": "1", **env})
    assert result.returncode == 2
    assert "refusing to start outside demo mode" in result.stderr
    assert reason in result.stderr


def test_seed_and_db_upgrade(tmp_path: Path) -> None:
    assert _run("db", "upgrade", "--data-dir", str(tmp_path)).returncode == 0
    result = _run("seed", "night-unit", "--data-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    store = SqliteStore(tmp_path / "trygg.db")
    assert len(store.placements()) > 10 and store.list_accounts() == []
    store.close()


@pytest.mark.mqtt
def test_hub_starts_serves_and_stops_on_sigterm(tmp_path: Path, mosquitto: tuple[str, int]) -> None:
    import signal
    import time

    import httpx

    from conftest import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRYGG_")}
    env.update(
        TRYGG_DATA_DIR=str(tmp_path),
        TRYGG_HTTP_PORT=str(port),
        TRYGG_MQTT_HOST=mosquitto[0],
        TRYGG_MQTT_PORT=str(mosquitto[1]),
        TRYGG_MQTT_CLIENT_ID=f"hub-cli-{port}",
        TRYGG_MQTT_SESSION_EXPIRY_S="5",
        TRYGG_ADMIN_PASSWORD="a long and private passphrase",
    )
    log = (tmp_path / "hub.log").open("w")
    proc = subprocess.Popen([*TRYGG, "hub"], env=env, stderr=log)
    try:
        health = None
        for _ in range(100):
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                if health.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        assert health is not None and health.json()["broker_connected"] is True
        token = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/auth/token",
            data={"username": "admin", "password": "a long and private passphrase"},
        )
        assert token.status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        log.close()
    assert "hub started" in (tmp_path / "hub.log").read_text()


@pytest.mark.mqtt
async def test_sim_scenario_publishes_the_whole_night(embedded_broker: tuple[str, int]) -> None:
    import asyncio

    import aiomqtt

    from devices.events import parse_event

    host, port = embedded_broker
    received: list[str] = []
    async with aiomqtt.Client(host, port, identifier="sim-listener") as listener:
        await listener.subscribe("trygg/v1/+/+/events", qos=1)
        proc = await asyncio.create_subprocess_exec(
            *TRYGG,
            "sim",
            "scenario",
            "night-unit",
            "--broker",
            f"{host}:{port}",
            "--speed",
            "0",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, errors = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, errors.decode()
        published = int(out.decode().strip().splitlines()[-1].split()[1])
        async with asyncio.timeout(10):
            async for message in listener.messages:
                received.append(parse_event(bytes(message.payload)).kind)  # type: ignore[arg-type]
                if len(received) == published:
                    break
    assert published > 500
    assert {"alarm.button", "fall.detected", "staff.alarm", "smoke.detected"} <= set(received)
    assert "02:13:00 fall.detected" in out.decode()
