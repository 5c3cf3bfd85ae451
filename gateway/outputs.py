"""Local alarm outputs for the fallback: a local MQTT topic, a serial relay, a command.

Each configured output is tried; one failing never stops the others (a siren
that does not answer must not silence the handheld). The message names the
alarm kind, the device id and the event id, never a resident.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import threading
from collections.abc import Callable

import serial

from gateway.config import FallbackConfig
from gateway.fallback import Pending
from gateway.inputs import LocalMqtt

log = logging.getLogger("trygg.gateway.fallback")
COMMAND_TIMEOUT_S = 120


class LocalOutputs:
    def __init__(self, cfg: FallbackConfig, local: LocalMqtt | None) -> None:
        self.cfg = cfg
        self.local = local
        self.sounded = 0
        self.failed = 0

    def sound(self, alarm: Pending) -> None:
        message = {"alarm": alarm.kind, "device": alarm.device, "event_id": alarm.event_id,
                   "reason": "hub_unconfirmed"}
        local, topic = self.local, self.cfg.mqtt_topic
        if topic and local is not None:
            self._try("mqtt", lambda: local.publish(topic, json.dumps(message).encode()))
        if self.cfg.serial_url:
            self._try("serial", lambda: self._relay(self.cfg.serial_url or ""))
        if self.cfg.command:
            env = {**os.environ, "TRYGG_ALARM_KIND": alarm.kind,
                   "TRYGG_ALARM_DEVICE": alarm.device, "TRYGG_ALARM_EVENT": alarm.event_id}
            self._try("command", lambda: self._spawn(self.cfg.command or [], env))
        self.sounded += 1

    def _try(self, name: str, action: Callable[[], object]) -> None:
        try:
            action()
        except Exception as exc:  # every output is tried even if one fails
            self.failed += 1
            log.error("local alarm output failed", extra={"output": name, "error": str(exc)})

    @staticmethod
    def _spawn(command: list[str], env: dict[str, str]) -> None:
        """Start at once (an exec error counts as a failed output); reap in the background."""
        child = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL)

        def reap() -> None:
            try:
                child.wait(timeout=COMMAND_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                log.error("local alarm command still running; killed")
                child.kill()
                child.wait()

        threading.Thread(target=reap, name="alarm-command", daemon=True).start()

    @staticmethod
    def _relay(url: str) -> None:
        with serial.serial_for_url(url, timeout=1) as line:
            line.write(b"ON\n")
            line.flush()
