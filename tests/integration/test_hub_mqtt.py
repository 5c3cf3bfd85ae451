"""The walking skeleton through a real broker both ways: the embedded amqtt broker
and the machine's Mosquitto. Publish an event, see the alert in the API and on
the SSE stream, accept and resolve it, re-send the event and see no second alert,
send garbage and see the rejected counter move while valid events still flow."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import pytest
import uuid6

from devices.events import make_event
from hub.auth import hash_password
from hub.settings import HubSettings
from hub.store.base import Account, Device, PlacementRecord, Role, Site, Unit
from hub.store.sqlite import SqliteStore
from trygg.runtime import Running, running_hub

from conftest import free_port

pytestmark = pytest.mark.mqtt
PASSWORD = "correct horse battery"


def _event(site: str, kind: str, device: str = "dev-fall-1", seq: int = 1) -> Any:
    return make_event(
        id=str(uuid6.uuid7()),
        site=site,
        gateway="gw-1",
        device=device,
        kind=kind,
        ts=datetime.now(UTC),
        seq=seq,
    )


def _seed(store: SqliteStore, site: str) -> None:
    store.upsert_site(Site(id=site, name="Testheim"))
    store.upsert_unit(Unit(id="unit-a", site=site, name="A"))
    for device, kind in (("dev-fall-1", "fall_sensor"), ("dev-button-1", "alarm_button")):
        store.upsert_device(Device(id=device, site=site, gateway="gw-1", type=kind))
        store.place(PlacementRecord(device=device, unit="unit-a", apartment="Leil. 1"))
    store.upsert_account(
        Account(
            username="natt",
            display_name="Natt Vakt",
            role=Role.NATTEVAKT,
            password_hash=hash_password(PASSWORD),
            site=site,
            units=("unit-a",),
        )
    )


@pytest.fixture(params=["embedded", "mosquitto"])
def broker(request: pytest.FixtureRequest) -> tuple[str, int, int]:
    """(host, port, MQTT protocol the hub uses with it)."""
    if request.param == "embedded":
        host, port = request.getfixturevalue("embedded_broker")
        return host, port, 4
    host, port = request.getfixturevalue("mosquitto")
    return host, port, 5


@pytest.fixture
async def running(
    broker: tuple[str, int, int], unique_site: str, tmp_path: Path
) -> AsyncIterator[tuple[Running, str, str]]:
    host, port, protocol = broker
    settings = HubSettings(
        data_dir=tmp_path,
        http_port=free_port(),
        mqtt_host=host,
        mqtt_port=port,
        mqtt_protocol=protocol,
        mqtt_client_id=f"hub-{unique_site}",
        mqtt_session_expiry_s=5,  # leave no queueing session behind on the shared broker
        demo=True,
    )
    store = SqliteStore(settings.db_path)
    store.migrate()
    _seed(store, unique_site)
    stop = asyncio.Event()
    async with running_hub(settings, store, stop) as run:
        for _ in range(200):
            if run.hub.broker_connected:
                break
            await asyncio.sleep(0.025)
        assert run.hub.broker_connected
        yield run, f"http://127.0.0.1:{settings.http_port}", unique_site
    store.close()


async def _publish(host: str, port: int, site: str, payloads: list[bytes]) -> None:
    async with aiomqtt.Client(host, port, identifier=f"pub-{uuid6.uuid7()}") as client:
        for payload in payloads:
            await client.publish(f"trygg/v1/{site}/gw-1/events", payload, qos=1)


async def _token(http: httpx.AsyncClient) -> str:
    response = await http.post(
        "/api/v1/auth/token", data={"username": "natt", "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def _wait_for(predicate: Any, timeout: float = 5.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def _sse_alerts(
    http: httpx.AsyncClient, token: str, out: asyncio.Queue[dict[str, Any]]
) -> None:
    async with http.stream(
        "GET", "/api/v1/alerts/stream", params={"access_token": token}
    ) as response:
        assert response.status_code == 200
        event = None
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "alert":
                await out.put(json.loads(line.split(":", 1)[1]))


def _metric(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_event_to_alert_through_broker(
    running: tuple[Running, str, str], broker: tuple[str, int, int]
) -> None:
    run, base, site = running
    host, port, _ = broker
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        token = await _token(http)
        auth = {"Authorization": f"Bearer {token}"}
        sse: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        reader = asyncio.create_task(_sse_alerts(http, token, sse))
        await asyncio.sleep(0.3)  # let the stream subscribe before the event is sent

        fall = _event(site, "fall.detected")
        await _publish(host, port, site, [fall.model_dump_json().encode()])

        pushed = await asyncio.wait_for(sse.get(), 5)
        assert pushed["kind"] == "fall.detected" and pushed["priority"] == "critical"
        alert_id = pushed["id"]

        async def listed() -> list[dict[str, Any]]:
            r = await http.get("/api/v1/alerts", headers=auth)
            return [a for a in r.json() if a["id"] == alert_id]

        [listed_alert] = await _wait_for(listed)
        assert listed_alert["state"] == "notified"
        assert listed_alert["category"] == "resident"

        r = await http.post(f"/api/v1/alerts/{alert_id}/accept", headers=auth)
        assert r.status_code == 200 and r.json()["state"] == "accepted"
        r = await http.post(f"/api/v1/alerts/{alert_id}/accept", headers=auth)
        assert r.status_code == 409
        r = await http.post(
            f"/api/v1/alerts/{alert_id}/resolve",
            headers=auth,
            json={"outcome": "assisted", "note": "helped back to bed"},
        )
        assert r.status_code == 200 and r.json()["state"] == "resolved"

        # The same event again (a gateway retry): no second alert, no second row.
        await _publish(host, port, site, [fall.model_dump_json().encode()])
        # Garbage and a wrong-topic event are rejected; a valid alarm after them still flows.
        spoofed = _event("someone-else", "alarm.button", "dev-button-1").model_dump_json().encode()
        button = _event(site, "alarm.button", "dev-button-1", seq=2)
        await _publish(
            host,
            port,
            site,
            [b"{not json", b'{"kind": "door.wobbled"}', spoofed, button.model_dump_json().encode()],
        )
        second = await asyncio.wait_for(sse.get(), 5)
        while second["id"] == alert_id:  # the accept/resolve changes of the first alert
            second = await asyncio.wait_for(sse.get(), 5)
        assert second["kind"] == "alarm.button"
        reader.cancel()

        await run.hub.drain()
        detail = (await http.get(f"/api/v1/alerts/{alert_id}", headers=auth)).json()
        assert [t["to_state"] for t in detail["transitions"]] == [
            "raised",
            "notified",
            "accepted",
            "resolved",
        ]
        assert detail["transitions"][2]["actor"] == "natt"
        assert [e["id"] for e in detail["events"]] == [fall.id]

        alerts = (
            await http.get("/api/v1/alerts", headers=auth, params={"state": "resolved"})
        ).json()
        assert [a["id"] for a in alerts if a["kind"] == "fall.detected"] == [alert_id]
        events = (
            await http.get("/api/v1/events", headers=auth, params={"device": "dev-fall-1"})
        ).json()
        assert [e["id"] for e in events["items"]] == [fall.id]

        metrics = (await http.get("/metrics")).text
        assert _metric(metrics, "trygg_events_rejected_total") >= 3
        assert _metric(metrics, 'trygg_events_rejected_total{reason="malformed"}') >= 1
        assert _metric(metrics, 'trygg_events_rejected_total{reason="unknown_kind"}') >= 1
        assert _metric(metrics, 'trygg_events_rejected_total{reason="bad_topic"}') >= 1
        assert _metric(metrics, "trygg_events_duplicate_total") >= 1
        assert _metric(metrics, "trygg_alert_latency_seconds_count") >= 2
