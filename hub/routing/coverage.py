"""A unit with nobody on duty is itself a critical alert ("nobody on duty").

The alert is about a gap in the roster, not about a resident or a device: no
resident id, no apartment, and no unit either, so everyone on the site's care
staff (and the site's leader) sees it on the board and may take it; the gap's
unit is named in ``device`` (``roster:{unit}``, or ``roster`` when the whole
site is uncovered) and in the message. One alert per uncovered period: the
shell raises it when the gap opens and the system resolves it (outcome
``other``, a note saying how) when someone is on duty again.
"""

from __future__ import annotations

from datetime import datetime

from hub.alerts import SYSTEM, Alert, AlertState, Transition
from hub.routing.roster import Duty, in_unit, on_site
from rules.decisions import Category, Priority

NOBODY_KIND = "roster.nobody_on_duty"
NOBODY_RULE = "routing.nobody_on_duty"
_DEVICE = "roster"

Gap = tuple[str, str | None]  # (site, unit); unit None: nobody on the whole site


def gap_alert(gap: Gap, alert_id: str, now: datetime) -> tuple[Alert, Transition]:
    site, unit = gap
    where = f"unit {unit}" if unit is not None else f"site {site}"
    alert = Alert(
        id=alert_id,
        site=site,
        unit=None,
        apartment=None,
        resident_id=None,
        device=_DEVICE if unit is None else f"{_DEVICE}:{unit}",
        kind=NOBODY_KIND,
        category=Category.COLLEAGUE,
        priority=Priority.CRITICAL,
        rule=NOBODY_RULE,
        message=f"Nobody on duty in {where}",
        state=AlertState.RAISED,
        raised_at=now,
        updated_at=now,
        event_ts=now,
        event_ids=(),
    )
    record = Transition(
        alert_id=alert_id, from_state=None, to_state=AlertState.RAISED, at=now, actor=SYSTEM
    )
    return alert, record


def is_gap_alert(alert: Alert) -> bool:
    return alert.kind == NOBODY_KIND and alert.rule == NOBODY_RULE


def gap_of(alert: Alert) -> Gap | None:
    """The (site, unit) a nobody-on-duty alert is about; None for any other alert."""
    if not is_gap_alert(alert):
        return None
    _, _, unit = alert.device.partition(":")
    return alert.site, unit or None


def covered(duty: Duty, gap: Gap) -> bool:
    site, unit = gap
    return bool(in_unit(duty, site, unit) if unit is not None else on_site(duty, site))


def covered_note(how: str) -> str:
    """The note the system resolves a gap alert with (no names: ``how`` is e.g. 'log-on')."""
    return f"covered again: {how}"
