"""A demo roster: the scenario's night staff plus a second colleague on a shift
around the current time, so demo alerts are routed and escalate at any hour."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hub.auth import hash_password
from hub.routing.roster import Shift
from hub.settings import DEMO_PASSWORD
from hub.store.base import Account, Role, Store
from simulators.scenario import Scenario

SECOND = "nattevakt2"


def seed_demo_roster(store: Store, scenario: Scenario, now: datetime) -> list[str]:
    """Shifts from an hour ago to twelve hours ahead (local time); returns who is on."""
    site = scenario.site.id
    units = tuple(u.id for u in scenario.units)
    store.upsert_account(
        Account(
            username=SECOND,
            display_name="Per Nattevakt",
            role=Role.NATTEVAKT,
            password_hash=hash_password(DEMO_PASSWORD),
            site=site,
            units=units,
        )
    )
    local = now.astimezone(ZoneInfo(scenario.timezone))
    start = (local - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (local + timedelta(hours=12)).time().replace(second=0, microsecond=0)
    staff = [s for s in scenario.staff if s.role in ("nattevakt", "staff")]
    names = [s.username for s in staff] + [SECOND]
    for i, name in enumerate(names):
        # The first is the primary contact for every apartment: the second is the escalation.
        apartments = tuple(sorted({r.apartment for r in scenario.residents if r.apartment}))
        store.save_shift(
            Shift(
                id=f"demo-{name}",
                staff=name,
                site=site,
                units=units,
                start=start,
                end=end,
                tz=scenario.timezone,
                primary_for=apartments if i == 0 else (),
            )
        )
    return names
