"""The Zigbee2MQTT catalogue: every definition walked, literal payloads, round trips."""

from __future__ import annotations

import pytest

from devices import catalogue
from devices.events import KINDS
from devices.reading import PayloadError, Reading, UnknownModel


def sample(kind: str) -> list[Reading]:
    """Readings of ``kind`` a definition might produce (data variants included)."""
    return {
        "door.closed": [Reading("door.closed", {"door": "entrance"})],
        "door.opened": [Reading("door.opened", {"door": "entrance"})],
        "water.leak": [Reading("water.leak")],
        "smoke.detected": [Reading("smoke.detected"), Reading("smoke.detected", {"test": True})],
        "room.motion": [Reading("room.motion")],
        "bed.enter": [Reading("bed.enter")],
        "bed.exit": [Reading("bed.exit")],
        "device.tamper": [Reading("device.tamper")],
        "device.battery_low": [Reading("device.battery_low"),
                               Reading("device.battery_low", {"battery_pct": 9})],
        "alarm.button": [Reading("alarm.button", {"press": "single"})],
        "fall.detected": [Reading("fall.detected")],
    }[kind]


@pytest.mark.parametrize("model", catalogue.MODELS, ids=lambda m: m.model)
def test_every_definition_is_sound_and_round_trips(model: catalogue.Model) -> None:
    assert model.vendor and model.description
    # A model reads something, or shows a resident's feedback (a lamp reads nothing).
    assert model.capabilities or model.feedback
    assert model.kinds <= KINDS
    assert catalogue.lookup(model.model) is model
    fields = [f for c in model.capabilities for f in c.fields]
    assert len(fields) == len(set(fields)), "two capabilities read the same field"
    for kind in model.kinds:
        for reading in sample(kind):
            if kind == "alarm.button" and reading.data.get("press") != "single":
                continue
            payload = model.encode(reading)
            assert model.convert(payload, None) == [reading], (model.model, payload)
    # An empty state message says nothing.
    assert model.convert({}, None) == []


def test_models_are_unique() -> None:
    names = [m.model for m in catalogue.MODELS]
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    ("model", "payload", "previous", "expected"),
    [
        # contact: true is CLOSED. The classic mistake is the other way round.
        ("MCCGQ11LM", {"contact": True, "battery": 100}, None, [("door.closed", {"door": "entrance"})]),
        ("MCCGQ11LM", {"contact": False, "battery": 100}, None, [("door.opened", {"door": "entrance"})]),
        # The bridge republishes the cached state on a battery report: no new door event.
        ("MCCGQ11LM", {"contact": False, "battery": 99}, {"contact": False, "battery": 100}, []),
        ("MCCGQ11LM", {"contact": True, "linkquality": 3}, {"contact": False}, [("door.closed", {"door": "entrance"})]),
        ("SJCGQ11LM", {"water_leak": True, "battery": 80, "voltage": 3005}, None, [("water.leak", {})]),
        ("SJCGQ11LM", {"water_leak": False}, {"water_leak": True}, []),
        ("SJCGQ11LM", {"water_leak": True}, {"water_leak": True}, []),
        ("HS1SA", {"smoke": True, "battery_low": False, "tamper": False}, None, [("smoke.detected", {})]),
        ("HS1SA", {"smoke": True, "test": True}, None, [("smoke.detected", {"test": True})]),
        ("HS1SA", {"smoke": False, "tamper": True}, {"smoke": False, "tamper": False}, [("device.tamper", {})]),
        ("HS1SA", {"smoke": False, "battery_low": True}, {"smoke": False, "battery_low": False}, [("device.battery_low", {})]),
        ("RTCGQ11LM", {"occupancy": True, "illuminance": 12}, {"occupancy": False}, [("room.motion", {})]),
        ("RTCGQ11LM", {"occupancy": False}, {"occupancy": True}, []),
        ("RTCZCGQ11LM", {"presence": True}, {"presence": False}, [("bed.enter", {})]),
        ("RTCZCGQ11LM", {"presence": False}, {"presence": True}, [("bed.exit", {})]),
        ("WXKG11LM", {"action": "single", "battery": 100}, None, [("alarm.button", {"press": "single"})]),
        ("WXKG11LM", {"action": "double"}, None, [("alarm.button", {"press": "double"})]),
        ("WXKG11LM", {"action": "hold"}, None, [("alarm.button", {"press": "long"})]),
        ("WXKG11LM", {"action": "release"}, None, []),
        ("WXKG11LM", {"action": ""}, None, []),  # the empty action the bridge sends after one
        ("WXKG11LM", {"click": "single"}, None, [("alarm.button", {"press": "single"})]),  # legacy
        ("WXKG11LM", {"action": "triple"}, None, [("alarm.button", {"press": "double"})]),
        ("WXKG11LM", {"click": "long"}, None, [("alarm.button", {"press": "long"})]),  # legacy hold
        # heiman.ts: command_status_change_notification_action {0 off, 1 single, 2 double, 3 hold}
        ("HS1EB/HS1EB-E", {"action": "single", "battery": 90}, None, [("alarm.button", {"press": "single"})]),
        ("HS1EB/HS1EB-E", {"action": "double"}, None, [("alarm.button", {"press": "double"})]),
        ("HS1EB/HS1EB-E", {"action": "hold"}, None, [("alarm.button", {"press": "long"})]),
        ("HS1EB/HS1EB-E", {"action": "off"}, None, []),  # zone status back to 0: not a press
        ("HS1EB/HS1EB-E", {"action": "emergency"}, None, []),  # not a value this model sends
        ("SNZB-04", {"contact": False, "tamper": False, "battery_low": False}, None, [("door.opened", {"door": "entrance"})]),
        ("DJT11LM", {"action": "drop", "battery": 90}, None, [("fall.detected", {})]),
        ("DJT11LM", {"action": "vibration"}, None, []),
        ("DJT11LM", {"action": "tilt", "angle_x": 3}, None, []),
        # Battery: one event when it drops below 15 %, not one per report.
        ("MCCGQ11LM", {"battery": 12, "voltage": 2800}, {"battery": 16}, [("device.battery_low", {"battery_pct": 12, "voltage_mv": 2800})]),
        ("MCCGQ11LM", {"battery": 11}, {"battery": 12}, []),
    ],
)
def test_literal_payloads(model: str, payload: dict[str, object], previous: dict[str, object] | None,
                          expected: list[tuple[str, dict[str, object]]]) -> None:
    got = catalogue.lookup(model).convert(payload, previous)
    assert [(r.kind, r.data) for r in got] == expected


