"""Johs leaves the agreed area: the GPS event goes through the machine's Mosquitto into
a real hub; his daughter's SMS gateway (a local HTTP server) gets her message first,
signed; the home-care handheld topic gets the alert only after the relatives step's
timeout (four seconds here). Her disclosure is in the audit log."""

from __future__ import annotations

import asyncio
import json
import threading
import time as wall
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import aiomqtt
import pytest
import uuid6
from pydantic import SecretStr

from devices.events import make_event
from hub.channels.mqtt import notify_topic
from hub.channels.setup import RoutingSettings, start_routing
from hub.channels.webhook import SIGNATURE, TIMESTAMP, verify
from hub.consent.records import BasisAction, BasisChange
from hub.mqtt import BrokerSettings, MqttAlertPublisher, run_ingest
from hub.relatives import token
from hub.relatives.model import Relative
from hub.routing.log import RoutingKind
from hub.routing.roster import Shift
from hub.ruleset import RuleSet, default_pack_text
from hub.service import Hub
from hub.store.base import Device, PlacementRecord, Resident, Site, Unit
from hub.store.sqlite import SqliteStore
from rules.consent import BasisKind, LegalBasis

pytestmark = pytest.mark.mqtt
HOOK_SECRET = "relatives-hook-secret-0123456789"
REPLY_SECRET = "relatives-reply-secret-0123456789"
ROUTING = """version: 1
chains:
  left-zone:
    renotify: 1s
    steps:
      - {target: relatives, timeout: 4s}
      - {target: unit, timeout: 30s}
policies:
  - {chain: left-zone, unit: home-sentrum, kind: geofence.exit}
"""
RULES = "overrides:\n  res-johs: {geofence_exit: {enabled: true, window: '00:00-00:00'}}\n"


