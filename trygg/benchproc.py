"""The worker processes of ``trygg bench ingest``, one role per process.

Each role runs in its own interpreter (``python -m trygg.benchproc ROLE ...``)
so the publisher, the consumers and the hub never share a GIL. A worker
writes JSON lines to stdout (``{"event": "ready"}``, ``{"event": "result",
...}``) and, where it waits for the orchestrator, reads commands from stdin.

Roles:
  publish  pre-build N canonical events, publish them QoS 1 at full speed (paho)
  paced    publish RATE events/s for SECONDS, ~2/s of them alarm-raising (paho)
  bare     an aiomqtt subscriber on the event topics that only counts
           (``--resume``: take over a primed persistent session and drain its backlog)
  prime    open a persistent session for a client id, subscribe, leave: the broker
           queues what is published meanwhile (``--backlog`` mode)
  hub      a real Hub with run_ingest; reports when N events are stored
  alerts   an aiomqtt subscriber on the alert topics that measures latency

Every wait has a deadline; a worker that misses one reports what it has.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import paho.mqtt.client as mqtt
import uuid6
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from devices.events import make_event

EVENTS_TOPIC = "trygg/v1/+/+/events"
ALERTS_TOPIC = "trygg/v1/+/alerts"
RECEIVE_MAXIMUM = 10_000  # what the hub announces (hub.mqtt); the bare subscriber matches it
SITES = 3
GATEWAYS_PER_SITE = 2
SENSORS = (("motion", 4), ("door", 2), ("bed", 2), ("stove", 1))  # per gateway
ALARM_RATE = 2.0  # alarm-raising events per second in the latency phase
IDLE_S = 10.0  # a consumer gives up this long after the last message
SESSION_EXPIRY_S = 3600  # primed sessions outlive the publishing of the backlog


# --- the bench's homes: a few sites and gateways, devices with realistic kinds ---------


@dataclass(frozen=True, slots=True)
class Gateway:
    site: str
    id: str
    devices: dict[str, tuple[str, ...]]  # sensor type -> device ids

    @property
    def topic(self) -> str:
        return f"trygg/v1/{self.site}/{self.id}/events"


def site_prefix(tag: str) -> str:
    return f"b{tag}-"


def gateways(tag: str) -> list[Gateway]:
    result = []
    for s in range(1, SITES + 1):
        site = f"{site_prefix(tag)}s{s}"
        for g in range(1, GATEWAYS_PER_SITE + 1):
            gw = f"gw{g}"
            devices = {
                kind: tuple(f"{site}-{gw}-{kind}{i}" for i in range(1, n + 1))
                for kind, n in SENSORS
            }
            result.append(Gateway(site, gw, devices))
    return result


def alarm_devices(tag: str, count: int) -> list[tuple[Gateway, str, str]]:
    """(gateway, device, kind) for each alarm: one device each, so every alarm
    raises its own alert (a second press on an open alert only joins it)."""
    gws = gateways(tag)
    result = []
    for n in range(count):
        gw = gws[n % len(gws)]
        kind = "fall.detected" if n % 2 else "alarm.button"
        result.append((gw, f"{gw.site}-{gw.id}-alarm{n}", kind))
    return result


class EventMaker:
    """Canonical events as the gateways send them: uuid7 ids, per-gateway seq."""

    def __init__(self, tag: str, seq_base: int, seed: int) -> None:
        self.gateways = gateways(tag)
        self.seq = {gw.id + gw.site: seq_base for gw in self.gateways}
        self.rng = random.Random(seed)

    def _payload(self, gw: Gateway, device: str, kind: str, data: dict[str, Any]) -> bytes:
        key = gw.id + gw.site
        self.seq[key] += 1
        event = make_event(
            id=str(uuid6.uuid7()), site=gw.site, gateway=gw.id, device=device, kind=kind,
            ts=datetime.now(UTC), seq=self.seq[key], data=data,
        )  # fmt: skip
        return event.to_json().encode()

    def background(self) -> tuple[str, bytes]:
        """Mostly heartbeats, then motion, then doors."""
        rng = self.rng
        gw = rng.choice(self.gateways)
        roll = rng.random()
        data: dict[str, Any] = {}
        if roll < 0.5:
            kind = "device.heartbeat"
            device = rng.choice(rng.choice(list(gw.devices.values())))
            data = {
                "battery_pct": rng.randint(20, 100),
                "link_quality": rng.randint(40, 255),
                "uptime_s": rng.randint(0, 10_000_000),
            }
        elif roll < 0.8:
            kind, device = "room.motion", rng.choice(gw.devices["motion"])
        else:
            kind = rng.choice(("door.opened", "door.closed"))
            device = rng.choice(gw.devices["door"])
            data = {"door": rng.choice(("entrance", "balcony", "inner"))}
        return gw.topic, self._payload(gw, device, kind, data)

    def alarm(self, gw: Gateway, device: str, kind: str) -> tuple[str, bytes]:
        data: dict[str, Any] = (
            {"press": "single"} if kind == "alarm.button" else {"confidence": 0.93}
        )
        return gw.topic, self._payload(gw, device, kind, data)


# --- plumbing ---------------------------------------------------------------------------


def emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def ours(topic: str, prefix: str) -> bool:
    return topic.startswith(prefix, 9)  # len("trygg/v1/") == 9


def usage() -> dict[str, float]:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return {"cpu_s": ru.ru_utime + ru.ru_stime, "rss_mb": ru.ru_maxrss / 1024}


async def stdin_lines() -> asyncio.Queue[str]:
    """Commands from the orchestrator; an empty line means stdin closed."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    queue: asyncio.Queue[str] = asyncio.Queue()

    async def pump() -> None:
        while True:
            line = (await reader.readline()).decode()
            await queue.put(line.strip() or "eof")
            if not line:
                return

    task = asyncio.create_task(pump())
    queue.pump = task  # type: ignore[attr-defined]  # keep a reference
    return queue


