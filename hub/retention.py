"""Retention: how long raw events, GPS positions and alerts are kept.

- Raw sensor events: ``event_retention_days`` (default 30), then deleted; shorter
  where the legal basis that covers the kind says so (``retention_days``), and at
  the next pass where the basis says raw events may not be stored (``store_events``
  false). The most generous basis covering a kind for a resident wins; the global
  setting is the ceiling.
- GPS positions: kept only while an alert that holds them or a locate request for
  the resident is open, and at most ``gps_keep_minutes`` (default 60) otherwise;
  what stays is the geofence events (``geofence.exit``/``enter``), which are raw
  events under the first rule.
- Alerts and their transitions: ``alert_retention_days`` (default 3650, the
  record-keeping rule for health records); only closed alerts are ever deleted.

Events an open alert holds are never deleted. Settings from the environment
(``TRYGG_EVENT_RETENTION_DAYS`` ...). :func:`cutoffs` is pure; :func:`run`
calls the store and writes one audit entry per run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.audit import AuditEntry
from hub.store.base import DeviceCutoff, RetentionCutoffs, RetentionResult, Store
from rules.consent import LegalBasis

GPS = "gps.position"


class RetentionSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRYGG_", extra="ignore")

    event_retention_days: int = Field(30, ge=1, le=3650)
    gps_keep_minutes: int = Field(60, ge=0, le=7 * 24 * 60)
    alert_retention_days: int = Field(3650, ge=365, le=36500)
    job_interval_s: float = Field(3600.0, gt=0)


def basis_days(bases: Iterable[LegalBasis]) -> dict[tuple[str, str], int]:
    """(resident, kind) -> the days its raw events may be kept under the bases covering it
    (0 where no covering basis lets them be stored)."""
    days: dict[tuple[str, str], int] = {}
    for b in bases:
        keep = b.retention_days if b.store_events else 0
        for kind in b.kinds:
            key = (b.resident_id, kind)
            days[key] = max(days.get(key, 0), keep)
    return days


def cutoffs(
    settings: RetentionSettings,
    now: datetime,
    bases: Iterable[LegalBasis] = (),
    devices_of: Mapping[str, Sequence[str]] | None = None,
    locating: frozenset[str] = frozenset(),
) -> RetentionCutoffs:
    """``devices_of``: resident -> the devices placed for them; ``locating``: residents
    with a locate request open now."""
    devices_of = devices_of or {}
    per_device: list[DeviceCutoff] = []
    by_resident: dict[str, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    for (resident, kind), days in basis_days(bases).items():
        if days < settings.event_retention_days:
            by_resident[resident][days].add(kind)
    for resident, groups in sorted(by_resident.items()):
        for device in devices_of.get(resident, ()):
            for days, kinds in sorted(groups.items()):
                if resident in locating:
                    kinds = kinds - {GPS}
                if kinds:
                    before = now - timedelta(days=days)
                    per_device.append(DeviceCutoff(device, frozenset(kinds), before))
    held = frozenset(d for r in locating for d in devices_of.get(r, ()))
    return RetentionCutoffs(
        events_before=now - timedelta(days=settings.event_retention_days),
        gps_before=now - timedelta(minutes=settings.gps_keep_minutes),
        alerts_before=now - timedelta(days=settings.alert_retention_days),
        per_device=tuple(per_device),
        gps_held=held,
    )


def run(
    store: Store,
    settings: RetentionSettings,
    now: datetime,
    locating: frozenset[str] = frozenset(),
) -> RetentionResult:
    """One retention pass (on the store thread); logged in the audit trail as a system write."""
    devices_of: dict[str, list[str]] = defaultdict(list)
    for p in store.placements():
        if p.resident_id is not None:
            devices_of[p.resident_id].append(p.device)
    found = cutoffs(settings, now, store.list_bases(), devices_of, locating)
    result = store.purge(found)
    summary = f"events={result.events} gps={result.gps_positions} alerts={result.alerts}"
    store.append_audit([AuditEntry(now, "system", "system", "retention.run", None, summary)])
    return result
