"""Enforcement on ingest: drop an event no basis allows, before the rules and the store.

Defence in depth behind the gateway's own filter (same :func:`rules.consent.check`).
The hub resolves ``device -> placement -> resident`` and asks the check with the
event's own time (windows and validity are about when the sensor saw something)
and the site's time zone; a withdrawal takes effect at once, so an event still in
a gateway's outbox when consent was withdrawn is dropped as well.

Only the fact of a drop is kept: ``trygg_consent_dropped_total{reason, site, kind}``
(no resident, no device, no content) and a debug log line with the same labels.
One dict lookup per event: the bases are indexed by ``(resident_id, kind)``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry, Counter

from devices.events import EventBase
from devices.localtime import DEFAULT_ZONE, zone
from devices.registry import Placement
from hub.consent.locate import LocateRequests
from rules.consent import LegalBasis, Verdict, check, index_bases

log = logging.getLogger("trygg.consent")


class ConsentGate:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.dropped = Counter(
            "trygg_consent_dropped_total",
            "Events dropped on ingest because no legal basis allows them (content not kept)",
            ["reason", "site", "kind"],
            registry=registry,
        )
        self._index: dict[tuple[str, str], tuple[LegalBasis, ...]] = {}
        self._zones: dict[str, ZoneInfo] = {}
        self._default = zone(DEFAULT_ZONE)
        # Open locate requests (API) that hold GPS positions from retention (jobs).
        self.locates = LocateRequests()

    def load(self, bases: Iterable[LegalBasis], zones: Mapping[str, str]) -> None:
        """Swap in a new set of bases (after any change to the registry); atomic for readers."""
        parsed = {}
        for site, name in zones.items():
            try:
                parsed[site] = zone(name)
            except ValueError:
                log.error("site has an unknown time zone; using the default", extra={"site": site})
        self._zones = parsed
        self._index = index_bases(bases)

    def bases_for(self, resident_id: str, kind: str) -> tuple[LegalBasis, ...]:
        """The bases of ``resident_id`` covering ``kind`` (for the relatives step's check)."""
        return self._index.get((resident_id, kind), ())

    def zone_of(self, site: str) -> ZoneInfo:
        return self._zones.get(site, self._default)

    def verdict(self, event: EventBase, placement: Placement | None, now: datetime) -> Verdict:
        resident = placement.resident_id if placement is not None else None
        bases = self._index.get((resident, event.kind), ()) if resident is not None else ()
        tz = self._zones.get(event.site, self._default)
        verdict = check(bases, resident, event.kind, event.ts, tz)
        if verdict.allowed and verdict.basis_id is not None:
            basis = next(b for b in bases if b.id == verdict.basis_id)
            if basis.withdrawn_at is not None and basis.withdrawn_at <= now:
                # Sent before the withdrawal, arriving after it: withdrawal is at once.
                others = [b for b in bases if b.id != basis.id]
                later = check(others, resident, event.kind, event.ts, tz)
                return later if later.allowed else Verdict(False, "withdrawn", basis.id)
        return verdict

    def admit(self, event: EventBase, placement: Placement | None, now: datetime) -> bool:
        """True to go on; False: counted and to be dropped (acked, never stored)."""
        verdict = self.verdict(event, placement, now)
        if verdict.allowed:
            return True
        self.dropped.labels(verdict.reason, event.site, event.kind).inc()
        log.debug(
            "event dropped: no legal basis allows it",
            extra={"reason": verdict.reason, "site": event.site, "kind": event.kind},
        )
        return False
