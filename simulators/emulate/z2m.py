"""A Zigbee2MQTT bridge emulator: the bridge's own payloads, on a local broker."""

from __future__ import annotations

import json
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from devices import catalogue
from devices.reading import Reading


class Z2mBridge:
    """Keeps each device's cached state and publishes it whole, as the bridge does."""

    def __init__(self, host: str, port: int, base: str = "zigbee2mqtt", legacy: bool = False,
                 client_id: str | None = None) -> None:
        self.base = base
        self.legacy = legacy
        self.state: dict[str, dict[str, Any]] = {}
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or "",
                                  protocol=mqtt.MQTTv311)
        self.client.connect(host, port)
        self.client.loop_start()

    def payload(self, name: str, model: str, reading: Reading,
                extra: dict[str, Any] | None = None) -> dict[str, Any]:
        encoded = catalogue.lookup(model).encode(reading)
        if self.legacy and "action" in encoded and model in ("WXKG11LM",):
            encoded = {"click": encoded.pop("action")}
        state = self.state.setdefault(name, {})
        state.update(encoded)
        state.update(extra or {})
        return dict(state)

    def send(self, name: str, model: str, reading: Reading,
             extra: dict[str, Any] | None = None) -> mqtt.MQTTMessageInfo:
        body = self.payload(name, model, reading, extra)
        info = self.client.publish(f"{self.base}/{name}", json.dumps(body), qos=1)
        action = body.pop("action", None) or body.pop("click", None)
        if action is not None:
            self.state[name] = body  # actions are momentary: not part of the cached state
        return info

    def set_state(self, name: str, values: dict[str, Any]) -> mqtt.MQTTMessageInfo:
        state = self.state.setdefault(name, {})
        state.update(values)
        return self.client.publish(f"{self.base}/{name}", json.dumps(state), qos=1)

    def availability(self, name: str, online: bool) -> mqtt.MQTTMessageInfo:
        return self.client.publish(f"{self.base}/{name}/availability",
                                   catalogue.encode_availability(online, self.legacy),
                                   qos=1, retain=True)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
