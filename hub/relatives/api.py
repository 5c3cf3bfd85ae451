"""HTTP routes of the relatives registry and of a relative's reply.

| route                                                   | who                              |
|---------------------------------------------------------|----------------------------------|
| GET    /api/v1/residents/{id}/relatives                 | admin, leader (resident in scope)|
| PUT    /api/v1/residents/{id}/relatives/{relative_id}   | same                             |
| DELETE /api/v1/residents/{id}/relatives/{relative_id}   | same                             |
| POST   /api/v1/bases/{id}/relatives                     | admin, leader (as other basis changes) |
| POST   /api/v1/relatives/reply/{token}                  | the relative: the signed token is the credential |
| GET    /relatives/?lang=nb#{token}                      | anyone: a static page with the two answers (the token stays in the fragment) |

Every registry call is audited as an act on the resident's data (``relative.list``,
``relative.set``, ``relative.delete``); a resident outside the caller's units is 404,
as for the bases. A reply (``{"answer": "handling" | "cannot"}``) is recorded in the
alert's routing log, where staff see it, and in the audit log.
"""

from __future__ import annotations

from importlib import resources
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

from hub.audit import AuditEntry
from hub.auth import Principal, require
from hub.consent import access as ca
from hub.consent import api as consent_api
from hub.consent.auditing import audit, hub_of, now_of
from hub.consent.records import BasisAction
from hub.relatives import token
from hub.relatives.model import Relative, recipient_of, relative_to_json
from hub.store.base import Resident, Role

router = APIRouter(prefix="/api/v1", tags=["relatives"])
KEEPERS = (Role.ADMIN, Role.LEADER)
Keeper = Annotated[Principal, Depends(require(*KEEPERS))]
BasisWriter = Annotated[Principal, Depends(require(*ca.BASIS_WRITERS))]
WHY = "relatives registry"


class RelativeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: str = Field(min_length=1, max_length=200)
    relation: str = Field(min_length=1, max_length=200)
    phone: str | None = None
    address: str | None = None
    language: Literal["nb", "en"] = "nb"
    notify: bool = True


class NotifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notify_relatives: list[str] = Field(max_length=20)
    note: Annotated[str, Field(min_length=1, max_length=500)] | None = None


class ReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: Literal["handling", "cannot"]


async def _resident(request: Request, principal: Principal, resident_id: str) -> Resident:
    hub = hub_of(request)
    resident: Resident | None = await hub.run_store(hub.store.get_resident, resident_id)
    if resident is None or not ca.in_scope(principal, resident):
        raise HTTPException(404, "no such resident")  # existence is resident data too
    return resident


async def _reload(request: Request) -> None:
    routing = getattr(request.app.state, "routing", None)
    book = getattr(routing, "relatives", None)
    if book is not None:
        await book.reload()


@router.get("/residents/{resident_id}/relatives")
async def list_relatives(
    resident_id: str, request: Request, principal: Keeper
) -> list[dict[str, Any]]:
    await _resident(request, principal, resident_id)
    hub = hub_of(request)
    found = await hub.run_store(hub.store.list_relatives, resident_id)
    await audit(request, principal, "relative.list", resident_id, None, WHY)
    return [relative_to_json(r) for r in found]


@router.put("/residents/{resident_id}/relatives/{relative_id}", responses={404: {}, 422: {}})
async def put_relative(
    resident_id: str, relative_id: str, body: RelativeIn, request: Request, principal: Keeper
) -> dict[str, Any]:
    """Add or replace a relative. Whether they are told of a measure's alerts is on the
    basis (``notify_relatives``), recorded through ``POST /api/v1/bases``."""
    await _resident(request, principal, resident_id)
    try:
        relative = Relative(resident_id=resident_id, id=relative_id, **body.model_dump())
    except ValueError as exc:
        raise HTTPException(422, f"invalid relative: {exc}") from exc
    hub = hub_of(request)
    await hub.run_store(hub.store.save_relative, relative, now_of(request))
    await audit(request, principal, "relative.set", resident_id, relative_id, WHY)
    await _reload(request)
    return relative_to_json(relative)


@router.delete("/residents/{resident_id}/relatives/{relative_id}", status_code=204)
async def delete_relative(
    resident_id: str, relative_id: str, request: Request, principal: Keeper
) -> None:
    await _resident(request, principal, resident_id)
    hub = hub_of(request)
    if not await hub.run_store(hub.store.delete_relative, resident_id, relative_id):
        raise HTTPException(404, "no such relative")
    await audit(request, principal, "relative.delete", resident_id, relative_id, WHY)
    await _reload(request)


@router.post("/bases/{basis_id}/relatives", responses={404: {}, 409: {}, 422: {}})
async def set_basis_relatives(
    basis_id: str, body: NotifyIn, request: Request, principal: BasisWriter
) -> dict[str, Any]:
    """Which of the resident's registered relatives may be told of this measure's alerts
    (an empty list: nobody). A change of the basis, in its history and the audit log."""
    basis, _ = await consent_api._change(request, principal, basis_id)
    hub = hub_of(request)
    known = {r.id for r in await hub.run_store(hub.store.list_relatives, basis.resident_id)}
    unknown = sorted(set(body.notify_relatives) - known)
    if unknown:
        raise HTTPException(422, f"not registered as relatives: {', '.join(unknown)}")
    new = consent_api._replace(basis, notify_relatives=tuple(body.notify_relatives))
    return await consent_api._save(request, principal, new, BasisAction.RELATIVES, body.note)


@router.post("/relatives/reply/{reply_token}", responses={403: {}, 409: {}, 410: {}, 503: {}})
async def relative_reply(reply_token: str, body: ReplyIn, request: Request) -> dict[str, Any]:
    """A relative's answer to the message they got. The token is the credential: signed
    by this hub, for one relative and one alert, until it expires (410)."""
    routing = getattr(request.app.state, "routing", None)
    book = getattr(routing, "relatives", None)
    if routing is None or book is None:
        raise HTTPException(503, "routing is not running")
    now = now_of(request)
    try:
        claims = token.verify(book.reply.secret, reply_token, now)
    except token.BadToken as exc:
        raise HTTPException(410 if exc.expired else 403, str(exc)) from exc
    if not routing.relative_answer(claims.alert_id, claims.relative_id, body.answer):
        raise HTTPException(409, "the alert is closed: staff have it")
    hub = hub_of(request)
    alert = await hub.run_store(hub.store.get_alert, claims.alert_id)
    who = recipient_of(claims.relative_id)
    entry = AuditEntry(now, who, "relative", "relative.reply",
                       alert.resident_id if alert else None, claims.alert_id, body.answer)  # fmt: skip
    await hub.run_store(hub.store.append_audit, [entry])
    return {"recorded": True, "answer": body.answer}


def mount_page(app: FastAPI) -> None:
    """The reply page at /relatives/ (static; the answer goes through the route above)."""
    folder = resources.files("hub") / "web" / "relatives"
    app.mount("/relatives", StaticFiles(directory=str(folder), html=True), name="relatives")
