"""``trygg bench notify`` end to end with tiny numbers on a private Mosquitto:
every probe reaches the board and the handheld, and the section is written.
Never how fast (the machine is shared)."""

from __future__ import annotations

from pathlib import Path

import pytest

from trygg.bench import find_mosquitto
from trygg.bench_notify import END, START, run_notify_bench, write_markdown

from conftest import IN_CI

pytestmark = [pytest.mark.mqtt, pytest.mark.timeout(90)]


def test_bench_notify_sees_every_probe_on_both_paths(tmp_path: Path) -> None:
    if find_mosquitto() is None:
        if IN_CI:
            pytest.fail("mosquitto is not installed (CI must provide it; see .ci/run)")
        pytest.skip("mosquitto is not installed")
    result = run_notify_bench(rate=50, seconds=4, probes=8, say=lambda _: None)
    assert len(result.sse) == 8
    assert len(result.mqtt) == 8
    assert all(x >= 0 for x in result.sse + result.mqtt)
    out = tmp_path / "benchmarks.md"
    out.write_text("# Benchmarks\n")
    write_markdown(out, result)
    write_markdown(out, result)
    text = out.read_text()
    assert text.count(START) == text.count(END) == 1
    assert "trygg bench notify --rate 50 --seconds 4 --probes 8" in text
