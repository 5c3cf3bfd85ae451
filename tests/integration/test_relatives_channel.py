"""The relatives channel against a real local HTTP server: signed, retried, audited
before anything leaves, and refusing what it must not send."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from hub.alerts import Alert, AlertState
from hub.audit import AuditEntry
from hub.channels.base import ChannelDown, Message, MessageKind
from hub.channels.webhook import SIGNATURE, TIMESTAMP, verify
from hub.relatives import token
from hub.relatives.book import RelativesBook, ReplySettings
from hub.relatives.channel import RelativesChannel
from hub.relatives.model import Relative
from rules.decisions import Category, Priority

SECRET = b"relatives-hook-secret-0123456789"
REPLY = ReplySettings(b"reply-secret-0123456789", timedelta(hours=2), "https://hub.example/")
NOW = datetime(2026, 11, 23, 17, 2, tzinfo=UTC)
KARI = Relative("res-4711", "kari", "Kari", "datter", phone="+4791234567", language="en")


class Receiver:
    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
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
def receiver(request: pytest.FixtureRequest) -> Iterator[Receiver]:
    r = Receiver(getattr(request, "param", []))
    yield r
    r.close()


def book() -> RelativesBook:
    consent = SimpleNamespace(zone_of=lambda site: ZoneInfo("Europe/Oslo"))
    b = RelativesBook(SimpleNamespace(consent=consent), REPLY)
    b._by_resident = {"res-4711": (KARI,)}
    return b


def alert() -> Alert:
    return Alert(
        id="alert-1", site="site-1", unit="unit-A", apartment="H0102", resident_id="res-4711",
        device="gps-1", kind="geofence.exit", category=Category.RESIDENT,
        priority=Priority.HIGH, rule="geofence_exit", message="Left the agreed area",
        state=AlertState.RAISED, raised_at=NOW, updated_at=NOW, event_ts=NOW,
        event_ids=("e-1",),
    )  # fmt: skip


def message(recipient: str = "relative:kari", kind: MessageKind = MessageKind.NOTIFY) -> Message:
    a = alert()
    return Message(kind, recipient, a.site, a, NOW, step=0, reason="first")


def channel(url: str, audited: list[AuditEntry], fail_audit: bool = False) -> RelativesChannel:
    async def audit(entry: AuditEntry) -> None:
        if fail_audit:
            raise RuntimeError("store down")
        audited.append(entry)

    return RelativesChannel(url, SECRET, book(), audit=audit, first_delay=0.01, attempts=3,
                            deadline=lambda _: NOW + timedelta(minutes=10))  # fmt: skip


@pytest.mark.parametrize("receiver", [[503, 500]], indirect=True)
async def test_signed_retried_and_audited_once(receiver: Receiver) -> None:
    audited: list[AuditEntry] = []
    ch = channel(receiver.url, audited)
    try:
        await ch.deliver(message())
    finally:
        await ch.close()
    assert len(receiver.requests) == 3
    headers, body = receiver.requests[-1]
    assert verify(SECRET, headers[TIMESTAMP], body, headers[SIGNATURE], time.time())
    sent = json.loads(body)
    assert sent["text"].startswith("Trygg: The person you are a relative of has left the agreed")
    assert "at 18:02" in sent["text"] and "Home care will be told at 18:12" in sent["text"]
    url, post = sent["reply"]["url"], sent["reply"]["post"]
    assert url.startswith("https://hub.example/relatives/?lang=en#")
    assert post.startswith("https://hub.example/api/v1/relatives/reply/")
    assert url.split("#", 1)[1] == post.rsplit("/", 1)[1]
    claims = token.verify(REPLY.secret, post.rsplit("/", 1)[1], NOW)
    assert claims.expires_at == NOW + timedelta(hours=2)
    assert "res-4711" not in body.decode() and "H0102" not in body.decode()
    assert [(a.actor, a.action, a.resident_id, a.target) for a in audited] == [
        ("system", "relative.notify", "res-4711", "kari")
    ]


async def test_down_unaudited_or_unregistered_is_channel_down(receiver: Receiver) -> None:
    audited: list[AuditEntry] = []
    ch = channel(receiver.url, audited, fail_audit=True)
    with pytest.raises(ChannelDown, match="not audited"):
        await ch.deliver(message())
    await ch.close()
    ch = channel(receiver.url, audited)
    with pytest.raises(ChannelDown, match="no longer registered"):
        await ch.deliver(message("relative:ola"))
    await ch.deliver(message(kind=MessageKind.WITHDRAW))  # relatives get no withdraws
    await ch.close()
    assert receiver.requests == [] and audited == []
    from conftest import free_port

    ch = channel(f"http://127.0.0.1:{free_port()}/", audited)
    with pytest.raises(ChannelDown, match="3 attempts failed"):
        await ch.deliver(message())
    await ch.close()
    assert len(audited) == 1  # the attempt to disclose is on record even when it failed


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        RelativesChannel("http://127.0.0.1:1/", b"short", book(), audit=None)  # type: ignore[arg-type]
