"""``trygg bench rules``: the pure engine's throughput and state size with the default pack.

A synthetic site of N residents, each with an alarm button, bed sensor, entrance
and exit door contacts, stove, motion sensor, fall sensor and staff presence
reader, sends a night of traffic (heartbeats, motion, bed exits and returns,
doors, stove on/off, staff visits, a few alarms). Events are built before the
clock starts (parsing is the ingest benchmark's business); the timed loop is
``Engine.evaluate`` only, on one core. State size is measured with
``tracemalloc``: the memory the engine still holds after the run, divided by
the residents, in a second run of the same events.
"""

from __future__ import annotations

import gc
import os
import platform
import random
import statistics
import sys
import time
import tracemalloc
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from devices.events import DATA_MODELS, EVENT_CLASSES, EventBase
from devices.registry import Placement
from hub.ruleset import load_pack
from rules.engine import Engine

REPEATS = 5
START = "<!-- bench:rules:start -->"
END = "<!-- bench:rules:end -->"
DEVICES = {
    "button": "alarm.button",
    "bed": "bed.exit",
    "door": "door.opened",
    "exit": "door.opened",
    "stove": "stove.on",
    "motion": "room.motion",
    "fall": "fall.detected",
    "tag": "presence.staff_in",
}
# (weight, device, kind, data)
MIX: list[tuple[float, str, str, dict[str, object]]] = [
    (30, "motion", "room.motion", {}),
    (25, "bed", "device.heartbeat", {"battery_pct": 80}),
    (8, "bed", "bed.exit", {}),
    (8, "bed", "bed.enter", {}),
    (7, "door", "door.opened", {}),
    (7, "door", "door.closed", {}),
    (3, "stove", "stove.on", {}),
    (3, "stove", "stove.off", {}),
    (3, "tag", "presence.staff_in", {}),
    (3, "tag", "presence.staff_out", {}),
    (1, "exit", "door.opened", {"door": "exit"}),
    (1, "exit", "door.closed", {"door": "exit"}),
    (0.5, "button", "alarm.button", {}),
    (0.2, "fall", "fall.detected", {}),
    (0.3, "bed", "device.battery_low", {"battery_pct": 9}),
]


@dataclass
class RulesBench:
    residents: int
    events: int
    rules: int
    seconds: float
    decisions: int
    state_bytes: int
    timers: int
    median_s: float = 0.0
    anchors: int = 0
    anchor_bytes: int = 0

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    @property
    def per_resident(self) -> float:
        return self.state_bytes / self.residents

    def rows(self) -> list[tuple[str, str]]:
        return [
            ("rules in the pack", str(self.rules)),
            ("residents", f"{self.residents:,}"),
            ("events", f"{self.events:,}"),
            (f"events/s through Engine.evaluate (1 core), best of {REPEATS}", f"{self.rate:,.0f}"),
            ("events/s, median pass", f"{self.events / self.median_s:,.0f}"),
            ("decisions (raise/cancel/suppress)", f"{self.decisions:,}"),
            ("engine state after the night", f"{self.state_bytes / 1024:,.0f} KiB"),
            ("state per resident", f"{self.per_resident:,.0f} B"),
            (
                "per resident, with what anchors keep alive of their events",
                f"{(self.state_bytes + self.anchor_bytes) / self.residents:,.0f} B",
            ),
            ("timers pending at the end", f"{self.timers:,}"),
            ("timer anchors held (slim tuples, counted above)", f"{self.anchors:,}"),
            ("python", platform.python_version()),
        ]


