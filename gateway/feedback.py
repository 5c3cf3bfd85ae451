"""Resident feedback at the gateway: which commands to show, and how. Pure: no I/O, no clock.

The hub sends ``alert_feedback`` commands (devices/feedback.py) on the gateway's
commands topic. :class:`Shown` keeps the feedback per alert moving forward only:
a duplicate (QoS 1 may deliver twice), a state behind the one shown
(``help_coming`` after ``help_arrived``) or a command older by ``at`` than the
one shown is ignored. :func:`plan` turns one state into output actions:

- a Zigbee2MQTT set payload for each device that can show it: the source device
  if its catalogue model has ``feedback``, and the device ``feedback.devices``
  names for it (a lamp or siren by the bed for a button that has no light);
- the state's sound file, played with ``feedback.command``;
- a line to the serial relay/indicator (``feedback.serial_lines``);
- a JSON notice on the local broker's ``feedback.mqtt_topic`` (a display).

The gateway also plans a local ``received`` on its own (``source: "gateway"``)
when the hub has not confirmed an alarm in time (see gateway/fallback.py).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from devices import catalogue
from devices.feedback import RESIDENT_KINDS, FeedbackCommand, FeedbackState, is_after
from devices.reading import UnknownModel
from gateway.config import DeviceConfig, FeedbackConfig

Source = Literal["hub", "gateway"]
SHOWN_MAX = 2_000  # alerts remembered; a home never has this many open at once


@dataclass(frozen=True, slots=True)
class Z2mSet:
    topic: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class Play:
    command: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RelayLine:
    url: str
    line: bytes


@dataclass(frozen=True, slots=True)
class Notice:
    topic: str
    payload: bytes


Action = Z2mSet | Play | RelayLine | Notice


@dataclass(frozen=True, slots=True)
class _Last:
    state: FeedbackState
    at: datetime


class Shown:
    """The feedback state shown per alert, bounded."""

    def __init__(self, limit: int = SHOWN_MAX) -> None:
        self._last: OrderedDict[str, _Last] = OrderedDict()
        self._limit = limit
        self.ignored = 0

    def take(self, command: FeedbackCommand) -> bool:
        """True when the command moves its alert's feedback forward (and is now shown)."""
        last = self._last.get(command.alert_id)
        if last is not None and (not is_after(command.state, last.state) or command.at < last.at):
            self.ignored += 1
            return False
        self._last[command.alert_id] = _Last(command.state, command.at)
        self._last.move_to_end(command.alert_id)
        while len(self._last) > self._limit:
            self._last.popitem(last=False)
        return True

    def state(self, alert_id: str) -> FeedbackState | None:
        last = self._last.get(alert_id)
        return last.state if last is not None else None


def shows_feedback(kind: str) -> bool:
    """A local ``received`` is for a resident's own alarm, never for a staff alarm."""
    return kind in RESIDENT_KINDS


def model_feedback(device: DeviceConfig | None, state: FeedbackState) -> Mapping[str, Any] | None:
    """The set payload the device's catalogue model shows for ``state``, if any."""
    if device is None or device.protocol != "z2m" or not device.model or not device.friendly_name:
        return None
    try:
        model = catalogue.lookup(device.model)
    except UnknownModel:
        return None
    return model.feedback.get(str(state))


def plan(
    state: FeedbackState,
    device_id: str,
    devices: Mapping[str, DeviceConfig],
    cfg: FeedbackConfig,
    z2m_base: str,
    *,
    source: Source = "hub",
    alert_id: str | None = None,
    expected_minutes: int | None = None,
) -> list[Action]:
    """What to do to show ``state`` for the alarm from ``device_id``."""
    actions: list[Action] = []
    targets = [device_id]
    if (shown_on := cfg.devices.get(device_id)) is not None:
        targets.append(shown_on)
    for target in targets:
        device = devices.get(target)
        payload = model_feedback(device, state)
        if device is not None and payload is not None:
            topic = f"{z2m_base.rstrip('/')}/{device.friendly_name}/set"
            actions.append(Z2mSet(topic, _json(payload)))
    sound = cfg.sounds.get(state)
    if cfg.command and sound is not None:
        actions.append(Play((*cfg.command, str(sound))))
    line = cfg.serial_lines.get(state)
    if cfg.serial_url and line is not None:
        actions.append(RelayLine(cfg.serial_url, f"{line}\n".encode()))
    if cfg.mqtt_topic:
        notice = {"state": str(state), "source": source, "alert_id": alert_id, "device": device_id,
                  "expected_minutes": expected_minutes}  # fmt: skip
        actions.append(Notice(cfg.mqtt_topic, _json(notice)))
    return actions


def _json(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()
