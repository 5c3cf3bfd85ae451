"""The stove guard line protocol ("TSG"), for a stove guard or legacy receiver on a serial line.

A documented, checksummed line protocol in NMEA framing, so the same framer
and checksum serve both (9600 8N1, ASCII, one sentence per line)::

    $TSG,ON,<power_w>*hh         stove switched on (power optional: $TSG,ON*hh)
    $TSG,OFF*hh                  stove switched off
    $TSG,CUTOFF,<reason>[,<temperature_c>]*hh
                                 the guard cut the power; reason is one of
                                 timer, temperature, absence, manual, other
    $TSG,ALARM*hh                the guard's own alarm button (legacy receivers)
    $TSG,TAMPER*hh               cover opened
    $TSG,BATT,<pct>*hh           battery low
    $TSG,HB*hh                   keep-alive (health only, no event)

``hh`` is the NMEA checksum (XOR of the bytes between ``$`` and ``*``).
"""

from __future__ import annotations

from devices.framing import sentence, split_sentence
from devices.reading import PayloadError, Reading

REASONS = ("timer", "temperature", "absence", "manual", "other")


def parse(line: str) -> Reading | None:
    """One line -> a reading; None for a keep-alive; PayloadError when bad."""
    try:
        fields = split_sentence(line.strip())
    except ValueError as exc:
        raise PayloadError("bad_checksum" if "checksum" in str(exc) else "malformed",
                           str(exc)) from exc
    if fields[0] != "TSG" or len(fields) < 2:
        raise PayloadError("malformed", f"not a TSG sentence: {line[:40]!r}")
    verb, args = fields[1], fields[2:]
    try:
        return _verb(verb, args)
    except (ValueError, IndexError) as exc:
        raise PayloadError("bad_value", f"{verb}: {exc}") from exc


def _verb(verb: str, args: list[str]) -> Reading | None:
    if verb in ("ON", "OFF"):
        power = {"power_w": float(args[0])} if args and args[0] else {}
        return Reading("stove.on" if verb == "ON" else "stove.off", power)
    if verb == "CUTOFF":
        reason = args[0] if args else "other"
        if reason not in REASONS:
            raise ValueError(f"unknown reason {reason!r}")
        data: dict[str, object] = {"reason": reason}
        if len(args) > 1 and args[1]:
            data["temperature_c"] = float(args[1])
        return Reading("stove.cutoff", data)
    if verb == "ALARM":
        return Reading("alarm.button", {})
    if verb == "TAMPER":
        return Reading("device.tamper", {})
    if verb == "BATT":
        return Reading("device.battery_low", {"battery_pct": int(args[0])})
    if verb == "HB":
        return None
    raise ValueError(f"unknown verb {verb!r}")


def encode(reading: Reading) -> str:
    d = reading.data
    match reading.kind:
        case "stove.on" | "stove.off":
            verb = "ON" if reading.kind == "stove.on" else "OFF"
            body = f"TSG,{verb}" + (f",{d['power_w']:g}" if "power_w" in d else "")
        case "stove.cutoff":
            body = f"TSG,CUTOFF,{d.get('reason', 'other')}"
            if "temperature_c" in d:
                body += f",{d['temperature_c']:g}"
        case "alarm.button":
            body = "TSG,ALARM"
        case "device.tamper":
            body = "TSG,TAMPER"
        case "device.battery_low":
            body = f"TSG,BATT,{d['battery_pct']}"
        case _:
            raise ValueError(f"the stove guard cannot send {reading.kind}")
    return sentence(body)


def keepalive() -> str:
    return sentence("TSG,HB")
