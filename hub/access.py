"""What each role may see and do. Pure: a principal and the data, no I/O.

| role            | alerts it sees                                            | commands        |
|-----------------|-----------------------------------------------------------|-----------------|
| admin           | all                                                       | all it sees     |
| auditor         | all (read only)                                           | none            |
| leader          | every category in its units, unit-less ones on its site   | all it sees     |
| nattevakt/staff | resident and colleague alerts in its units, unit-less     | all it sees     |
|                 | ones on its site; never technical alerts                  |                 |
| tekniker        | technical alerts on its site (all sites when it has none) | technical only  |
| resident_device | nothing                                                   | none            |

Technical alerts go to the technical aid service, not to night staff: a low
battery at 03:00 is not a reason to wake a colleague. The same scopes decide
which devices and raw events a role may list; a tekniker sees only ``device.*``
events, never health-related ones (falls, doors, beds).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from devices.events import KINDS
from hub.alerts import Alert, Command
from hub.store.base import AlertFilter, EventFilter, Role
from rules.decisions import Category


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller as the access rules see it: copied from the account at login
    (``hub.auth.TokenIssuer``), so a role change takes effect at the next login."""

    username: str
    role: Role
    site: str | None = None
    units: tuple[str, ...] = ()
    expires_at: datetime | None = None
    # Residents opened to this caller by break-the-glass right now (set per request
    # by hub.auth from hub.consent.access.BreakGlass): their alerts are visible as if
    # they lived in one of the caller's units, on the caller's own site only.
    opened: frozenset[str] = frozenset()


UNIT_SCOPED: frozenset[Role] = frozenset({Role.NATTEVAKT, Role.STAFF, Role.LEADER})
CARE_ROLES: frozenset[Role] = frozenset({Role.NATTEVAKT, Role.STAFF, Role.LEADER, Role.ADMIN})
DEVICE_KINDS: frozenset[str] = frozenset(k for k in KINDS if k.startswith("device."))
_CARE_CATEGORIES = frozenset({Category.RESIDENT, Category.COLLEAGUE})

# Who may call which kind of route at all; rows are then filtered one by one below.
ALERT_READERS: frozenset[Role] = CARE_ROLES | {Role.AUDITOR, Role.TEKNIKER}
ALERT_ACTORS: frozenset[Role] = CARE_ROLES | {Role.TEKNIKER}
DEVICE_READERS: frozenset[Role] = CARE_ROLES | {Role.TEKNIKER}
# The device registry's writes (register, life cycle, import, provisioning): the
# technical aid service, and admins.
DEVICE_WRITERS: frozenset[Role] = frozenset({Role.ADMIN, Role.TEKNIKER})
EVENT_READERS: frozenset[Role] = CARE_ROLES | {Role.TEKNIKER}


def _in_units(principal: Principal, site: str, unit: str | None) -> bool:
    """In one of the principal's units, or unit-less on the principal's own site."""
    if principal.site is not None and site != principal.site:
        return False
    if unit is None:
        return principal.site is not None and site == principal.site
    return unit in principal.units


def can_see_alert(principal: Principal, alert: Alert) -> bool:
    role = principal.role
    if role in (Role.ADMIN, Role.AUDITOR):
        return True
    if role is Role.TEKNIKER:
        on_site = principal.site is None or alert.site == principal.site
        return alert.category is Category.TECHNICAL and on_site
    if role in (Role.NATTEVAKT, Role.STAFF) and alert.category not in _CARE_CATEGORIES:
        return False
    if role in UNIT_SCOPED:
        return _in_units(principal, alert.site, alert.unit) or _opened(principal, alert)
    return False


def _opened(principal: Principal, alert: Alert) -> bool:
    """Opened by break-the-glass: the resident, and on the caller's own site."""
    return (
        alert.resident_id is not None
        and alert.resident_id in principal.opened
        and (principal.site is None or alert.site == principal.site)
    )


def opened_by_glass(principal: Principal, alert: Alert) -> bool:
    """Visible only because of a break-the-glass grant (the audit log names the reason)."""
    return _opened(principal, alert) and not _in_units(principal, alert.site, alert.unit)


def can_command(principal: Principal, alert: Alert, command: Command) -> bool:
    """May the principal move this alert along? Assumes nothing about the alert's state."""
    if not can_see_alert(principal, alert):
        return False
    if principal.role is Role.TEKNIKER:
        return alert.category is Category.TECHNICAL
    return principal.role in CARE_ROLES


def event_kinds_visible(role: Role) -> frozenset[str]:
    if role in CARE_ROLES:
        return KINDS
    if role is Role.TEKNIKER:
        return DEVICE_KINDS
    return frozenset()


def may_see_resident_name(role: Role) -> bool:
    """Names are for those who go to the resident; a tekniker works from device ids."""
    return role in CARE_ROLES


def can_list_devices(role: Role) -> bool:
    return role in DEVICE_READERS


def can_see_device(principal: Principal, site: str, unit: str | None) -> bool:
    """A device installed at ``site``/``unit`` (``unit`` None: not placed in a unit)."""
    role = principal.role
    if role is Role.ADMIN:
        return True
    if role is Role.TEKNIKER:
        return principal.site is None or site == principal.site
    if role in UNIT_SCOPED:
        return _in_units(principal, site, unit)
    return False


def can_write_device(principal: Principal, site: str) -> bool:
    """May change devices and gateways of ``site`` (a tekniker: its own site, if it has one)."""
    if principal.role is Role.ADMIN:
        return True
    return principal.role is Role.TEKNIKER and principal.site in (None, site)


def site_scope(principal: Principal) -> str | None:
    """The one site a principal is limited to, or None for all sites."""
    return None if principal.role in (Role.ADMIN, Role.AUDITOR) else principal.site


def unit_scope(principal: Principal) -> tuple[str, ...] | None:
    """The units a principal is limited to, or None when it is not unit-scoped."""
    return principal.units if principal.role in UNIT_SCOPED else None


def _narrow_site(principal: Principal, requested: str | None) -> tuple[bool, str | None]:
    scope = site_scope(principal)
    if scope is not None and requested is not None and requested != scope:
        return False, None
    return True, requested or scope


def scope_alerts(principal: Principal, flt: AlertFilter) -> AlertFilter | None:
    """A query narrowed to the principal's site; None when it can match nothing.
    Unit and category scope need ``can_see_alert`` on each row (unit-less alerts)."""
    possible, site = _narrow_site(principal, flt.site)
    return replace(flt, site=site) if possible else None


def scope_events(principal: Principal, flt: EventFilter) -> EventFilter | None:
    """A query narrowed to the principal's site and units; None when it can match nothing."""
    possible, site = _narrow_site(principal, flt.site)
    visible = event_kinds_visible(principal.role)
    if not possible or not visible or (flt.kind is not None and flt.kind not in visible):
        return None
    return replace(flt, site=site, units=unit_scope(principal))


def kinds_to_keep(role: Role, flt: EventFilter) -> frozenset[str] | None:
    """The kinds to keep from a store page, when the role sees only some; None keeps all."""
    visible = event_kinds_visible(role)
    return None if flt.kind is not None or visible == KINDS else visible