def v5_client(
    host: str, port: int, client_id: str, *, clean: bool = True, expiry: int = 0
) -> aiomqtt.Client:
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.ReceiveMaximum = RECEIVE_MAXIMUM
    if expiry:
        props.SessionExpiryInterval = expiry
    return aiomqtt.Client(
        host, port, identifier=client_id, protocol=aiomqtt.ProtocolVersion.V5,
        clean_start=clean, properties=props,
    )  # fmt: skip


# --- publishers (paho: a network thread, publish() from the main thread) -----------------


class Publisher:
    def __init__(self, host: str, port: int, client_id: str) -> None:
        self.acked = 0
        self.last_ack = 0.0
        self._connected = threading.Event()
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        c.max_inflight_messages_set(1000)  # below 65535: paho's message ids must stay unique
        c.on_connect = lambda *_: self._connected.set()
        c.on_publish = self._on_publish
        self.client = c
        c.connect(host, port)
        c.loop_start()
        if not self._connected.wait(10):
            raise SystemExit(f"publisher: no CONNACK from {host}:{port} in 10 s")

    def _on_publish(self, *_: Any) -> None:
        self.acked += 1
        self.last_ack = time.perf_counter()

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1)

    def wait_acked(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.acked < count and time.monotonic() < deadline:
            time.sleep(0.005)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def run_publish(a: argparse.Namespace) -> None:
    maker = EventMaker(a.tag, a.seq_base, seed=a.seq_base)
    messages = [maker.background() for _ in range(a.events)]
    size = sum(len(p) for _, p in messages) / max(len(messages), 1)
    pub = Publisher(a.host, a.port, f"bench-pub-{a.tag}-{a.seq_base}")
    started = time.perf_counter()
    for topic, payload in messages:
        pub.publish(topic, payload)
    sent_at = time.perf_counter()
    pub.wait_acked(len(messages), a.timeout)
    pub.close()
    took = max(pub.last_ack - started, 1e-9)
    emit(
        "result", sent=len(messages), acked=pub.acked, seconds=took, rate=pub.acked / took,
        publish_call_s=sent_at - started, payload_bytes=size, **usage(),
    )  # fmt: skip


def run_paced(a: argparse.Namespace) -> None:
    maker = EventMaker(a.tag, a.seq_base, seed=a.seq_base)
    alarms = alarm_devices(a.tag, a.alarms)
    pub = Publisher(a.host, a.port, f"bench-paced-{a.tag}")
    sent = alarms_sent = 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < a.seconds:
        due = min(int(elapsed * a.rate) + 1, int(a.seconds * a.rate))
        while sent < due:
            if alarms_sent < len(alarms) and elapsed >= (alarms_sent + 0.5) / ALARM_RATE:
                topic, payload = maker.alarm(*alarms[alarms_sent])
                alarms_sent += 1
            else:
                topic, payload = maker.background()
            pub.publish(topic, payload)
            sent += 1
        time.sleep(0.002)
    took = time.perf_counter() - started
    pub.wait_acked(sent, 10)
    pub.close()
    emit("result", sent=sent, acked=pub.acked, alarms=alarms_sent, seconds=took, rate=sent / took)


# --- consumers ---------------------------------------------------------------------------


async def run_prime(a: argparse.Namespace) -> None:
    """A persistent session with the events subscription and nobody connected to it."""
    async with v5_client(a.host, a.port, a.client_id, expiry=SESSION_EXPIRY_S) as client:
        await client.subscribe(EVENTS_TOPIC, qos=1)
    emit("result", client_id=a.client_id)


async def run_bare(a: argparse.Namespace) -> None:
    prefix = site_prefix(a.tag)
    count = foreign = 0
    first = last = 0.0
    client_id = f"bench-bare-{a.tag}"
    resume = {"clean": False, "expiry": SESSION_EXPIRY_S} if a.resume else {}
    async with v5_client(a.host, a.port, client_id, **resume) as client:  # type: ignore[arg-type]
        if not a.resume:  # a resumed session has its subscription and its backlog
            await client.subscribe(EVENTS_TOPIC, qos=1)
        emit("ready")
        deadline = time.monotonic() + a.timeout
        messages = aiter(client.messages)
        while count < a.events:
            wait = min(IDLE_S, deadline - time.monotonic())
            if wait <= 0:
                break
            try:
                message = await asyncio.wait_for(anext(messages), wait)
            except TimeoutError:
                break
            if not ours(message.topic.value, prefix):
                foreign += 1
                continue
            last = time.perf_counter()
            if count == 0:
                first = last
            count += 1
    if a.resume:  # end the session (clean start, no expiry): the broker stops queueing for it
        async with v5_client(a.host, a.port, client_id):
            pass
    took = last - first
    rate = (count - 1) / took if count > 1 and took > 0 else 0.0
    emit("result", count=count, expected=a.events, seconds=took, rate=rate, foreign=foreign,
         **usage())  # fmt: skip


async def run_alerts(a: argparse.Namespace) -> None:
    prefix = site_prefix(a.tag)
    seen: dict[str, float] = {}  # alert id -> latency in seconds
    devices: set[str] = set()
    commands = await stdin_lines()
    expected: int | None = None
    async with v5_client(a.host, a.port, f"bench-alerts-{a.tag}") as client:
        await client.subscribe(ALERTS_TOPIC, qos=1)
        emit("ready")
        deadline = time.monotonic() + a.timeout
        messages = aiter(client.messages)
        nxt: asyncio.Task[Any] = asyncio.ensure_future(anext(messages))
        cmd: asyncio.Task[str] = asyncio.ensure_future(commands.get())
        try:
            while expected is None or len(seen) < expected:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                done, _ = await asyncio.wait(
                    {nxt, cmd}, timeout=left, return_when="FIRST_COMPLETED"
                )
                if cmd in done:
                    line = cmd.result()
                    if line.startswith("expect "):
                        expected = int(line.split()[1])
                        # Whatever is still on its way gets a few seconds more.
                        deadline = min(deadline, time.monotonic() + a.grace)
                    elif line == "eof":
                        break
                    cmd = asyncio.ensure_future(commands.get())
                if nxt in done:
                    received = time.time()
                    message = nxt.result()
                    nxt = asyncio.ensure_future(anext(messages))
                    if not ours(message.topic.value, prefix):
                        continue
                    alert = json.loads(message.payload)
                    if alert["id"] not in seen:
                        event_ts = datetime.fromisoformat(alert["event_ts"]).timestamp()
                        seen[alert["id"]] = received - event_ts
                        devices.add(alert["device"])
        finally:
            for task in (nxt, cmd):
                task.cancel()
            await asyncio.gather(nxt, cmd, return_exceptions=True)
    emit("result", count=len(seen), expected=expected, latencies_s=sorted(seen.values()),
         devices=sorted(devices))  # fmt: skip


# --- the hub -------------------------------------------------------------------------------


def open_store(kind: str, db: Path, tag: str = "run") -> Any:
    store: Any
    if kind == "postgres":
        from hub.store.postgres import PostgresStore

        dsn = os.environ.get("TRYGG_DATABASE_URL")
        if not dsn:
            raise SystemExit("--store postgres needs TRYGG_DATABASE_URL")
        # A schema of the run's own, dropped at the end (drop_store).
        store = PostgresStore(dsn, schema=f"bench_{tag}")
    elif kind == "memory":
        try:
            from hub.store.memory import MemoryStore
        except ImportError as exc:
            raise SystemExit(f"--store memory: hub.store.memory is not available ({exc})") from exc
        store = MemoryStore()
    else:
        from hub.store.sqlite import SqliteStore

        store = SqliteStore(db)
    store.migrate()
    return store


def drop_store(kind: str, tag: str) -> None:
    if kind != "postgres":
        return
    import psycopg
    from psycopg import sql

    with psycopg.connect(os.environ["TRYGG_DATABASE_URL"], autocommit=True) as conn:
        schema = sql.Identifier(f"bench_{tag}")
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(schema))


