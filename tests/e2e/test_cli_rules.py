"""``trygg rules check`` and ``trygg replay`` as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from hub.store.sqlite import SqliteStore
from simulators.player import _event
from simulators.scenario import load_scenario
from trygg.seed import seed_registry

pytestmark = pytest.mark.e2e
TRYGG = [sys.executable, "-m", "trygg"]
NIGHT = date(2026, 10, 24)  # the night the clocks go back


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRYGG_")}
    return subprocess.run([*TRYGG, *args], capture_output=True, text=True, timeout=60, env=env)


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> Path:
    scenario = load_scenario("night-unit")
    path = tmp_path_factory.mktemp("replay") / "night.jsonl"
    with path.open("w") as fh:
        for i, item in enumerate(scenario.plan(NIGHT)):
            fh.write(_event(item, i + 1, "scenario", scenario).to_json() + "\n")
    return path


def test_rules_check_accepts_the_default_pack() -> None:
    result = _run("rules", "check", "rules/packs/default.yaml")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok: ")


def test_rules_check_reports_every_problem_and_fails(tmp_path: Path) -> None:
    bad = tmp_path / "site.yaml"
    bad.write_text(
        "rules:\n"
        "  - name: a\n    when: {kind: door.opend}\n"
        "    raise: {category: resident, priority: high, message: m}\n"
        "  - name: b\n    when: {kind: water.leak}\n    window: '22:00-31:00'\n"
        "    raise: {category: resident, priority: hihg, message: m}\n"
    )
    result = _run("rules", "check", "rules/packs/default.yaml", str(bad))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert f"{bad}:3: rules[0].when.kind: unknown event kind 'door.opend'" in lines
    assert any(line.startswith(f"{bad}:7: rules[1].window: ") for line in lines)
    assert any(line.startswith(f"{bad}:8: rules[1].raise.priority: ") for line in lines)
    assert lines[-1] == "3 problem(s)"


def test_replay_prints_the_alerts_of_the_night(night: Path) -> None:
    result = _run("replay", str(night), "--rules", "rules/packs/default.yaml")
    assert result.returncode == 0, result.stderr
    raised = [line.split() for line in result.stdout.splitlines() if "  raised  " in line]
    assert [(r[4], r[5]) for r in raised] == [
        ("alarm_button", "dev-a3-button"),
        ("smoke_test", "dev-a-kitchen-smoke"),
        ("fall", "dev-a5-fall"),
        ("staff_alarm", "dev-a-staff-1"),
        ("battery_low", "dev-a2-door"),
    ]
    assert "Leil. 3" in result.stdout
    again = _run("replay", str(night), "--rules", "rules/packs/default.yaml")
    assert again.stdout == result.stdout  # deterministic


def test_replay_with_a_changed_rule_a_window_and_a_data_dir(night: Path, tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "trygg.db")
    store.migrate()
    seed_registry(store, load_scenario("night-unit"))
    store.close()
    site = tmp_path / "site.yaml"
    # Try a stricter bed-exit grace on last night's data before it goes live.
    site.write_text("overrides:\n  res-5: {bed_exit_without_return: {within: 2m}}\n")
    result = _run(
        "replay", str(night), "--rules", "rules/packs/default.yaml", "--rules", str(site),
        "--data-dir", str(tmp_path), "--from", "2026-10-25T02:00:00+02:00",
        "--to", "2026-10-25T03:00:00+02:00",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rules = [tuple(line.split()[1:5:3]) for line in result.stdout.splitlines()]
    # Out of bed 02:08:30 -> alert at 02:10:30, held a minute (the rule may cancel it), shown
    # at 02:11:30; the fall at 02:13 does not withdraw what staff have seen: it is joined.
    assert rules == [
        ("held", "bed_exit_without_return"),
        ("raised", "bed_exit_without_return"),
        ("joined", "bed_exit_without_return"),
        ("raised", "fall"),
    ]


def test_replay_names_bad_lines(tmp_path: Path, night: Path) -> None:
    log = tmp_path / "mixed.jsonl"
    log.write_text(night.read_text().splitlines()[0] + "\n{\"kind\": \"nope\"}\n")
    result = _run("replay", str(log))
    assert result.returncode == 2
    assert f"{log}:2: " in result.stderr


def test_the_hub_refuses_to_start_on_rule_files_that_do_not_validate(tmp_path: Path) -> None:
    bad = tmp_path / "site.yaml"
    bad.write_text("overrides:\n  res-1: {no_such_rule: {enabled: false}}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRYGG_")}
    env.update(
        TRYGG_DATA_DIR=str(tmp_path), TRYGG_DEMO="true", TRYGG_HTTP_PORT="1",
        TRYGG_RULES=f'["rules/packs/default.yaml", "{bad}"]',
    )  # fmt: skip
    result = subprocess.run(
        [*TRYGG, "hub"], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 2
    assert f"{bad}:2: overrides.res-1.no_such_rule: no rule of that name" in result.stderr