class Receiver:
    """The SMS gateway: a local HTTP server that keeps what it is sent, with the time."""

    def __init__(self) -> None:
        self.requests: list[tuple[float, dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((wall.monotonic(), dict(self.headers), body))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/sms"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def seed(store: SqliteStore, site: str, now: datetime) -> None:
    store.upsert_site(Site(site, "Hjemmetjenesten Sentrum"))
    store.upsert_unit(Unit("home-sentrum", site, "Hjemmetjenesten Sentrum"))
    store.upsert_resident(Resident("res-johs", site, "home-sentrum", "Johs Pedersen", "Storgata 12"))
    store.upsert_device(Device("johs-gps", site, "gw-johs", "gps_tracker"))
    store.place(PlacementRecord("johs-gps", "home-sentrum", "Storgata 12", None, "res-johs"))
    basis = LegalBasis(
        id="basis-gps", resident_id="res-johs", measure="location",
        kinds=frozenset({"geofence.exit"}), basis=BasisKind.DECISION_4_6A, decided_by="lisa",
        reference="HT-2026-17", valid_from=now - timedelta(days=30), valid_to=None,
        review_at=None, notify_relatives=("kari",),
    )  # fmt: skip
    store.save_basis(basis, BasisChange(basis.id, now, "lisa", BasisAction.RECORD))
    store.save_relative(Relative("res-johs", "kari", "Kari", "datter", phone="+4791234567"), now)
    store.save_shift(Shift("all-day", "liv", site, ("home-sentrum",), time(0), time(0)))


async def until(check: Callable[[], object], seconds: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_the_daughter_first_then_home_care_after_the_step(
    mosquitto: tuple[str, int], unique_site: str, receiver: Receiver, tmp_path: Path
) -> None:
    host, port = mosquitto
    site = unique_site
    now = datetime.now(UTC)
    store = SqliteStore(tmp_path / "hub.db")
    store.migrate()
    seed(store, site, now)
    hub = Hub(store, rules=RuleSet(files=[default_pack_text(), ("site.yaml", RULES)]))
    await hub.start()
    policy = tmp_path / "routing.yaml"
    policy.write_text(ROUTING)
    settings = RoutingSettings(
        routing=policy,
        relatives_webhook_url=receiver.url,
        relatives_webhook_secret=SecretStr(HOOK_SECRET),
        relatives_reply_secret=SecretStr(REPLY_SECRET),
        public_url="https://trygg.example.kommune.no",
    )
    stop = asyncio.Event()
    tag = uuid.uuid4().hex[:8]
    running = await start_routing(hub, stop, mqtt_host=host, mqtt_port=port,
                                  client_id=f"hub-notify-{tag}", settings=settings)  # fmt: skip
    broker = BrokerSettings(host=host, port=port, client_id=f"hub-{tag}")
    ingest = asyncio.create_task(run_ingest(hub, broker, MqttAlertPublisher(), stop))
    try:
        await until(lambda: hub.broker_connected)
        await until(lambda: running.router.channels["mqtt"].connected.is_set())  # type: ignore[attr-defined]
        async with aiomqtt.Client(host, port, identifier=f"hh-{tag}") as handheld:
            await handheld.subscribe(notify_topic(site, "liv"), qos=1)
            event = make_event(id=str(uuid6.uuid7()), site=site, gateway="gw-johs",
                               device="johs-gps", kind="geofence.exit",
                               ts=datetime.now(UTC), seq=1, data={"zone": "walk-area"})  # fmt: skip
            await handheld.publish(f"trygg/v1/{site}/gw-johs/events",
                                   event.model_dump_json(), qos=1)  # fmt: skip
            await until(lambda: receiver.requests)
            told_at, headers, body = receiver.requests[0]
            # Nothing has reached the handheld while the daughter has her step.
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(anext(handheld.messages), 1.0)
            msg = await asyncio.wait_for(anext(handheld.messages), 20)
            staff_at = wall.monotonic()
        sent = json.loads(msg.payload)  # type: ignore[arg-type]
        assert sent["type"] == "notify" and sent["alert"]["kind"] == "geofence.exit"
        assert staff_at - told_at >= 1.0
        assert len(receiver.requests) == 1  # told once, never again
        assert verify(HOOK_SECRET.encode(), headers[TIMESTAMP], body, headers[SIGNATURE],
                      wall.time())  # fmt: skip
        sms = json.loads(body)
        assert sms["type"] == "relative_notify"
        assert sms["to"] == {"name": "Kari", "phone": "+4791234567", "address": None,
                             "language": "nb"}  # fmt: skip
        assert "har forlatt det avtalte området" in sms["text"]
        assert "Johs" not in body.decode() and "Storgata" not in body.decode()
        prefix = "https://trygg.example.kommune.no/api/v1/relatives/reply/"
        assert sms["reply"]["post"].startswith(prefix)
        assert sms["reply"]["url"].startswith("https://trygg.example.kommune.no/relatives/?lang=nb#")
        claims = token.verify(REPLY_SECRET.encode(), sms["reply"]["post"][len(prefix):],
                              datetime.now(UTC))  # fmt: skip
        alert_id = sent["alert"]["id"]
        assert (claims.alert_id, claims.relative_id) == (alert_id, "kari")
        await running.router.drain()
        log = store.routing_log(alert_id)
        notifies = [(r.recipient, r.at) for r in log if r.kind is RoutingKind.NOTIFY]
        assert [who for who, _ in notifies] == ["relative:kari", "liv"]
        assert notifies[1][1] - notifies[0][1] >= timedelta(seconds=4)  # the step's timeout
        assert [r.detail for r in log if r.kind is RoutingKind.ESCALATED] == ["timeout"]
        audits = [(a.entry.action, a.entry.target) for a in store.audit_records("res-johs")]
        assert ("relative.notify", "kari") in audits
    finally:
        stop.set()
        await running.stop()
        await running.router.drain()
        await asyncio.gather(ingest, return_exceptions=True)
        await hub.stop()
        store.close()
