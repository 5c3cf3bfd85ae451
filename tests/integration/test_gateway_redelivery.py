"""A button press redelivered after a crash is not a second alarm (gateway/redelivery.py).

The gateway runs as its own process under a wrapper that SIGKILLs it right after
the outbox commit that holds the alarm, before the local ack can leave: exactly
the window in which the local broker still thinks the press was never
delivered. The restarted gateway gets the press again (DUP set, same packet
id) and must not turn it into a second event; a genuine second press
afterwards still is one.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from gwhelpers import Collector, PrivateMosquitto, publisher, wait_for

pytestmark = pytest.mark.mqtt

KILL_AFTER_COMMIT = """
import os, signal, sys
from gateway.outbox import Outbox

_append = Outbox.append

def append(self, rows, *args, **kwargs):
    _append(self, rows, *args, **kwargs)
    if any(r.kind == "alarm.button" for r in rows):
        os.kill(os.getpid(), signal.SIGKILL)  # committed; the local ack never leaves

Outbox.append = append
from trygg.cli import app
app(prog_name="trygg", args=["gateway", "--config", sys.argv[1], "--log-level", "WARNING"])
"""


def _gateway(config: Path, crash: bool) -> subprocess.Popen[bytes]:
    log = (config.parent / "gateway.log").open("ab")
    argv = ([sys.executable, "-c", KILL_AFTER_COMMIT, str(config)] if crash else
            [sys.executable, "-m", "trygg", "gateway", "--config", str(config),
             "--log-level", "WARNING"])
    with log:
        return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log)


@pytest.mark.timeout(90)
def test_a_press_redelivered_after_sigkill_between_commit_and_ack_is_sent_once(
        tmp_path: Path) -> None:
    broker = PrivateMosquitto(tmp_path / "broker")
    broker.start()
    site = "redeliver"
    config = tmp_path / "gw.yaml"
    config.write_text(yaml.safe_dump({
        "site": site, "gateway": "gw-1", "data_dir": str(tmp_path / "gw"),
        "uplink": {"port": broker.port, "client_id": "gw-redeliver"},
        "local": {"port": broker.port, "client_id": "gw-redeliver-local"},
        "heartbeat_s": 0.5, "device_heartbeat_s": 10**6,
        "devices": [{"id": "sos-1", "protocol": "z2m", "friendly_name": "sos",
                     "model": "HS1EB/HS1EB-E"}],
    }))
    hub = Collector("127.0.0.1", broker.port, f"trygg/v1/{site}/gw-1/#", client_id="rd-hub")
    pub = publisher(broker.port)
    proc = _gateway(config, crash=True)
    press = b'{"action":"single","battery":90,"linkquality":120}'
    try:
        wait_for(lambda: bool(hub.payloads("/status")), 20, "gateway up")
        pub.publish("zigbee2mqtt/sos", press, qos=1)
        assert proc.wait(20) == -signal.SIGKILL  # killed between commit and local ack
        proc = _gateway(config, crash=False)

        def presses() -> dict[str, dict[str, object]]:
            return {e["id"]: e for e in hub.payloads("/events") if e["kind"] == "alarm.button"}

        def skipped() -> int:
            statuses = hub.payloads("/status")
            return int(statuses[-1].get("redelivered_skipped", 0)) if statuses else 0

        # The committed press leaves from the outbox; its redelivery is recognised.
        wait_for(lambda: len(presses()) >= 1 and skipped() >= 1, 20, "press sent, dup skipped")
        time.sleep(1.5)  # a wrong second event would be here by now
        assert len(presses()) == 1, presses()
        # The same press again, for real (the same bytes, a fresh message): a second alarm.
        pub.publish("zigbee2mqtt/sos", press, qos=1)
        wait_for(lambda: len(presses()) == 2, 20, "a genuine second press")
        assert skipped() == 1
        seqs = sorted(int(e["seq"]) for e in presses().values())  # type: ignore[call-overload]
        assert seqs == [0, 1]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        pub.disconnect()
        pub.loop_stop()
        hub.close()
        broker.stop()
