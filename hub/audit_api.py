"""HTTP routes for the audit log: a resident's access log, verification, break-the-glass.

| route                                        | roles                                 |
|----------------------------------------------|---------------------------------------|
| GET  /api/v1/residents/{id}/access-log       | LOG_READERS, resident in scope        |
| POST /api/v1/residents/{id}/break-glass      | GLASS_BREAKERS, with a stated reason  |
| GET  /api/v1/audit/break-glass               | leader (own site), admin, auditor     |
| GET  /api/v1/audit/verify                    | AUDITORS                              |

The access log answers GDPR article 15 and the Norwegian right to see who has
looked at one's record: every entry about the resident, with who, when, what, why.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from hub.audit import AuditRecord, verify
from hub.auth import Principal, require
from hub.consent import access as ca
from hub.consent.auditing import audit, audit_reads, hub_of, now_of
from hub.store.base import Role

router = APIRouter(prefix="/api/v1", tags=["audit"])
BREAK_GLASS_FOR = timedelta(hours=1)
LogReader = Annotated[Principal, Depends(require(*ca.LOG_READERS))]
Auditor = Annotated[Principal, Depends(require(*ca.AUDITORS))]
GlassBreaker = Annotated[Principal, Depends(require(*ca.GLASS_BREAKERS))]
GlassViewer = Annotated[Principal, Depends(require(Role.LEADER, Role.ADMIN, Role.AUDITOR))]


class BreakGlassIn(BaseModel):
    reason: Annotated[str, Field(min_length=10, max_length=500)]


def record_out(r: AuditRecord) -> dict[str, Any]:
    e = r.entry
    return {
        "seq": r.seq,
        "at": e.at.isoformat(),
        "who": e.actor,
        "role": e.role,
        "what": e.action,
        "resident_id": e.resident_id,
        "target": e.target,
        "why": e.reason,
    }


@router.get("/residents/{resident_id}/access-log")
async def access_log(resident_id: str, request: Request, principal: LogReader) -> dict[str, Any]:
    hub = hub_of(request)
    resident = await hub.run_store(hub.store.get_resident, resident_id)
    if resident is None or not ca.may_read_log(principal, resident):
        raise HTTPException(404, "no such resident")
    records = await hub.run_store(hub.store.audit_records, resident_id, 0, 100_000)
    await audit(request, principal, "access_log.export", resident_id, None, None)
    return {"resident_id": resident_id, "entries": [record_out(r) for r in records]}


@router.post("/residents/{resident_id}/break-glass", status_code=201)
async def break_glass(
    resident_id: str, body: BreakGlassIn, request: Request, principal: GlassBreaker
) -> dict[str, Any]:
    """Open a resident outside one's own units for an hour, with a reason the leader sees."""
    hub = hub_of(request)
    resident = await hub.run_store(hub.store.get_resident, resident_id)
    if resident is None:
        raise HTTPException(404, "no such resident")
    if principal.site is not None and resident.site != principal.site:
        raise HTTPException(404, "no such resident")
    until = now_of(request) + BREAK_GLASS_FOR
    await audit(request, principal, "break_glass", resident_id, None, body.reason)
    request.app.state.break_glass.grant(principal.username, resident_id, until, body.reason)
    return {"resident_id": resident_id, "until": until.isoformat()}


@router.get("/audit/break-glass")
async def break_glass_log(request: Request, principal: GlassViewer) -> list[dict[str, Any]]:
    """Every break-the-glass on the leader's site (all sites for admin and auditor)."""
    hub = hub_of(request)

    def read() -> list[tuple[AuditRecord, str | None]]:
        store = hub.store
        out = []
        for r in store.audit_records(None, 0, 1_000_000):
            if r.entry.action == "break_glass":
                resident = store.get_resident(r.entry.resident_id) if r.entry.resident_id else None
                out.append((r, resident.site if resident else None))
        return out

    rows = await hub.run_store(read)
    scope = None if principal.role in (Role.ADMIN, Role.AUDITOR) else principal.site
    shown = [r for r, site in rows if scope is None or site == scope]
    read_rows = [(r.entry.resident_id, str(r.seq)) for r in shown]
    await audit_reads(request, principal, "break_glass.review", read_rows, "break-the-glass review")
    return [record_out(r) for r in shown]


@router.get("/audit/verify")
async def verify_log(request: Request, principal: Auditor) -> dict[str, Any]:
    hub = hub_of(request)
    store = hub.store
    records, head = await hub.run_store(
        lambda: (store.audit_records(None, 0, 10_000_000), store.audit_head())
    )
    problems = verify(records, head)
    await audit(request, principal, "audit.verify", None, None, None)
    return {
        "ok": not problems,
        "rows": len(records),
        "head": None if head is None else {"seq": head[0], "hash": head[1]},
        "problems": [{"seq": p.seq, "what": p.what, "detail": p.detail} for p in problems],
    }
