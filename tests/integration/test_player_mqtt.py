"""The player against a real (embedded amqtt) broker, and its retry against a fake."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, date
from typing import Any

import aiomqtt
import pytest
from amqtt.broker import Broker

from devices.events import EventBase, parse_event
from simulators.player import PlayResult, play
from simulators.scenario import PlannedEvent, Scenario, load_scenario

pytestmark = pytest.mark.mqtt

NIGHT = date(2026, 10, 24)  # the night the clocks go back: 10 h of events


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def broker_config(port: int) -> dict[str, Any]:
    # Only the anonymous-auth plugin: the default set adds $SYS publishing and
    # packet logging that a test has no use for.
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }


@pytest.fixture
async def broker_port() -> AsyncIterator[int]:
    port = free_port()
    broker = Broker(broker_config(port))
    await broker.start()
    try:
        yield port
    finally:
        await broker.shutdown()


@pytest.fixture(scope="module")
def night_unit() -> Scenario:
    return load_scenario("night-unit")


async def collect(port: int, count: int, ready: asyncio.Event) -> list[aiomqtt.Message]:
    received: list[aiomqtt.Message] = []
    async with aiomqtt.Client("127.0.0.1", port, identifier="test-subscriber") as client:
        await client.subscribe("trygg/v1/+/+/events", qos=1)
        ready.set()
        async for message in client.messages:
            received.append(message)
            if len(received) == count:
                break
    return received


async def test_every_planned_event_arrives_valid_and_in_order(
    broker_port: int, night_unit: Scenario
) -> None:
    planned = night_unit.plan(NIGHT)
    ready = asyncio.Event()
    async with asyncio.timeout(10):
        listener = asyncio.create_task(collect(broker_port, len(planned), ready))
        await ready.wait()
        seen: list[tuple[PlannedEvent, EventBase]] = []
        result = await play(
            night_unit,
            "127.0.0.1",
            broker_port,
            speed=0,
            night_of=NIGHT,
            stamp="scenario",
            progress=False,
            on_event=lambda p, e: seen.append((p, e)),
        )
        messages = await listener

    assert result.published == result.planned == len(planned) == len(seen)
    assert result.by_kind == dict(Counter(p.kind for p in planned))
    assert not result.stopped
    assert all(isinstance(m.payload, bytes) for m in messages)
    events = [parse_event(m.payload) for m in messages]  # type: ignore[arg-type]
    for message, event in zip(messages, events, strict=True):
        assert str(message.topic) == f"trygg/v1/{event.site}/{event.gateway}/events"
        assert message.qos == 1
    assert len({e.id for e in events}) == len(events)
    by_gateway: dict[str, list[int]] = defaultdict(list)
    for event in events:
        by_gateway[event.gateway].append(event.seq)
    for seqs in by_gateway.values():
        assert seqs == list(range(1, len(seqs) + 1))  # from 1, strictly increasing, no gaps
    # stamp="scenario": each event carries its planned time, so arrivals match the plan.
    # Compare in UTC: in the repeated hour, datetimes in different zones never compare
    # equal (PEP 495), and this night repeats 02:00-02:59.
    assert Counter((e.device, e.kind, e.ts.astimezone(UTC)) for e in events) == Counter(
        (p.device, p.kind, p.at.astimezone(UTC)) for p in planned
    )
    offsets = {e.ts.isoformat()[-6:] for e in events}
    assert offsets == {"+02:00", "+01:00"}


async def test_live_stamp_uses_the_wall_clock(broker_port: int, night_unit: Scenario) -> None:
    small = night_unit.model_copy(update={"background": []})
    seen: list[EventBase] = []
    result = await play(
        small,
        "127.0.0.1",
        broker_port,
        speed=0,
        night_of=NIGHT,
        progress=False,
        on_event=lambda _p, e: seen.append(e),
    )
    assert result.published == len(small.timeline)
    stamps = [e.ts for e in seen]
    assert stamps == sorted(stamps)
    assert all(ts.year >= 2025 and ts.utcoffset() is not None for ts in stamps)
    assert stamps[-1] - stamps[0] < (small.plan(NIGHT)[-1].at - small.plan(NIGHT)[0].at)


async def test_waits_for_a_broker_that_is_not_up_yet(night_unit: Scenario) -> None:
    small = night_unit.model_copy(update={"background": []})
    port = free_port()
    player = asyncio.create_task(
        play(small, "127.0.0.1", port, speed=0, night_of=NIGHT, progress=False, connect_timeout=5)
    )
    await asyncio.sleep(0.5)
    broker = Broker(broker_config(port))
    await broker.start()
    try:
        result: PlayResult = await asyncio.wait_for(player, timeout=5)
    finally:
        await broker.shutdown()
    assert result.published == len(small.timeline)


async def test_stop_ends_the_run_early(broker_port: int, night_unit: Scenario) -> None:
    stop = asyncio.Event()
    published = 0

    def count(_p: PlannedEvent, _e: EventBase) -> None:
        nonlocal published
        published += 1
        if published == 3:
            stop.set()

    result = await play(
        night_unit,
        "127.0.0.1",
        broker_port,
        speed=0,
        night_of=NIGHT,
        progress=False,
        on_event=count,
        stop=stop,
    )
    assert result.stopped and result.published == 3 < result.planned


class FlakyClient:
    """Stands in for aiomqtt.Client: the second publish fails once, as on a dropped link."""

    def __init__(self, log: list[str], *_args: Any, **_kwargs: Any) -> None:
        self.log = log

    async def __aenter__(self) -> FlakyClient:
        self.log.append("connect")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.log.append("disconnect")

    async def publish(self, topic: str, payload: str, qos: int = 0, **_: Any) -> None:
        assert qos == 1
        if self.log.count("publish") == 1 and "failed" not in self.log:
            self.log.append("failed")
            raise aiomqtt.MqttError("Operation timed out")
        self.log.append("publish")
        self.log.append(payload)


async def test_a_failed_publish_is_retried_not_lost(night_unit: Scenario) -> None:
    small = night_unit.model_copy(update={"background": []})
    log: list[str] = []
    result = await play(
        small,
        "broker.invalid",
        1883,
        speed=0,
        night_of=NIGHT,
        progress=False,
        client_factory=lambda *a, **k: FlakyClient(log, *a, **k),
    )
    assert result.published == len(small.timeline)
    assert result.reconnects == 1
    assert log[:6] == ["connect", "publish", log[2], "failed", "disconnect", "connect"]
    payloads = [parse_event(x) for x in log if x.startswith("{")]
    assert [e.seq for e in payloads] == list(range(1, len(small.timeline) + 1))
