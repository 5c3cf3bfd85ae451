"""HTTP routes of the device registry (issue 8).

| route                                  | who (roles in hub.access)                        |
|----------------------------------------|--------------------------------------------------|
| GET /api/v1/devices                    | DEVICE_READERS, each device by can_see_device    |
| GET /api/v1/devices/{id}               | same; 404 when not visible (existence hidden)    |
| GET /api/v1/devices/{id}/history       | same                                             |
| GET /api/v1/gateways                   | DEVICE_READERS, each gateway by can_see_gateway  |
| GET /api/v1/gateways/{site}/{gateway}  | same; 404 when not visible                       |

The writes and the CSV export are in :mod:`hub.registry.write_api`, provisioning in
:mod:`hub.registry.gateway_api`; :mod:`hub.registry.routes` puts them in order.

Reads of devices placed for a resident are audit-logged (one entry per resident).
Gateways carry no resident data. Filters of the device list: ``state`` (repeatable),
``site``, ``unit``, ``gateway``, ``model`` and ``q`` (free text over id, serial,
model, room and notes).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from devices.lifecycle import DeviceState
from hub import access
from hub.auth import Principal, require
from hub.consent.auditing import audit_reads, hub_of
from hub.registry.gateways import GatewayView, gateway_views
from hub.registry.query import DeviceQuery, matches, unit_of
from hub.registry.schemas import GatewayOut, HistoryOut
from hub.registry.sightings import GatewaySightings
from hub.schemas import DeviceOut, ErrorOut
from hub.store.base import DeviceView

router = APIRouter(prefix="/api/v1", tags=["devices"])
Reader = Annotated[Principal, Depends(require(*access.DEVICE_READERS))]
_404: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut}}


def _visible(principal: Principal, view: DeviceView) -> bool:
    return access.can_see_device(principal, view.device.site, unit_of(view))


def _resident_rows(views: list[DeviceView]) -> list[tuple[str | None, str | None]]:
    return [(v.placement.resident_id if v.placement else None, v.device.id) for v in views]


@router.get("/devices")
async def list_devices(
    principal: Reader,
    request: Request,
    state: Annotated[list[DeviceState] | None, Query()] = None,
    site: str | None = None,
    unit: str | None = None,
    gateway: str | None = None,
    model: str | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> list[DeviceOut]:
    hub = hub_of(request)
    query = DeviceQuery(frozenset(state) if state else None, site, unit, gateway, model, q)
    views = await hub.run_store(hub.store.list_devices, site or access.site_scope(principal))
    shown = [v for v in views if matches(v, query) and _visible(principal, v)]
    await audit_reads(request, principal, "device.list", _resident_rows(shown), "device list")
    return [DeviceOut.of(v) for v in shown]


async def _device(request: Request, principal: Principal, device_id: str) -> DeviceView:
    hub = hub_of(request)
    views: list[DeviceView] = await hub.run_store(hub.store.list_devices,
                                                  access.site_scope(principal))
    view = next((v for v in views if v.device.id == device_id), None)
    if view is None or not _visible(principal, view):
        raise HTTPException(404, f"no device {device_id}")
    return view


@router.get("/devices/{device_id}", responses=_404)
async def get_device(device_id: str, principal: Reader, request: Request) -> DeviceOut:
    view = await _device(request, principal, device_id)
    await audit_reads(request, principal, "device.read", _resident_rows([view]), "device")
    return DeviceOut.of(view)


@router.get("/devices/{device_id}/history", responses=_404)
async def device_history(device_id: str, principal: Reader, request: Request) -> list[HistoryOut]:
    view = await _device(request, principal, device_id)
    hub = hub_of(request)
    rows = await hub.run_store(hub.store.device_history, device_id)
    await audit_reads(request, principal, "device.history", _resident_rows([view]),
                      "device history")  # fmt: skip
    return [HistoryOut.of(h) for h in rows]


def can_see_gateway(principal: Principal, site: str) -> bool:
    """A gateway serves a whole site: anyone who may list devices there may see it."""
    scope = access.site_scope(principal)
    return principal.role in access.DEVICE_READERS and (scope is None or scope == site)


async def _gateways(request: Request, principal: Principal, site: str | None) -> list[GatewayView]:
    hub = hub_of(request)
    store = hub.store
    scope = site or access.site_scope(principal)
    records, devices = await hub.run_store(
        lambda: (store.list_gateways(scope), store.list_devices(scope)))
    sightings: GatewaySightings | None = getattr(hub, "gateway_sightings", None)
    seen = sightings.all() if sightings is not None else {}
    seen = {k: v for k, v in seen.items() if scope is None or k[0] == scope}
    views = gateway_views(records, devices, seen)
    return [v for v in views if can_see_gateway(principal, v.record.site)]


@router.get("/gateways")
async def list_gateways(
    principal: Reader, request: Request, site: str | None = None
) -> list[GatewayOut]:
    return [GatewayOut.of(v) for v in await _gateways(request, principal, site)]


@router.get("/gateways/{site}/{gateway}", responses=_404)
async def get_gateway(site: str, gateway: str, principal: Reader, request: Request) -> GatewayOut:
    if can_see_gateway(principal, site):
        for view in await _gateways(request, principal, site):
            if view.record.id == gateway:
                return GatewayOut.of(view)
    raise HTTPException(404, f"no gateway {site}/{gateway}")
