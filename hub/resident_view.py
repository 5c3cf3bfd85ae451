"""What a resident (or their guardian) sees on their own page: my alarms of the last 30
days and what happened to them, and what is monitored about me. Pure: data and ``now`` in,
plain data out; the words (Norwegian and English) are the page's (``hub/web/resident``),
so this returns codes and times, never sentences.

Staff appear by first name only ("Kari came at 02:20"): the resident knows who came,
and learns nothing else about the staff member (no username, role or unit). A step
taken by the system or by someone without an account shows no name at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from devices.localtime import DEFAULT_ZONE, zone
from hub.alerts import Alert, AlertState, Transition
from hub.consent.plain import monitoring_summary
from hub.store.base import Resident
from rules.consent import LegalBasis, check_basis
from rules.decisions import Category

HISTORY = timedelta(days=30)
# More alarms than this in 30 days is a case for the staff, not a longer page.
MAX_ALARMS = 200
# Staff data the page must not carry: who decided is shown by the case reference.
_HIDDEN_MEASURE_FIELDS = ("decided_by",)


def first_name(display_name: str | None) -> str | None:
    """The first word of a display name ("Kari Nordmann" -> "Kari"); None when empty."""
    if not display_name:
        return None
    words = display_name.split()
    return words[0] if words else None


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _first(transitions: Iterable[Transition], *states: AlertState) -> Transition | None:
    """The first step into one of ``states`` (a record that keeps the state, such as the
    resident's cancel mark, is not a step)."""
    return next(
        (t for t in transitions if t.to_state in states and t.from_state != t.to_state), None
    )


def alarm_story(
    alert: Alert, transitions: list[Transition], names: Mapping[str, str]
) -> dict[str, Any]:
    """One alarm as the resident sees it. ``names``: username -> display name of staff."""
    ordered = sorted(transitions, key=lambda t: t.at)
    taken = _first(ordered, AlertState.ACCEPTED, AlertState.ON_SITE)
    there = _first(ordered, AlertState.ON_SITE)
    done = _first(ordered, AlertState.RESOLVED)
    cancelled = _first(ordered, AlertState.CANCELLED)
    accepted_by = alert.accepted_by or (taken.actor if taken else None)
    return {
        "id": alert.id,
        "kind": alert.kind,
        "state": str(alert.state),
        "raised_at": _iso(alert.event_ts),
        "received_at": _iso(alert.raised_at),
        "accepted_at": _iso(taken.at if taken else None),
        "accepted_by": first_name(names.get(accepted_by or "")),
        "on_site_at": _iso(there.at if there else None),
        "on_site_by": first_name(names.get(there.actor)) if there else None,
        "resolved_at": _iso(done.at if done else None),
        "outcome": str(alert.outcome) if alert.outcome else None,
        "cancelled_at": _iso(cancelled.at if cancelled else None),
        # hub.alerts marks an alert the resident cancelled from the button (a mark, not a
        # state: staff still close it). Read by name, so this works before and after it lands.
        "cancelled_by_resident": bool(getattr(alert, "cancelled_by_resident", False)),
        "cancelled_by_resident_at": _iso(getattr(alert, "cancelled_by_resident_at", None)),
    }


def my_alarms(
    resident_id: str,
    alerts: Iterable[Alert],
    transitions: Mapping[str, list[Transition]],
    names: Mapping[str, str],
    now: datetime,
) -> list[dict[str, Any]]:
    """The resident's safety alarms of the last 30 days, newest first. Colleague and
    technical alerts are the staff's (a low battery is the technical aid service's)."""
    since = now - HISTORY
    mine = [
        a
        for a in alerts
        if a.resident_id == resident_id
        and a.category is Category.RESIDENT
        and since <= a.raised_at <= now
    ]
    mine.sort(key=lambda a: a.raised_at, reverse=True)
    return [alarm_story(a, transitions.get(a.id, []), names) for a in mine[:MAX_ALARMS]]


def monitoring(
    resident: Resident, bases: list[LegalBasis], now: datetime, tz_name: str | None
) -> list[dict[str, Any]]:
    """Each measure in plain Norwegian (``hub.consent.plain``) with the codes a page needs
    to say it in another language: event kinds, basis, state, windows, dates."""
    tz = zone(tz_name or DEFAULT_ZONE)
    summary = monitoring_summary(resident, bases, now, tz_name)
    by_id = {b.id: b for b in bases}
    out = []
    for measure in summary["measures"]:
        basis = by_id[measure["basis_id"]]
        shown = {k: v for k, v in measure.items() if k not in _HIDDEN_MEASURE_FIELDS}
        out.append(
            shown
            | {
                "kinds": sorted(basis.kinds),
                "windows": [str(w) for w in basis.windows],
                "state": check_basis(basis, now, tz),
                "valid_from": basis.valid_from.astimezone(tz).date().isoformat(),
                "valid_to": basis.valid_to.astimezone(tz).date().isoformat()
                if basis.valid_to
                else None,
                "visible_to": sorted(basis.visible_to),
            }
        )
    return out


def overview(
    resident: Resident,
    alerts: Iterable[Alert],
    transitions: Mapping[str, list[Transition]],
    names: Mapping[str, str],
    bases: list[LegalBasis],
    now: datetime,
    tz_name: str | None,
) -> dict[str, Any]:
    """The whole page: who, my alarms, what is monitored about me."""
    return {
        "resident_id": resident.id,
        "name": resident.name,
        "timezone": tz_name or DEFAULT_ZONE,
        "since": (now - HISTORY).isoformat(),
        "alarms": my_alarms(resident.id, alerts, transitions, names, now),
        "monitoring": monitoring(resident, bases, now, tz_name),
    }
