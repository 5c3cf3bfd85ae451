"""Retention: how long raw events, GPS positions and alerts are kept.

- Raw sensor events: ``event_retention_days`` (default 30), then deleted.
- GPS positions: kept only while an alert is open that holds them, and at most
  ``gps_keep_minutes`` (default 60) otherwise; what stays is the geofence events
  (``geofence.exit``/``enter``), which are raw events under the first rule.
- Alerts and their transitions: ``alert_retention_days`` (default 3650, the
  record-keeping rule for health records); only closed alerts are ever deleted.

Events an open alert holds are never deleted. Settings from the environment
(``TRYGG_EVENT_RETENTION_DAYS`` ...). :func:`cutoffs` is pure; :func:`run`
calls the store and writes one audit entry per run.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.audit import AuditEntry
from hub.store.base import RetentionCutoffs, RetentionResult, Store


class RetentionSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRYGG_", extra="ignore")

    event_retention_days: int = Field(30, ge=1, le=3650)
    gps_keep_minutes: int = Field(60, ge=0, le=7 * 24 * 60)
    alert_retention_days: int = Field(3650, ge=365, le=36500)
    job_interval_s: float = Field(3600.0, gt=0)


def cutoffs(settings: RetentionSettings, now: datetime) -> RetentionCutoffs:
    return RetentionCutoffs(
        events_before=now - timedelta(days=settings.event_retention_days),
        gps_before=now - timedelta(minutes=settings.gps_keep_minutes),
        alerts_before=now - timedelta(days=settings.alert_retention_days),
    )


def run(store: Store, settings: RetentionSettings, now: datetime) -> RetentionResult:
    """One retention pass (on the store thread); logged in the audit trail as a system write."""
    result = store.purge(cutoffs(settings, now))
    summary = f"events={result.events} gps={result.gps_positions} alerts={result.alerts}"
    store.append_audit([AuditEntry(now, "system", "system", "retention.run", None, summary)])
    return result
