"""The resident's own page, pure: alarm stories, the 30-day window, first names only,
the monitoring codes, and who may read whose page (hub.access)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.localtime import TimeWindow
from hub import access, resident_view
from hub.access import Principal
from hub.alerts import Alert, AlertState, Command, Outcome, Transition, transition
from hub.store.base import Resident, Role
from rules.consent import BasisKind
from rules.decisions import Category

from builders import alert, covering_basis

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
RAISED = datetime(2026, 11, 23, 1, 13, tzinfo=UTC)
NAMES = {"kari": "Kari Nordmann", "per": "Per", "lisa": "Lisa Berg Hansen"}
RES = Resident("res-1", "site-1", "unit-A", "Johs Hansen")


def lived(*steps: tuple[Command, str, int, Outcome | None]) -> tuple[Alert, list[Transition]]:
    """An alert for res-1 taken through ``steps`` (command, actor, minutes after raise)."""
    a = alert(id="a-1", resident_id="res-1", raised_at=RAISED + timedelta(seconds=2),
              updated_at=RAISED, event_ts=RAISED)  # fmt: skip
    records = [
        Transition(
            alert_id="a-1",
            from_state=None,
            to_state=AlertState.RAISED,
            at=a.raised_at,
            actor="system",
        )
    ]
    for command, actor, minutes, outcome in steps:
        a, record = transition(a, command, actor, RAISED + timedelta(minutes=minutes),
                               outcome=outcome)  # fmt: skip
        records.append(record)
    return a, records


def test_an_accepted_and_resolved_alarm_tells_who_came_and_when() -> None:
    a, records = lived(
        (Command.NOTIFY, "system", 0, None),
        (Command.ACCEPT, "kari", 1, None),
        (Command.ON_SITE, "per", 7, None),
        (Command.RESOLVE, "kari", 18, Outcome.ASSISTED),
    )
    story = resident_view.alarm_story(a, records, NAMES)
    assert story == {
        "id": "a-1",
        "kind": "alarm.button",
        "state": "resolved",
        "raised_at": RAISED.isoformat(),
        "received_at": (RAISED + timedelta(seconds=2)).isoformat(),
        "accepted_at": (RAISED + timedelta(minutes=1)).isoformat(),
        "accepted_by": "Kari",
        "on_site_at": (RAISED + timedelta(minutes=7)).isoformat(),
        "on_site_by": "Per",
        "resolved_at": (RAISED + timedelta(minutes=18)).isoformat(),
        "outcome": "assisted",
        "cancelled_at": None,
        "cancelled_by_resident": False,
        "cancelled_by_resident_at": None,
    }


def test_arriving_without_accepting_counts_as_taking_the_alarm() -> None:
    a, records = lived((Command.ON_SITE, "lisa", 4, None))
    story = resident_view.alarm_story(a, records, NAMES)
    assert story["accepted_by"] == "Lisa" and story["on_site_by"] == "Lisa"
    assert (
        story["accepted_at"] == story["on_site_at"] == (RAISED + timedelta(minutes=4)).isoformat()
    )
    assert story["resolved_at"] is None and story["state"] == "on_site"


def test_a_cancelled_alarm_and_an_open_one() -> None:
    a, records = lived((Command.CANCEL, "system", 1, None))
    story = resident_view.alarm_story(a, records, NAMES)
    assert story["state"] == "cancelled"
    assert story["cancelled_at"] == (RAISED + timedelta(minutes=1)).isoformat()
    assert story["accepted_by"] is None and story["cancelled_by_resident"] is False
    a, records = lived()
    story = resident_view.alarm_story(a, records, NAMES)
    assert story["state"] == "raised" and story["accepted_at"] is None


def test_staff_without_a_known_name_show_no_name_and_no_username() -> None:
    a, records = lived((Command.ACCEPT, "vikar-17", 1, None))
    story = resident_view.alarm_story(a, records, NAMES)
    assert story["accepted_by"] is None
    assert "vikar-17" not in str(story)
    a, records = lived((Command.ACCEPT, "kari", 1, None))
    assert "kari" not in str(resident_view.alarm_story(a, records, NAMES))


@pytest.mark.parametrize(
    ("display", "first"),
    [
        ("Kari Nordmann", "Kari"),
        ("  Per  ", "Per"),
        ("Lisa Berg Hansen", "Lisa"),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_first_name(display: str | None, first: str | None) -> None:
    assert resident_view.first_name(display) == first


@given(st.text())
def test_first_name_is_one_word_of_the_display_name(display: str) -> None:
    first = resident_view.first_name(display)
    assert first is None or (first in display.split() and not any(c.isspace() for c in first))


def test_my_alarms_are_mine_safety_only_last_30_days_newest_first() -> None:
    def at(days: float, **kw: object) -> Alert:
        when = NOW - timedelta(days=days)
        return alert(raised_at=when, updated_at=when, event_ts=when, **kw)

    alerts = [
        at(1, id="mine-1", resident_id="res-1"),
        at(29.9, id="mine-old", resident_id="res-1"),
        at(30.1, id="too-old", resident_id="res-1"),
        at(2, id="other", resident_id="res-2"),
        at(0.5, id="tech", resident_id="res-1", category=Category.TECHNICAL),
        at(0.4, id="colleague", resident_id="res-1", category=Category.COLLEAGUE),
        at(-0.1, id="future", resident_id="res-1"),
        at(0.1, id="mine-2", resident_id="res-1"),
    ]
    found = resident_view.my_alarms("res-1", alerts, {}, NAMES, NOW)
    assert [a["id"] for a in found] == ["mine-2", "mine-1", "mine-old"]


def test_my_alarms_are_capped() -> None:
    alerts = [
        alert(id=f"a-{i}", resident_id="res-1", raised_at=NOW - timedelta(minutes=i))
        for i in range(resident_view.MAX_ALARMS + 5)
    ]
    found = resident_view.my_alarms("res-1", alerts, {}, {}, NOW)
    assert len(found) == resident_view.MAX_ALARMS
    assert found[0]["id"] == "a-0"


def test_monitoring_carries_plain_words_and_codes_but_not_who_decided() -> None:
    basis = replace(
        covering_basis("res-1", "b-door"),
        measure="exit_door",
        kinds=frozenset({"door.opened", "door.closed"}),
        basis=BasisKind.DECISION_4_6A,
        decided_by="lisa",
        reference="SAK-2026/17",
        valid_to=datetime(2027, 5, 31, 22, 30, tzinfo=UTC),  # 1 June in Oslo
        windows=(TimeWindow.parse("22:00-07:00"),),
        visible_to=frozenset({"nattevakt", "leader"}),
        purpose="Så nattevakten vet at du går ut om natten.",
    )
    withdrawn = replace(covering_basis("res-1", "b-gone"), withdrawn_at=NOW - timedelta(days=1))
    (door, gone) = resident_view.monitoring(RES, [basis, withdrawn], NOW, "Europe/Oslo")
    assert door["measure"] == "exit_door"
    assert door["kinds"] == ["door.closed", "door.opened"]
    assert door["what"] == ["at døren lukkes", "at døren åpnes"]
    assert door["windows"] == ["22:00-07:00"]
    assert door["basis"] == "decision_4_6a" and "§ 4-6 a" in door["basis_text"]
    assert door["why"] == "Så nattevakten vet at du går ut om natten."
    assert door["valid_to"] == "2027-06-01" and door["until"] == "01.06.2027"
    # 08:00 in Oslo: in force, outside its night window.
    assert door["state"] == "outside_window" and door["in_force"] is True
    assert door["visible_to"] == ["leader", "nattevakt"]
    assert door["reference"] == "SAK-2026/17"
    assert "decided_by" not in door and "lisa" not in str(door)
    assert gone["state"] == "withdrawn" and gone["in_force"] is False
    assert gone["valid_to"] is None


def test_overview_puts_it_together() -> None:
    a, records = lived((Command.ACCEPT, "kari", 1, None))
    page = resident_view.overview(
        RES, [a], {"a-1": records}, NAMES, [covering_basis("res-1")], NOW, None
    )
    assert page["resident_id"] == "res-1" and page["name"] == "Johs Hansen"
    assert page["timezone"] == "Europe/Oslo"
    assert page["since"] == (NOW - timedelta(days=30)).isoformat()
    assert [x["accepted_by"] for x in page["alarms"]] == ["Kari"]
    assert [m["basis_id"] for m in page["monitoring"]] == ["basis-res-1"]


# --- who may read whose page (hub.access) ----------------------------------------------

INGRID = Principal("ingrid", Role.RESIDENT, residents=frozenset({"res-A"}))
VERGE = Principal("verge", Role.GUARDIAN, residents=frozenset({"res-A", "res-C"}))


@pytest.mark.parametrize(
    ("principal", "resident", "own"),
    [
        (INGRID, "res-A", True),
        (INGRID, "res-B", False),
        (INGRID, "res-C", False),
        (VERGE, "res-A", True),
        (VERGE, "res-C", True),
        (VERGE, "res-B", False),
        # Staff are never "own": they keep their unit scope (hub.consent.access.may_read).
        (Principal("lisa", Role.LEADER, "site-1", ("unit-A",)), "res-A", False),
        (Principal("admin", Role.ADMIN), "res-A", False),
        # A staff principal that somehow carried residents still gets nothing from them.
        (Principal("kari", Role.NATTEVAKT, residents=frozenset({"res-A"})), "res-A", False),
    ],
)
def test_is_own_resident(principal: Principal, resident: str, own: bool) -> None:
    assert access.is_own_resident(principal, resident) is own


@pytest.mark.parametrize("role", sorted(access.SELF_ROLES))
def test_resident_roles_see_nothing_through_the_staff_scopes(role: Role) -> None:
    p = Principal("x", role, "site-1", ("unit-A",), residents=frozenset({"res-4711"}))
    assert not access.can_see_alert(p, alert())
    assert not access.can_command(p, alert(), Command.ACCEPT)
    assert access.event_kinds_visible(role) == frozenset()
    assert not access.may_see_resident_name(role)
    assert not access.can_list_devices(role)
    assert not access.can_see_device(p, "site-1", "unit-A")
    assert role not in access.ALERT_READERS | access.DEVICE_READERS | access.EVENT_READERS


@pytest.mark.parametrize(
    ("role", "residents", "problem"),
    [
        (Role.RESIDENT, ("res-A",), None),
        (Role.RESIDENT, (), "exactly one"),
        (Role.RESIDENT, ("res-A", "res-B"), "exactly one"),
        (Role.GUARDIAN, ("res-A",), None),
        (Role.GUARDIAN, ("res-A", "res-C"), None),
        (Role.GUARDIAN, (), "at least one"),
        (Role.GUARDIAN, ("res-A", "res-A"), "named twice"),
        (Role.NATTEVAKT, (), None),
        (Role.LEADER, ("res-A",), "not bound to residents"),
        (Role.ADMIN, ("res-A",), "not bound to residents"),
    ],
)
def test_binding_problem(role: Role, residents: tuple[str, ...], problem: str | None) -> None:
    found = access.binding_problem(role, residents)
    assert (found is None) if problem is None else (found is not None and problem in found)
