"""HTTP routes that change the device registry, and the CSV export (issue 8).

| route                                         | who                                     |
|-----------------------------------------------|-----------------------------------------|
| POST  /api/v1/devices                         | DEVICE_WRITERS (tekniker: own site)     |
| POST  /api/v1/devices/{id}/actions/{action}   | same; 409 illegal transition or consent |
| PATCH /api/v1/devices/{id}                    | same                                    |
| POST  /api/v1/devices/import?dry_run=...      | same; text/csv body                     |
| GET   /api/v1/devices/export                  | same; text/csv                          |

Every change writes a history row naming the caller. Changes to a device that
serves a resident are audit-logged against that resident. After each write the hub
reloads its registry (rules, gateway configs, supervision follow).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from devices.lifecycle import Action, IllegalDeviceTransition, Location
from hub import access
from hub.auth import Principal, require
from hub.consent.auditing import audit, audit_reads, hub_of, now_of
from hub.consent.devices import PlacementRefused
from hub.registry import csvio
from hub.registry.changes import ActionRequest, BadRequest, Patch, Registration, act, update
from hub.registry.ports import DeviceChange
from hub.registry.writes import (
    AlreadyRegistered,
    ConsentRefused,
    DeviceNotFound,
    change_device,
    import_devices,
    register_device,
)
from hub.schemas import DeviceOut, ErrorOut
from hub.store.base import DeviceView, Role

router = APIRouter(prefix="/api/v1", tags=["devices"])
Writer = Annotated[Principal, Depends(require(*access.DEVICE_WRITERS))]
MAX_CSV_BYTES = 2 * 1024 * 1024
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut}, 409: {"model": ErrorOut}, 422: {"model": ErrorOut}}  # fmt: skip
Text = Annotated[str, Field(min_length=1, max_length=500)]
Id = Annotated[str, Field(pattern=f"^{csvio.DEVICE_ID.pattern}$")]
GatewayIdText = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterIn(_In):
    id: Id
    model: Annotated[str, Field(min_length=1, max_length=100)]
    site: Annotated[str, Field(min_length=1, max_length=100)]
    serial: Annotated[str, Field(max_length=100)] | None = None
    firmware: Annotated[str, Field(max_length=100)] | None = None
    notes: Text | None = None
    service_due_at: AwareDatetime | None = None


class PlaceIn(_In):
    unit: Annotated[str, Field(min_length=1, max_length=100)]
    apartment: Annotated[str, Field(max_length=100)] | None = None
    room: Annotated[str, Field(max_length=100)] | None = None


class ActionIn(_In):
    location: PlaceIn | None = None
    gateway: GatewayIdText | None = None
    resident_id: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    note: Text | None = None


class PatchIn(_In):
    notes: Text | None = None
    firmware: Annotated[str, Field(max_length=100)] | None = None
    service_due_at: AwareDatetime | None = None
    last_service_at: AwareDatetime | None = None
    note: Text | None = None  # why, for the history


class ProblemOut(BaseModel):
    line: int
    column: str | None
    reason: str


class ImportOut(BaseModel):
    dry_run: bool
    ok: bool
    rows: int
    written: int
    problems: list[ProblemOut]


def _scope(principal: Principal) -> Callable[[DeviceView], bool]:
    return lambda view: access.can_write_device(principal, view.device.site)


async def _after(request: Request, principal: Principal, action: str,
                 changes: list[DeviceChange]) -> None:  # fmt: skip
    hub = hub_of(request)
    residents = [(c.placement.resident_id if c.placement else None, c.device.id)
                 for c in changes]  # fmt: skip
    await audit_reads(request, principal, action, residents, "device registry")
    reload = getattr(hub, "reload_registry", None)
    if reload is not None:
        await reload()


async def _run(request: Request, fn: Callable[..., Any], *args: Any,
               refused: Callable[[ConsentRefused], Awaitable[None]] | None = None) -> Any:
    hub = hub_of(request)
    try:
        return await hub.run_store(fn, hub.store, *args)
    except DeviceNotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except (IllegalDeviceTransition, AlreadyRegistered) as exc:
        raise HTTPException(409, str(exc)) from exc
    except PlacementRefused as exc:
        if refused is not None and isinstance(exc, ConsentRefused):
            await refused(exc)
        raise HTTPException(409, f"placement refused: {exc}") from exc
    except BadRequest as exc:
        raise HTTPException(422, str(exc)) from exc


async def _view(request: Request, device_id: str) -> DeviceOut:
    hub = hub_of(request)
    views: list[DeviceView] = await hub.run_store(hub.store.list_devices)
    return DeviceOut.of(next(v for v in views if v.device.id == device_id))


@router.post("/devices", status_code=201, responses=_ERRORS)
async def register_new(body: RegisterIn, principal: Writer, request: Request) -> DeviceOut:
    """Register a device: ``in_stock``, on no gateway, kept for ``site``."""
    if not access.can_write_device(principal, body.site):
        raise HTTPException(422, f"unknown site {body.site!r}")  # not one of the caller's
    new = Registration(body.id, body.serial, body.model, body.site, body.firmware, body.notes,
                       body.service_due_at)  # fmt: skip
    change = await _run(request, register_device, new, principal.username, now_of(request))
    await _after(request, principal, "device.register", [change])
    return await _view(request, body.id)


@router.post("/devices/{device_id}/actions/{action}", responses=_ERRORS)
async def device_action(
    device_id: str, action: Action, principal: Writer, request: Request,
    body: ActionIn | None = None,
) -> DeviceOut:  # fmt: skip
    """A life cycle step (``devices.lifecycle``): ``install`` (location, gateway, optional
    resident), ``activate`` (optional resident: consent checked), ``deactivate``,
    ``uninstall``, ``send_to_repair``, ``repaired``, ``retire``. 409 with the reason when
    the step is not allowed from the device's state or consent does not allow it."""
    body = body or ActionIn()
    now = now_of(request)

    def decide(view: DeviceView) -> DeviceChange:
        loc = body.location
        where = None if loc is None else Location(view.device.site, loc.unit, loc.apartment,
                                                  loc.room)  # fmt: skip
        req = ActionRequest(action, where, body.gateway, body.resident_id, body.note)
        return act(view, req, principal.username, now)

    async def refused(exc: ConsentRefused) -> None:  # the refusal names the resident: logged
        await audit(request, principal, "device.refused", exc.resident_id, device_id, str(exc))

    _, change = await _run(request, change_device, device_id, _scope(principal), decide, now,
                           refused=refused)  # fmt: skip
    await _after(request, principal, f"device.{action}", [change])
    return await _view(request, device_id)


