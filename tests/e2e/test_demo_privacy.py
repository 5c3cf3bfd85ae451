"""A full demo night through the hub: no resident name in any log line, and the demo's
legal bases let the night's alerts through."""

from __future__ import annotations

import asyncio
import io
import logging
from pathlib import Path

import pytest
from rich.console import Console

from simulators.scenario import load_scenario
from trygg.demo import run_demo
from trygg.logs import JsonFormatter

from conftest import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.mqtt]


async def test_a_demo_night_logs_no_resident_names(tmp_path: Path) -> None:
    scenario = load_scenario("night-unit")
    names = [r.name for r in scenario.residents]
    parts = {p for n in names for p in n.split() if len(p) > 3}
    assert names and parts

    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    out = io.StringIO()
    stop = asyncio.Event()
    demo = asyncio.create_task(
        run_demo(
            data_dir=tmp_path,
            http_port=free_port(),
            mqtt_port=free_port(),
            speed=4000,
            duration=None,
            simulate=True,
            stop=stop,
            console=Console(file=out, width=200),
        )
    )
    try:
        for _ in range(1200):
            if "Night played" in out.getvalue() or demo.done():
                break
            await asyncio.sleep(0.05)
        assert "Night played" in out.getvalue(), out.getvalue()[-2000:]
        await asyncio.sleep(0.5)  # let the last batch commit and log
    finally:
        stop.set()
        await asyncio.wait_for(demo, 30)
        root.removeHandler(handler)
        root.setLevel(old_level)
    text = lines.getvalue()
    assert "alert raised" in text  # the night did reach the hub and its logs
    for part in sorted(parts):
        assert part not in text, f"resident name part {part!r} in the log"
    # The fall (res-5, on consent) raised its alert; door traffic inside the night window passed.
    assert "fall" in out.getvalue().lower()