def seed(store: Any, tag: str, alarms: int) -> int:
    """Register every bench device with a placement, as a real municipality would."""
    from hub.store.base import Device, PlacementRecord, Site, Unit

    count = 0

    def add(gw: Gateway, device: str, dtype: str, apartment: int) -> None:
        nonlocal count
        store.upsert_device(Device(id=device, site=gw.site, gateway=gw.id, type=dtype))
        store.place(
            PlacementRecord(
                device=device, unit=f"{gw.site}-{gw.id}", apartment=f"Leil. {apartment}"
            )
        )
        count += 1

    for gw in gateways(tag):
        store.upsert_site(Site(id=gw.site, name=f"Bench {gw.site}"))
        store.upsert_unit(Unit(id=f"{gw.site}-{gw.id}", site=gw.site, name=gw.id))
        for dtype, ids in gw.devices.items():
            for i, device in enumerate(ids, 1):
                add(gw, device, dtype, i)
    for n, (gw, device, kind) in enumerate(alarm_devices(tag, alarms)):
        add(gw, device, kind.split(".")[0], n)
    return count


class Tally:
    """Times the hub's first message and its commits, from outside the hub."""

    def __init__(self, target: int, done: Callable[[], object]) -> None:
        self.target = target
        self.first: float | None = None
        self.first_usage: dict[str, float] | None = None
        self.stored = 0
        self.last_commit = 0.0
        self.foreign = 0
        self._done = done

    def wrap_handler(self, handle: Callable[..., None], prefix: str) -> Callable[..., None]:
        def handle_message(payload: bytes, topic: str, ack: Any = None) -> None:
            if self.first is None:
                self.first = time.perf_counter()
                self.first_usage = usage()
            if not ours(topic, prefix):
                self.foreign += 1
            handle(payload, topic, ack)

        return handle_message

    def wrap_append(self, append: Callable[..., int]) -> Callable[..., int]:
        def append_events(events: Any) -> int:  # runs on the store thread
            added = append(events)
            self.last_commit = time.perf_counter()
            self.stored += added
            if self.stored >= self.target and self.stored - added < self.target:
                self._done()
            return added

        return append_events


