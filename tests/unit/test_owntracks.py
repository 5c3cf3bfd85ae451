"""OwnTracks location and transition messages (literal, malformed, round trip)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from devices import owntracks
from devices.reading import PayloadError, Reading
from simulators.emulate.owntracks import message

LOCATION = (b'{"_type":"location","tid":"jo","lat":59.9139,"lon":10.7522,"acc":12,'
            b'"alt":20,"batt":64,"vel":4,"tst":1763900000,"conn":"m"}')
TRANSITION = (b'{"_type":"transition","event":"leave","desc":"home","tst":1763900100,'
              b'"wtst":1700000000,"lat":59.9,"lon":10.7,"acc":20,"t":"c","tid":"jo"}')


def test_literal_location() -> None:
    [r] = owntracks.parse(LOCATION)
    assert r.kind == "gps.position"
    assert r.data == {"lat": 59.9139, "lon": 10.7522, "accuracy_m": 12.0, "speed_mps": 1.11}
    assert r.at == datetime.fromtimestamp(1763900000, UTC)


def test_low_battery_is_reported_with_the_position() -> None:
    raw = json.loads(LOCATION)
    raw["batt"] = 9
    kinds = [r.kind for r in owntracks.parse(json.dumps(raw))]
    assert kinds == ["gps.position", "device.battery_low"]


def test_literal_transition() -> None:
    assert owntracks.parse(TRANSITION) == [
        Reading("geofence.exit", {"zone": "home"}, at=datetime.fromtimestamp(1763900100, UTC))]


@pytest.mark.parametrize("raw", [b'{"_type":"waypoint","desc":"x"}', b'{"_type":"lwt","tst":1}',
                                 b'{"_type":"card"}'])
def test_other_types_give_nothing(raw: bytes) -> None:
    assert owntracks.parse(raw) == []


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"_type":"location","lat":"59.9","lon":10.7,"tst":1}', "bad_value"),
        (b'{"_type":"location","lon":10.7,"tst":1}', "missing_field"),
        (b'{"_type":"location","lat":95,"lon":10.7,"tst":1}', "bad_value"),
        (b'{"_type":"transition","event":"inside","desc":"home","tst":1}', "bad_value"),
        (b'{"_type":"transition","event":"enter","tst":1}', "missing_field"),
        (b"[1,2]", "malformed"),
        (b"{", "malformed"),
    ],
)
def test_malformed(raw: bytes, reason: str) -> None:
    with pytest.raises(PayloadError) as info:
        owntracks.parse(raw)
    assert info.value.reason == reason


@pytest.mark.parametrize(
    "reading",
    [
        Reading("gps.position", {"lat": 60.1, "lon": 5.3, "accuracy_m": 8.0, "speed_mps": 1.5},
                at=datetime(2026, 11, 23, 3, 0, tzinfo=UTC)),
        Reading("geofence.enter", {"zone": "dinner place"}, at=datetime(2026, 11, 23, tzinfo=UTC)),
        Reading("geofence.exit", {"zone": "home"}, at=datetime(2026, 11, 23, tzinfo=UTC)),
    ],
    ids=lambda r: r.kind,
)
def test_round_trip_with_the_emulator(reading: Reading) -> None:
    assert owntracks.parse(message(reading)) == [reading]
