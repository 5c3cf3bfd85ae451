"""HTTP routes for legal bases: record, review, renew, approve, withdraw, notices, and the
plain-language page a resident or guardian can read. Every read and write is audit-logged.

| route                                          | roles (hub.consent.access)          |
|------------------------------------------------|-------------------------------------|
| GET  /api/v1/residents/{id}/bases              | BASIS_READERS, in scope or glass    |
| GET  /api/v1/residents/{id}/monitoring         | same; ``?format=html`` for the page |
| POST /api/v1/bases                             | BASIS_WRITERS, resident in scope    |
| GET  /api/v1/bases/{id}                        | BASIS_READERS, with who did what    |
| POST /api/v1/bases/{id}/review|renew|approve|withdraw | BASIS_WRITERS                |
| GET  /api/v1/consent/notices                   | NOTICE_READERS (own site)           |
| POST /api/v1/consent/notices/acknowledge       | NOTICE_READERS                      |
| POST /api/v1/placements                        | PLACERS; 409 without a covering basis |
| GET  /consent/                                 | anyone (the page logs in with the API) |

After every change to a basis the hub reloads its consent gate and republishes the
affected gateways' configs (``hub.consent.republish``), so a withdrawal reaches the
gateway's own filter at once.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from importlib import resources
from typing import Annotated, Any, Literal

import uuid6
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import AwareDatetime, BaseModel, Field

from hub.auth import Principal, require
from hub.consent import access as ca
from hub.consent import notices, republish
from hub.consent.auditing import audit, audit_reads, hub_of, now_of
from hub.consent.devices import placement_problem
from hub.consent.plain import monitoring_html, monitoring_summary
from hub.consent.records import BasisAction, BasisChange, Notice, NoticeKind
from hub.store.base import PlacementRecord, Resident
from rules.consent import BasisKind, LegalBasis, basis_from_json, basis_to_json

router = APIRouter(prefix="/api/v1", tags=["consent"])
Reader = Annotated[Principal, Depends(require(*ca.BASIS_READERS))]
Writer = Annotated[Principal, Depends(require(*ca.BASIS_WRITERS))]
NoticeReader = Annotated[Principal, Depends(require(*ca.NOTICE_READERS))]


class ChangeIn(BaseModel):
    note: Annotated[str, Field(min_length=1, max_length=500)] | None = None


class ReviewIn(ChangeIn):
    review_at: AwareDatetime


class RenewIn(ChangeIn):
    valid_to: AwareDatetime | None
    review_at: AwareDatetime | None = None


class ApproveIn(ChangeIn):
    approved_at: AwareDatetime
    note: Annotated[str, Field(min_length=1, max_length=500)]  # the Statsforvalter's reference


class WithdrawIn(BaseModel):
    reason: Annotated[str, Field(min_length=3, max_length=500)]


class NoticeAckIn(BaseModel):
    basis_id: str
    kind: NoticeKind
    due_at: AwareDatetime


async def _resident(request: Request, resident_id: str) -> Resident:
    hub = hub_of(request)
    resident = await hub.run_store(hub.store.get_resident, resident_id)
    if resident is None:
        raise HTTPException(404, "no such resident")
    return resident


async def _readable(request: Request, principal: Principal, resident_id: str) -> Resident:
    resident = await _resident(request, resident_id)
    if not ca.may_read(principal, resident, request.app.state.break_glass, now_of(request)):
        # 404, not 403: whether a resident exists is itself resident data.
        raise HTTPException(404, "no such resident")
    return resident


async def _basis(request: Request, basis_id: str) -> LegalBasis:
    hub = hub_of(request)
    basis = await hub.run_store(hub.store.get_basis, basis_id)
    if basis is None:
        raise HTTPException(404, "no such basis")
    return basis


async def _save(
    request: Request, principal: Principal, basis: LegalBasis, action: BasisAction, note: str | None
) -> dict[str, Any]:
    hub = hub_of(request)
    now = now_of(request)
    change = BasisChange(basis.id, now, principal.username, action, note)
    await hub.run_store(hub.store.save_basis, basis, change)
    await audit(request, principal, f"basis.{action}", basis.resident_id, basis.id, note)
    reload = getattr(hub, "reload_consent", None)
    if reload is not None:
        await reload()
    await republish.bases_changed(request, basis.resident_id)
    await hub.run_store(notices.send_due, hub.store, now)  # a notice due now shows at once
    return basis_to_json(basis)


@router.get("/residents/{resident_id}/bases")
async def resident_bases(
    resident_id: str, request: Request, principal: Reader
) -> list[dict[str, Any]]:
    await _readable(request, principal, resident_id)
    hub = hub_of(request)
    bases = await hub.run_store(hub.store.list_bases, resident_id)
    await audit(request, principal, "basis.list", resident_id, None, None)
    return [basis_to_json(b) for b in bases]


@router.get("/residents/{resident_id}/monitoring", response_model=None)
async def resident_monitoring(
    resident_id: str,
    request: Request,
    principal: Reader,
    format: Literal["json", "html"] = "json",
) -> dict[str, Any] | HTMLResponse:
    """What is monitored about me, when, why, on which basis, until when, who can see it."""
    resident = await _readable(request, principal, resident_id)
    hub = hub_of(request)
    bases = await hub.run_store(hub.store.list_bases, resident_id)
    zones = await hub.run_store(hub.store.site_zones)
    await audit(request, principal, "monitoring.read", resident_id, None, None)
    summary = monitoring_summary(resident, bases, now_of(request), zones.get(resident.site))
    if format == "html":
        return HTMLResponse(monitoring_html(summary))
    return summary


@router.post("/bases", status_code=201, responses={404: {}, 422: {}})
async def record_basis(
    body: dict[str, Any], request: Request, principal: Writer
) -> dict[str, Any]:
    """Body: the basis as JSON (``rules.consent.basis_to_json``); ``id`` may be left out."""
    data = {"id": f"basis-{uuid6.uuid7()}", "decided_by": principal.username} | body
    data.pop("withdrawn_at", None)  # withdrawal has its own route, with a reason
    try:
        basis = basis_from_json(data)
    except ValueError as exc:
        raise HTTPException(422, f"invalid basis: {exc}") from exc
    resident = await _resident(request, basis.resident_id)
    if not ca.may_write(principal, resident):
        raise HTTPException(404, "no such resident")
    hub = hub_of(request)
    if await hub.run_store(hub.store.get_basis, basis.id) is not None:
        raise HTTPException(409, f"basis {basis.id} exists; review, renew or withdraw it")
    return await _save(request, principal, basis, BasisAction.RECORD, None)


@router.get("/bases/{basis_id}")
async def get_basis(basis_id: str, request: Request, principal: Reader) -> dict[str, Any]:
    basis = await _basis(request, basis_id)
    await _readable(request, principal, basis.resident_id)
    hub = hub_of(request)
    changes = await hub.run_store(hub.store.basis_changes, basis_id)
    await audit(request, principal, "basis.read", basis.resident_id, basis_id, None)
    history = [
        {"at": c.at.isoformat(), "actor": c.actor, "action": str(c.action), "note": c.note}
        for c in changes
    ]
    return basis_to_json(basis) | {"history": history}


async def _change(
    request: Request, principal: Principal, basis_id: str
) -> tuple[LegalBasis, datetime]:
    basis = await _basis(request, basis_id)
    resident = await _resident(request, basis.resident_id)
    if not ca.may_write(principal, resident):
        raise HTTPException(404, "no such basis")
    if basis.withdrawn_at is not None:
        raise HTTPException(409, "the basis was withdrawn; record a new one")
    return basis, now_of(request)


def _replace(basis: LegalBasis, **changes: Any) -> LegalBasis:
    try:
        return dataclasses.replace(basis, **changes)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc


@router.post("/bases/{basis_id}/review")
async def review_basis(
    basis_id: str, body: ReviewIn, request: Request, principal: Writer
) -> dict[str, Any]:
    basis, _ = await _change(request, principal, basis_id)
    new = _replace(basis, review_at=body.review_at)
    return await _save(request, principal, new, BasisAction.REVIEW, body.note)


@router.post("/bases/{basis_id}/renew")
async def renew_basis(
    basis_id: str, body: RenewIn, request: Request, principal: Writer
) -> dict[str, Any]:
    basis, _ = await _change(request, principal, basis_id)
    new = _replace(basis, valid_to=body.valid_to, review_at=body.review_at or basis.review_at)
    return await _save(request, principal, new, BasisAction.RENEW, body.note)


@router.post("/bases/{basis_id}/approve")
async def approve_basis(
    basis_id: str, body: ApproveIn, request: Request, principal: Writer
) -> dict[str, Any]:
    """Record the Statsforvalter's approval of a kapittel 9 decision."""
    basis, _ = await _change(request, principal, basis_id)
    if basis.basis is not BasisKind.DECISION_HOL_9:
        raise HTTPException(422, "only a decision_hol_9 needs the Statsforvalter's approval")
    new = _replace(basis, approved_at=body.approved_at)
    return await _save(request, principal, new, BasisAction.APPROVE, body.note)


