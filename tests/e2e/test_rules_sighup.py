"""A real ``trygg hub`` process reloads its rule files on SIGHUP, refuses a bad set, says
so in its log, and counts both in ``trygg_rule_reloads_total``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from conftest import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.mqtt]

GOOD = """
rules:
  - name: site_leak
    when: {kind: water.leak}
    raise: {category: resident, priority: high, message: "Leak: {where}"}
"""


class Log:
    """Collects a process's stderr lines in a thread."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        assert proc.stderr is not None
        stream = proc.stderr
        threading.Thread(target=lambda: self.lines.extend(iter(stream.readline, "")),
                         daemon=True).start()  # fmt: skip

    def wait_for(self, text: str, after: int = 0, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, line in enumerate(self.lines[after:], after):
                if text in line:
                    return i + 1
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not logged; log:\n" + "".join(self.lines[-40:]))


def metric(port: int, name: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        body: str = r.read().decode()
    return "\n".join(line for line in body.splitlines() if line.startswith(name))


def test_sighup_reloads_the_rules_and_keeps_them_when_the_new_file_is_wrong(
    tmp_path: Path, mosquitto: tuple[str, int]
) -> None:
    port = free_port()
    site = tmp_path / "site.yaml"
    site.write_text(GOOD)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRYGG_")}
    env.update(
        TRYGG_DATA_DIR=str(tmp_path), TRYGG_HTTP_PORT=str(port),
        TRYGG_MQTT_HOST=mosquitto[0], TRYGG_MQTT_PORT=str(mosquitto[1]),
        TRYGG_MQTT_CLIENT_ID=f"hub-{uuid.uuid4().hex[:8]}",
        TRYGG_ADMIN_PASSWORD=uuid.uuid4().hex,
        TRYGG_RULES=f'["rules/packs/default.yaml", "{site}"]',
    )  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "trygg", "hub"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
        text=True, env=env,
    )  # fmt: skip
    log = Log(proc)
    try:
        seen = log.wait_for("hub started")
        # A broken file: the running rules stay, and the log says why (file and line).
        site.write_text(GOOD.replace("water.leak", "water.leek"))
        proc.send_signal(signal.SIGHUP)
        seen = log.wait_for("rule files not reloaded", seen)
        log.wait_for(f"{site}:4: rules[0].when.kind: unknown event kind 'water.leek'", seen - 1)
        # A good change is taken.
        site.write_text(GOOD.replace("Leak:", "Water leak:"))
        proc.send_signal(signal.SIGHUP)
        log.wait_for("rules reloaded", seen)
        counts = metric(port, "trygg_rule_reloads_total")
        assert 'trygg_rule_reloads_total{result="failed"} 1.0' in counts
        assert 'trygg_rule_reloads_total{result="ok"} 1.0' in counts
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()
