"""NMEA 0183, the stove guard line protocol and the line framer (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from devices import nmea, stoveguard
from devices.framing import LineFramer, checksum, sentence
from devices.reading import PayloadError, Reading

# Literal sentences from a receiver (checksums as the device sends them).
GGA = "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47"
RMC = "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A"


def test_literal_gga() -> None:
    r = nmea.parse(GGA)
    assert r is not None and r.kind == "gps.position"
    assert r.data == {"lat": pytest.approx(48.1173), "lon": pytest.approx(11.5166667),
                      "accuracy_m": 4.5}


def test_literal_rmc() -> None:
    r = nmea.parse(RMC)
    assert r is not None
    assert r.data["lat"] == pytest.approx(48.1173)
    assert r.data["speed_mps"] == pytest.approx(22.4 * 0.514444, abs=0.01)
    assert r.at == datetime(1994, 3, 23, 12, 35, 19, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (GGA[:-2] + "00", "bad_checksum"),
        (GGA.split("*")[0], "malformed"),  # no checksum at all
        ("GPGGA,1*00", "malformed"),
        (sentence("GPGGA,123519,,,,,0,00,99.9,,,,,,").strip(), "no_fix"),
        (sentence("GPRMC,123519,V,,,,,,,230394,,").strip(), "no_fix"),
        (sentence("GPGGA,123519,48x7.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,").strip(),
         "bad_value"),
    ],
)
def test_bad_nmea(line: str, reason: str) -> None:
    with pytest.raises(PayloadError) as info:
        nmea.parse(line)
    assert info.value.reason == reason


def test_other_sentences_are_ignored() -> None:
    assert nmea.parse(sentence("GPGSV,3,1,11,03,03,111,00").strip()) is None


@given(st.floats(-89.9, 89.9), st.floats(-179.9, 179.9), st.floats(0.5, 20))
@example(0.0, 1.9999999999999964, 1.0)  # minutes round up to 60: must carry into degrees
@example(-59.99999999999, 179.999999999, 1.0)
def test_nmea_round_trip(lat: float, lon: float, hdop: float) -> None:
    at = datetime(2026, 11, 23, 2, 3, 4, tzinfo=UTC)
    gga = nmea.parse(nmea.encode_gga(lat, lon, hdop, at))
    rmc = nmea.parse(nmea.encode_rmc(lat, lon, 1.5, at, talker="GN"))
    assert gga is not None and rmc is not None
    for r in (gga, rmc):
        assert r.data["lat"] == pytest.approx(lat, abs=1e-5)
        assert r.data["lon"] == pytest.approx(lon, abs=1e-5)
    assert gga.data["accuracy_m"] == pytest.approx(round(hdop, 1) * 5, abs=0.05)
    assert rmc.at == at


STOVE = [
    Reading("stove.on", {"power_w": 1800.0}),
    Reading("stove.on"),
    Reading("stove.off"),
    Reading("stove.cutoff", {"reason": "temperature", "temperature_c": 310.0}),
    Reading("stove.cutoff", {"reason": "timer"}),
    Reading("alarm.button"),
    Reading("device.tamper"),
    Reading("device.battery_low", {"battery_pct": 7}),
]


@pytest.mark.parametrize("reading", STOVE, ids=lambda r: r.kind)
def test_stoveguard_round_trip(reading: Reading) -> None:
    assert stoveguard.parse(stoveguard.encode(reading)) == reading


def test_stoveguard_literal_and_keepalive() -> None:
    assert stoveguard.parse("$TSG,ON,2000*" + checksum("TSG,ON,2000")) == Reading(
        "stove.on", {"power_w": 2000.0})
    assert stoveguard.parse(stoveguard.keepalive()) is None


@pytest.mark.parametrize(
    "body", ["TSG,CUTOFF,melted", "TSG,ON,lots", "TSG,DANCE", "XYZ,ON", "TSG", "TSG,BATT"])
def test_stoveguard_bad_lines(body: str) -> None:
    with pytest.raises(PayloadError):
        stoveguard.parse(sentence(body))


def test_stoveguard_cannot_send_gps() -> None:
    with pytest.raises(ValueError):
        stoveguard.encode(Reading("gps.position", {"lat": 1.0, "lon": 1.0, "accuracy_m": 1.0}))


LINES = [GGA, RMC, stoveguard.encode(STOVE[0]).strip(), stoveguard.keepalive().strip()]


@given(st.lists(st.integers(1, 40), min_size=1, max_size=60))
def test_framer_survives_any_chunking(cuts: list[int]) -> None:
    stream = "".join(line + "\r\n" for line in LINES).encode()
    framer = LineFramer()
    out: list[str] = []
    i = 0
    for n in cuts * 100:
        if i >= len(stream):
            break
        out += framer.feed(stream[i:i + n])
        i += n
    out += framer.feed(stream[i:])
    assert out == LINES


def test_framer_one_byte_at_a_time() -> None:
    framer = LineFramer()
    out: list[str] = []
    for b in (GGA + "\n").encode():
        out += framer.feed(bytes([b]))
    assert out == [GGA]


def test_framer_drops_noise_and_overlong_lines_and_resyncs() -> None:
    framer = LineFramer(max_line=100)
    noise = b"\x00\xff garbage" + b"x" * 500 + b"\n"
    out = framer.feed(noise + b"junk$" + GGA[1:].encode() + b"\r\npartial-no-dollar\n" + RMC.encode())
    assert out == [GGA]
    assert framer.discarded == 3  # the overlong line, the leading junk, the line with no $
    assert framer.feed(b"\n") == [RMC]  # the partial line completes later