@router.post("/bases/{basis_id}/withdraw")
async def withdraw_basis(
    basis_id: str, body: WithdrawIn, request: Request, principal: Writer
) -> dict[str, Any]:
    """Takes effect at once: the hub drops the next event this basis covered."""
    basis, now = await _change(request, principal, basis_id)
    new = _replace(basis, withdrawn_at=now)
    return await _save(request, principal, new, BasisAction.WITHDRAW, body.reason)


def _notice_out(n: Notice, basis: LegalBasis | None) -> dict[str, Any]:
    return {
        "basis_id": n.basis_id,
        "resident_id": basis.resident_id if basis else None,
        "measure": basis.measure if basis else None,
        "kind": str(n.kind),
        "due_at": n.due_at.isoformat(),
        "role": n.role,
        "site": n.site,
        "created_at": n.created_at.isoformat(),
        "acknowledged_by": n.acknowledged_by,
    }


@router.get("/consent/notices")
async def list_notices(request: Request, principal: NoticeReader) -> list[dict[str, Any]]:
    """The notices for the caller's role (admin: all) on its site, with the resident and
    measure they are about, so the board's banner can link to the basis."""
    hub = hub_of(request)
    store = hub.store

    def read() -> list[tuple[Notice, LegalBasis | None]]:
        out = []
        for n in store.list_notices(principal.site):
            if principal.role == "admin" or n.role == principal.role:
                out.append((n, store.get_basis(n.basis_id)))
        return out

    mine = await hub.run_store(read)
    rows = [(b.resident_id if b else None, n.basis_id) for n, b in mine]
    await audit_reads(request, principal, "notice.list", rows, "notice before expiry or review")
    return [_notice_out(n, b) for n, b in mine]


