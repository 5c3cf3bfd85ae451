"""Who may see or change which resident's legal bases and logs. Pure: principal and data.

| role            | bases of a resident                  | record/renew/withdraw | access log, audit |
|-----------------|--------------------------------------|-----------------------|-------------------|
| admin           | all                                  | yes                   | yes               |
| leader          | residents in its units               | in its units          | in its units      |
| nattevakt/staff | residents in its units (read); others only by break-the-glass | no | no     |
| auditor         | all (read only)                      | no                    | yes               |
| tekniker        | none (devices only)                  | no                    | no                |
| resident_device | none                                 | no                    | no                |
"""

from __future__ import annotations

from datetime import datetime

from hub.access import Principal
from hub.store.base import Resident, Role

BASIS_READERS = frozenset({Role.ADMIN, Role.LEADER, Role.NATTEVAKT, Role.STAFF, Role.AUDITOR})
BASIS_WRITERS = frozenset({Role.ADMIN, Role.LEADER})
LOG_READERS = frozenset({Role.ADMIN, Role.LEADER, Role.AUDITOR})
AUDITORS = frozenset({Role.ADMIN, Role.AUDITOR})
GLASS_BREAKERS = frozenset({Role.NATTEVAKT, Role.STAFF, Role.LEADER})
NOTICE_READERS = frozenset({Role.ADMIN, Role.LEADER})
PLACERS = frozenset({Role.ADMIN, Role.TEKNIKER})


def in_scope(principal: Principal, resident: Resident) -> bool:
    """The resident lives in one of the principal's units (admin and auditor: everywhere)."""
    if principal.role in (Role.ADMIN, Role.AUDITOR):
        return True
    if principal.site is not None and resident.site != principal.site:
        return False
    return principal.role in (Role.LEADER, Role.NATTEVAKT, Role.STAFF) and (
        resident.unit in principal.units
    )


class BreakGlass:
    """Grants from break-the-glass: (username, resident) -> (until when, the stated reason).
    In memory on purpose: a grant is short (an hour), and every grant is also in the audit
    log for the leader. ``hub.auth`` puts the open residents on each request's principal,
    so alert lists, details, commands and the stream honour a grant like the consent routes.
    """

    def __init__(self) -> None:
        self._grants: dict[tuple[str, str], tuple[datetime, str]] = {}

    def grant(self, username: str, resident_id: str, until: datetime, reason: str = "") -> None:
        self._grants[(username, resident_id)] = (until, reason)

    def active(self, username: str, resident_id: str, now: datetime) -> bool:
        return self.reason(username, resident_id, now) is not None

    def reason(self, username: str, resident_id: str, now: datetime) -> str | None:
        """The stated reason of a grant in force, or None."""
        found = self._grants.get((username, resident_id))
        if found is None:
            return None
        if now >= found[0]:
            del self._grants[(username, resident_id)]
            return None
        return found[1]

    def open_for(self, username: str, now: datetime) -> frozenset[str]:
        """The residents opened to ``username`` now (expired grants are dropped)."""
        if not self._grants:
            return frozenset()
        mine = [r for (u, r) in list(self._grants) if u == username]
        return frozenset(r for r in mine if self.active(username, r, now))


def may_read(principal: Principal, resident: Resident, glass: BreakGlass, now: datetime) -> bool:
    if principal.role not in BASIS_READERS:
        return False
    return in_scope(principal, resident) or glass.active(principal.username, resident.id, now)


def may_write(principal: Principal, resident: Resident) -> bool:
    return principal.role in BASIS_WRITERS and in_scope(principal, resident)


def may_read_log(principal: Principal, resident: Resident) -> bool:
    return principal.role in LOG_READERS and in_scope(principal, resident)
