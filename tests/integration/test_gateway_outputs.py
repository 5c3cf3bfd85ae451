"""Local alarm outputs: a command and a serial relay on a real pty (the MQTT one is in
test_gateway_mqtt.py). One failing output never silences the others."""

from __future__ import annotations

import os
import select
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.config import FallbackConfig
from gateway.fallback import Pending
from gateway.outputs import LocalOutputs
from simulators.emulate.serialdev import SerialDevice

from gwhelpers import wait_for

pytestmark = pytest.mark.serial

ALARM = Pending("01a2089e-9794-79e0-b178-cb27c73a1453", "btn-1", "alarm.button",
                datetime(2026, 11, 23, 2, 0, tzinfo=UTC))


def test_command_and_serial_relay_both_sound(tmp_path: Path) -> None:
    relay = SerialDevice()  # the gateway writes to relay.port; we read the other end
    marker = tmp_path / "sounded"
    script = ("import os, pathlib; pathlib.Path(os.environ['OUT']).write_text("
              "os.environ['TRYGG_ALARM_KIND'] + ' ' + os.environ['TRYGG_ALARM_EVENT'])")
    os.environ["OUT"] = str(marker)
    try:
        outputs = LocalOutputs(FallbackConfig(serial_url=relay.port,
                                              command=[sys.executable, "-c", script]), None)
        outputs.sound(ALARM)
        ready, _, _ = select.select([relay.master], [], [], 5)
        assert ready and os.read(relay.master, 16) == b"ON\n"
        wait_for(marker.exists, 10, "command ran")
        wait_for(lambda: bool(marker.read_text()), 5, "command wrote")
        assert marker.read_text() == f"alarm.button {ALARM.event_id}"
        assert outputs.failed == 0
    finally:
        del os.environ["OUT"]
        relay.close()


def test_a_broken_output_does_not_stop_the_others(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    outputs = LocalOutputs(FallbackConfig(serial_url=str(tmp_path / "no-such-tty"),
                                          command=["/bin/sh", "-c", f"touch {marker}"]), None)
    outputs.sound(ALARM)
    wait_for(marker.exists, 10, "command ran despite the missing relay")
    assert outputs.failed == 1