@router.patch("/devices/{device_id}", responses=_ERRORS)
async def patch_device(
    device_id: str, body: PatchIn, principal: Writer, request: Request
) -> DeviceOut:
    """Set notes, firmware or service dates (a field sent as null is cleared)."""
    now = now_of(request)
    given = {k: getattr(body, k) for k in body.model_fields_set if k != "note"}
    patch = Patch(**given, note=body.note)

    def decide(view: DeviceView) -> DeviceChange:
        return update(view, patch, principal.username, now)

    _, change = await _run(request, change_device, device_id, _scope(principal), decide, now)
    await _after(request, principal, "device.update", [change])
    return await _view(request, device_id)


def _write_scope(principal: Principal) -> frozenset[str] | None:
    if principal.role is Role.ADMIN or principal.site is None:
        return None
    return frozenset({principal.site})


@router.post("/devices/import", responses={200: {"model": ImportOut}, 422: {"model": ImportOut},
                                          413: {"model": ErrorOut}})  # fmt: skip
async def import_csv(
    principal: Writer, request: Request, dry_run: Annotated[bool, Query()] = True
) -> JSONResponse:
    """Import devices from CSV (``text/csv``; columns in docs/devices.md). Every bad row is
    reported as {line, column, reason}; nothing is written unless every row is good.
    ``dry_run`` (the default) only checks."""
    body = await request.body()
    if len(body) > MAX_CSV_BYTES:
        raise HTTPException(413, f"a CSV file of at most {MAX_CSV_BYTES} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HTTPException(422, f"the file is not UTF-8 text: {exc}") from exc
    checked: csvio.Checked = await _run(request, import_devices, text, _write_scope(principal),
                                        principal.username, now_of(request), dry_run)  # fmt: skip
    written = 0 if dry_run or checked.problems else len(checked.changes)
    if written:
        await _after(request, principal, "device.import", checked.changes)
    out = ImportOut(dry_run=dry_run, ok=not checked.problems, rows=checked.rows, written=written,
                    problems=[ProblemOut(line=p.line, column=p.column, reason=p.reason)
                              for p in checked.problems])  # fmt: skip
    return JSONResponse(out.model_dump(), status_code=422 if checked.problems else 200)


@router.get("/devices/export", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})  # fmt: skip
async def export_csv(principal: Writer, request: Request, site: str | None = None) -> Response:
    """The devices as CSV, the columns import reads (round-trips)."""
    hub = hub_of(request)
    scope = _write_scope(principal)
    views: list[DeviceView] = await hub.run_store(hub.store.list_devices, site)
    shown = [v for v in views if scope is None or v.device.site in scope]
    rows = [(v.placement.resident_id if v.placement else None, v.device.id) for v in shown]
    await audit_reads(request, principal, "device.export", rows, "device export")
    headers = {"Content-Disposition": 'attachment; filename="devices.csv"'}
    return Response(csvio.export(shown), media_type="text/csv; charset=utf-8", headers=headers)
