"""``trygg sim verify`` and ``trygg sim load`` as a user runs them, against a real hub.

The hub runs in the test (embedded amqtt broker, SQLite, API on a free port) with a
scenario's site seeded; the CLI runs as a subprocess and plays the scenario through
the broker, reads the alerts back through the API and prints the table."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.auth import hash_password
from hub.settings import HubSettings
from hub.store.base import Account, Role
from hub.store.sqlite import SqliteStore
from simulators.scenario import load_scenario
from trygg.runtime import running_hub
from trygg.seed import seed_registry

from conftest import free_port

pytestmark = pytest.mark.e2e
PASSWORD = "verify-password-1"
SCENARIO = "colleague-alarm"


async def _cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("TRYGG_")}
    full.update(env, COLUMNS="200")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "trygg",
        *args,
        env=full,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    return proc.returncode or 0, out.decode(), err.decode()


@pytest.fixture
async def hub_for(
    embedded_broker: tuple[str, int], tmp_path: Path
) -> AsyncIterator[tuple[str, str]]:
    host, port = embedded_broker
    settings = HubSettings(
        data_dir=tmp_path,
        http_port=free_port(),
        mqtt_host=host,
        mqtt_port=port,
        mqtt_protocol=4,
        mqtt_client_id="hub-verify",
        demo=True,
        # --speed 0 sends a whole night with live timestamps in a second, twice: to the
        # hub every busy sensor would look like a flooding device.
        flood_limit=0,
    )
    store = SqliteStore(settings.db_path)
    store.migrate()
    seed_registry(store, load_scenario(SCENARIO))
    store.upsert_account(
        Account(
            username="checker",
            display_name="Checker",
            role=Role.ADMIN,
            password_hash=hash_password(PASSWORD),
        )
    )
    stop = asyncio.Event()
    async with running_hub(settings, store, stop) as run:
        for _ in range(200):
            if run.hub.broker_connected:
                break
            await asyncio.sleep(0.025)
        assert run.hub.broker_connected
        yield f"{host}:{port}", f"http://127.0.0.1:{settings.http_port}"
    store.close()


async def test_verify_passes_and_then_catches_a_wrong_expectation(
    hub_for: tuple[str, str], tmp_path: Path
) -> None:
    broker, api = hub_for
    env = {"TRYGG_VERIFY_PASSWORD": PASSWORD}
    args = ("--broker", broker, "--api", api, "--user", "checker", "--speed", "0")
    code, out, err = await _cli("sim", "verify", SCENARIO, *args, env=env)
    assert code == 0, out + err
    assert "3 matched, 0 missing, 0 unexpected" in out
    assert out.count("matched") >= 3 and "lia-staff-kari" in out

    # The same night again, now expecting the resident alarm as critical: one missing,
    # one unexpected, exit 1. Alerts of the first run are not counted.
    text = (Path(__file__).parents[2] / "simulators/scenarios/colleague-alarm.yaml").read_text()
    wrong = text.replace(
        "kind: alarm.button, category: resident, priority: high",
        "kind: alarm.button, category: resident, priority: critical",
    )
    path = tmp_path / "wrong.yaml"
    path.write_text(wrong, encoding="utf-8")
    code, out, err = await _cli("sim", "verify", str(path), *args, env=env)
    assert code == 1, out + err
    assert "2 matched, 1 missing, 1 unexpected" in out
    assert "missing" in out and "unexpected" in out


async def test_verify_with_a_wrong_password_fails_before_publishing(
    hub_for: tuple[str, str],
) -> None:
    broker, api = hub_for
    code, _out, err = await _cli(
        "sim",
        "verify",
        SCENARIO,
        "--broker",
        broker,
        "--api",
        api,
        "--user",
        "checker",
        env={"TRYGG_VERIFY_PASSWORD": "wrong"},
    )
    assert code == 2
    assert "login as 'checker' refused: HTTP 401" in err


@pytest.mark.mqtt
async def test_sim_load_sends_and_every_event_is_acknowledged(
    mosquitto: tuple[str, int], unique_site: str
) -> None:
    host, port = mosquitto
    code, out, err = await _cli(
        "sim",
        "load",
        "--gateways",
        "4",
        "--devices-per-gateway",
        "5",
        "--rate",
        "400",
        "--duration",
        "2",
        "--processes",
        "2",
        "--site",
        unique_site,
        "--broker",
        f"{host}:{port}",
        "--no-progress",
        env={},
    )
    assert code == 0, out + err
    words = out.split()
    sent = int(words[1])
    acked = int(words[words.index("acknowledged") + 1])
    assert 700 <= sent <= 820 and acked == sent
