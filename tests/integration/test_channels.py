"""The delivery channels against the real thing: a local HTTP server for the
webhook, the machine's Mosquitto for the handheld channel."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import aiomqtt
import pytest

from hub.alerts import Alert, AlertState
from hub.channels.base import ChannelDown, Message, MessageKind
from hub.channels.mqtt import MqttHandheldChannel, Receipt, notify_topic, receipts_topic
from hub.channels.webhook import SIGNATURE, TIMESTAMP, WebhookChannel, sign, verify
from rules.decisions import Category, Priority

SECRET = b"a shared secret of some length"
NOW = datetime(2024, 11, 23, 1, 13, tzinfo=UTC)


def alert() -> Alert:
    return Alert(
        id="alert-1",
        site="site-1",
        unit="unit-A",
        apartment="H0102",
        resident_id="res-4711",
        device="dev-1",
        kind="fall.detected",
        category=Category.RESIDENT,
        priority=Priority.CRITICAL,
        rule="first.fall",
        message="Fall detected: H0102",
        state=AlertState.RAISED,
        raised_at=NOW,
        updated_at=NOW,
        event_ts=NOW,
        event_ids=("e-1",),
    )


class Receiver:
    """A local HTTP server answering with the given statuses in turn (then 200)."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(request: pytest.FixtureRequest) -> Iterator[Receiver]:
    r = Receiver(getattr(request, "param", []))
    yield r
    r.close()


def message(recipient: str = "response_centre", site: str = "site-1") -> Message:
    return Message(MessageKind.NOTIFY, recipient, site, alert(), NOW, step=3, reason="escalated")


@pytest.mark.parametrize("receiver", [[503, 500]], indirect=True)
async def test_webhook_is_signed_and_retried_until_it_lands(receiver: Receiver) -> None:
    channel = WebhookChannel(receiver.url, SECRET, attempts=3, first_delay=0.01)
    try:
        await channel.deliver(message())
    finally:
        await channel.close()
    assert len(receiver.requests) == 3
    headers, body = receiver.requests[-1]
    assert verify(SECRET, headers[TIMESTAMP], body, headers[SIGNATURE], time.time())
    assert not verify(
        b"another secret entirely", headers[TIMESTAMP], body, headers[SIGNATURE], time.time()
    )
    assert not verify(SECRET, headers[TIMESTAMP], body + b" ", headers[SIGNATURE], time.time())
    assert not verify(SECRET, headers[TIMESTAMP], body, headers[SIGNATURE], time.time() + 600)
    sent = json.loads(body)
    assert sent["alert"]["apartment"] == "H0102"
    assert "resident_id" not in sent["alert"] and "res-4711" not in body.decode()


@pytest.mark.parametrize("receiver", [[500, 500, 500, 500]], indirect=True)
async def test_webhook_that_stays_down_raises_channel_down(receiver: Receiver) -> None:
    channel = WebhookChannel(receiver.url, SECRET, attempts=2, first_delay=0.01)
    with pytest.raises(ChannelDown, match="2 attempts failed"):
        await channel.deliver(message())
    await channel.close()
    assert len(receiver.requests) == 2


async def test_webhook_to_a_closed_port_raises_channel_down() -> None:
    from conftest import free_port

    channel = WebhookChannel(
        f"http://127.0.0.1:{free_port()}/", SECRET, attempts=2, first_delay=0.01
    )
    with pytest.raises(ChannelDown):
        await channel.deliver(message())
    await channel.close()


def test_webhook_refuses_a_short_secret_and_verify_a_bad_timestamp() -> None:
    with pytest.raises(ValueError):
        WebhookChannel("http://127.0.0.1:1/", b"short")
    assert not verify(SECRET, "yesterday", b"{}", sign(SECRET, "yesterday", b"{}"), time.time())


@pytest.mark.mqtt
async def test_handheld_gets_its_notification_and_its_receipts_come_back(
    mosquitto: tuple[str, int], unique_site: str
) -> None:
    host, port = mosquitto
    receipts: list[Receipt] = []
    got = asyncio.Event()

    def on_receipt(r: Receipt) -> None:
        receipts.append(r)
        got.set()

    channel = MqttHandheldChannel(host, port, f"hub-{uuid.uuid4().hex[:8]}", on_receipt, attempts=1)
    stop = asyncio.Event()
    runner = asyncio.create_task(channel.run(stop))
    try:
        await asyncio.wait_for(channel.connected.wait(), 10)
        async with aiomqtt.Client(host, port, identifier=f"hh-{uuid.uuid4().hex[:8]}") as hh:
            await hh.subscribe(notify_topic(unique_site, "kari"), qos=1)
            await channel.deliver(message("kari", unique_site))
            msg = await asyncio.wait_for(anext(aiter(hh.messages)), 5)
            body = json.loads(bytes(msg.payload))  # type: ignore[arg-type]
            assert body["type"] == "notify" and body["alert"]["id"] == "alert-1"
            assert msg.qos == 1
            await hh.publish(receipts_topic(unique_site, "kari"), b"not json", qos=1)
            await hh.publish(
                receipts_topic(unique_site, "kari"),
                json.dumps({"alert_id": "alert-1", "status": "read"}),
                qos=1,
            )
            await asyncio.wait_for(got.wait(), 5)
        assert receipts == [Receipt(unique_site, "kari", "alert-1", "read")]
    finally:
        stop.set()
        await runner
    with pytest.raises(ChannelDown, match="not connected"):
        await channel.deliver(message("kari", unique_site))
