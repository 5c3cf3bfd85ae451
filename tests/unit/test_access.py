"""Who sees and does what: every role x alert category x place, as a table."""

from __future__ import annotations

import pytest

from devices.events import KINDS
from hub import access
from hub.alerts import Alert, Command
from hub.auth import Principal
from hub.store.base import AlertFilter, EventFilter, Role
from rules.decisions import Category

from builders import alert

SITE, UNIT = "site-1", "unit-A"

# Where an alert or device is, seen from a principal on SITE with units (UNIT,).
PLACES: dict[str, tuple[str, str | None]] = {
    "own_unit": (SITE, UNIT),
    "other_unit": (SITE, "unit-B"),
    "no_unit": (SITE, None),
    "other_site": ("site-2", "unit-Z"),
}
PLACE_ORDER = tuple(PLACES)
CATEGORY_ORDER = (Category.RESIDENT, Category.COLLEAGUE, Category.TECHNICAL)

# One row per category (resident, colleague, technical); one column per place
# (own_unit, other_unit, no_unit, other_site). "Y": allowed.
SEE: dict[Role, tuple[str, str, str]] = {
    Role.ADMIN: ("YYYY", "YYYY", "YYYY"),
    Role.AUDITOR: ("YYYY", "YYYY", "YYYY"),
    Role.LEADER: ("Y.Y.", "Y.Y.", "Y.Y."),
    Role.NATTEVAKT: ("Y.Y.", "Y.Y.", "...."),
    Role.STAFF: ("Y.Y.", "Y.Y.", "...."),
    Role.TEKNIKER: ("....", "....", "YYY."),
    Role.RESIDENT_DEVICE: ("....", "....", "...."),
    # Residents and guardians read their own page only (hub.resident_api), never alerts.
    Role.RESIDENT: ("....", "....", "...."),
    Role.GUARDIAN: ("....", "....", "...."),
}
COMMAND: dict[Role, tuple[str, str, str]] = {
    **SEE,
    Role.AUDITOR: ("....", "....", "...."),
}


def principal(role: Role, site: str | None = SITE, units: tuple[str, ...] = (UNIT,)) -> Principal:
    return Principal(username=f"{role}-user", role=role, site=site, units=units)


def placed_alert(category: Category, place: str) -> Alert:
    site, unit = PLACES[place]
    return alert(category=category, site=site, unit=unit)


def cases(table: dict[Role, tuple[str, str, str]]) -> list[tuple[Role, Category, str, bool]]:
    return [
        (role, category, place, rows[c][p] == "Y")
        for role, rows in table.items()
        for c, category in enumerate(CATEGORY_ORDER)
        for p, place in enumerate(PLACE_ORDER)
    ]


def test_tables_cover_every_role() -> None:
    assert set(SEE) == set(Role)
    assert set(COMMAND) == set(Role)


@pytest.mark.parametrize(("role", "category", "place", "expected"), cases(SEE))
def test_can_see_alert(role: Role, category: Category, place: str, expected: bool) -> None:
    assert access.can_see_alert(principal(role), placed_alert(category, place)) is expected


@pytest.mark.parametrize("command", [Command.ACCEPT, Command.ON_SITE, Command.RESOLVE])
@pytest.mark.parametrize(("role", "category", "place", "expected"), cases(COMMAND))
def test_can_command(
    role: Role, category: Category, place: str, expected: bool, command: Command
) -> None:
    allowed = access.can_command(principal(role), placed_alert(category, place), command)
    assert allowed is expected


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("category", CATEGORY_ORDER)
def test_commanding_needs_seeing(role: Role, category: Category) -> None:
    for place in PLACES:
        a = placed_alert(category, place)
        if access.can_command(principal(role), a, Command.ACCEPT):
            assert access.can_see_alert(principal(role), a)


def test_tekniker_without_site_sees_technical_alerts_everywhere() -> None:
    tech = principal(Role.TEKNIKER, site=None, units=())
    for place in PLACES:
        assert access.can_see_alert(tech, placed_alert(Category.TECHNICAL, place))
        assert not access.can_see_alert(tech, placed_alert(Category.RESIDENT, place))


def test_staff_without_site_sees_only_its_units() -> None:
    staff = principal(Role.NATTEVAKT, site=None)
    assert access.can_see_alert(staff, placed_alert(Category.RESIDENT, "own_unit"))
    assert not access.can_see_alert(staff, placed_alert(Category.RESIDENT, "no_unit"))
    assert not access.can_see_alert(staff, placed_alert(Category.RESIDENT, "other_unit"))


def test_staff_with_several_units() -> None:
    staff = principal(Role.STAFF, units=("unit-A", "unit-B"))
    assert access.can_see_alert(staff, placed_alert(Category.COLLEAGUE, "other_unit"))


def test_unit_of_the_same_name_on_another_site_is_not_ours() -> None:
    staff = principal(Role.NATTEVAKT)
    assert not access.can_see_alert(staff, alert(site="site-2", unit=UNIT))


DEVICE_KINDS = {k for k in KINDS if k.startswith("device.")}


@pytest.mark.parametrize(
    ("role", "kinds"),
    [
        (Role.ADMIN, KINDS),
        (Role.LEADER, KINDS),
        (Role.NATTEVAKT, KINDS),
        (Role.STAFF, KINDS),
        (Role.TEKNIKER, DEVICE_KINDS),
        (Role.AUDITOR, set()),
        (Role.RESIDENT_DEVICE, set()),
        (Role.RESIDENT, set()),
        (Role.GUARDIAN, set()),
    ],
)
def test_event_kinds_visible(role: Role, kinds: set[str]) -> None:
    assert access.event_kinds_visible(role) == kinds


