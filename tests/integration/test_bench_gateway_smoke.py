"""``trygg bench gateway`` runs end to end on a small load and writes its section."""

from __future__ import annotations

from pathlib import Path

import pytest

from trygg.bench_gateway import END, START, run

pytestmark = pytest.mark.mqtt


@pytest.mark.timeout(120)
def test_bench_gateway_small(tmp_path: Path) -> None:
    out = tmp_path / "bench.md"
    out.write_text("# Benchmarks\n\nkept\n")
    bench = run(300, out)
    r = bench.results
    assert r["cpu_ms_per_event"] > 0 and r["rss_mb"] > 0 and r["replay_rate"] > 0
    text = out.read_text()
    assert "kept" in text and START in text and END in text
    assert "CPU per event" in text
