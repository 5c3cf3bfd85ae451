"""What the gateways' own retained statuses last said: online, software version, when.

Filled by supervision (``hub.supervision.shell``) as statuses arrive, read by the
gateway API. In memory only: the statuses are retained, so a restarted hub has
every gateway's latest again as soon as it subscribes.
"""

from __future__ import annotations

from hub.registry.records import GatewaySighting


class GatewaySightings:
    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], GatewaySighting] = {}

    def record(self, site: str, gateway: str, sighting: GatewaySighting) -> None:
        self._seen[(site, gateway)] = sighting

    def get(self, site: str, gateway: str) -> GatewaySighting | None:
        return self._seen.get((site, gateway))

    def all(self) -> dict[tuple[str, str], GatewaySighting]:
        return dict(self._seen)
