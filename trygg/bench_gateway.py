"""``trygg bench gateway``: the gateway's CPU per event, its memory, and replay after an outage.

The gateway runs as its own process (``trygg gateway --config``), so its CPU
time and resident memory are read from ``/proc/<pid>`` and include nothing of
the load generator. Two private Mosquitto instances on free 127.0.0.1 ports:
a *local* one (where a Zigbee2MQTT-like publisher flips 50 door contacts) and
an *uplink* one (where a persistent QoS 1 subscriber stands in for the hub).

1. **Steady state**: N events through the whole path (local MQTT in, convert,
   consent, stamp, SQLite outbox with FULL sync, QoS 1 uplink, PUBACK, delete).
   CPU per event = the gateway's (user + system) CPU time over that phase / N.
2. **Outage and replay**: the uplink broker is stopped, N more events arrive
   and wait in the outbox, the broker comes back; replay rate = N / the time
   from the broker's return to the subscriber having all N.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from trygg.bench import BenchError, _accepts, _free_port, find_mosquitto

START = "<!-- bench:gateway:start -->"
END = "<!-- bench:gateway:end -->"
DEVICES = 50
CONF = ("listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
        "persistence_location {dir}/\nmax_queued_messages 0\nmax_inflight_messages 0\n"
        "user root\n")
TICKS = os.sysconf("SC_CLK_TCK")


class Broker:
    def __init__(self, workdir: Path) -> None:
        binary = find_mosquitto()
        if binary is None:
            raise BenchError("mosquitto is not installed (apt install mosquitto)")
        workdir.mkdir(parents=True, exist_ok=True)
        self.binary, self.port, self.dir = binary, _free_port(), workdir
        (workdir / "m.conf").write_text(CONF.format(port=self.port, dir=workdir))
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([self.binary, "-c", str(self.dir / "m.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait(lambda: _accepts(self.port), 10, "mosquitto start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


def _wait(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise BenchError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _rss_mb(pid: int) -> tuple[float, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    values = {line.split(":")[0]: int(line.split()[1]) for line in status.splitlines()
              if line.startswith(("VmRSS", "VmHWM"))}
    return values["VmRSS"] / 1024, values["VmHWM"] / 1024


class Counter:
    def __init__(self, port: int, topic: str) -> None:
        self.count = 0
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-gw-hub",
                                  protocol=mqtt.MQTTv311, clean_session=False)
        self.client.on_connect = lambda c, *a: c.subscribe(topic, 1)
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.05, 0.2)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.ids: set[str] = set()
        self.lock = threading.Lock()

    def _on_message(self, *args: object) -> None:
        message = args[2]
        with self.lock:
            self.ids.add(json.loads(message.payload)["id"])  # type: ignore[attr-defined]
            self.count = len(self.ids)


@dataclass
class GatewayBench:
    events: int
    command: str
    results: dict[str, float] = field(default_factory=dict)


def _publish(port: int, start: int, n: int) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    info = None
    for k in range(start, start + n):
        info = client.publish(f"zigbee2mqtt/d{k % DEVICES:02d}",
                              json.dumps({"contact": (k // DEVICES) % 2 == 1, "battery": 90,
                                          "linkquality": 120}), qos=1)
    if info is not None:
        info.wait_for_publish(60)
    client.disconnect()
    client.loop_stop()


def _queued(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
        return int(con.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])


@contextlib.contextmanager
def _gateway(workdir: Path, local: Broker, uplink: Broker) -> Iterator[subprocess.Popen[bytes]]:
    config = workdir / "gw.yaml"
    config.write_text(yaml.safe_dump({
        "site": "bench", "gateway": "gw-1", "data_dir": str(workdir / "gw"),
        "uplink": {"port": uplink.port, "client_id": "bench-gw"},
        "local": {"port": local.port, "client_id": "bench-gw-local"},
        "heartbeat_s": 3600, "device_heartbeat_s": 10**6,
        "devices": [{"id": f"door-{i:02d}", "protocol": "z2m", "friendly_name": f"d{i:02d}",
                     "model": "MCCGQ11LM"} for i in range(DEVICES)],
    }))
    proc = subprocess.Popen([sys.executable, "-m", "trygg", "gateway", "--config", str(config),
                             "--log-level", "ERROR"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(15)


def run(events: int, output: Path | None) -> GatewayBench:
    bench = GatewayBench(events, f"trygg bench gateway --events {events}"
                         + (f" --output {output}" if output else ""))
    with tempfile.TemporaryDirectory(prefix="trygg-bench-gw-") as tmp:
        work = Path(tmp)
        local, uplink = Broker(work / "local"), Broker(work / "uplink")
        local.start()
        uplink.start()
        counter = Counter(uplink.port, "trygg/v1/bench/gw-1/events")
        try:
            with _gateway(work, local, uplink) as proc:
                time.sleep(2.0)  # imports and connections, outside the measurement
                _publish(local.port, 0, 200)  # warm-up
                _wait(lambda: counter.count >= 200, 30, "warm-up events")
                cpu0, t0 = _cpu_s(proc.pid), time.monotonic()
                _publish(local.port, 200, events)
                _wait(lambda: counter.count >= 200 + events, 300, "steady-state events")
                wall = time.monotonic() - t0
                cpu = _cpu_s(proc.pid) - cpu0
                rss, hwm = _rss_mb(proc.pid)
                bench.results.update(cpu_ms_per_event=cpu * 1000 / events,
                                     steady_rate=events / wall, rss_mb=rss, hwm_mb=hwm)
                uplink.stop()
                _publish(local.port, 200 + events, events)
                db = work / "gw" / "outbox.db"
                _wait(lambda: _queued(db) >= events, 300, "events queued during the outage")
                uplink.start()
                back = time.monotonic()
                _wait(lambda: counter.count >= 200 + 2 * events, 300, "replay")
                bench.results["replay_rate"] = events / (time.monotonic() - back)
                bench.results["hwm_after_replay_mb"] = _rss_mb(proc.pid)[1]
        finally:
            counter.client.disconnect()
            counter.client.loop_stop()
            uplink.stop()
            local.stop()
    if output is not None:
        write_markdown(output, bench)
    return bench


def section(b: GatewayBench) -> str:
    r = b.results
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    rows = [
        ("CPU per event, whole gateway path (target < 0.2 ms)", f"{r['cpu_ms_per_event']:.3f} ms"),
        ("steady-state throughput", f"{r['steady_rate']:,.0f} events/s"),
        ("RSS after steady state (target < 60 MB)", f"{r['rss_mb']:.1f} MB"),
        ("peak RSS (VmHWM) after the replay", f"{r['hwm_after_replay_mb']:.1f} MB"),
        (f"replay after an outage ({b.events} queued events)", f"{r['replay_rate']:,.0f} events/s"),
    ]
    return "\n".join([
        START, "## Gateway: CPU per event, memory, replay after an outage", "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M UTC} on {os.cpu_count()} CPUs ({cpu}), "
        f"Python {platform.python_version()}, {DEVICES} Zigbee door contacts, outbox "
        "synchronous=FULL, two private Mosquitto instances; the machine was shared with other "
        "jobs, so figures are noisy.", "",
        "```sh", b.command, "```", "",
        "| measure | value |", "|---|---:|", *(f"| {a} | {v} |" for a, v in rows), "", END])


def write_markdown(path: Path, bench: GatewayBench) -> None:
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    new = section(bench)
    start, end = text.find(START), text.find(END)
    if start != -1 and end > start:
        text = text[:start] + new + text[end + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + new + "\n"
    path.write_text(text)
