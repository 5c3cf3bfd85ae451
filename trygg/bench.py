"""``trygg bench ingest``: hub ingest throughput against a bare subscriber, and alert latency.

Three phases on one broker, in one run (the machine is shared and noisy, so
only ratios measured side by side mean much):

A. a bare aiomqtt subscriber counts N events a publisher sends at full speed;
B. a real hub (``Hub`` + ``run_ingest``, SQLite in a temp dir) ingests N fresh
   events the same way; hub rate = N / (last commit - first message);
C. the same hub under RATE events/s of paced background traffic, ~2/s of them
   alarms from distinct devices; a subscriber on the alert topics measures
   event time -> alert received.

With ``--backlog`` phases A and B measure the consumers and not the
publishers: persistent sessions for the bare subscriber and the hub are opened
first, N events are published while neither is connected (the broker queues
them for both), then the bare subscriber drains the backlog, then the hub
drains the same backlog. On two shared cores live publishers compete with the
consumer they feed; a backlog does not. Phase C is the same in both modes.

Every role is its own process (:mod:`trygg.benchproc`), so none shares a GIL.
Without ``--broker`` a private Mosquitto is started with no queue limits: the
machine's one keeps 1000 messages per slow subscriber and drops the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from trygg import benchproc

START = "<!-- bench:ingest:start -->"
END = "<!-- bench:ingest:end -->"
MOSQUITTO_PATHS = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")
MOSQUITTO_CONF = """\
listener {port} 127.0.0.1
allow_anonymous true
persistence false
# No limits: a subscriber slower than the publisher must still get every message.
max_queued_messages 0
max_queued_bytes 0
max_inflight_messages 0
memory_limit 0
log_dest stderr
log_type error
log_type warning
"""
ROOT = Path(__file__).resolve().parent.parent


class BenchError(Exception):
    """The benchmark could not run or a worker failed; the message says which."""


# --- the broker -----------------------------------------------------------------------------


def find_mosquitto() -> str | None:
    found = shutil.which("mosquitto")
    return found or next((p for p in MOSQUITTO_PATHS if os.access(p, os.X_OK)), None)


def mosquitto_version(binary: str) -> str:
    try:
        out = subprocess.run([binary, "-h"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "mosquitto (version unknown)"
    match = re.search(r"mosquitto version (\S+)", out)
    return f"mosquitto {match.group(1)}" if match else "mosquitto (version unknown)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _accepts(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def private_mosquitto(workdir: Path, timeout: float = 10.0) -> Iterator[tuple[str, int]]:
    """A Mosquitto of our own on a free 127.0.0.1 port, stopped on exit."""
    binary = find_mosquitto()
    if binary is None:
        raise BenchError(
            "mosquitto is not installed: install it (apt install mosquitto) or pass"
            " --broker HOST:PORT of a running broker"
        )
    for _attempt in range(3):
        port = _free_port()
        conf = workdir / "mosquitto.conf"
        conf.write_text(MOSQUITTO_CONF.format(port=port))
        with open(workdir / "mosquitto.log", "ab") as log:
            proc = subprocess.Popen([binary, "-c", str(conf)], stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + timeout
            while proc.poll() is None and time.monotonic() < deadline and not _accepts(port):
                time.sleep(0.05)
            if proc.poll() is None and _accepts(port):
                yield "127.0.0.1", port
                return
        finally:
            _stop(proc)
    log_text = (workdir / "mosquitto.log").read_text(errors="replace")[-2000:]
    raise BenchError(f"could not start mosquitto ({binary}):\n{log_text}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


# --- worker processes ---------------------------------------------------------------------------


class Worker:
    """One ``trygg.benchproc`` process: JSON lines out, commands in."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process, log: Path) -> None:
        self.name = name
        self.proc = proc
        self.log = log

    @classmethod
    async def start(cls, name: str, role: str, args: list[str], workdir: Path) -> Worker:
        log = workdir / f"{name}.log"
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        }
        with open(log, "wb") as err:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "trygg.benchproc", role, *args,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=err,
                env=env, cwd=workdir,
            )  # fmt: skip
        return cls(name, proc, log)

    def _tail(self) -> str:
        text = self.log.read_text(errors="replace").strip() if self.log.exists() else ""
        return f"\n--- {self.name} stderr (last lines) ---\n{text[-3000:]}" if text else ""

    async def expect(self, event: str, timeout: float) -> dict[str, Any]:
        """The next JSON line whose ``event`` is ``event``."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                line = await asyncio.wait_for(self.proc.stdout.readline(), max(left, 0.001))
            except TimeoutError:
                raise BenchError(
                    f"{self.name}: no '{event}' within {timeout:.0f} s{self._tail()}"
                ) from None
            if not line:
                code = await asyncio.wait_for(self.proc.wait(), 5)
                raise BenchError(f"{self.name} exited ({code}) before '{event}'{self._tail()}")
            with contextlib.suppress(ValueError):
                message: dict[str, Any] = json.loads(line)
                if message.get("event") == event:
                    return message

    async def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command.encode() + b"\n")
        await self.proc.stdin.drain()

    async def close(self, grace: float = 10.0) -> None:
        """Let it finish (stdin closed means stop), then terminate, then kill."""
        proc = self.proc
        if proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.close()
        for step in (None, proc.terminate, proc.kill):
            if step is not None and proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    step()
            try:
                await asyncio.wait_for(proc.wait(), grace if step is None else 5)
                break
            except TimeoutError:
                continue


Start = Callable[[str, str, list[str]], Awaitable[Worker]]
Say = Callable[[str], object]


@contextlib.asynccontextmanager
async def workers(workdir: Path) -> AsyncIterator[Start]:
    started: list[Worker] = []

    async def start(name: str, role: str, args: list[str]) -> Worker:
        worker = await Worker.start(name, role, args, workdir)
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in reversed(started):
            await worker.close()


# --- the run --------------------------------------------------------------------------------------


@dataclass
class IngestBench:
    """Raw worker reports of one run, and the figures derived from them."""

    events: int
    rate: float
    seconds: float
    store: str
    broker: str
    command: str
    machine: dict[str, str] = field(default_factory=dict)
    publishers: int = 1
    publish_a: dict[str, Any] = field(default_factory=dict)
    bare: dict[str, Any] = field(default_factory=dict)
    publish_b: dict[str, Any] = field(default_factory=dict)
    ingest: dict[str, Any] = field(default_factory=dict)
    paced: dict[str, Any] = field(default_factory=dict)
    alerts: dict[str, Any] = field(default_factory=dict)
    hub_final: dict[str, Any] = field(default_factory=dict)
    paced_cpu_s: float = 0.0
    lost_alarms: list[str] = field(default_factory=list)
    backlog: bool = False
    load: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The block's name in the ingest section: one block per store and mode."""
        return f"{self.store}-backlog" if self.backlog else self.store

    @property
    def ratio(self) -> float:
        bare = self.bare.get("rate", 0.0)
        return self.ingest.get("rate", 0.0) / bare if bare else 0.0

    def latency_ms(self, p: float) -> float | None:
        return _percentile(self.alerts.get("latencies_s", []), p)