async def run_hub(a: argparse.Namespace) -> None:
    from hub import gc_tuning
    from hub.metrics import Metrics
    from hub.mqtt import BrokerSettings, MqttAlertPublisher, run_ingest
    from hub.service import Hub
    from rules.flood import FloodGuard

    store = open_store(a.store, Path(a.db), a.tag)
    devices = seed(store, a.tag, a.alarms)
    loop = asyncio.get_running_loop()
    reached = asyncio.Event()
    tally = Tally(a.events, lambda: loop.call_soon_threadsafe(reached.set))
    store.append_events = tally.wrap_append(store.append_events)
    hub = Hub(store, metrics=Metrics())
    # Bench devices send many times faster than any real sensor: no flood containment.
    hub.flood = FloodGuard(limit=1_000_000)
    await hub.start()
    gc_tuning.tune()  # as `trygg hub` does once its hub has started
    hub.handle_message = tally.wrap_handler(hub.handle_message, site_prefix(a.tag))  # type: ignore[method-assign]
    # Wired as trygg.runtime wires it.
    publisher = MqttAlertPublisher(on_delivered=lambda alert: hub.delivered(alert, "mqtt"))
    hub.add_notifier(publisher)
    stop = asyncio.Event()
    settings = BrokerSettings(
        host=a.host, port=a.port, client_id=a.client_id, protocol=5, session_expiry_s=300
    )
    ingest = asyncio.create_task(run_ingest(hub, settings, publisher, stop))
    commands = await stdin_lines()
    try:
        await asyncio.wait_for(_connected(hub), 20)
        emit("ready", devices=devices)
        profiler = _start_profile(a.profile)
        await _report_ingest(hub, tally, reached, a, profiler)
        while (line := await asyncio.wait_for(commands.get(), a.timeout)) not in ("stop", "eof"):
            if line == "mark":
                emit("mark", t=time.perf_counter(), **usage())
        stop.set()
        await asyncio.wait_for(ingest, 20)
    finally:
        stop.set()
        ingest.cancel()
        await asyncio.gather(ingest, return_exceptions=True)
        await hub.stop()
        store.close()
        drop_store(a.store, a.tag)
        await _forget_session(a.host, a.port, a.client_id)
    m = hub.metrics.registry
    emit(
        "final", stored=tally.stored, foreign=tally.foreign,
        received=m.get_sample_value("trygg_events_received_total"),
        rejected=_total(hub.metrics.events_rejected),
        alerts_raised=_total(hub.metrics.alerts_raised),
        **usage(),
    )  # fmt: skip