def test_tekniker_sees_no_health_event_kinds() -> None:
    visible = access.event_kinds_visible(Role.TEKNIKER)
    assert {"device.heartbeat", "device.battery_low", "device.tamper"} <= visible
    assert not visible & {"fall.detected", "bed.exit", "door.opened", "alarm.button"}


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (Role.ADMIN, True),
        (Role.LEADER, True),
        (Role.NATTEVAKT, True),
        (Role.STAFF, True),
        (Role.TEKNIKER, False),
        (Role.AUDITOR, False),
        (Role.RESIDENT_DEVICE, False),
        (Role.RESIDENT, False),
        (Role.GUARDIAN, False),
    ],
)
def test_may_see_resident_name(role: Role, expected: bool) -> None:
    assert access.may_see_resident_name(role) is expected


# Devices: one column per place, as for alerts.
SEE_DEVICE: dict[Role, str] = {
    Role.ADMIN: "YYYY",
    Role.TEKNIKER: "YYY.",
    Role.LEADER: "Y.Y.",
    Role.NATTEVAKT: "Y.Y.",
    Role.STAFF: "Y.Y.",
    Role.AUDITOR: "....",
    Role.RESIDENT_DEVICE: "....",
    Role.RESIDENT: "....",
    Role.GUARDIAN: "....",
}


@pytest.mark.parametrize(
    ("role", "place", "expected"),
    [
        (role, place, row[i] == "Y")
        for role, row in SEE_DEVICE.items()
        for i, place in enumerate(PLACE_ORDER)
    ],
)
def test_can_see_device(role: Role, place: str, expected: bool) -> None:
    site, unit = PLACES[place]
    assert access.can_see_device(principal(role), site, unit) is expected


@pytest.mark.parametrize("role", list(Role))
def test_can_list_devices(role: Role) -> None:
    assert access.can_list_devices(role) is ("Y" in SEE_DEVICE[role])


@pytest.mark.parametrize(
    ("role", "site", "units"),
    [
        (Role.ADMIN, None, None),
        (Role.AUDITOR, None, None),
        (Role.TEKNIKER, SITE, None),
        (Role.LEADER, SITE, (UNIT,)),
        (Role.NATTEVAKT, SITE, (UNIT,)),
        (Role.STAFF, SITE, (UNIT,)),
    ],
)
def test_scopes(role: Role, site: str | None, units: tuple[str, ...] | None) -> None:
    assert access.site_scope(principal(role)) == site
    assert access.unit_scope(principal(role)) == units


@pytest.mark.parametrize(
    ("role", "alerts", "act", "devices", "events"),
    [
        (Role.ADMIN, True, True, True, True),
        (Role.LEADER, True, True, True, True),
        (Role.NATTEVAKT, True, True, True, True),
        (Role.STAFF, True, True, True, True),
        (Role.TEKNIKER, True, True, True, True),
        (Role.AUDITOR, True, False, False, False),
        (Role.RESIDENT_DEVICE, False, False, False, False),
    ],
)
def test_route_roles(role: Role, alerts: bool, act: bool, devices: bool, events: bool) -> None:
    assert (role in access.ALERT_READERS) is alerts
    assert (role in access.ALERT_ACTORS) is act
    assert (role in access.DEVICE_READERS) is devices
    assert (role in access.EVENT_READERS) is events


@pytest.mark.parametrize(
    ("role", "requested", "expected"),
    [
        (Role.ADMIN, None, None),
        (Role.ADMIN, "site-2", "site-2"),
        (Role.NATTEVAKT, None, SITE),
        (Role.NATTEVAKT, SITE, SITE),
        (Role.TEKNIKER, "site-2", "nothing"),
        (Role.LEADER, "site-2", "nothing"),
    ],
)
def test_scope_alerts(role: Role, requested: str | None, expected: str | None) -> None:
    scoped = access.scope_alerts(principal(role), AlertFilter(site=requested, limit=7))
    if expected == "nothing":
        assert scoped is None
    else:
        assert scoped == AlertFilter(site=expected, limit=7)


@pytest.mark.parametrize(
    ("role", "requested", "expected"),
    [
        (Role.ADMIN, EventFilter(), EventFilter()),
        (Role.NATTEVAKT, EventFilter(), EventFilter(site=SITE, units=(UNIT,))),
        (
            Role.LEADER,
            EventFilter(kind="bed.exit"),
            EventFilter(site=SITE, kind="bed.exit", units=(UNIT,)),
        ),
        (Role.TEKNIKER, EventFilter(cursor=5), EventFilter(site=SITE, cursor=5)),
        (
            Role.TEKNIKER,
            EventFilter(kind="device.tamper"),
            EventFilter(site=SITE, kind="device.tamper"),
        ),
        (Role.TEKNIKER, EventFilter(kind="bed.exit"), None),
        (Role.STAFF, EventFilter(site="site-2"), None),
        (Role.AUDITOR, EventFilter(), None),
        (Role.RESIDENT_DEVICE, EventFilter(), None),
    ],
)
def test_scope_events(role: Role, requested: EventFilter, expected: EventFilter | None) -> None:
    assert access.scope_events(principal(role), requested) == expected


def test_kinds_to_keep() -> None:
    assert access.kinds_to_keep(Role.ADMIN, EventFilter()) is None
    assert access.kinds_to_keep(Role.TEKNIKER, EventFilter()) == DEVICE_KINDS
    assert access.kinds_to_keep(Role.TEKNIKER, EventFilter(kind="device.tamper")) is None