def _percentile(samples: list[float], p: float) -> float | None:
    """Nearest-rank percentile of sorted samples, in ms."""
    if not samples:
        return None
    rank = max(1, math.ceil(p / 100 * len(samples)))
    return samples[rank - 1] * 1000


async def _throughput(bench: IngestBench, start: Start, common: list[str], say: Say) -> Worker:
    """Phases A and B; returns the running hub worker."""
    n = bench.events
    wait = 30 + n / 500
    say(f"phase A: bare aiomqtt subscriber, {n} events")
    bare = await start("bare", "bare", [*common, "--events", str(n), "--timeout", str(wait)])
    await bare.expect("ready", 20)
    bench.publish_a = await _publish(start, "publish-a", common, n, 0, wait, bench.publishers)
    bench.bare = await bare.expect("result", wait)

    say(f"phase B: hub ({bench.store}), {n} events")
    alarms = _alarm_count(bench)
    hub = await start(
        "hub", "hub",
        [*common, "--events", str(n), "--alarms", str(alarms), "--store", bench.store,
         "--db", "hub.sqlite3", "--client-id", f"trygg-bench-{common[-1]}",
         "--timeout", str(wait + bench.seconds + 60), *_profile_args(bench)],
    )  # fmt: skip
    await hub.expect("ready", 30)
    bench.publish_b = await _publish(start, "publish-b", common, n, n, wait, bench.publishers)
    bench.ingest = await hub.expect("ingest", wait)
    return hub


