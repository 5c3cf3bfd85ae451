"""From a raw input to admitted readings: look up the device, convert, check consent.

No I/O: the adapters hand in (source, key, bytes) and a ``now``; the pipeline
answers with the readings that may leave the home, and counts the rest.
Per-device state (the previous Zigbee2MQTT payload, for edge detection) and
the device health report live here too.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from devices import catalogue, nmea, owntracks, stoveguard
from devices.reading import PayloadError, Reading, UnknownModel
from gateway.config import DeviceConfig
from rules.consent import LegalBasis, basis_from_json, check, index_bases

log = logging.getLogger("trygg.gateway")


def _hide(name: str) -> str:
    """Friendly names and OwnTracks topics may hold a person's name: report a digest."""
    return hashlib.sha256(name.encode()).hexdigest()[:12]


@dataclass
class Health:
    last_seen: datetime | None = None
    battery_pct: int | None = None
    link_quality: int | None = None
    battery_low: bool | None = None
    online: bool | None = None

    def as_json(self) -> dict[str, Any]:
        return {"last_seen": self.last_seen.isoformat() if self.last_seen else None,
                "battery_pct": self.battery_pct, "battery_low": self.battery_low,
                "link_quality": self.link_quality, "online": self.online}


@dataclass
class Pipeline:
    devices: list[DeviceConfig]
    bases_json: list[dict[str, Any]]
    tz: ZoneInfo
    rejected: Counter[str] = field(default_factory=Counter)  # reason -> count
    consent_dropped: Counter[str] = field(default_factory=Counter)  # reason -> count
    unknown: set[str] = field(default_factory=set)  # unknown models / names, reported
    health: dict[str, Health] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.configure(self.devices, self.bases_json)
        self._previous: dict[str, dict[str, Any]] = {}
        self.dirty: dict[str, dict[str, Any]] = {}  # states changed since take_dirty()

    def restore(self, states: dict[str, str]) -> None:
        """Load the states committed with the outbox (see :meth:`take_dirty`)."""
        for device, raw in states.items():
            with contextlib.suppress(ValueError):
                self._previous[device] = json.loads(raw)

    def take_dirty(self) -> dict[str, str]:
        """Device states to commit with this batch's rows; then forgotten."""
        out = {k: json.dumps(v, separators=(",", ":")) for k, v in self.dirty.items()}
        self.dirty.clear()
        return out

    def _remember(self, device_id: str, state: dict[str, Any]) -> None:
        self._previous[device_id] = state
        self.dirty[device_id] = state

    def configure(self, devices: list[DeviceConfig], bases_json: list[dict[str, Any]]) -> None:
        self.devices = devices
        self.by_id = {d.id: d for d in devices}
        self.by_name = {d.friendly_name: d for d in devices if d.protocol == "z2m"}
        self.by_topic = {d.topic: d for d in devices if d.protocol == "owntracks"}
        bases: list[LegalBasis] = []
        for raw in bases_json:
            try:
                bases.append(basis_from_json(raw))
            except (ValueError, TypeError, KeyError) as exc:
                self.rejected["bad_basis"] += 1
                log.error("legal basis ignored", extra={"reason": str(exc)})
        self.bases = index_bases(bases)
        for d in devices:
            self.health.setdefault(d.id, Health())

    # --- inputs ----------------------------------------------------------------

    def z2m(self, name: str, raw: bytes, now: datetime) -> list[tuple[DeviceConfig, Reading]]:
        device = self.by_name.get(name)
        if device is None:
            self._unknown(f"z2m:{_hide(name)}")
            return []
        try:
            model = catalogue.lookup(device.model or "")
            payload = catalogue.parse_state(raw)
            readings = model.convert(payload, self._previous.get(device.id))
        except UnknownModel as exc:
            self._unknown(f"model:{exc.model}")
            return []
        except PayloadError as exc:
            return self._reject(device, exc)
        self._remember(device.id, dict(payload))
        h = self._seen(device.id, now)
        for key, value in catalogue.health(payload).items():
            setattr(h, key, value)
        if device.door != "entrance":
            readings = [Reading(r.kind, {**r.data, "door": device.door}, r.at)
                        if r.kind.startswith("door.") else r for r in readings]
        return self.admit(device, readings, now)

    def z2m_availability(self, name: str, raw: bytes) -> None:
        device = self.by_name.get(name)
        if device is None:
            return
        try:
            self.health[device.id].online = catalogue.parse_availability(raw)
        except PayloadError as exc:
            self._reject(device, exc)

    def owntracks(self, topic: str, raw: bytes, now: datetime
                  ) -> list[tuple[DeviceConfig, Reading]]:
        device = self.by_topic.get(topic)
        if device is None:
            self._unknown(f"owntracks:{_hide(topic)}")
            return []
        try:
            readings = owntracks.parse(raw)
        except PayloadError as exc:
            return self._reject(device, exc)
        self._seen(device.id, now)
        return self.admit(device, self._fresh(device.id, readings), now)

    def _fresh(self, device_id: str, readings: list[Reading]) -> list[Reading]:
        """OwnTracks fixes arrive in ``tst`` order; one not newer than the last of its kind
        is a redelivery (after a crash) or a replay: counted as ``stale``, not sent twice."""
        last = self._previous.get(device_id, {})
        out = []
        for r in readings:
            stamp = r.at.timestamp() if r.at else None
            if stamp is not None and stamp <= last.get(r.kind, float("-inf")):
                self.rejected["stale"] += 1
                continue
            out.append(r)
            if stamp is not None:
                last = {**last, r.kind: stamp}
        if out:
            self._remember(device_id, last)
        return out

    def serial(self, device_id: str, line: str, now: datetime
               ) -> list[tuple[DeviceConfig, Reading]]:
        device = self.by_id[device_id]
        try:
            parse = nmea.parse if device.protocol == "nmea" else stoveguard.parse
            reading = parse(line)
        except PayloadError as exc:
            return self._reject(device, exc)
        self._seen(device_id, now)
        return [] if reading is None else self.admit(device, [reading], now)

    # --- consent -----------------------------------------------------------------

    def admit(self, device: DeviceConfig, readings: list[Reading], now: datetime
              ) -> list[tuple[DeviceConfig, Reading]]:
        """Only readings with a legal basis leave; the fact of a drop is counted, nothing else."""
        out = []
        for r in readings:
            at = r.at or now
            bases = self.bases.get((device.resident_id, r.kind), ()) if device.resident_id else ()
            verdict = check(bases, device.resident_id, r.kind, at, self.tz)
            if verdict.allowed:
                out.append((device, r))
            else:
                self.consent_dropped[verdict.reason] += 1
        return out

    # --- bookkeeping --------------------------------------------------------------

    def _seen(self, device_id: str, now: datetime) -> Health:
        h = self.health.setdefault(device_id, Health())
        h.last_seen = now
        return h

    def _reject(self, device: DeviceConfig, exc: PayloadError
                ) -> list[tuple[DeviceConfig, Reading]]:
        self.rejected[exc.reason] += 1
        log.warning("payload rejected", extra={"device": device.id, "reason": exc.reason,
                                               "detail": exc.detail[:200]})
        return []

    def _unknown(self, what: str) -> None:
        if what not in self.unknown:
            log.warning("unknown device or model, reported and not guessed",
                        extra={"what": what[:100]})
        self.unknown.add(what)