@pytest.mark.parametrize(
    ("model", "payload"),
    [
        ("MCCGQ11LM", {"contact": "false"}),  # a string is not a boolean: not guessed
        ("SJCGQ11LM", {"water_leak": 1}),
        ("WXKG11LM", {"action": 3}),
        ("MCCGQ11LM", {"battery": "low"}),
        ("HS1SA", {"battery_low": "yes"}),
    ],
)
def test_malformed_payloads_are_rejected(model: str, payload: dict[str, object]) -> None:
    with pytest.raises(PayloadError) as info:
        catalogue.lookup(model).convert(payload, None)
    assert info.value.reason == "bad_value"


def test_unknown_models_are_reported_not_guessed() -> None:
    with pytest.raises(UnknownModel):
        catalogue.lookup("TS0601_mystery")


@pytest.mark.parametrize("raw", [b"[]", b"not json", b"\xff\xfe", b"42"])
def test_state_must_be_a_json_object(raw: bytes) -> None:
    with pytest.raises(PayloadError):
        catalogue.parse_state(raw)


@pytest.mark.parametrize(
    ("raw", "online"),
    [(b'{"state":"online"}', True), (b'{"state":"offline"}', False), (b"online", True),
     (b"offline", False), (b" online\n", True)],
)
def test_availability_current_and_legacy(raw: bytes, online: bool) -> None:
    assert catalogue.parse_availability(raw) is online
    assert catalogue.parse_availability(catalogue.encode_availability(online)) is online
    assert catalogue.parse_availability(catalogue.encode_availability(online, legacy=True)) is online


@pytest.mark.parametrize("raw", [b'{"state":"maybe"}', b"{}", b"ONLINE", b"[1]"])
def test_bad_availability(raw: bytes) -> None:
    with pytest.raises(PayloadError):
        catalogue.parse_availability(raw)


def test_health_fields() -> None:
    assert catalogue.health({"battery": 101.4, "linkquality": 57, "contact": True}) == {
        "battery_pct": 100, "link_quality": 57}
    assert catalogue.health({"battery": True}) == {}
    assert catalogue.health({"battery_low": True, "battery": 9}) == {
        "battery_pct": 9, "battery_low": True}
    assert catalogue.health({"battery_low": "yes"}) == {}  # not a boolean: not reported
