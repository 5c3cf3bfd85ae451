"""Roster gaps: a unit with nobody on duty is itself a critical alert.

The watch raises one nobody-on-duty alert per uncovered period
(``hub.routing.coverage``): when a rostered unit is found empty at the
router's regular check, or when an alert falls into a unit with nobody on
duty. The alert follows its own chain (the response centre by default), is on
the board of everyone on the site, and everyone on duty elsewhere on the site
is told at once. When someone is on duty there again (a log-on, a shift that
starts) the system resolves it with outcome ``other`` and a note saying how.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from hub.alerts import SYSTEM, Alert, AlertState, Command, Outcome
from hub.channels.base import Message, MessageKind
from hub.errors import IllegalTransition, NotFound
from hub.routing import coverage, roster
from hub.routing.engine import Context
from hub.routing.log import RoutingKind, RoutingRecord
from hub.routing.policy import RESPONSE_CENTRE

if TYPE_CHECKING:
    from hub.channels.router import Router

log = logging.getLogger("trygg.routing")


class GapWatch:
    def __init__(self, router: Router) -> None:
        self.router = router
        # Each gap open now, with its alert's id (kept while the gap lasts, even if
        # someone closed the alert: one alert per uncovered period).
        self.open: dict[coverage.Gap, str] = {}

    def adopt(self, alert: Alert) -> None:
        """At start-up: an open gap alert from before the restart is this gap's alert."""
        gap = coverage.gap_of(alert)
        if gap is not None:
            self.open[gap] = alert.id

    def check(self, ctx: Context, now: datetime) -> None:
        """Open a gap for every rostered unit with nobody on duty; close the covered."""
        shifts = self.router.shifts
        rostered = sorted({(s.site, u) for s in shifts for u in s.units})
        for site, unit in roster.uncovered(rostered, ctx.duty):
            if (site, unit) not in self.open:
                self._open((site, unit), now)
        for gap in [g for g in self.open if coverage.covered(ctx.duty, g)]:
            self._close(gap)

    def alert_in_gap(self, site: str, unit: str | None, alert: Alert, now: datetime) -> None:
        """An alert fell into a gap: open the gap's alert and point to it from the alert's
        routing log. A site with no shifts at all is not run from the roster: its alerts
        go on down their chain to the response centre, without a gap alert each."""
        gap = (site, unit)
        r = self.router
        if not any(s.site == site for s in r.shifts):
            r.metrics.nobody_on_duty.inc()
            detail = f"{site}/{unit or '-'}: no roster for the site"
        else:
            if gap not in self.open:
                self._open(gap, now)
            detail = f"{site}/{unit or '-'}: alert {self.open[gap]}"
        r.record(RoutingRecord(alert.id, now, RoutingKind.NOBODY_ON_DUTY, SYSTEM, detail=detail))

    def _open(self, gap: coverage.Gap, now: datetime) -> None:
        site, unit = gap
        r = self.router
        log.error("nobody on duty", extra={"site": site, "unit": unit})
        if unit is not None:
            r.metrics.uncovered.labels(site, unit).set(1)
        r.metrics.nobody_on_duty.inc()
        alert = r.hub.raise_alert(lambda alert_id, at: coverage.gap_alert(gap, alert_id, at))
        self.open[gap] = alert.id
        where = f"{site}/{unit or '-'}"
        r.record(RoutingRecord(alert.id, now, RoutingKind.NOBODY_ON_DUTY, SYSTEM, detail=where))
        for who in roster.on_site(r.on_duty(now), site):
            msg = Message(MessageKind.NOBODY_ON_DUTY, who, site, alert, now, reason=unit)
            r.deliver("mqtt", msg, escalate=False)

    def _close(self, gap: coverage.Gap) -> None:
        site, unit = gap
        alert_id = self.open.pop(gap)
        if unit is not None:
            self.router.metrics.uncovered.labels(site, unit).set(0)
        log.info("on duty again", extra={"site": site, "unit": unit, "alert_id": alert_id})
        self.router.spawn(self._resolve(alert_id, gap))

    async def _resolve(self, alert_id: str, gap: coverage.Gap) -> None:
        """The system takes the gap's alert (if nobody did) and resolves it with a note."""
        r = self.router
        alert = next((a for a in r.hub.open_alerts() if a.id == alert_id), None)
        if alert is None:
            return  # somebody closed it already
        now = r.now()
        site, unit = gap
        logged_on = any(
            x.on
            and x.site == site
            and x.at >= alert.raised_at
            and (unit is None or unit in x.units)
            for x in r.shift_log
        )
        note = coverage.covered_note("log-on" if logged_on else "shift started")
        msg = Message(MessageKind.WITHDRAW, RESPONSE_CENTRE, alert.site, alert, now, reason=note)
        r.deliver("webhook", msg, escalate=False)
        try:
            if alert.state in (AlertState.RAISED, AlertState.NOTIFIED):
                await r.hub.command(alert_id, Command.ACCEPT, SYSTEM)
            await r.hub.command(alert_id, Command.RESOLVE, SYSTEM, outcome=Outcome.OTHER, note=note)
        except (IllegalTransition, NotFound) as exc:
            log.info("gap alert not resolved by the system: %s", exc, extra={"alert_id": alert_id})