def _total(counter: Any) -> float:
    """A labelled counter summed over its labels."""
    return float(
        sum(s.value for m in counter.collect() for s in m.samples if s.name.endswith("_total"))
    )


async def _connected(hub: Any) -> None:
    while not hub.broker_connected:
        await asyncio.sleep(0.01)


async def _report_ingest(
    hub: Any, tally: Tally, reached: asyncio.Event, a: argparse.Namespace, profiler: Any
) -> None:
    try:
        await asyncio.wait_for(reached.wait(), a.timeout)
        for _ in range(500):  # the counter moves just after the commit returns
            if (
                hub.metrics.registry.get_sample_value("trygg_events_stored_total") or 0
            ) >= a.events:
                break
            await asyncio.sleep(0.002)
        timed_out = False
    except TimeoutError:
        timed_out = True
    now = usage()
    _stop_profile(profiler, a.profile)
    first = tally.first or tally.last_commit
    took = tally.last_commit - first
    m = hub.metrics.registry
    batches = m.get_sample_value("trygg_store_batch_size_count") or 0
    emit(
        "ingest", stored=tally.stored, expected=a.events, timed_out=timed_out, seconds=took,
        rate=tally.stored / took if took > 0 else 0.0,
        cpu_s=now["cpu_s"] - (tally.first_usage or now)["cpu_s"], rss_mb=now["rss_mb"],
        batches=batches,
        mean_batch=(m.get_sample_value("trygg_store_batch_size_sum") or 0) / max(batches, 1),
        commit_s=m.get_sample_value("trygg_store_batch_seconds_sum") or 0,
    )  # fmt: skip


def _start_profile(path: str | None) -> Any:
    if not path:
        return None
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    return profiler


def _stop_profile(profiler: Any, path: str | None) -> None:
    if profiler is not None and path:
        profiler.disable()
        profiler.dump_stats(path)


async def _forget_session(host: str, port: int, client_id: str) -> None:
    """The hub's session is persistent; end it so the broker stops queueing for it."""
    try:
        client = aiomqtt.Client(
            host, port, identifier=client_id, protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=True, timeout=5,
        )  # fmt: skip
        async with client:
            pass
    except aiomqtt.MqttError as exc:
        print(f"could not end the hub's session {client_id}: {exc}", file=sys.stderr)


# --- entry -------------------------------------------------------------------------------------


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m trygg.benchproc")
    p.add_argument("role", choices=("publish", "paced", "bare", "alerts", "hub", "prime"))
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tag", required=True, help="run id: sites are b{tag}-s1, ...")
    p.add_argument("--events", type=int, default=0)
    p.add_argument("--seq-base", type=int, default=0)
    p.add_argument("--rate", type=float, default=500.0)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--alarms", type=int, default=0)
    p.add_argument("--timeout", type=float, default=120.0, help="longest wait for anything")
    p.add_argument("--grace", type=float, default=5.0, help="alerts: wait after 'expect'")
    p.add_argument("--store", choices=("sqlite", "memory", "postgres"), default="sqlite")
    p.add_argument("--db", default="bench-hub.sqlite3")
    p.add_argument("--client-id", default="trygg-bench-hub")
    p.add_argument("--profile", default=None, help="hub: cProfile the ingest phase to this file")
    p.add_argument("--resume", action="store_true", help="bare: drain a primed session")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    a = parse(sys.argv[1:] if argv is None else argv)
    if a.role == "publish":
        run_publish(a)
    elif a.role == "paced":
        run_paced(a)
    else:
        runner = {"bare": run_bare, "alerts": run_alerts, "hub": run_hub, "prime": run_prime}[
            a.role
        ]
        asyncio.run(runner(a))


if __name__ == "__main__":
    main()