async def _backlog(bench: IngestBench, start: Start, common: list[str], say: Say) -> Worker:
    """Phases A and B from a backlog: both consumers drain the same N queued events."""
    n, tag = bench.events, common[-1]
    wait = 30 + n / 500
    hub_id = f"trygg-bench-{tag}"
    say("backlog: opening persistent sessions for the bare subscriber and the hub")
    for name, client_id in (("prime-bare", f"bench-bare-{tag}"), ("prime-hub", hub_id)):
        primer = await start(name, "prime", [*common, "--client-id", client_id])
        await primer.expect("result", 20)
    say(f"backlog: publishing {n} events while nobody is connected")
    bench.publish_a = await _publish(start, "publish", common, n, 0, wait, bench.publishers)
    say(f"phase A: bare aiomqtt subscriber drains {n} queued events")
    bare = await start(
        "bare", "bare", [*common, "--events", str(n), "--timeout", str(wait), "--resume"]
    )
    bench.bare = await bare.expect("result", wait + 20)
    say(f"phase B: hub ({bench.store}) drains the same {n} queued events")
    hub = await start(
        "hub", "hub",
        [*common, "--events", str(n), "--alarms", str(_alarm_count(bench)),
         "--store", bench.store, "--db", "hub.sqlite3", "--client-id", hub_id,
         "--timeout", str(wait + bench.seconds + 60), *_profile_args(bench)],
    )  # fmt: skip
    await hub.expect("ready", 60)
    bench.ingest = await hub.expect("ingest", wait)
    return hub


def _profile_args(bench: IngestBench) -> list[str]:
    path = os.environ.get("TRYGG_BENCH_PROFILE")  # cProfile the hub's ingest phase (a path)
    return ["--profile", str(Path(path).resolve())] if path else []


async def _publish(start: Start, name: str, common: list[str], n: int, base: int, wait: float,
                   k: int) -> dict[str, Any]:  # fmt: skip
    """Publish n events from k processes at once (one publisher may be the wall)."""
    shares = [n // k + (1 if i < n % k else 0) for i in range(k)]
    bases = [base + sum(shares[:i]) for i in range(k)]
    pubs = [
        await start(f"{name}-{i}" if k > 1 else name, "publish",
                    [*common, "--events", str(share), "--seq-base", str(b),
                     "--timeout", str(wait)])
        for i, (share, b) in enumerate(zip(shares, bases, strict=True))
    ]  # fmt: skip
    results = [await pub.expect("result", wait + 30) for pub in pubs]
    acked = sum(r.get("acked", 0) for r in results)
    seconds = max(r.get("seconds", 0.0) for r in results) or 1e-9
    payload = sum(r.get("payload_bytes", 0) * r.get("sent", 0) for r in results) / max(n, 1)
    return {"sent": sum(r.get("sent", 0) for r in results), "acked": acked, "seconds": seconds,
            "rate": acked / seconds, "payload_bytes": payload}  # fmt: skip


def _alarm_count(bench: IngestBench) -> int:
    return max(1, min(int(bench.seconds * benchproc.ALARM_RATE), int(bench.seconds * bench.rate)))


async def _latency(
    bench: IngestBench, start: Start, hub: Worker, common: list[str], say: Say
) -> None:
    """Phase C: paced traffic with alarms; alert latency seen by a handheld-like subscriber."""
    say(f"phase C: {bench.rate:g} events/s for {bench.seconds:g} s, alert latency")
    watcher = await start("alerts", "alerts", [*common, "--timeout", str(bench.seconds + 60)])
    await watcher.expect("ready", 20)
    await hub.send("mark")
    before = await hub.expect("mark", 10)
    paced = await start(
        "paced", "paced",
        [*common, "--rate", str(bench.rate), "--seconds", str(bench.seconds),
         "--alarms", str(_alarm_count(bench)), "--seq-base", str(2 * bench.events)],
    )  # fmt: skip
    bench.paced = await paced.expect("result", bench.seconds + 30)
    await watcher.send(f"expect {bench.paced['alarms']}")
    bench.alerts = await watcher.expect("result", 20)
    await hub.send("mark")
    after = await hub.expect("mark", 10)
    bench.paced_cpu_s = after["cpu_s"] - before["cpu_s"]
    await hub.send("stop")
    bench.hub_final = await hub.expect("final", 40)
    sent = benchproc.alarm_devices(common[-1], bench.paced["alarms"])
    seen = set(bench.alerts.get("devices", []))
    bench.lost_alarms = [device for _, device, _ in sent if device not in seen]


async def _run(bench: IngestBench, host: str, port: int, workdir: Path, say: Say) -> None:
    tag = uuid.uuid4().hex[:8]
    common = ["--host", host, "--port", str(port), "--tag", tag]
    async with workers(workdir) as start:
        throughput = _backlog if bench.backlog else _throughput
        hub = await throughput(bench, start, common, say)
        await _latency(bench, start, hub, common, say)


def _machine(broker: str) -> dict[str, str]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": str(os.cpu_count()),
        "cpu_model": model or platform.processor() or "unknown",
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
        "broker": broker,
    }


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def _command(host_port: tuple[str, int] | None, events: int, rate: float, seconds: float,
             store: str, output: Path | None, publishers: int = 1,
             backlog: bool = False) -> str:  # fmt: skip
    parts = ["trygg bench ingest", f"--events {events}", f"--rate {rate:g}", f"--seconds {seconds:g}",
             f"--store {store}"]  # fmt: skip
    if backlog:
        parts.append("--backlog")
    if publishers > 1:
        parts.append(f"--publishers {publishers}")
    if host_port:
        parts.append(f"--broker {host_port[0]}:{host_port[1]}")
    if output:
        parts.append(f"--output {output}")
    return " ".join(parts)


