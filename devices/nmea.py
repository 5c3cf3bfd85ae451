"""NMEA 0183 GPS: GGA and RMC sentences -> ``gps.position`` readings, and back.

Any talker id is read (``GP``, ``GN``, ``GL``, ...). A sentence with a bad
checksum, no fix (GGA quality 0, RMC status ``V``) or empty coordinates gives
no reading: the receiver says it does not know where it is. Accuracy: NMEA has
no accuracy field; we use ``HDOP x 5 m`` (a typical user range error), and
RMC alone, which has no HDOP, reports ``RMC_ACCURACY_M``. Speed comes from RMC
(knots -> m/s). Time: GGA carries only time of day, RMC date and time; RMC's
instant becomes the reading's ``at``; GGA uses the gateway's receive time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from devices.framing import sentence, split_sentence
from devices.reading import PayloadError, Reading

UERE_M = 5.0
RMC_ACCURACY_M = 25.0
KNOT_MPS = 0.514444


def _coord(value: str, hemi: str, degree_digits: int) -> float:
    if not value or hemi not in ("N", "S", "E", "W"):
        raise PayloadError("no_fix", "empty coordinate")
    try:
        deg = int(value[:degree_digits])
        minutes = float(value[degree_digits:])
    except ValueError as exc:
        raise PayloadError("bad_value", f"coordinate {value!r}") from exc
    if minutes >= 60:
        raise PayloadError("bad_value", f"coordinate minutes {value!r}")
    out = deg + minutes / 60
    return round(-out if hemi in ("S", "W") else out, 7)


def _float(value: str, name: str) -> float:
    try:
        return float(value)
    except ValueError as exc:
        raise PayloadError("bad_value", f"{name} {value!r}") from exc


def parse(line: str) -> Reading | None:
    """One NMEA line -> a reading, None for sentences we do not use, PayloadError if bad."""
    try:
        fields = split_sentence(line.strip())
    except ValueError as exc:
        raise PayloadError("bad_checksum" if "checksum" in str(exc) else "malformed",
                           str(exc)) from exc
    kind = fields[0][2:] if len(fields[0]) == 5 else ""
    if kind == "GGA" and len(fields) >= 9:
        if fields[6] in ("", "0"):
            raise PayloadError("no_fix", "GGA quality 0")
        hdop = _float(fields[8], "hdop") if fields[8] else 99.0
        return Reading("gps.position", {
            "lat": _coord(fields[2], fields[3], 2),
            "lon": _coord(fields[4], fields[5], 3),
            "accuracy_m": round(hdop * UERE_M, 1),
        })
    if kind == "RMC" and len(fields) >= 10:
        if fields[2] != "A":
            raise PayloadError("no_fix", "RMC status V")
        data = {
            "lat": _coord(fields[3], fields[4], 2),
            "lon": _coord(fields[5], fields[6], 3),
            "accuracy_m": RMC_ACCURACY_M,
        }
        if fields[7]:
            data["speed_mps"] = round(_float(fields[7], "speed") * KNOT_MPS, 2)
        return Reading("gps.position", data, at=_rmc_time(fields[1], fields[9]))
    return None


def _rmc_time(hms: str, dmy: str) -> datetime | None:
    try:
        t = time(int(hms[0:2]), int(hms[2:4]), int(hms[4:6]))
        yy = int(dmy[4:6])
        # Two-digit year, the usual NMEA pivot: 80-99 are the 1900s.
        d = date((1900 if yy >= 80 else 2000) + yy, int(dmy[2:4]), int(dmy[0:2]))
    except (ValueError, IndexError):
        return None
    return datetime.combine(d, t, UTC)


def _dm(value: float, degree_digits: int) -> tuple[str, bool]:
    neg = value < 0
    value = abs(value)
    # Round the whole angle to 1/10000 minute first: 1.99999999 degrees is 002 00.0000,
    # never 001 60.0000 (which a strict reader, ours included, refuses).
    total = round(value * 600_000)
    deg, rest = divmod(total, 600_000)
    return f"{deg:0{degree_digits}d}{rest // 10_000:02d}.{rest % 10_000:04d}", neg


def encode_gga(lat: float, lon: float, hdop: float, at: datetime, talker: str = "GP") -> str:
    la, south = _dm(lat, 2)
    lo, west = _dm(lon, 3)
    body = (f"{talker}GGA,{at:%H%M%S}.00,{la},{'S' if south else 'N'},{lo},"
            f"{'W' if west else 'E'},1,08,{hdop:.1f},100.0,M,40.0,M,,")
    return sentence(body)


def encode_rmc(lat: float, lon: float, speed_mps: float, at: datetime, talker: str = "GP") -> str:
    la, south = _dm(lat, 2)
    lo, west = _dm(lon, 3)
    knots = speed_mps / KNOT_MPS
    body = (f"{talker}RMC,{at:%H%M%S}.00,A,{la},{'S' if south else 'N'},{lo},"
            f"{'W' if west else 'E'},{knots:.2f},0.0,{at:%d%m%y},,,A")
    return sentence(body)
