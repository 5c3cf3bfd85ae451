"""Resident feedback at the gateway: the planner for every model and state, the
forward-only memory, the config, and the outputs (one failing never stops others)."""

from __future__ import annotations

import json
import os
import select
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from devices import catalogue
from devices.feedback import FeedbackCommand, FeedbackState
from gateway.config import DeviceConfig, FeedbackConfig, GatewayConfig
from gateway.feedback import Notice, Play, RelayLine, Shown, Z2mSet, plan, shows_feedback
from gateway.feedback_outputs import FeedbackOutputs

F = FeedbackState
AT = datetime(2026, 11, 23, 2, 13, tzinfo=UTC)
SHOWING = [m for m in catalogue.MODELS if m.feedback]
SILENT = [m for m in catalogue.MODELS if not m.feedback]


def z2m(device_id: str, model: str, name: str | None = None) -> DeviceConfig:
    return DeviceConfig(id=device_id, protocol="z2m", model=model,
                        friendly_name=name or f"fn-{device_id}")  # fmt: skip


def cmd(state: FeedbackState, at: datetime = AT, alert_id: str = "a-1") -> FeedbackCommand:
    return FeedbackCommand(id=f"c-{state}-{at.timestamp()}", alert_id=alert_id, device="btn-1",
                           event_ids=("e-1",), state=state, at=at)  # fmt: skip


# --- the catalogue says what each model can show -------------------------------------


def test_models_that_show_feedback_cover_every_state() -> None:
    assert {m.model for m in SHOWING} == {"HS2WD-E", "9290022166"}
    for model in SHOWING:
        assert set(model.feedback) == {str(s) for s in FeedbackState}, model.model
        for payload in model.feedback.values():
            json.dumps(payload)  # a set payload is plain JSON


def test_the_siren_confirms_quietly_and_stops_when_help_is_there() -> None:
    siren = catalogue.lookup("HS2WD-E").feedback
    for state in ("received", "help_coming"):
        warning = siren[state]["warning"]
        assert warning["level"] == "low" and 0 < warning["duration"] <= 2
        assert warning["mode"] in ("burglar", "fire", "emergency")
    assert siren["received"] != siren["help_coming"]  # the resident can tell them apart
    for state in ("help_arrived", "cancelled", "closed"):
        assert siren[state]["warning"]["mode"] == "stop"


def test_the_lamp_shows_distinct_colours_then_goes_off() -> None:
    lamp = catalogue.lookup("9290022166").feedback
    colours = [lamp[s]["color"]["hex"] for s in ("received", "help_coming", "help_arrived")]
    assert len(set(colours)) == 3
    assert lamp["closed"] == lamp["cancelled"] == {"state": "OFF"}


@pytest.mark.parametrize("model", SHOWING, ids=lambda m: m.model)
@pytest.mark.parametrize("state", list(FeedbackState))
def test_a_showing_model_gets_its_set_payload(model: catalogue.Model, state: FeedbackState) -> None:
    devices = {"d-1": z2m("d-1", model.model, "bedroom lamp")}
    actions = plan(state, "d-1", devices, FeedbackConfig(), "zigbee2mqtt/")
    assert actions == [Z2mSet("zigbee2mqtt/bedroom lamp/set",
                              json.dumps(model.feedback[str(state)], separators=(",", ":"),
                                         sort_keys=True).encode())]  # fmt: skip


@pytest.mark.parametrize("model", SILENT, ids=lambda m: m.model)
@pytest.mark.parametrize("state", list(FeedbackState))
def test_a_model_that_shows_nothing_gets_no_set(model: catalogue.Model, state: FeedbackState) -> None:
    devices = {"d-1": z2m("d-1", model.model)}
    assert plan(state, "d-1", devices, FeedbackConfig(), "zigbee2mqtt") == []


@pytest.mark.parametrize("state", list(FeedbackState))
def test_a_button_shows_its_feedback_on_the_lamp_by_the_bed(state: FeedbackState) -> None:
    devices = {"btn-1": z2m("btn-1", "WXKG11LM"), "lamp-1": z2m("lamp-1", "9290022166", "lamp")}
    cfg = FeedbackConfig(devices={"btn-1": "lamp-1"})
    [action] = plan(state, "btn-1", devices, cfg, "z2m")
    assert isinstance(action, Z2mSet) and action.topic == "z2m/lamp/set"


@pytest.mark.parametrize(
    "devices",
    [
        {},  # unknown device
        {"d-1": DeviceConfig(id="d-1", protocol="z2m", model="NOPE-1", friendly_name="x")},
        {"d-1": DeviceConfig(id="d-1", protocol="z2m", model="HS2WD-E")},  # no friendly name
        {"d-1": DeviceConfig(id="d-1", protocol="stoveguard", model="HS2WD-E",
                             friendly_name="x", serial_url="/dev/null")},
    ],
)
def test_nothing_to_set_without_a_usable_z2m_device(devices: dict[str, DeviceConfig]) -> None:
    assert plan(F.RECEIVED, "d-1", devices, FeedbackConfig(), "z2m") == []


