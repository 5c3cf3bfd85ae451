"""The relatives registry as the routing shell sees it: cached from the store, reloaded
after every change through the API or the CLI, and asked who may be told of an alert.

The legal bases come from the hub's consent gate (reloaded after every change to a
basis), so a withdrawal is seen by the next check of a running relatives step.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hub.alerts import Alert
from hub.relatives.disclose import Reach, reach
from hub.relatives.model import Relative

log = logging.getLogger("trygg.relatives")


@dataclass(frozen=True, slots=True)
class ReplySettings:
    secret: bytes  # signs reply tokens (hub.relatives.token)
    ttl: timedelta  # how long a reply token is good for
    base_url: str  # where relatives (or their SMS gateway) reach the hub's API


class RelativesBook:
    def __init__(self, hub: Any, reply: ReplySettings) -> None:
        self.hub = hub
        self.reply = reply
        self._by_resident: dict[str, tuple[Relative, ...]] = {}

    async def reload(self) -> None:
        rows: Sequence[Relative] = await self.hub.run_store(self.hub.store.list_relatives)
        by: dict[str, list[Relative]] = {}
        for r in rows:
            by.setdefault(r.resident_id, []).append(r)
        self._by_resident = {k: tuple(v) for k, v in by.items()}
        log.info("relatives loaded", extra={"relatives": len(rows)})

    def get(self, resident_id: str, relative_id: str) -> Relative | None:
        return next((r for r in self._by_resident.get(resident_id, ()) if r.id == relative_id),
                    None)  # fmt: skip

    def reach(self, alert: Alert, now: datetime) -> Reach:
        """Who of the alert's resident's relatives may be told now (hub.relatives.disclose)."""
        if alert.resident_id is None:
            return Reach()
        gate = self.hub.consent
        bases = gate.bases_for(alert.resident_id, alert.kind)
        mine = self._by_resident.get(alert.resident_id, ())
        return reach(mine, bases, alert.resident_id, alert.kind, now, gate.zone_of(alert.site))

    def reach_all(
        self, alerts: Sequence[Alert], now: datetime, wanted: Callable[[Alert], bool]
    ) -> dict[str, Reach]:
        return {a.id: self.reach(a, now) for a in alerts if wanted(a)}
