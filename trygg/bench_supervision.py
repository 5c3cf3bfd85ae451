"""``trygg bench supervision``: what supervising 50,000 devices costs, and how late
an offline alert comes.

Two parts, in one process:

1. **Cost** (simulated clock, the pure supervisor as the hub runs it): every device
   heartbeats every ``interval`` with a random phase for ``minutes`` simulated
   minutes; the timer is served exactly when ``next_wake`` says, as the shell does.
   CPU is ``time.process_time`` over all ``seen`` and ``due`` calls, so the figure
   is the CPU per simulated hour; memory is what ``tracemalloc`` sees allocated
   by the supervisor for all its watches.
2. **Detection delay** (wall clock, the real :class:`SupervisionService` on an
   asyncio loop over a Hub on the memory store, its own ``call_later`` timer):
   the same number of devices heartbeat on a compressed schedule (``fast_interval``,
   window three intervals) through the service, 1 % stop, and each offline alert's
   time is compared with the stopped device's last heartbeat + window.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import random
import resource
import time
import tracemalloc
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hub.service import Hub
from hub.store.base import Device, Site
from hub.store.memory import MemoryStore
from hub.supervision.core import Supervisor
from hub.supervision.policy import Windows
from hub.supervision.shell import RULE, SupervisionService

START = "<!-- bench:supervision:start -->"
END = "<!-- bench:supervision:end -->"
T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


@dataclass
class SupervisionBench:
    devices: int
    interval_s: float
    window_s: float
    minutes: float
    heartbeats: int = 0
    offline: int = 0
    cpu_s: float = 0.0
    mem_bytes: int = 0
    rss_mb: float = 0.0
    heap_max: int = 0
    # part 2
    fast_interval_s: float = 0.0
    fast_window_s: float = 0.0
    stopped: int = 0
    detected: int = 0
    delay_max_s: float = 0.0
    delay_p50_s: float = 0.0
    late_after_window_max_s: float = 0.0

    @property
    def cpu_per_hour_s(self) -> float:
        return self.cpu_s / (self.minutes / 60)

    @property
    def us_per_heartbeat(self) -> float:
        return self.cpu_s / max(1, self.heartbeats) * 1e6


def run_cost(b: SupervisionBench, seed: int = 7) -> None:
    rng = random.Random(seed)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    sup = Supervisor()
    window = timedelta(seconds=b.window_s)
    keys = [f"dev-{i:06d}" for i in range(b.devices)]
    for key in keys:
        sup.watch(key, window, T0)
    b.mem_bytes = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    end = b.minutes * 60
    stop_at = {k: rng.uniform(0, end / 2) for k in rng.sample(keys, max(1, b.devices // 100))}
    # (next heartbeat time, key): the feeder's schedule, not part of what is measured
    beats = [(rng.uniform(0, b.interval_s), k) for k in keys]
    heapq.heapify(beats)
    cpu = 0.0
    n = 0
    offline = 0
    while beats and beats[0][0] <= end:
        t, key = heapq.heappop(beats)
        now = T0 + timedelta(seconds=t)
        started = time.process_time()
        wake = sup.next_wake()
        while wake is not None and wake <= now:
            offline += len(sup.due(wake))
            wake = sup.next_wake()
        sup.seen(key, now)
        cpu += time.process_time() - started
        n += 1
        b.heap_max = max(b.heap_max, sup.heap_size())
        if t < stop_at.get(key, end + 1):
            heapq.heappush(beats, (t + b.interval_s, key))
    started = time.process_time()
    offline += len(sup.due(T0 + timedelta(seconds=end)))
    cpu += time.process_time() - started
    b.cpu_s, b.heartbeats, b.offline = cpu, n, offline


async def run_delay(b: SupervisionBench, seconds: float = 20.0) -> None:
    store = MemoryStore()
    store.upsert_site(Site("bench", "Bench"))
    for i in range(b.devices):
        store.upsert_device(Device(f"dev-{i:06d}", "bench", f"gw-{i // 50:04d}", "fall_sensor"))
    hub = Hub(store)
    await hub.start()
    window = timedelta(seconds=b.fast_window_s)
    service = SupervisionService(hub, windows=Windows({"fall_sensor": window,
                                                        "gateway": timedelta(hours=1)}))
    await service.start()
    rng = random.Random(11)
    keys = [f"dev-{i:06d}" for i in range(b.devices)]
    stopping = set(rng.sample(keys, max(1, b.devices // 100)))
    last: dict[str, datetime] = {}
    detected: dict[str, datetime] = {}
    raise_alert = hub.raise_alert

    def spy(make):  # type: ignore[no-untyped-def]
        alert = raise_alert(make)
        detected[alert.device] = datetime.now(UTC)
        return alert

    hub.raise_alert = spy  # type: ignore[method-assign]
    loop = asyncio.get_running_loop()
    began = loop.time()
    stop_after = seconds / 3
    first = datetime.now(UTC)
    for key in keys:  # every device reported once as the run begins
        service._seen(key, first)
        last[key] = first
    began = loop.time()
    beats = [(rng.uniform(0, b.fast_interval_s), k) for k in keys]
    heapq.heapify(beats)
    tick = 0.05
    while (elapsed := loop.time() - began) < seconds:
        now = datetime.now(UTC)
        while beats and beats[0][0] <= elapsed:  # the heartbeats due in this slice
            due, key = heapq.heappop(beats)
            if key in stopping and elapsed > stop_after:
                continue
            heapq.heappush(beats, (due + b.fast_interval_s, key))
            service._seen(key, now)  # what the ingest's event listener calls
            last[key] = now
        await asyncio.sleep(tick)
    await asyncio.sleep(b.fast_window_s + 1)
    service.stop()
    await hub.stop()
    stopped = [k for k in stopping if k in last]  # heard from at least once, then silent
    lates = sorted((detected[k] - last[k]).total_seconds() - b.fast_window_s
                   for k in stopped if k in detected)
    b.stopped, b.detected = len(stopped), len(lates)
    delays = sorted((detected[k] - last[k]).total_seconds() for k in stopped if k in detected)
    b.delay_max_s = delays[-1] if delays else float("nan")
    b.delay_p50_s = delays[len(delays) // 2] if delays else float("nan")
    b.late_after_window_max_s = lates[-1] if lates else float("nan")
    assert all(a.rule == RULE for a in hub.open_alerts())


def run_supervision_bench(devices: int = 50_000, interval_s: float = 60.0,
                          minutes: float = 30.0, fast_interval_s: float = 2.0,
                          delay_seconds: float = 20.0) -> SupervisionBench:
    logging.getLogger("trygg").setLevel(logging.ERROR)  # 500 "device offline" lines
    b = SupervisionBench(devices, interval_s, interval_s * 3, minutes,
                         fast_interval_s=fast_interval_s, fast_window_s=fast_interval_s * 3)
    run_cost(b)
    asyncio.run(run_delay(b, delay_seconds))
    b.rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return b


def rows(b: SupervisionBench) -> list[tuple[str, str]]:
    return [
        ("devices supervised", f"{b.devices:,}"),
        ("heartbeat interval / window", f"{b.interval_s:.0f} s / {b.window_s:.0f} s"),
        ("simulated time", f"{b.minutes:.0f} min ({b.heartbeats:,} heartbeats)"),
        ("CPU, supervisor (seen + timers)", f"{b.cpu_s:.2f} s = {b.cpu_per_hour_s:.1f} s per "
         f"hour = {b.cpu_per_hour_s / 36:.2f} % of one core"),
        ("CPU per heartbeat", f"{b.us_per_heartbeat:.2f} µs"),
        ("memory of the watches (tracemalloc)", f"{b.mem_bytes / 2**20:.1f} MiB "
         f"({b.mem_bytes / b.devices:.0f} B/device)"),
        ("heap entries, max", f"{b.heap_max:,} (one live entry per device)"),
        ("devices stopped -> offline found", f"{b.devices // 100:,} -> {b.offline:,}"),
        ("process max RSS (both parts)", f"{b.rss_mb:.0f} MB"),
        ("real-time part: interval / window", f"{b.fast_interval_s:.0f} s / "
         f"{b.fast_window_s:.0f} s, {b.devices:,} devices through SupervisionService"),
        ("stopped -> alerted", f"{b.stopped:,} -> {b.detected:,}"),
        ("last heartbeat -> alert, p50 / max", f"{b.delay_p50_s:.2f} s / {b.delay_max_s:.2f} s"),
        ("alert later than the window, max", f"{b.late_after_window_max_s:.2f} s "
         f"(target: under 5 s)"),
    ]


def section(b: SupervisionBench) -> str:
    lines = [START, "", "### Supervision (`trygg bench supervision`)", "",
             "Command: `trygg bench supervision --output docs/benchmarks.md` "
             f"(defaults: {b.devices:,} devices, {b.interval_s:.0f} s heartbeats, "
             f"{b.minutes:.0f} simulated minutes; 2 cores shared with other jobs).", "",
             "| measure | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows(b)]
    lines += ["", END]
    return "\n".join(lines)


def write_markdown(path: Path, b: SupervisionBench) -> None:
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    new = section(b)
    start, end = text.find(START), text.find(END)
    if start != -1 and end > start:
        text = text[:start] + new + text[end + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + new + "\n"
    path.write_text(text)
