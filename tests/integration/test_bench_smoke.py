"""``trygg bench ingest`` end to end with tiny numbers on a private Mosquitto.

Checks that every phase runs and counts right, never how fast: the machine is
shared, so timing thresholds would only make the test flaky."""

from __future__ import annotations

from pathlib import Path

import pytest

from trygg.bench import END, START, find_mosquitto, run_ingest_bench, write_markdown

from conftest import IN_CI

pytestmark = [pytest.mark.mqtt, pytest.mark.timeout(60)]


def test_bench_ingest_runs_every_phase_and_writes_its_section(tmp_path: Path) -> None:
    if find_mosquitto() is None:
        if IN_CI:
            pytest.fail("mosquitto is not installed (CI must provide it; see .ci/run)")
        pytest.skip("mosquitto is not installed")
    out = tmp_path / "benchmarks.md"
    out.write_text("# Benchmarks\n\nWhat we measure.\n")

    bench = run_ingest_bench(None, events=2000, rate=200, seconds=3, store="sqlite", output=out)

    assert bench.bare["count"] == 2000
    assert bench.ingest["stored"] == 2000
    assert bench.ratio > 0
    assert bench.alerts["latencies_s"], "no alert latency samples"
    assert bench.alerts["count"] == bench.paced["alarms"] > 0
    assert bench.lost_alarms == []
    text = out.read_text()
    assert text.startswith("# Benchmarks\n\nWhat we measure.\n")
    assert text.count(START) == text.count(END) == 1
    assert "trygg bench ingest --events 2000 --rate 200 --seconds 3" in text

    write_markdown(out, bench)  # a second run replaces the section, never appends one
    assert out.read_text().count(START) == 1


@pytest.mark.postgres
def test_bench_ingest_into_postgres_keeps_both_stores_blocks(
    tmp_path: Path, postgres_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if find_mosquitto() is None:
        if IN_CI:
            pytest.fail("mosquitto is not installed (CI must provide it; see .ci/run)")
        pytest.skip("mosquitto is not installed")
    monkeypatch.setenv("TRYGG_DATABASE_URL", postgres_dsn)
    out = tmp_path / "benchmarks.md"
    out.write_text("# Benchmarks\n")
    bench = run_ingest_bench(None, events=2000, rate=200, seconds=3, store="postgres", output=out)
    assert bench.ingest["stored"] == 2000
    assert bench.lost_alarms == []
    sqlite_run = type(bench)(**{**bench.__dict__, "store": "sqlite"})
    write_markdown(out, sqlite_run)
    write_markdown(out, bench)
    text = out.read_text()
    assert text.count(START) == 1
    assert text.count("<!-- bench:ingest:postgres:start -->") == 1
    assert text.count("<!-- bench:ingest:sqlite:start -->") == 1
    assert "--store postgres" in text
