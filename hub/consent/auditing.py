"""Write one audit entry per read or write of resident data, from a request handler.

``audit`` logs one act on one resident; ``audit_reads`` logs a read that may span many
residents (alert lists, the stream's snapshot, event and device lists): one entry per
resident, with the ids read as the target and the purpose (or the break-the-glass
reason) as the why. Both write before the answer leaves: no log, no data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from fastapi import Request

from hub.access import Principal
from hub.audit import AuditEntry


def hub_of(request: Request) -> Any:
    return request.app.state.hub


def now_of(request: Request) -> datetime:
    now: datetime = request.app.state.clock()
    return now


# The why of an act when the caller gave none: the purpose the route serves.
PURPOSES = {
    "basis": "legal basis administration",
    "monitoring": "the resident's monitoring page",
    "access_log": "access log export (GDPR art. 15)",
    "placement": "device placement",
    "notice": "notice before expiry or review",
    "audit": "audit",
    "locate": "locate request",
}


def purpose_of(action: str) -> str:
    return PURPOSES.get(action.split(".", 1)[0], action)


async def audit(
    request: Request,
    principal: Principal,
    action: str,
    resident_id: str | None,
    target: str | None,
    reason: str | None,
) -> None:
    """Append to the hash-chained log before the answer leaves: no log, no data.
    Why: ``reason`` when given, else the break-the-glass reason or the route's purpose."""
    hub = hub_of(request)
    now = now_of(request)
    why = reason
    if why is None and resident_id is not None and resident_id in principal.opened:
        glass = request.app.state.break_glass
        why = f"break-the-glass: {glass.reason(principal.username, resident_id, now) or '?'}"
    entry = AuditEntry(
        now, principal.username, str(principal.role), action, resident_id, target,
        why or purpose_of(action),
    )  # fmt: skip
    await hub.run_store(hub.store.append_audit, [entry])


# One audit entry names at most this many targets (alert/device/event ids); the rest
# is counted, so a long list read stays one bounded row per resident.
MAX_TARGETS = 20


def _targets(ids: list[str]) -> str | None:
    ids = sorted(set(i for i in ids if i))
    if not ids:
        return None
    shown = ",".join(ids[:MAX_TARGETS])
    return shown if len(ids) <= MAX_TARGETS else f"{shown},+{len(ids) - MAX_TARGETS} more"


def read_entries(
    principal: Principal,
    action: str,
    rows: Iterable[tuple[str | None, str | None]],
    purpose: str,
    now: datetime,
    glass_reason: Callable[[str], str | None] = lambda _: None,
) -> list[AuditEntry]:
    """One entry per resident among ``rows`` ((resident id, target id) pairs; rows of no
    resident carry no resident data and are skipped). Why: the purpose of the read, or
    the stated break-the-glass reason when the resident was opened that way."""
    by_resident: dict[str, list[str]] = {}
    for resident_id, target in rows:
        if resident_id:
            by_resident.setdefault(resident_id, []).append(target or "")
    entries = []
    for resident_id, targets in sorted(by_resident.items()):
        why = purpose
        if resident_id in principal.opened:
            why = f"break-the-glass: {glass_reason(resident_id) or '?'}"
        role = str(principal.role)
        target = _targets(targets)
        entries.append(AuditEntry(now, principal.username, role, action, resident_id, target, why))
    return entries


async def audit_reads(
    request: Request,
    principal: Principal,
    action: str,
    rows: Iterable[tuple[str | None, str | None]],
    purpose: str,
) -> None:
    """Log a read (or an act) touching the residents in ``rows`` before the answer leaves."""
    await audit_reads_app(request.app, principal, action, rows, purpose)


async def audit_reads_app(
    app: Any,
    principal: Principal,
    action: str,
    rows: Iterable[tuple[str | None, str | None]],
    purpose: str,
) -> None:
    """The same from outside a handler (the SSE stream keeps the app, not the request)."""
    now: datetime = app.state.clock()
    glass = getattr(app.state, "break_glass", None)

    def reason(resident_id: str) -> str | None:
        return None if glass is None else glass.reason(principal.username, resident_id, now)

    entries = read_entries(principal, action, rows, purpose, now, reason)
    if entries:
        hub = app.state.hub
        await hub.run_store(hub.store.append_audit, entries)


def residents_of_devices(hub: Any, devices: Iterable[str]) -> dict[str, str | None]:
    """Device id -> the resident it is placed for now, from the hub's registry cache.
    (Events carry no resident; the hub maps device -> placement -> resident.)"""
    registry = getattr(hub, "registry", None)
    out: dict[str, str | None] = {}
    for device in devices:
        placement = registry.placement(device) if registry is not None else None
        out[device] = placement.resident_id if placement is not None else None
    return out


def glass_now(app: Any) -> Callable[[Principal], Principal]:
    """For long-lived reads (the SSE stream): the principal with the break-the-glass
    grants in force now, so an expired grant closes the view without a reconnect."""

    def refresh(principal: Principal) -> Principal:
        glass = getattr(app.state, "break_glass", None)
        if glass is None:
            return principal
        opened: frozenset[str] = glass.open_for(principal.username, app.state.clock())
        return principal if opened == principal.opened else replace(principal, opened=opened)

    return refresh
