"""Play a scenario onto an MQTT broker, as the site's gateways would send it.

Each planned event becomes a canonical event with a fresh UUIDv7 id and its
gateway's next ``seq`` (from 1), published at QoS 1 to
``trygg/v1/{site}/{gateway}/events``, one JSON event per message. Events are
paced by their offset in the night divided by ``speed`` (60: a night in nine
minutes; 0 or ``inf``: as fast as the broker acknowledges).

Delivery is at least once, like a real gateway's outbox: an event counts as
sent only after the broker's PUBACK. If the broker is not up yet or the
connection drops, the player reconnects with backoff and publishes the same
event again (same id and seq, so the hub's dedupe makes a repeat harmless);
it gives up with :class:`PlayerError` only after ``connect_timeout`` seconds
without success.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import TracebackType
from typing import Any, Literal, Protocol

import aiomqtt
import uuid6

from devices.events import EventBase, make_event
from simulators import SimulatorError
from simulators.scenario import PlannedEvent, Scenario, scenario_names

__all__ = [
    "PlayResult",
    "PlayerError",
    "Publisher",
    "default_night",
    "event_topic",
    "play",
    "scenario_names",
]

log = logging.getLogger(__name__)

Stamp = Literal["live", "scenario"]
OnEvent = Callable[[PlannedEvent, EventBase], None]

# A PUBACK from a broker on the same network comes in milliseconds; after this
# long the connection is treated as dead and the event is sent again.
PUBLISH_TIMEOUT_S = 10.0
BACKOFF_FIRST_S = 0.1
BACKOFF_MAX_S = 5.0


class PlayerError(SimulatorError):
    """The broker could not be reached, or kept, within the connect timeout."""


class MqttClient(Protocol):
    """The part of ``aiomqtt.Client`` the player uses (a fake stands in for it in tests)."""

    async def __aenter__(self) -> Any: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Any: ...

    async def publish(
        self, topic: str, payload: str, qos: int = ..., *, timeout: float | None = ...
    ) -> None: ...


ClientFactory = Callable[..., MqttClient]


@dataclass(frozen=True)
class PlayResult:
    planned: int
    published: int
    by_kind: dict[str, int] = field(default_factory=dict)
    reconnects: int = 0
    stopped: bool = False
    elapsed_s: float = 0.0


def event_topic(site: str, gateway: str) -> str:
    return f"trygg/v1/{site}/{gateway}/events"


def default_night(scenario: Scenario, now: datetime) -> date:
    """The night in progress at ``now`` (after midnight: the one that began yesterday)."""
    local = now.astimezone(scenario.zone)
    crosses_midnight = scenario.end <= scenario.start
    if crosses_midnight and local.time() < scenario.end:
        return local.date() - timedelta(days=1)
    return local.date()


async def play(
    scenario: Scenario,
    broker_host: str,
    broker_port: int,
    speed: float = 60.0,
    *,
    night_of: date | None = None,
    stamp: Stamp = "live",
    on_event: OnEvent | None = None,
    username: str | None = None,
    password: str | None = None,
    client_id: str | None = None,
    stop: asyncio.Event | None = None,
    progress: bool = True,
    connect_timeout: float = 30.0,
    client_factory: ClientFactory | None = None,
) -> PlayResult:
    """Publish the scenario's night; return what was sent.

    ``stamp="live"`` sets ``ts`` to the wall clock at publish time (so the
    hub's latency metric means something in a demo); ``stamp="scenario"``
    sets it to the planned local time of the night. ``on_event(planned,
    event)`` is called after each PUBACK. Setting ``stop`` ends the run
    after the event in flight.
    """
    if speed < 0 or math.isnan(speed):
        raise ValueError(f"speed must be >= 0 (0 or inf: as fast as possible), got {speed}")
    night = night_of or scenario.night_of or default_night(scenario, datetime.now(UTC))
    planned = scenario.plan(night)
    stop = stop or asyncio.Event()
    publisher = Publisher(
        broker_host,
        broker_port,
        username=username,
        password=password,
        client_id=client_id or f"trygg-sim-{scenario.name}-{uuid.uuid4().hex[:8]}",
        connect_timeout=connect_timeout,
        stop=stop,
        client_factory=client_factory,
    )
    loop = asyncio.get_running_loop()
    began = loop.time()
    seqs: Counter[str] = Counter()
    by_kind: Counter[str] = Counter()
    with _progress(progress, len(planned), scenario.name) as advance:
        async with publisher:
            for item in planned:
                if not await _pace(stop, began, item.offset_s, speed):
                    break
                seqs[item.gateway] += 1
                event = _event(item, seqs[item.gateway], stamp, scenario)
                if not await publisher.publish(
                    event_topic(item.site, item.gateway), event.model_dump_json()
                ):
                    break
                by_kind[item.kind] += 1
                if on_event is not None:
                    on_event(item, event)
                advance()
    return PlayResult(
        planned=len(planned),
        published=sum(by_kind.values()),
        by_kind=dict(by_kind),
        reconnects=publisher.reconnects,
        stopped=stop.is_set(),
        elapsed_s=loop.time() - began,
    )


def _event(item: PlannedEvent, seq: int, stamp: Stamp, scenario: Scenario) -> EventBase:
    ts = datetime.now(scenario.zone) if stamp == "live" else item.at
    return make_event(
        id=str(uuid6.uuid7()),
        site=item.site,
        gateway=item.gateway,
        device=item.device,
        kind=item.kind,
        ts=ts,
        seq=seq,
        data=dict(item.data),
    )


async def _pace(stop: asyncio.Event, began: float, offset_s: float, speed: float) -> bool:
    """Wait until the event is due; False if ``stop`` was set first."""
    if speed == 0 or math.isinf(speed):
        await asyncio.sleep(0)  # let the caller's tasks (and a stop) run between events
        return not stop.is_set()
    delay = began + offset_s / speed - asyncio.get_running_loop().time()
    return not await _wait(stop, max(delay, 0.0))


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep ``seconds`` unless ``stop`` is set; True if it was."""
    if stop.is_set():
        return True
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return stop.is_set()


class Publisher:
    """One MQTT connection that comes back: connect with backoff, republish on failure."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        client_id: str | None = None,
        connect_timeout: float = 30.0,
        stop: asyncio.Event | None = None,
        client_factory: ClientFactory | None = None,
    ) -> None:
        self._host, self._port = host, port
        self._options: dict[str, Any] = {
            "username": username,
            "password": password,
            "identifier": client_id,
            "timeout": PUBLISH_TIMEOUT_S,
        }
        self._connect_timeout = connect_timeout
        self._stop = stop or asyncio.Event()
        self._factory: ClientFactory = client_factory or aiomqtt.Client
        self._client: MqttClient | None = None
        self._stack: AsyncExitStack | None = None
        self.reconnects = 0

    async def __aenter__(self) -> Publisher:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._drop()

    async def publish(self, topic: str, payload: str) -> bool:
        """Publish at QoS 1 until the broker acknowledges; False if stopped first."""
        failing_since: float | None = None
        loop = asyncio.get_running_loop()
        while True:
            try:
                client = self._client or await self._connect()
                if client is None:
                    return False
                await client.publish(topic, payload, qos=1, timeout=PUBLISH_TIMEOUT_S)
                return True
            except aiomqtt.MqttError as exc:
                failing_since = failing_since or loop.time()
                if loop.time() - failing_since > self._connect_timeout:
                    raise PlayerError(f"cannot publish to {self._where}: {exc}") from exc
                log.warning("publish to %s failed (%s); reconnecting", self._where, exc)
                await self._drop()
                self.reconnects += 1

    @property
    def _where(self) -> str:
        return f"{self._host}:{self._port}"

    async def _connect(self) -> MqttClient | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._connect_timeout
        for delay in _backoff():
            client = self._factory(self._host, self._port, **self._options)
            stack = AsyncExitStack()
            try:
                await stack.enter_async_context(client)
            except aiomqtt.MqttError as exc:
                if loop.time() + delay > deadline:
                    raise PlayerError(
                        f"no MQTT broker at {self._where} after {self._connect_timeout:g} s: {exc}"
                    ) from exc
                log.info(
                    "broker at %s not reachable (%s); retrying in %.1f s", self._where, exc, delay
                )
                if await _wait(self._stop, delay):
                    return None
                continue
            self._client, self._stack = client, stack
            return client
        raise AssertionError("unreachable: the backoff never ends")

    async def _drop(self) -> None:
        stack, self._client, self._stack = self._stack, None, None
        if stack is not None:
            # Leaving a dead connection can fail too; the next connect starts clean.
            with contextlib.suppress(aiomqtt.MqttError, OSError):
                await stack.aclose()


def _backoff() -> Iterator[float]:
    delay = BACKOFF_FIRST_S
    while True:
        yield delay
        delay = min(delay * 2, BACKOFF_MAX_S)


@contextlib.contextmanager
def _progress(enabled: bool, total: int, label: str) -> Iterator[Callable[[], None]]:
    """A rich progress bar on stderr, or a no-op."""
    if not enabled:
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task(f"playing {label}", total=total)
        yield lambda: bar.advance(task)