def run_ingest_bench(
    host_port: tuple[str, int] | None,
    *,
    events: int,
    rate: float,
    seconds: float,
    store: str,
    output: Path | None,
    publishers: int = 1,
    backlog: bool = False,
) -> IngestBench:
    """Run the three phases, print the table, and write it into ``output`` if given."""
    if events < 2 or rate <= 0 or seconds <= 0:
        raise BenchError("need --events >= 2, --rate > 0 and --seconds > 0")
    if store not in ("sqlite", "memory", "postgres"):
        raise BenchError(f"--store is sqlite, postgres or memory, not {store!r}")
    if store == "postgres" and not os.environ.get("TRYGG_DATABASE_URL"):
        raise BenchError("--store postgres needs TRYGG_DATABASE_URL (the run uses its own schema)")
    err = Console(stderr=True)
    if publishers < 1:
        raise BenchError("need --publishers >= 1")
    command = _command(host_port, events, rate, seconds, store, output, publishers, backlog)
    with tempfile.TemporaryDirectory(prefix="trygg-bench-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        if host_port is None:
            host, port = stack.enter_context(private_mosquitto(workdir))
            broker = (
                f"{mosquitto_version(find_mosquitto() or 'mosquitto')}, private, no queue limits"
            )
        else:
            host, port = host_port
            if not _accepts(port, host):
                raise BenchError(f"no broker accepts connections on {host}:{port}")
            broker = f"{host}:{port} as given (its queue and in-flight limits apply)"
            err.print(f"[yellow]using the broker at {host}:{port}: its queue limits apply[/]")
        bench = IngestBench(
            events, rate, seconds, store, broker, command, _machine(broker), publishers,
            backlog=backlog, load={"start": _load()},
        )  # fmt: skip
        with err.status("starting") as status:
            asyncio.run(_run(bench, host, port, workdir, lambda text: status.update(text)))
        bench.load["end"] = _load()
    show(bench, Console())
    if output is not None:
        write_markdown(output, bench)
        err.print(f"wrote the ingest section of {output}")
    return bench


# --- reporting ------------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def rows(b: IngestBench) -> list[tuple[str, str]]:
    ing, fin = b.ingest, b.hub_final
    alerts_seen = b.alerts.get("count", 0)
    expected = b.paced.get("alarms", 0)
    procs = f" ({b.publishers} processes)" if b.publishers > 1 else ""
    publisher = (
        ("publisher events/s into the backlog (nobody connected)",
         f"{b.publish_a.get('rate', 0):,.0f}{procs}")
        if b.backlog else
        ("publisher events/s (phase A / phase B)",
         f"{b.publish_a.get('rate', 0):,.0f} / {b.publish_b.get('rate', 0):,.0f}{procs}")
    )  # fmt: skip
    drain = " draining the backlog" if b.backlog else ""
    return [
        publisher,
        (f"bare aiomqtt subscriber events/s{drain}", f"{b.bare.get('rate', 0):,.0f}"
         + ("" if b.bare.get("count") == b.events else f" (got {b.bare.get('count')} of {b.events})")),
        (f"hub ingest events/s ({b.store}){drain}", f"{ing.get('rate', 0):,.0f}"
         + ("" if ing.get("stored") == b.events else f" (stored {ing.get('stored')} of {b.events})")),
        ("ratio hub / bare", f"{b.ratio:.2f}"),
        ("hub CPU s per 1k events", f"{1000 * ing.get('cpu_s', 0) / max(b.events, 1):.3f}"),
        ("peak RSS MB: hub / bare subscriber",
         f"{fin.get('rss_mb', ing.get('rss_mb', 0)):.0f} / {b.bare.get('rss_mb', 0):.0f}"),
        ("hub store commits (mean events, mean ms per commit)",
         f"{ing.get('batches', 0):.0f} ({ing.get('mean_batch', 0):.0f},"
         f" {1000 * ing.get('commit_s', 0) / max(ing.get('batches', 0), 1):.0f} ms)"),
        (f"alert latency p50 / p99 / max ms at {b.rate:g} ev/s",
         f"{_ms(b.latency_ms(50))} / {_ms(b.latency_ms(99))} / {_ms(b.latency_ms(100))}"),
        ("alerts seen / expected", f"{alerts_seen} / {expected}"
         + (f" — LOST: {', '.join(b.lost_alarms[:5])}" if b.lost_alarms else "")),
        (f"hub CPU at {b.paced.get('rate', 0):,.0f} ev/s (% of one core)",
         f"{100 * b.paced_cpu_s / max(b.paced.get('seconds', 1), 1e-9):.0f} %"),
        ("mean event payload bytes", f"{b.publish_a.get('payload_bytes', 0):.0f}"),
    ]  # fmt: skip


def show(bench: IngestBench, console: Console) -> None:
    mode = " from a backlog" if bench.backlog else ""
    table = Table(title=f"trygg bench ingest — {bench.events} events{mode}, {bench.broker}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in rows(bench):
        table.add_row(name, value)
    console.print(table)
    if bench.lost_alarms or bench.alerts.get("count", 0) != bench.paced.get("alarms", 0):
        console.print(f"[bold red]ALERTS LOST: {len(bench.lost_alarms)} alarm(s) raised no alert "
                      f"seen on the alert topics: {', '.join(bench.lost_alarms)}[/]")  # fmt: skip
    if bench.ingest.get("stored") != bench.events or bench.bare.get("count") != bench.events:
        console.print("[bold red]EVENTS MISSING: a consumer did not get all events (see table)[/]")
    foreign = bench.bare.get("foreign", 0) + bench.hub_final.get("foreign", 0)
    if foreign:
        console.print(
            f"[yellow]{foreign} messages from other publishers on the broker skew the figures[/]"
        )


HEADING = "## Ingest: hub vs. a bare subscriber, and alert latency"


def _markers(store: str) -> tuple[str, str]:
    return f"<!-- bench:ingest:{store}:start -->", f"<!-- bench:ingest:{store}:end -->"


def section(b: IngestBench) -> str:
    """One store's block; the ingest section holds one block per store."""
    m = b.machine
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    first, last = _markers(b.key)
    mode = ", consumers draining a backlog" if b.backlog else ", live publishers"
    load = (
        f" Load average (1/5/15 min) at start {b.load['start']}, at end {b.load['end']}."
        if b.load.get("end") else ""
    )  # fmt: skip
    lines = [
        first,
        f"### Store: {b.store}{mode}",
        "",
        f"Measured {when} on {m['cpus']} CPUs ({m['cpu_model']}), {m['os']}, "
        f"Python {m['python']}, broker: {m['broker']}.{load}",
        "",
        "```sh",
        b.command,
        "```",
        "",
        "| measure | value |",
        "|---|---:|",
        *(f"| {name} | {value} |" for name, value in rows(b)),
        "",
        last,
    ]
    return "\n".join(lines)


def write_markdown(path: Path, bench: IngestBench) -> None:
    """Replace this store's block in the ingest section, keeping the other stores' blocks."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = section(bench)
    start, end = text.find(START), text.find(END)
    if start == -1 or end < start:
        text = text.rstrip("\n") + f"\n\n{START}\n{HEADING}\n\n{block}\n\n{END}\n"
    else:
        inner = text[start + len(START) : end]
        first, last = _markers(bench.key)
        i, j = inner.find(first), inner.find(last)
        if i != -1 and j > i:
            inner = inner[:i] + block + inner[j + len(last) :]
        elif "<!-- bench:ingest:" in inner:
            inner = inner.rstrip("\n") + f"\n\n{block}\n\n"
        else:  # an old single-store section: start afresh
            inner = f"\n{HEADING}\n\n{block}\n\n"
        text = text[: start + len(START)] + inner + text[end:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
