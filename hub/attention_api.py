"""``GET /api/v1/devices/attention``: devices and gateways that need a tekniker, most
urgent first (order: ``hub.supervision.attention``).

| route                         | who                                              |
|-------------------------------|--------------------------------------------------|
| GET /api/v1/devices/attention | ATTENTION_READERS (tekniker, admin); a tekniker  |
|                               | with a site sees that site only                  |

What is offline, low on battery or tampered with comes from supervision's memory
(``SupervisionService.subjects``), read on the event loop that owns it; the hub
answers 503 when supervision is not running rather than an empty, reassuring list.
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

from hub.access import site_scope
from hub.auth import Principal, require
from hub.schemas import ErrorOut
from hub.store.base import Role
from hub.supervision.attention import Item, Rank, Reason, Subject, SubjectKind, order

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


router = APIRouter(prefix="/api/v1")


@router.get("/devices/attention", responses={503: {"model": ErrorOut}})
async def attention(
    principal: Annotated[Principal, Depends(require(*ATTENTION_READERS))],
    request: Request,
    site: str | None = None,
    unit: str | None = None,
    reason: Annotated[list[Reason] | None, Query()] = None,
) -> list[AttentionOut]:
    """Offline, battery low, tampered: most urgent first, each with its reasons."""
    service = _supervision(request)
    scope = site_scope(principal)
    if scope is not None and site is not None and site != scope:
        raise HTTPException(403, f"not your site: {site}")
    want = site or scope
    wanted = set(reason or Reason)
    subjects = [
        s
        for s in service.subjects()
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