@router.post("/consent/notices/acknowledge")
async def acknowledge_notice(
    body: NoticeAckIn, request: Request, principal: NoticeReader
) -> dict[str, bool]:
    hub = hub_of(request)
    notices = await hub.run_store(hub.store.list_notices, principal.site)
    match = next(
        (
            n
            for n in notices
            if (n.basis_id, n.kind, n.due_at) == (body.basis_id, body.kind, body.due_at)
        ),
        None,
    )
    if match is None:
        raise HTTPException(404, "no such notice")
    done = await hub.run_store(hub.store.acknowledge_notice, match, principal.username)
    await audit(request, principal, "notice.acknowledge", None, body.basis_id, None)
    return {"acknowledged": done}


class PlacementIn(BaseModel):
    device: str
    unit: str | None = None
    apartment: str | None = None
    room: str | None = None
    resident_id: str | None = None


@router.post("/placements", status_code=201, responses={409: {}, 404: {}})
async def place_device(
    body: PlacementIn,
    request: Request,
    principal: Annotated[Principal, Depends(require(*ca.PLACERS))],
) -> dict[str, Any]:
    """Install a device; refused (409, with the reason) when it would monitor a resident
    without a legal basis in force that covers what it reports."""
    hub = hub_of(request)
    store = hub.store
    now = now_of(request)

    def check_and_place() -> str | None:
        views = [v for v in store.list_devices() if v.device.id == body.device]
        if not views:
            return "no such device"
        problem = placement_problem(
            views[0].device.type,
            body.resident_id,
            store.list_bases(body.resident_id) if body.resident_id else [],
            now,
        )
        if problem is None:
            store.place(PlacementRecord(**body.model_dump()))
        return problem

    problem = await hub.run_store(check_and_place)
    if problem == "no such device":
        raise HTTPException(404, problem)
    await audit(request, principal, "placement.refused" if problem else "placement.set",
                body.resident_id, body.device, problem)  # fmt: skip
    if problem is not None:
        raise HTTPException(409, f"placement refused: {problem}")
    reload = getattr(hub, "reload_registry", None)
    if reload is not None:
        await reload()
    return body.model_dump()


def mount_pages(app: FastAPI) -> None:
    """The consent pages at /consent/ (static; every datum comes through the API above)."""
    folder = resources.files("hub") / "web" / "consent"
    app.mount("/consent", StaticFiles(directory=str(folder), html=True), name="consent")
