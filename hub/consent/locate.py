"""Locate requests: a staff member asks where a resident with a GPS measure is now.

GPS positions are kept only while an alert or a locate request is open (then they
are reduced to the geofence events, see ``hub.retention``). A locate request is
time-limited (``DEFAULT_MINUTES``, at most ``MAX_MINUTES``), states a reason, is
written to the audit log when opened, read and closed, and holds the resident's
GPS positions from retention while it is open.

Held in memory on purpose, like break-the-glass grants: a request is short, and
every request is in the audit log. After a hub restart an open request is gone:
its positions then age out under the normal rule (the privacy-safe side), and
staff open a new one if they still need it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

DEFAULT_MINUTES = 60
MAX_MINUTES = 240
# Closed and expired requests are forgotten after this (the audit log keeps them).
FORGET_AFTER = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class LocateRequest:
    id: str
    resident_id: str
    opened_by: str
    reason: str
    opened_at: datetime
    until: datetime
    closed_at: datetime | None = None
    closed_by: str | None = None

    def is_open(self, now: datetime) -> bool:
        return self.closed_at is None and self.opened_at <= now < self.until

    def ended_at(self) -> datetime:
        return self.closed_at if self.closed_at is not None else self.until


class LocateRequests:
    def __init__(self) -> None:
        self._requests: dict[str, LocateRequest] = {}

    def add(self, request: LocateRequest) -> None:
        self._requests[request.id] = request

    def get(self, request_id: str) -> LocateRequest | None:
        return self._requests.get(request_id)

    def close(self, request_id: str, by: str, now: datetime) -> LocateRequest | None:
        found = self._requests.get(request_id)
        if found is None or not found.is_open(now):
            return None
        closed = replace(found, closed_at=now, closed_by=by)
        self._requests[request_id] = closed
        return closed

    def of_resident(self, resident_id: str, now: datetime) -> list[LocateRequest]:
        self._forget(now)
        return sorted(
            (r for r in self._requests.values() if r.resident_id == resident_id),
            key=lambda r: r.opened_at,
        )

    def residents_open(self, now: datetime) -> frozenset[str]:
        """Residents with a locate request open now: retention holds their GPS positions."""
        self._forget(now)
        return frozenset(r.resident_id for r in self._requests.values() if r.is_open(now))

    def _forget(self, now: datetime) -> None:
        for key in [k for k, r in self._requests.items() if r.ended_at() + FORGET_AFTER < now]:
            del self._requests[key]