def test_sound_relay_and_notice_per_state(tmp_path: Path) -> None:
    cfg = FeedbackConfig(command=["aplay", "-q"], sounds={"received": tmp_path / "r.wav"},
                         serial_url="loop://", mqtt_topic="home/feedback")  # fmt: skip
    got = plan(F.RECEIVED, "btn-1", {}, cfg, "z2m", alert_id="a-1")
    assert got[0] == Play(("aplay", "-q", str(tmp_path / "r.wav")))
    assert got[1] == RelayLine("loop://", b"ON\n")
    assert isinstance(got[2], Notice) and got[2].topic == "home/feedback"
    assert json.loads(got[2].payload) == {"state": "received", "source": "hub", "alert_id": "a-1",
                                          "device": "btn-1", "expected_minutes": None}  # fmt: skip
    # help_coming has no sound and no relay line configured: only the notice.
    coming = plan(F.HELP_COMING, "btn-1", {}, cfg, "z2m", expected_minutes=5)
    assert [type(a) for a in coming] == [Notice]
    assert json.loads(coming[0].payload)["expected_minutes"] == 5
    assert plan(F.CLOSED, "btn-1", {}, cfg, "z2m")[0] == RelayLine("loop://", b"OFF\n")


def test_the_gateways_own_received_is_marked_as_local() -> None:
    cfg = FeedbackConfig(mqtt_topic="home/feedback")
    [notice] = plan(F.RECEIVED, "btn-1", {}, cfg, "z2m", source="gateway")
    assert isinstance(notice, Notice)
    assert json.loads(notice.payload)["source"] == "gateway"


@pytest.mark.parametrize(("kind", "shows"), [("alarm.button", True), ("fall.detected", True),
                                             ("staff.alarm", False), ("smoke.detected", False)])
def test_local_received_only_for_a_residents_alarm(kind: str, shows: bool) -> None:
    assert shows_feedback(kind) is shows


# --- forward only ------------------------------------------------------------------


def test_duplicates_and_going_back_are_ignored() -> None:
    shown = Shown()
    later = AT + timedelta(seconds=30)
    assert shown.take(cmd(F.RECEIVED))
    assert not shown.take(cmd(F.RECEIVED))  # QoS 1 duplicate
    assert shown.take(cmd(F.HELP_ARRIVED, later))
    assert not shown.take(cmd(F.HELP_COMING, AT + timedelta(seconds=10)))  # late, behind
    assert shown.take(cmd(F.CLOSED, later + timedelta(seconds=1)))
    assert not shown.take(cmd(F.CANCELLED, later + timedelta(seconds=2)))
    assert shown.state("a-1") is F.CLOSED and shown.ignored == 3


def test_a_command_older_than_the_one_shown_is_stale() -> None:
    shown = Shown()
    assert shown.take(cmd(F.HELP_COMING, AT))
    assert not shown.take(cmd(F.CLOSED, AT - timedelta(seconds=1)))
    assert shown.take(cmd(F.CLOSED, AT))


def test_alerts_are_independent_and_memory_is_bounded() -> None:
    shown = Shown(limit=2)
    for n in range(3):
        assert shown.take(cmd(F.RECEIVED, alert_id=f"a-{n}"))
    assert shown.state("a-0") is None and shown.state("a-2") is F.RECEIVED


# --- config ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({"sounds": {"received": "/x.wav"}}, "command"),
        ({"sounds": {"on_the_way": "/x.wav"}, "command": ["aplay"]}, "sounds"),
        ({"devices": {"btn-1": "btn-1"}}, "itself"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_feedback_config_is_refused(raw: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        FeedbackConfig.model_validate(raw)


def test_gateway_config_has_the_commands_topic() -> None:
    cfg = GatewayConfig(site="s1", gateway="gw-1")
    assert cfg.commands_topic == "trygg/v1/s1/gw-1/commands"
    assert cfg.feedback == FeedbackConfig()


# --- outputs ---------------------------------------------------------------------------


class FakeLocal:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    def publish(self, topic: str, payload: bytes) -> None:
        self.sent.append((topic, payload))


def test_one_failing_output_never_stops_the_others(tmp_path: Path) -> None:
    local = FakeLocal()
    out = FeedbackOutputs(local)  # type: ignore[arg-type]
    marker = tmp_path / "played"
    out.carry_out([
        RelayLine("/nonexistent/tty", b"ON\n"),  # fails: no such port
        Play(("/nonexistent/player",)),  # fails: no such program
        Play(("/bin/sh", "-c", f"touch {marker}")),
        Z2mSet("z2m/lamp/set", b'{"state":"OFF"}'),
    ])  # fmt: skip
    assert out.failed == 2 and out.done == 2
    assert local.sent == [("z2m/lamp/set", b'{"state":"OFF"}')]
    for _ in range(100):
        if marker.exists():
            break
        time.sleep(0.02)
    assert marker.exists()


def test_a_relay_line_is_written_to_a_real_serial_line() -> None:
    master, slave = os.openpty()
    try:
        FeedbackOutputs(None).carry_out([RelayLine(os.ttyname(slave), b"ON\n")])
        got = b""
        while not got.endswith(b"\n"):
            ready, _, _ = select.select([master], [], [], 2)
            assert ready, f"nothing on the line: {got!r}"
            got += os.read(master, 64)
    finally:
        os.close(master)
        os.close(slave)
    assert got.replace(b"\r", b"") == b"ON\n"


def test_without_a_local_broker_a_set_fails_and_is_counted() -> None:
    out = FeedbackOutputs(None)
    out.carry_out([Z2mSet("z2m/x/set", b"{}")])
    assert out.failed == 1


def test_the_queue_runs_on_its_own_thread_and_stops() -> None:
    local = FakeLocal()
    out = FeedbackOutputs(local)  # type: ignore[arg-type]
    out.start()
    out.submit([Notice("t", b"1")])
    out.submit([])
    out.stop()
    assert local.sent == [("t", b"1")]
