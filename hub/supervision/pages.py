"""Who is told about a technical alert from supervision (pure).

The tekniker on duty on the site always; for a hole in tonight's safety net
(a safety-critical device of a resident, or a gateway carrying one) the night
staff on duty in the affected units too. Roles come from the accounts; who is
on duty from the routing roster.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from hub.routing import roster
from hub.store.base import Role

NIGHT_ROLES = frozenset({Role.NATTEVAKT, Role.STAFF, Role.LEADER})


def tekniker_on_duty(duty: roster.Duty, roles: Mapping[str, Role], site: str) -> list[str]:
    return [s for s in roster.on_site(duty, site) if roles.get(s) is Role.TEKNIKER]


def night_staff(
    duty: roster.Duty, roles: Mapping[str, Role], site: str, units: Iterable[str]
) -> list[str]:
    found: set[str] = set()
    for unit in units:
        found.update(s for s in roster.in_unit(duty, site, unit) if roles.get(s) in NIGHT_ROLES)
    return sorted(found)
