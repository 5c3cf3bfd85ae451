"""``trygg bench notify``: delivery latency from event publish to the board's SSE
stream and to the handheld's MQTT notify topic, under paced background load.

Processes: a private Mosquitto; a hub (``running_hub``: ingest, routing, API) in
its own process; the background publisher (``trygg.benchproc paced``); and this
process, which publishes probe falls from distinct devices (each raises its own
alert), and listens as the board (SSE) and as the handheld on duty (MQTT).
Latency = time received - the event's own ``ts`` (set when the probe was sent),
on the same clock.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from datetime import time as wall
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import uuid6

from devices.events import make_event
from trygg import bench, benchproc

START = "<!-- bench:notify:start -->"
END = "<!-- bench:notify:end -->"
STAFF = "bench-natt"
PASSWORD = "bench password 123"


@dataclass
class NotifyBench:
    rate: float
    seconds: float
    probes: int
    command: str = ""
    machine: dict[str, str] = field(default_factory=dict)
    sse: list[float] = field(default_factory=list)
    mqtt: list[float] = field(default_factory=list)
    background: dict[str, Any] = field(default_factory=dict)


# --- the hub process -----------------------------------------------------------------


async def _hub_main(a: argparse.Namespace) -> None:
    from hub.auth import hash_password
    from hub.routing.roster import Shift
    from hub.settings import HubSettings
    from hub.store.base import Account, Device, PlacementRecord, Role, Site, Unit
    from trygg.runtime import open_store, running_hub

    settings = HubSettings(
        demo=True, data_dir=Path(a.data), http_port=a.http_port, mqtt_port=a.port,
        mqtt_client_id=f"bench-hub-{a.site}", mqtt_session_expiry_s=0,
    )  # fmt: skip
    store = open_store(settings)
    benchproc.seed(store, a.tag, 0)
    store.upsert_site(Site(a.site, "probe"))
    store.upsert_unit(Unit("probe-unit", a.site, "probe"))
    for n in range(a.probes):
        store.upsert_device(Device(f"probe-{n}", a.site, "gw-probe", "fall_sensor"))
        store.place(PlacementRecord(f"probe-{n}", "probe-unit", f"P{n}"))
    pw = hash_password(PASSWORD)
    store.upsert_account(Account(STAFF, STAFF, Role.NATTEVAKT, pw, a.site, ("probe-unit",)))
    store.save_shift(Shift("bench", STAFF, a.site, ("probe-unit",), wall(0), wall(23, 59)))
    stop = asyncio.Event()
    async with running_hub(settings, store, stop) as run:
        while not run.hub.broker_connected:
            await asyncio.sleep(0.02)
        benchproc.emit("ready")
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    store.close()


# --- the probes and listeners (this process) --------------------------------------------


def _latency(body: dict[str, Any], received: float) -> tuple[str, float]:
    sent = datetime.fromisoformat(body["event_ts"]).timestamp()
    return body["device"], received - sent


async def _sse(base: str, out: dict[str, float], ready: asyncio.Event) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=None) as http:
        r = await http.post("/api/v1/auth/token", data={"username": STAFF, "password": PASSWORD})
        token = r.json()["access_token"]
        async with http.stream("GET", "/api/v1/alerts/stream", params={"access_token": token}) as s:
            event = None
            async for line in s.aiter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                    ready.set()
                elif line.startswith("data:") and event == "alert":
                    device, seconds = _latency(json.loads(line[5:]), time.time())
                    out.setdefault(device, seconds)


async def _handheld(
    host: str, port: int, site: str, out: dict[str, float], ready: asyncio.Event
) -> None:
    async with aiomqtt.Client(host, port, identifier=f"bench-hh-{site}") as client:
        await client.subscribe(f"trygg/v1/{site}/staff/{STAFF}/notify", qos=1)
        ready.set()
        async for msg in client.messages:
            body = json.loads(bytes(msg.payload))  # type: ignore[arg-type]
            if body["type"] == "notify":
                device, seconds = _latency(body["alert"], time.time())
                out.setdefault(device, seconds)


async def _probe(host: str, port: int, site: str, probes: int, seconds: float) -> None:
    async with aiomqtt.Client(host, port, identifier=f"bench-probe-{site}") as client:
        interval = seconds / probes
        for n in range(probes):
            event = make_event(
                id=str(uuid6.uuid7()), site=site, gateway="gw-probe", device=f"probe-{n}",
                kind="fall.detected", ts=datetime.now(UTC), seq=n + 1,
            )  # fmt: skip
            await client.publish(f"trygg/v1/{site}/gw-probe/events", event.to_json(), qos=1)
            await asyncio.sleep(interval)


async def _run(b: NotifyBench, host: str, port: int, workdir: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    site = f"probe-{tag}"
    http_port = bench._free_port()
    common = ["--host", host, "--port", str(port), "--tag", tag]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(bench.ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    log = open(workdir / "hub.log", "wb")  # noqa: SIM115
    hub = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "trygg.bench_notify", "--port", str(port), "--tag", tag,
        "--site", site, "--http-port", str(http_port), "--probes", str(b.probes),
        "--data", str(workdir / "hub"),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log, env=env,
    )  # fmt: skip
    worker = bench.Worker("hub", hub, workdir / "hub.log")
    sse: dict[str, float] = {}
    mqtt: dict[str, float] = {}
    try:
        await worker.expect("ready", 60)
        ready_sse, ready_mqtt = asyncio.Event(), asyncio.Event()
        listeners = [
            asyncio.create_task(_sse(f"http://127.0.0.1:{http_port}", sse, ready_sse)),
            asyncio.create_task(_handheld(host, port, site, mqtt, ready_mqtt)),
        ]
        await asyncio.wait_for(asyncio.gather(ready_sse.wait(), ready_mqtt.wait()), 20)
        async with bench.workers(workdir) as start:
            paced = await start("paced", "paced", [
                *common, "--rate", str(b.rate), "--seconds", str(b.seconds), "--alarms", "0",
            ])  # fmt: skip
            await asyncio.sleep(1.0)  # let the load settle before the first probe
            await _probe(host, port, site, b.probes, b.seconds - 2)
            b.background = await paced.expect("result", b.seconds + 30)
        await asyncio.sleep(2.0)
        for task in listeners:
            task.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)
    finally:
        await worker.close()
        log.close()
    if os.environ.get("TRYGG_BENCH_DEBUG"):
        print("sse", [round(sse[k] * 1000) for k in sorted(sse, key=lambda d: int(d.split("-")[1]))])
        print("mqtt", [round(mqtt[k] * 1000) for k in sorted(mqtt, key=lambda d: int(d.split("-")[1]))])
    b.sse = sorted(sse.values())
    b.mqtt = sorted(mqtt.values())


def run_notify_bench(rate: float, seconds: float, probes: int, say: Any) -> NotifyBench:
    b = NotifyBench(rate=rate, seconds=seconds, probes=probes)
    b.command = f"trygg bench notify --rate {rate:g} --seconds {seconds:g} --probes {probes}"
    binary = bench.find_mosquitto()
    if binary is None:
        raise bench.BenchError("mosquitto is not installed")
    with tempfile.TemporaryDirectory(prefix="trygg-bench-notify-") as tmp:
        workdir = Path(tmp)
        with bench.private_mosquitto(workdir) as (host, port):
            b.machine = bench._machine(f"private Mosquitto {bench.mosquitto_version(binary)}")
            say(f"{rate:g} events/s background, {probes} probe falls over {seconds:g} s")
            asyncio.run(_run(b, host, port, workdir))
    return b


def _ms(samples: list[float], p: float) -> str:
    value = bench._percentile(samples, p)
    return "-" if value is None else f"{value:.1f} ms"  # _percentile gives ms


def rows(b: NotifyBench) -> list[tuple[str, str]]:
    bg = b.background
    return [
        ("background load", f"{bg.get('rate', 0):.0f} events/s for {bg.get('seconds', 0):.0f} s"),
        ("probe falls sent", str(b.probes)),
        ("received on SSE (board)", f"{len(b.sse)}"),
        ("received on MQTT notify (handheld)", f"{len(b.mqtt)}"),
        ("publish -> SSE p50 / p99", f"{_ms(b.sse, 50)} / {_ms(b.sse, 99)}"),
        ("publish -> MQTT handheld p50 / p99", f"{_ms(b.mqtt, 50)} / {_ms(b.mqtt, 99)}"),
        ("target", "p99 < 100 ms"),
    ]


def section(b: NotifyBench) -> str:
    m = b.machine
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join([
        START,
        "## Notify: event publish to the board (SSE) and to the handheld (MQTT)",
        "",
        f"Measured {when} on {m['cpus']} CPUs ({m['cpu_model']}), {m['os']}, "
        f"Python {m['python']}, broker: {m['broker']}. The machine was shared with other "
        "jobs; hub, load and listeners ran in separate processes.",
        "",
        "```sh",
        b.command,
        "```",
        "",
        "| measure | value |",
        "|---|---:|",
        *(f"| {name} | {value} |" for name, value in rows(b)),
        "",
        END,
    ])  # fmt: skip


def write_markdown(path: Path, b: NotifyBench) -> None:
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    new = section(b)
    start, end = text.find(START), text.find(END)
    if start != -1 and end > start:
        text = text[:start] + new + text[end + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + new + "\n"
    path.write_text(text)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m trygg.bench_notify")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tag", required=True)
    p.add_argument("--site", required=True)
    p.add_argument("--http-port", type=int, required=True)
    p.add_argument("--probes", type=int, required=True)
    p.add_argument("--data", required=True)
    a = p.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_hub_main(a))


if __name__ == "__main__":
    main()
