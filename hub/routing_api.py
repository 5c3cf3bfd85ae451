"""Routing routes: roster, shift log on/off, reject / on my way, the routing
log of an alert, statistics, and the alarm board page.

| route                                 | who                                      |
|---------------------------------------|------------------------------------------|
| GET    /api/v1/roster/shifts          | care roles, own site                     |
| PUT    /api/v1/roster/shifts/{id}     | admin, leader (own site and units)       |
| DELETE /api/v1/roster/shifts/{id}     | admin, leader                            |
| GET    /api/v1/roster/on-duty         | care roles, own site                     |
| POST   /api/v1/shift/logon, /logoff   | nattevakt, staff, leader: themselves     |
| POST   /api/v1/alerts/{id}/reject     | ALERT_ACTORS who may command the alert   |
| POST   /api/v1/alerts/{id}/on-my-way  | same (accepts first when nobody has)     |
| GET    /api/v1/alerts/{id}/routing    | ALERT_READERS who may see the alert      |
| GET    /api/v1/stats                  | ALERT_READERS, over the alerts they see  |
| GET    /board/                        | anyone (the page logs in with the API)   |
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import datetime, time, timedelta
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

from hub import access
from hub.alerts import Alert, AlertState, Command
from hub.api import AlertActor, AlertViewer, HubDep, _visible_alert
from hub.auth import Principal, require
from hub.channels.router import Router
from hub.consent.auditing import audit_reads
from hub.routing import stats as stats_core
from hub.routing.logon import LogonRefused, shift_entry
from hub.routing.roster import Shift
from hub.schemas import AlertOut
from hub.store.base import AlertFilter, Role

router = APIRouter(prefix="/api/v1", tags=["routing"])
MANAGERS = (Role.ADMIN, Role.LEADER)
STAFF_ROLES = (Role.NATTEVAKT, Role.STAFF, Role.LEADER, Role.ADMIN)
STATS_SCAN = 20_000


def _router(request: Request) -> Router:
    routing: Router | None = getattr(request.app.state, "routing", None)
    if routing is None:
        raise HTTPException(503, "routing is not running")
    return routing


RouterDep = Annotated[Router, Depends(_router)]


class ShiftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    staff: str = Field(min_length=1, max_length=64)
    site: str = Field(min_length=1, max_length=64)
    units: list[str] = Field(min_length=1, max_length=50)
    start: time
    end: time
    tz: str = "Europe/Oslo"
    primary_for: list[str] = Field(default_factory=list, max_length=100)


class ShiftOut(ShiftIn):
    id: str


class LogonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    units: list[str] | None = None  # default: the account's units


class OnDutyOut(BaseModel):
    staff: str
    site: str
    units: list[str]
    primary_for: list[str]


class RoutingOut(BaseModel):
    at: datetime
    kind: str
    actor: str
    recipient: str | None
    channel: str | None
    step: int | None
    detail: str | None


def _shift_out(s: Shift) -> ShiftOut:
    return ShiftOut(
        id=s.id,
        staff=s.staff,
        site=s.site,
        units=list(s.units),
        start=s.start,
        end=s.end,
        tz=s.tz,
        primary_for=list(s.primary_for),
    )


def _may_manage(p: Principal, site: str, units: list[str]) -> bool:
    if p.role is Role.ADMIN:
        return True
    return p.site == site and all(u in p.units for u in units)


@router.get("/roster/shifts")
async def list_shifts(
    principal: Annotated[Principal, Depends(require(*STAFF_ROLES))], hub: HubDep
) -> list[ShiftOut]:
    shifts = await hub.run_store(hub.store.list_shifts, access.site_scope(principal))
    return [_shift_out(s) for s in shifts]


@router.put("/roster/shifts/{shift_id}")
async def put_shift(
    shift_id: str,
    body: ShiftIn,
    principal: Annotated[Principal, Depends(require(*MANAGERS))],
    hub: HubDep,
    routing: RouterDep,
) -> ShiftOut:
    if not _may_manage(principal, body.site, body.units):
        raise HTTPException(403, "you may manage shifts only on your own site and units")
    try:
        shift = Shift(
            shift_id,
            body.staff,
            body.site,
            tuple(body.units),
            body.start,
            body.end,
            body.tz,
            tuple(body.primary_for),
        )
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    await hub.run_store(hub.store.save_shift, shift)
    await routing.reload_roster()
    return _shift_out(shift)


@router.delete("/roster/shifts/{shift_id}", status_code=204)
async def delete_shift(
    shift_id: str,
    principal: Annotated[Principal, Depends(require(*MANAGERS))],
    hub: HubDep,
    routing: RouterDep,
) -> None:
    current = [s for s in await hub.run_store(hub.store.list_shifts) if s.id == shift_id]
    if not current:
        raise HTTPException(404, f"no shift {shift_id}")
    if not _may_manage(principal, current[0].site, list(current[0].units)):
        raise HTTPException(403, "you may manage shifts only on your own site and units")
    await hub.run_store(hub.store.delete_shift, shift_id)
    await routing.reload_roster()


@router.get("/roster/on-duty")
async def on_duty(
    principal: Annotated[Principal, Depends(require(*STAFF_ROLES))], routing: RouterDep
) -> list[OnDutyOut]:
    site = access.site_scope(principal)
    return [
        OnDutyOut(
            staff=d.staff, site=d.site, units=sorted(d.units), primary_for=sorted(d.primary_for)
        )
        for d in routing.on_duty().values()
        if site is None or d.site == site
    ]


async def _log(
    principal: Principal, hub: Any, routing: Router, on: bool, units: list[str] | None
) -> OnDutyOut | None:
    try:
        entry = shift_entry(
            principal.username,
            str(principal.role),
            principal.site,
            principal.units,
            principal.site or "",
            on,
            units,
            routing.now(),
        )
    except LogonRefused as exc:
        status = {"site": 409, "no_units": 422}.get(exc.why, 403)
        raise HTTPException(status, exc.reason) from exc
    await hub.run_store(hub.store.log_shift, entry)
    await routing.reload_roster()
    mine = routing.on_duty().get(principal.username)
    if mine is None:
        return None
    return OnDutyOut(
        staff=mine.staff,
        site=mine.site,
        units=sorted(mine.units),
        primary_for=sorted(mine.primary_for),
    )


SelfStaff = Annotated[Principal, Depends(require(Role.NATTEVAKT, Role.STAFF, Role.LEADER))]


@router.post("/shift/logon")
async def logon(
    body: LogonIn, principal: SelfStaff, hub: HubDep, routing: RouterDep
) -> OnDutyOut | None:
    return await _log(principal, hub, routing, True, body.units)


@router.post("/shift/logoff")
async def logoff(principal: SelfStaff, hub: HubDep, routing: RouterDep) -> OnDutyOut | None:
    return await _log(principal, hub, routing, False, [])


async def _commandable(hub: Any, principal: Principal, alert_id: str, command: Command) -> Alert:
    alert = await _visible_alert(hub, principal, alert_id)
    if not access.can_command(principal, alert, command):
        raise HTTPException(403, f"role {principal.role} may not act on this alert")
    return alert


@router.post("/alerts/{alert_id}/reject")
async def reject(
    alert_id: str, principal: AlertActor, hub: HubDep, routing: RouterDep, request: Request
) -> AlertOut:
    """'Busy': the next escalation step runs at once, without you."""
    alert = await _commandable(hub, principal, alert_id, Command.ACCEPT)
    if alert.state not in (AlertState.RAISED, AlertState.NOTIFIED):
        raise HTTPException(409, f"alert {alert_id} is {alert.state}: cannot reject")
    routing.reject(alert_id, principal.username)
    await audit_reads(request, principal, "alert.reject", [(alert.resident_id, alert.id)],
                      "alert handling")  # fmt: skip
    return AlertOut.of(alert)


class OnMyWayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Shown on the resident's device with "help is coming" (docs/resident-feedback.md).
    expected_minutes: int | None = Field(default=None, ge=1, le=240)


@router.post("/alerts/{alert_id}/on-my-way")
async def on_my_way(
    alert_id: str, principal: AlertActor, hub: HubDep, routing: RouterDep, request: Request,
    body: OnMyWayIn | None = None,
) -> AlertOut:  # fmt: skip
    alert = await _commandable(hub, principal, alert_id, Command.ACCEPT)
    feedback = getattr(request.app.state, "feedback", None)
    if body is not None and body.expected_minutes is not None and feedback is not None:
        # Before the accept: the "help_coming" that the accept sends carries it.
        feedback.expect(alert_id, body.expected_minutes)
    if alert.state in (AlertState.RAISED, AlertState.NOTIFIED):
        alert = await hub.command(alert_id, Command.ACCEPT, principal.username)
    elif alert.accepted_by != principal.username:
        raise HTTPException(409, f"alert {alert_id} is taken by {alert.accepted_by}")
    routing.on_my_way(alert_id, principal.username)
    await audit_reads(request, principal, "alert.on_my_way", [(alert.resident_id, alert.id)],
                      "alert handling")  # fmt: skip
    return AlertOut.of(alert)


@router.get("/alerts/{alert_id}/routing")
async def routing_log(
    alert_id: str, principal: AlertViewer, hub: HubDep, request: Request
) -> list[RoutingOut]:
    alert = await _visible_alert(hub, principal, alert_id)
    records = await hub.run_store(hub.store.routing_log, alert_id)
    await audit_reads(request, principal, "alert.routing.read", [(alert.resident_id, alert.id)],
                      "routing log")  # fmt: skip
    return [RoutingOut(**{**asdict(r), "kind": str(r.kind)}) for r in records]


def _stats_reads(
    store: Any,
    flt: AlertFilter,
    principal: Principal,
    since: datetime | None,
    until: datetime | None,
) -> tuple[list[Alert], dict[str, Any], list[Shift]]:
    alerts = [
        a
        for a in store.list_alerts(flt)
        if access.can_see_alert(principal, a)
        and (since is None or a.raised_at >= since)
        and (until is None or a.raised_at < until)
    ]
    return alerts, {a.id: store.transitions(a.id) for a in alerts}, store.list_shifts(flt.site)


@router.get("/stats")
async def get_stats(
    principal: Annotated[Principal, Depends(require(*access.ALERT_READERS))],
    hub: HubDep,
    request: Request,
    since: datetime | None = None,
    until: datetime | None = None,
    site: str | None = None,
    resident: Annotated[bool, Query(description="include per-resident rates")] = False,
) -> dict[str, Any]:
    """Times to notify/accept/on-site/resolve and false-alarm rates, over the alerts
    the caller may see. Per-resident rates only on request (they are health data)."""
    flt = access.scope_alerts(principal, AlertFilter(site=site, limit=STATS_SCAN))
    if flt is None:
        raise HTTPException(403, "not your site")
    since = since or datetime.now().astimezone() - timedelta(days=30)
    alerts, transitions, shifts = await hub.run_store(
        _stats_reads, hub.store, flt, principal, since, until
    )
    result = await asyncio.to_thread(stats_core.compute, alerts, transitions, shifts)
    body = asdict(result)
    for rates in body["false_alarms"].values():
        for key, rate in rates.items():
            rate["false_alarm_rate"] = (
                rate["false_alarms"] / rate["resolved"] if rate["resolved"] else None
            )
            rates[key] = rate
    if not (resident and access.may_see_resident_name(principal.role)):
        body["false_alarms"].pop("resident", None)
    else:  # per-resident rates are health data about each resident named
        rows = [(r, None) for r in body["false_alarms"].get("resident", {})]
        await audit_reads(request, principal, "stats.resident.read", rows, "statistics")
    body["since"] = since
    body["until"] = until
    return body


def mount_board(app: FastAPI) -> None:
    """The alarm board's static page at /board/."""
    folder = resources.files("hub") / "web" / "board"
    app.mount("/board", StaticFiles(directory=str(folder), html=True), name="board")


def install(app: FastAPI, routing: Router | None) -> None:
    app.state.routing = routing
    app.include_router(router)
    mount_board(app)
