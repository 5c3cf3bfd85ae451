"""HTTP routes for locate requests (see ``hub.consent.locate``).

| route                                         | roles                                  |
|-----------------------------------------------|----------------------------------------|
| POST /api/v1/residents/{id}/locate            | LOCATORS, resident in scope or glass; a GPS basis must allow it now |
| GET  /api/v1/residents/{id}/locate            | same: the requests and, while one is open, the positions |
| POST /api/v1/locate/{request_id}/close        | LOCATORS: the opener, or a leader/admin |

Every route writes to the audit log (who, what, why: the stated reason).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

import uuid6
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from devices.localtime import DEFAULT_ZONE, zone
from hub.auth import Principal, require
from hub.consent import access as ca
from hub.consent.auditing import audit, hub_of, now_of
from hub.consent.locate import DEFAULT_MINUTES, MAX_MINUTES, LocateRequest, LocateRequests
from hub.store.base import EventFilter, Resident, Role
from rules.consent import check

router = APIRouter(prefix="/api/v1", tags=["consent"])
LOCATORS = frozenset({Role.NATTEVAKT, Role.STAFF, Role.LEADER, Role.ADMIN})
Locator = Annotated[Principal, Depends(require(*LOCATORS))]
GPS = "gps.position"
# Positions shown: from this long before the request opened (what retention still
# keeps anyway) until it ends; at most this many, newest first.
LOOKBACK = timedelta(minutes=60)
MAX_POSITIONS = 200


class LocateIn(BaseModel):
    reason: Annotated[str, Field(min_length=10, max_length=500)]
    minutes: Annotated[int, Field(ge=1, le=MAX_MINUTES)] = DEFAULT_MINUTES


def _locates(request: Request) -> LocateRequests:
    found: LocateRequests = hub_of(request).consent.locates
    return found


def request_out(r: LocateRequest, now: datetime) -> dict[str, Any]:
    return {
        "id": r.id,
        "resident_id": r.resident_id,
        "opened_by": r.opened_by,
        "reason": r.reason,
        "opened_at": r.opened_at.isoformat(),
        "until": r.until.isoformat(),
        "closed_at": r.closed_at.isoformat() if r.closed_at else None,
        "closed_by": r.closed_by,
        "open": r.is_open(now),
    }


async def _readable(request: Request, principal: Principal, resident_id: str) -> Resident:
    hub = hub_of(request)
    resident: Resident | None = await hub.run_store(hub.store.get_resident, resident_id)
    if resident is None or not ca.may_read(
        principal, resident, request.app.state.break_glass, now_of(request)
    ):
        raise HTTPException(404, "no such resident")
    return resident


@router.post("/residents/{resident_id}/locate", status_code=201, responses={404: {}, 409: {}})
async def open_locate(
    resident_id: str, body: LocateIn, request: Request, principal: Locator
) -> dict[str, Any]:
    """Open a time-limited locate request: the resident's GPS positions are kept and
    shown while it is open. Refused (409) unless a legal basis allows GPS now."""
    resident = await _readable(request, principal, resident_id)
    hub = hub_of(request)
    now = now_of(request)
    bases, zones = await hub.run_store(
        lambda: (hub.store.list_bases(resident_id), hub.store.site_zones())
    )
    verdict = check(bases, resident_id, GPS, now, zone(zones.get(resident.site, DEFAULT_ZONE)))
    if not verdict.allowed:
        await audit(request, principal, "locate.refused", resident_id, None, verdict.reason)
        raise HTTPException(409, f"no legal basis allows GPS for this resident now: {verdict.reason}")
    req = LocateRequest(
        f"locate-{uuid6.uuid7()}", resident_id, principal.username, body.reason, now,
        now + timedelta(minutes=body.minutes),
    )  # fmt: skip
    await audit(request, principal, "locate.request", resident_id, req.id, body.reason)
    _locates(request).add(req)
    return request_out(req, now)


def _positions(store: Any, devices: list[str], since: datetime, until: datetime) -> list[Any]:
    rows = []
    for device in devices:
        flt = EventFilter(device=device, kind=GPS, since=since, until=until, limit=MAX_POSITIONS)
        rows.extend(store.list_events(flt))
    rows.sort(key=lambda r: r.event.ts, reverse=True)
    return rows[:MAX_POSITIONS]


@router.get("/residents/{resident_id}/locate", responses={404: {}})
async def read_locate(resident_id: str, request: Request, principal: Locator) -> dict[str, Any]:
    """The resident's locate requests; while one is open, the GPS positions it holds."""
    await _readable(request, principal, resident_id)
    hub = hub_of(request)
    now = now_of(request)
    requests = _locates(request).of_resident(resident_id, now)
    open_now = [r for r in requests if r.is_open(now)]
    positions: list[Any] = []
    if open_now:
        since = min(r.opened_at for r in open_now) - LOOKBACK

        def read() -> list[Any]:
            devices = [p.device for p in hub.store.placements() if p.resident_id == resident_id]
            return _positions(hub.store, devices, since, now + timedelta(seconds=1))

        positions = await hub.run_store(read)
    why = open_now[0].reason if open_now else None
    await audit(request, principal, "locate.read", resident_id, None, why)
    return {
        "resident_id": resident_id,
        "requests": [request_out(r, now) for r in requests],
        "positions": [
            {"ts": r.event.ts.isoformat(), "device": r.event.device,
             **r.event.model_dump(mode="json")["data"]}
            for r in positions
        ],
    }


@router.post("/locate/{request_id}/close", responses={404: {}})
async def close_locate(request_id: str, request: Request, principal: Locator) -> dict[str, Any]:
    """Close early; the positions then age out like any others."""
    locates = _locates(request)
    now = now_of(request)
    found = locates.get(request_id)
    if found is None or not found.is_open(now):
        raise HTTPException(404, "no open locate request with that id")
    await _readable(request, principal, found.resident_id)
    if found.opened_by != principal.username and principal.role not in (Role.LEADER, Role.ADMIN):
        raise HTTPException(403, "only the opener, a leader or an admin may close it")
    closed = locates.close(request_id, principal.username, now)
    assert closed is not None
    await audit(request, principal, "locate.close", found.resident_id, request_id, None)
    return request_out(closed, now)
