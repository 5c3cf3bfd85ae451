"""``trygg sim load``: many simulated gateways publishing a realistic mix at a target rate.

Each gateway has ``devices_per_gateway`` devices whose types are drawn from
the seed (door contacts, motion sensors, GPS trackers, bed sensors), and every
device sends heartbeats. Events are canonical JSON on the gateway's topic at
QoS 1, with UUIDv7 ids and per-gateway ``seq``. An event counts as
acknowledged on the broker's PUBACK. A worker keeps at most four in-flight
windows unacknowledged, so when the broker (or this machine) cannot keep up,
``sent`` falls behind ``rate`` instead of piling up in memory: the reported
rates are what was really achieved.

Each process publishes with one paho client (paho's network thread
does the socket work); ``processes > 1`` splits the gateways over several
processes, each with its own connection, which is what reaches 10,000 events/s
on a small machine. Counters are shared with the parent, which reports
sent/acknowledged per second (and draws a rich progress bar when asked).
:func:`run_load` is the entry point for the CLI and for ``trygg bench``.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import uuid6

from simulators import SimulatorError

# Device types and what they send besides heartbeats, with weights per message.
DEVICE_TYPES: dict[str, list[tuple[str, float]]] = {
    "door_contact": [("door.opened", 1.0), ("door.closed", 1.0)],
    "motion_sensor": [("room.motion", 3.0)],
    "gps_tracker": [("gps.position", 2.0)],
    "bed_sensor": [("bed.exit", 0.5), ("bed.enter", 0.5)],
}
TYPE_WEIGHTS = {"door_contact": 3, "motion_sensor": 3, "gps_tracker": 1, "bed_sensor": 2}
HEARTBEAT_SHARE = 0.35  # of all messages
TICK_S = 0.005


class LoadError(SimulatorError):
    """The load run could not connect or its workers failed."""


@dataclass(frozen=True)
class LoadSpec:
    gateways: int
    devices_per_gateway: int
    rate: float  # events/s in total
    duration_s: float = 10.0
    site: str = "load-site"
    seed: int = 1
    processes: int = 1
    host: str = "127.0.0.1"
    port: int = 1883
    inflight: int = 1000

    def __post_init__(self) -> None:
        if self.gateways < 1 or self.devices_per_gateway < 1:
            raise ValueError("--gateways and --devices-per-gateway must be at least 1")
        if self.rate <= 0 or self.duration_s <= 0:
            raise ValueError("--rate and --duration must be positive")
        if not 1 <= self.processes <= 64:
            raise ValueError("--processes must be 1..64")


@dataclass
class LoadResult:
    sent: int
    acked: int
    elapsed_s: float
    per_second: list[tuple[float, int, int]] = field(default_factory=list)  # (t, sent, acked)

    @property
    def sent_per_s(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def acked_per_s(self) -> float:
        return self.acked / self.elapsed_s if self.elapsed_s else 0.0


# --- the mix (pure, seeded) -----------------------------------------------------------


@dataclass(frozen=True)
class SimDevice:
    id: str
    type: str


def fleet(spec: LoadSpec) -> dict[str, list[SimDevice]]:
    """gateway id -> its devices; types drawn from ``spec.seed``."""
    rng = random.Random(spec.seed)
    types = list(TYPE_WEIGHTS)
    weights = list(TYPE_WEIGHTS.values())
    out: dict[str, list[SimDevice]] = {}
    for g in range(spec.gateways):
        gw = f"gw-load-{g:04d}"
        out[gw] = [
            SimDevice(f"dev-{g:04d}-{d:03d}", rng.choices(types, weights)[0])
            for d in range(spec.devices_per_gateway)
        ]
    return out


def _data(kind: str, rng: random.Random) -> dict[str, Any]:
    if kind == "gps.position":
        return {
            "lat": round(59.9 + rng.uniform(-0.05, 0.05), 6),
            "lon": round(10.75 + rng.uniform(-0.08, 0.08), 6),
            "accuracy_m": round(rng.uniform(3, 30), 1),
        }
    if kind == "device.heartbeat":
        return {"battery_pct": rng.randint(20, 100)}
    return {}


def messages(
    site: str, gateway: str, devices: list[SimDevice], seed: int, now: Callable[[], datetime]
) -> Iterator[tuple[str, str]]:
    """Endless (topic, payload) for one gateway: the realistic mix, seq from 1."""
    rng = random.Random(f"{seed}:{gateway}")
    topic = f"trygg/v1/{site}/{gateway}/events"
    seq = 0
    while True:
        device = rng.choice(devices)
        if rng.random() < HEARTBEAT_SHARE:
            kind = "device.heartbeat"
        else:
            kinds, weights = zip(*DEVICE_TYPES[device.type], strict=True)
            kind = rng.choices(kinds, weights)[0]
        seq += 1
        event = {
            "id": str(uuid6.uuid7()),
            "site": site,
            "gateway": gateway,
            "device": device.id,
            "kind": kind,
            "ts": now().isoformat(),
            "seq": seq,
            "data": _data(kind, rng),
        }
        yield topic, json.dumps(event, separators=(",", ":"))


# --- publishing -------------------------------------------------------------------------


def _worker(
    spec: LoadSpec,
    gateways: dict[str, list[SimDevice]],
    rate: float,
    sent: Any,
    acked: Any,
    go: Any,
    errors: Any,
) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    connected = threading.Event()
    lock = threading.Lock()
    acks = 0

    def on_connect(client: Any, userdata: Any, flags: Any, rc: Any, props: Any = None) -> None:
        connected.set()

    def on_publish(client: Any, userdata: Any, mid: int, rc: Any, props: Any = None) -> None:
        nonlocal acks
        with lock:
            acks += 1

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"trygg-load-{uuid.uuid4().hex[:12]}",
        protocol=mqtt.MQTTv311,
    )
    client.max_inflight_messages_set(spec.inflight)
    client.max_queued_messages_set(0)
    client.on_connect = on_connect
    client.on_publish = on_publish
    try:
        client.connect(spec.host, spec.port, keepalive=30)
    except OSError as exc:
        errors.put(f"cannot connect to {spec.host}:{spec.port}: {exc}")
        return
    client.loop_start()
    if not connected.wait(10):
        errors.put(f"no CONNACK from {spec.host}:{spec.port}")
        client.loop_stop()
        return
    streams = [
        messages(spec.site, gw, devs, spec.seed, lambda: datetime.now(UTC))
        for gw, devs in gateways.items()
    ]
    go.wait()
    began = time.monotonic()
    n = 0
    i = 0
    while True:
        elapsed = time.monotonic() - began
        if elapsed >= spec.duration_s:
            break
        due = int(rate * elapsed) - n
        with lock:
            backlog = n - acks
        # Backpressure: never more than four windows unacknowledged, so "sent" is what the
        # broker could take, not what piled up in the client's queue.
        due = min(due, 4 * spec.inflight - backlog)
        for _ in range(max(due, 0)):
            topic, payload = next(streams[i % len(streams)])
            i += 1
            client.publish(topic, payload, qos=1)
            n += 1
        with sent.get_lock():
            sent.value = n
        with lock, acked.get_lock():
            acked.value = acks
        time.sleep(TICK_S)
    # Give the broker a moment to acknowledge what is in flight.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with lock:
            done = acks
        with acked.get_lock():
            acked.value = done
        if done >= n:
            break
        time.sleep(0.02)
    client.disconnect()
    client.loop_stop()


def run_load(
    spec: LoadSpec, on_tick: Callable[[float, int, int], None] | None = None
) -> LoadResult:
    """Run the load; ``on_tick(elapsed, sent, acked)`` about ten times a second."""
    fleet_ = fleet(spec)
    names = list(fleet_)
    procs = min(spec.processes, len(names))
    ctx = mp.get_context("spawn")
    sents = [ctx.Value("q", 0) for _ in range(procs)]
    ackeds = [ctx.Value("q", 0) for _ in range(procs)]
    go = ctx.Event()
    errors = ctx.Queue()
    workers = []
    for p in range(procs):
        part = {g: fleet_[g] for g in names[p::procs]}
        w = ctx.Process(
            target=_worker,
            args=(spec, part, spec.rate / procs, sents[p], ackeds[p], go, errors),
            daemon=True,
        )
        w.start()
        workers.append(w)
    time.sleep(0.5)  # let the workers connect before the clock starts
    go.set()
    began = time.monotonic()
    per_second: list[tuple[float, int, int]] = []
    last_mark = 0.0
    while any(w.is_alive() for w in workers):
        time.sleep(0.1)
        elapsed = time.monotonic() - began
        s, a = sum(v.value for v in sents), sum(v.value for v in ackeds)
        if on_tick is not None:
            on_tick(elapsed, s, a)
        if elapsed - last_mark >= 1.0:
            per_second.append((round(elapsed, 1), s, a))
            last_mark = elapsed
        if elapsed > spec.duration_s + 30:
            break
    for w in workers:
        w.join(timeout=5)
        if w.is_alive():
            w.terminate()
    problems = [
        f"load worker {i} exited with {w.exitcode}" for i, w in enumerate(workers) if w.exitcode
    ]
    while not errors.empty():
        problems.append(errors.get())
    if problems:
        raise LoadError("; ".join(sorted(set(problems))))
    # Rates are over the sending window; acks that trail in after it are counted too.
    return LoadResult(
        sent=sum(v.value for v in sents),
        acked=sum(v.value for v in ackeds),
        elapsed_s=spec.duration_s,
        per_second=per_second,
    )
