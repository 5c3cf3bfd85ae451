"""The gateway clock's skew against the hub, measured NTP-style over MQTT.

Every heartbeat the gateway publishes ``{"t0": <gateway time>}`` on
``trygg/v1/{site}/{gateway}/time/request``; the hub answers on
``trygg/v1/{site}/{gateway}/time`` with ``{"t0": <echoed>, "hub": <hub time>}``
(hub/gateway_config.py). With ``t1`` the gateway's time on receipt:
``offset = hub - (t0 + t1) / 2`` (positive: the gateway is behind the hub),
``rtt = t1 - t0``. The estimate is off by at most half the round trip; the
report carries both so the hub can judge. Replies not answering our last
request (stale, retained or forged ``t0``) are ignored.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any


class SkewProbe:
    def __init__(self) -> None:
        self._sent: str | None = None
        self.offset_ms: float | None = None
        self.rtt_ms: float | None = None
        self.measured_at: datetime | None = None

    def request(self, now: datetime) -> bytes:
        self._sent = now.isoformat()
        return json.dumps({"t0": self._sent}).encode()

    def reply(self, payload: bytes, now: datetime) -> bool:
        try:
            d = json.loads(payload)
            t0_raw, hub_raw = d["t0"], d["hub"]
            if t0_raw != self._sent:
                return False
            t0 = datetime.fromisoformat(t0_raw)
            hub = datetime.fromisoformat(hub_raw)
        except (ValueError, KeyError, TypeError):
            return False
        rtt = (now - t0).total_seconds()
        if rtt < 0 or hub.tzinfo is None:
            return False
        mid = t0 + (now - t0) / 2
        self.offset_ms = round((hub - mid).total_seconds() * 1000, 1)
        self.rtt_ms = round(rtt * 1000, 1)
        self.measured_at = now
        return True

    def report(self) -> dict[str, Any]:
        return {"skew_ms": self.offset_ms, "rtt_ms": self.rtt_ms,
                "measured_at": self.measured_at.isoformat() if self.measured_at else None}