def build(residents: int, events: int, seed: int = 7) -> list[tuple[EventBase, Placement]]:
    rng = random.Random(seed)
    placements: dict[str, Placement] = {}
    for r in range(residents):
        for short, kind in DEVICES.items():
            dev = f"dev-{r}-{short}"
            placements[dev] = Placement(
                device=dev, device_type=kind, site="bench", gateway=f"gw-{r // 50}",
                unit=f"unit-{r // 10}", apartment=f"apt-{r}", resident_id=f"res-{r}",
            )  # fmt: skip
    weights = [m[0] for m in MIX]
    start = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)
    step = 12 * 3600 / events
    data_cache = {}
    out = []
    picks = rng.choices(MIX, weights, k=events)
    for i, (_, short, kind, data) in enumerate(picks):
        r = rng.randrange(residents)
        dev = f"dev-{r}-{short}"
        key = (kind, tuple(sorted(data.items())))
        if key not in data_cache:
            data_cache[key] = DATA_MODELS[kind](**data)
        event = EVENT_CLASSES[kind].model_construct(
            id=f"{i:026d}", site="bench", gateway=placements[dev].gateway, device=dev,
            ts=start + timedelta(seconds=i * step), seq=i, kind=kind, data=data_cache[key],
        )  # fmt: skip
        out.append((event, placements[dev]))
    return out


def run_rules_bench(residents: int = 1000, events: int = 300_000) -> RulesBench:
    pack = load_pack([])
    stream = build(residents, events)
    engine = Engine(pack)
    evaluate = engine.evaluate
    runs: list[float] = []
    decisions = 0
    for _ in range(REPEATS):  # the machine is shared: best and median of a few passes
        state = engine.initial_state()
        decisions = 0
        gc.collect()
        began = time.perf_counter()
        for event, placement in stream:
            state, out = evaluate(state, event, event.ts, placement)
            decisions += len(out)
        runs.append(time.perf_counter() - began)
    seconds = min(runs)
    # Memory: the same night again under tracemalloc, counting what the engine keeps.
    del state
    gc.collect()
    tracemalloc.start()
    baseline = tracemalloc.get_traced_memory()[0]
    kept = engine.initial_state()
    for event, placement in stream:
        kept, _ = evaluate(kept, event, event.ts, placement)
    gc.collect()
    state_bytes = tracemalloc.get_traced_memory()[0] - baseline
    tracemalloc.stop()
    return RulesBench(
        residents=residents, events=events, rules=len(pack.rules), seconds=seconds,
        decisions=decisions, state_bytes=state_bytes, timers=len(kept.timers),
        median_s=statistics.median(runs),
        anchors=len(held := [x for slot in kept.slots.values() for x in slot if isinstance(x, tuple)]),
        anchor_bytes=_kept_alive(held),
    )  # fmt: skip


def _kept_alive(anchors: list[tuple[object, ...]]) -> int:
    """Bytes of the event fields the anchors keep alive (strings, timestamps, data models),
    each object counted once however many anchors share it."""
    seen: set[int] = set()
    total = 0

    def add(obj: object) -> None:
        nonlocal total
        if id(obj) in seen or isinstance(obj, int):
            return
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        fields = getattr(obj, "__dict__", None)
        if fields is not None:
            add(fields)
            for value in fields.values():
                add(value)

    for a in anchors:
        for part in a:
            add(part)
    return total


def section(b: RulesBench, command: str) -> str:
    lines = [
        START,
        "## Rule engine (`trygg bench rules`)",
        "",
        f"Command: `{command}`. Pure engine, default pack, events built before timing;"
        " state measured with tracemalloc: what the engine still holds after the night"
        " (its lists, tuples and timers). The row after adds, once each, the strings,"
        " timestamps and data models of events that pending timers keep alive.",
        f"Targets: 100,000 events/s on one core, under 2 KiB of state per resident."
        f" Run on {datetime.now(UTC):%Y-%m-%d} on a 2-core machine shared with other jobs"
        f" (load average {os.getloadavg()[0]:.1f} at the end).",
        "",
        "| measure | value |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in b.rows()),
        "",
        END,
    ]
    return "\n".join(lines)


def write_markdown(path: Path, bench: RulesBench, command: str) -> None:
    """Replace the section between the markers, or append it when there is none."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    new = section(bench, command)
    start, end = text.find(START), text.find(END)
    if start != -1 and end > start:
        text = text[:start] + new + text[end + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + new + "\n"
    path.write_text(text)
