"""Provisioning through the API against a private Mosquitto that reads the files the hub
writes from the registry: the password the API shows once logs in, a gateway's
credentials cannot publish as another gateway, and a revoked gateway is locked out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiomqtt
import httpx
import pytest
from argon2 import PasswordHasher
from test_provision import Broker, env_password

from hub.api import create_app
from hub.auth import TokenIssuer, hash_password
from hub.metrics import Metrics
from hub.registry.gateway_api import ProvisioningSettings, install
from hub.service import Hub
from hub.store.base import Account, Role, Site
from hub.store.sqlite import SqliteStore

pytestmark = pytest.mark.mqtt
NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Path]]:
    store = SqliteStore(tmp_path / "trygg.db")
    store.migrate()
    store.upsert_site(Site("site-1", "Solsiden"))
    fast = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    account = Account("tore", "Tore", Role.TEKNIKER, hash_password("x" * 12, hasher=fast),
                      "site-1")  # fmt: skip
    store.upsert_account(account)
    hub = Hub(store, metrics=Metrics(), clock=lambda: NOW)
    await hub.start()
    tokens = TokenIssuer(ttl=timedelta(hours=1))
    app = create_app(hub, tokens, lambda: NOW)
    auth = tmp_path / "auth"
    install(app, ProvisioningSettings(auth_dir=auth, broker_host="127.0.0.1", broker_port=1883,
                                      tls=False, ca_file=None))  # fmt: skip
    headers = {"Authorization": f"Bearer {tokens.issue(account, NOW)[0]}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://trygg", headers=headers) as client:  # fmt: skip
        yield client, auth
    await hub.stop()
    store.close()


async def test_api_credentials_cannot_publish_as_another_gateway_and_revoke_locks_out(
    api: tuple[httpx.AsyncClient, Path],
) -> None:
    client, auth = api
    passwords = {}
    for gw in ("gw-a", "gw-b"):
        r = await client.post(f"/api/v1/gateways/site-1/{gw}/provision")
        assert r.status_code == 200, r.text
        passwords[gw] = r.json()["password"]
    broker = Broker(auth)
    try:
        hub_pw = env_password(auth / "credentials" / "trygg-hub.env")
        async with (
            broker.client("trygg-hub", hub_pw) as hub,
            broker.client("site-1/gw-b", passwords["gw-b"]) as gw_b,
        ):
            await hub.subscribe("trygg/v1/#", qos=1)
            await gw_b.publish("trygg/v1/site-1/gw-a/events", b"forged", qos=1)
            await gw_b.publish("trygg/v1/site-1/gw-a/status", b"forged", qos=1)
            await gw_b.publish("trygg/v1/site-1/gw-b/events", b"own", qos=1)
            got: list[tuple[str, bytes]] = []
            async with asyncio.timeout(5):
                async for message in hub.messages:
                    got.append((str(message.topic), bytes(message.payload)))  # type: ignore[arg-type]
                    if message.payload == b"own":
                        break
            assert got == [("trygg/v1/site-1/gw-b/events", b"own")]
        with pytest.raises(aiomqtt.MqttError):  # a's password is not b's
            async with broker.client("site-1/gw-b", passwords["gw-a"]):
                pass
        r = await client.post("/api/v1/gateways/site-1/gw-b/revoke")
        assert r.status_code == 200 and r.json()["broker_files_written"] is True
        broker.reload()
        with pytest.raises(aiomqtt.MqttError):
            async with broker.client("site-1/gw-b", passwords["gw-b"]):
                pass
        async with broker.client("site-1/gw-a", passwords["gw-a"]) as gw_a:
            await gw_a.publish("trygg/v1/site-1/gw-a/events", b"still", qos=1)
    finally:
        broker.stop()
