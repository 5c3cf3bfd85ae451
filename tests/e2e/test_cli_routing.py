"""``trygg routing check`` as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
EXAMPLE = Path(__file__).parents[2] / "deploy" / "routing.example.yaml"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRYGG_")}
    cmd = [sys.executable, "-m", "trygg", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)


def test_the_example_checks_ok() -> None:
    result = _run("routing", "check", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert "ok: 4 policies, 4 chains" in result.stdout


def test_every_problem_is_reported_and_the_exit_is_non_zero(tmp_path: Path) -> None:
    bad = tmp_path / "routing.yaml"
    bad.write_text(
        "chains:\n"
        "  a:\n"
        "    renotify: 2x\n"
        "    steps: [{target: primary, timeout: 1m, channels: [webhook]}]\n"
        "policies:\n"
        "  - {chain: b, priority: urgent}\n"
    )
    result = _run("routing", "check", str(bad))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[:-1] == [
        f"{bad}:3: chains.a.renotify: expected a duration like '90s', '3m', '2h', got '2x'",
        f"{bad}:4: chains.a.steps[0].channels[0]: webhook reaches the response centre, "
        "not target primary",
        f"{bad}:6: policies[0].chain: no chain named 'b' (chains: a)",
        f"{bad}:6: policies[0].priority: unknown priority 'urgent'; "
        "expected one of critical, high, medium, low",
    ]
    assert lines[-1] == "4 problem(s)"
    missing = _run("routing", "check", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 1 and "cannot read" in missing.stderr


def test_the_hub_refuses_to_start_on_a_routing_file_that_does_not_validate(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "routing.yaml"
    bad.write_text("policies:\n  - {chain: nowhere}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRYGG_")}
    env.update(
        TRYGG_DATA_DIR=str(tmp_path), TRYGG_DEMO="true", TRYGG_HTTP_PORT="1",
        TRYGG_ROUTING=str(bad),
    )  # fmt: skip
    cmd = [sys.executable, "-m", "trygg", "hub"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 2
    assert f"{bad}:2: policies[0].chain: no chain named 'nowhere'" in result.stderr
