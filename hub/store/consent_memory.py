"""The in-memory fake's legal bases, notices, audit log and retention (see consent_sqlite.py).

A mixin of :class:`hub.store.memory.MemoryStore`: it uses that class's tables
(residents, sites, events, alerts) and keeps its own in ``self._consent``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from devices.events import EventBase
from hub.alerts import Alert, Transition
from hub.audit import AuditEntry, AuditRecord, link
from hub.consent.records import BasisChange, Notice
from hub.errors import StoreError
from hub.store.base import RetentionCutoffs, RetentionResult, Site, StoredEvent
from hub.store.common import utc
from rules.consent import LegalBasis

if TYPE_CHECKING:
    from hub.store.base import Resident


@dataclass
class ConsentTables:
    bases: dict[str, LegalBasis] = field(default_factory=dict)
    changes: list[BasisChange] = field(default_factory=list)
    notices: dict[tuple[str, str, object], Notice] = field(default_factory=dict)
    audit: list[AuditRecord] = field(default_factory=list)


class MemoryConsentMixin:
    _consent: ConsentTables
    _residents: dict[str, Resident]
    _sites: dict[str, Site]
    _events: list[StoredEvent]
    _event_ids: dict[str, StoredEvent]
    _alerts: dict[str, Alert]
    _alert_by_event: dict[str, str]
    _transitions: dict[str, list[Transition]]

    # --- bases -----------------------------------------------------------------------

    def save_basis(self, basis: LegalBasis, change: BasisChange) -> None:
        if basis.resident_id not in self._residents:
            raise StoreError(f"FOREIGN KEY constraint failed: no resident {basis.resident_id!r}")
        if change.basis_id != basis.id:
            raise StoreError("the change names another basis")
        self._consent.bases[basis.id] = basis
        self._consent.changes.append(replace(change, at=utc(change.at)))

    def get_basis(self, basis_id: str) -> LegalBasis | None:
        return self._consent.bases.get(basis_id)

    def list_bases(self, resident_id: str | None = None) -> list[LegalBasis]:
        return [
            b
            for _, b in sorted(self._consent.bases.items())
            if resident_id is None or b.resident_id == resident_id
        ]

    def basis_changes(self, basis_id: str) -> list[BasisChange]:
        return [c for c in self._consent.changes if c.basis_id == basis_id]

    def add_notice(self, notice: Notice) -> bool:
        if notice.basis_id not in self._consent.bases:
            raise StoreError(f"FOREIGN KEY constraint failed: no basis {notice.basis_id!r}")
        key = (notice.basis_id, str(notice.kind), utc(notice.due_at))
        if key in self._consent.notices:
            return False
        self._consent.notices[key] = replace(
            notice, due_at=utc(notice.due_at), created_at=utc(notice.created_at)
        )
        return True

    def list_notices(self, site: str | None = None) -> list[Notice]:
        found = [n for n in self._consent.notices.values() if site is None or n.site == site]
        return sorted(found, key=lambda n: (n.due_at, n.basis_id, str(n.kind)))

    def acknowledge_notice(self, notice: Notice, by: str) -> bool:
        key = (notice.basis_id, str(notice.kind), utc(notice.due_at))
        current = self._consent.notices.get(key)
        if current is None or current.acknowledged_by is not None:
            return False
        self._consent.notices[key] = replace(current, acknowledged_by=by)
        return True

    def site_zones(self) -> dict[str, str]:
        return {site.id: site.timezone for site in self._sites.values()}

    # --- audit -----------------------------------------------------------------------

    def append_audit(self, entries: Sequence[AuditEntry]) -> list[AuditRecord]:
        out = []
        prev = self._consent.audit[-1] if self._consent.audit else None
        for entry in entries:
            prev = link(prev, replace(entry, at=utc(entry.at)))
            out.append(prev)
        self._consent.audit.extend(out)
        return out

    def audit_records(
        self, resident_id: str | None = None, after: int = 0, limit: int = 10_000
    ) -> list[AuditRecord]:
        found = [
            r
            for r in self._consent.audit
            if r.seq > after and (resident_id is None or r.entry.resident_id == resident_id)
        ]
        return found[: max(limit, 0)]

    def audit_head(self) -> tuple[int, str] | None:
        last = self._consent.audit[-1] if self._consent.audit else None
        return None if last is None else (last.seq, last.hash)

    # --- retention -------------------------------------------------------------------

    def purge(self, cutoffs: RetentionCutoffs) -> RetentionResult:
        events_before, gps_before = utc(cutoffs.events_before), utc(cutoffs.gps_before)
        alerts_before = utc(cutoffs.alerts_before)
        held = {e for a in self._alerts.values() if a.is_open for e in a.event_ids}
        gone_events = gone_gps = 0
        kept = []
        for stored in self._events:
            event = stored.event
            if event.id in held:
                kept.append(stored)
                continue
            if event.ts < events_before or _stricter(cutoffs, event):
                gone_events += 1
            elif (
                event.kind == "gps.position"
                and event.ts < gps_before
                and event.device not in cutoffs.gps_held
            ):
                gone_gps += 1
            else:
                kept.append(stored)
                continue
            del self._event_ids[event.id]
        self._events[:] = kept
        old = [
            a.id for a in self._alerts.values() if not a.is_open and a.updated_at < alerts_before
        ]
        for alert_id in old:
            del self._alerts[alert_id]
            self._transitions.pop(alert_id, None)
        if old:
            dropped = set(old)
            for event_id in [e for e, a in self._alert_by_event.items() if a in dropped]:
                del self._alert_by_event[event_id]
        return RetentionResult(events=gone_events, gps_positions=gone_gps, alerts=len(old))


def _stricter(cutoffs: RetentionCutoffs, event: EventBase) -> bool:
    return any(
        c.device == event.device and event.kind in c.kinds and event.ts < utc(c.before)
        for c in cutoffs.per_device
    )
