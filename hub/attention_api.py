"""``GET /api/v1/devices/attention``: devices and gateways that need a tekniker, most
urgent first (order: ``hub.supervision.attention``).

| route                         | who                                              |
|-------------------------------|--------------------------------------------------|
| GET /api/v1/devices/attention | ATTENTION_READERS (tekniker, admin); a tekniker  |
|                               | with a site sees that site only                  |

What is offline, low on battery or tampered with comes from supervision's memory
(``SupervisionService.subjects``), read on the event loop that owns it; the hub
answers 503 when supervision is not running rather than an empty, reassuring list.
A service date that has passed comes from the registry (``service_due_at``, any
device not retired).
Nothing about residents goes out: device ids, classes, units, and whether the device
is part of a resident's safety net.

The router is included ahead of the other device routes (``hub.api.create_app``), so
``/devices/attention`` is never taken for a device called "attention".
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Protocol

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict

from devices.lifecycle import DeviceState
from hub.access import site_scope
from hub.auth import Principal, require
from hub.schemas import ErrorOut
from hub.store.base import DeviceView, Role
from hub.supervision.attention import (
    Concern,
    Item,
    Rank,
    Reason,
    Subject,
    SubjectKind,
    merge,
    order,
)
from hub.supervision.policy import SAFETY_CRITICAL, device_class

ATTENTION_READERS = frozenset({Role.TEKNIKER, Role.ADMIN})


class Watching(Protocol):
    """What the route needs from ``hub.supervision.shell.SupervisionService``."""

    def subjects(self) -> list[Subject]: ...

    def night(self, site: str) -> bool: ...


class ConcernOut(BaseModel):
    model_config = ConfigDict(frozen=True)
    reason: Reason
    since: datetime


class AttentionOut(BaseModel):
    model_config = ConfigDict(frozen=True)
    key: str
    kind: SubjectKind
    site: str
    gateway: str
    device: str | None
    device_class: str
    unit: str | None
    units: list[str]
    reasons: list[ConcernOut]
    rank: str
    since: datetime
    critical: bool
    night: bool
    last_seen: datetime | None
    behind_offline_gateway: bool

    @classmethod
    def of(cls, it: Item, night: bool) -> AttentionOut:
        s = it.subject
        return cls(
            key=s.key, kind=s.kind, site=s.site, gateway=s.gateway, device=s.device,
            device_class=s.device_class, unit=s.unit, units=list(s.units),
            reasons=[ConcernOut(reason=c.reason, since=c.since) for c in s.concerns],
            rank=Rank(it.rank).name.lower(), since=it.since, critical=s.critical, night=night,
            last_seen=s.last_seen, behind_offline_gateway=s.behind_offline_gateway,
        )  # fmt: skip


def _supervision(request: Request) -> Watching:
    service: Watching | None = getattr(request.app.state, "supervision", None)
    if service is None:
        raise HTTPException(503, "device supervision is not running on this hub")
    return service


def overdue(views: list[DeviceView], now: datetime) -> list[Subject]:
    """Devices whose service date has passed (retired ones are done with)."""
    out = []
    for v in views:
        due, d, p = v.info.service_due_at, v.device, v.placement
        if due is None or due >= now or v.info.state is DeviceState.RETIRED:
            continue
        cls = device_class(d.type)
        unit = p.unit if p is not None else None
        out.append(Subject(
            kind="device", site=d.site, gateway=d.gateway, device=d.id, device_class=cls,
            unit=unit, units=(unit,) if unit else (),
            critical=cls in SAFETY_CRITICAL and p is not None and p.resident_id is not None,
            concerns=(Concern(Reason.SERVICE_OVERDUE, due),), last_seen=v.last_seen))
    return out


router = APIRouter(prefix="/api/v1")


@router.get("/devices/attention", responses={503: {"model": ErrorOut}})
async def attention(
    principal: Annotated[Principal, Depends(require(*ATTENTION_READERS))],
    request: Request,
    site: str | None = None,
    unit: str | None = None,
    reason: Annotated[list[Reason] | None, Query()] = None,
) -> list[AttentionOut]:
    """Offline, battery low, tampered, service overdue: most urgent first, with reasons."""
    service = _supervision(request)
    scope = site_scope(principal)
    if scope is not None and site is not None and site != scope:
        raise HTTPException(403, f"not your site: {site}")
    want = site or scope
    wanted = set(reason or Reason)
    hub = request.app.state.hub
    views = await hub.run_store(hub.store.list_devices, want)
    found = merge(service.subjects(), overdue(views, request.app.state.clock()))
    subjects = [
        s
        for s in found
        if (want is None or s.site == want)
        and (unit is None or unit in s.units)
        and any(c.reason in wanted for c in s.concerns)
    ]
    nights: dict[str, bool] = {}
    out = []
    for it in order(subjects):
        site_of = it.subject.site
        if site_of not in nights:
            nights[site_of] = service.night(site_of)
        out.append(AttentionOut.of(it, nights[site_of]))
    return out
