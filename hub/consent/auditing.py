"""Write one audit entry per read or write of resident data, from a request handler."""

from __future__ import annotations

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


async def audit(
    request: Request,
    principal: Principal,
    action: str,
    resident_id: str | None,
    target: str | None,
    reason: str | None,
) -> None:
    """Append to the hash-chained log before the answer leaves: no log, no data."""
    hub = hub_of(request)
    entry = AuditEntry(
        now_of(request), principal.username, str(principal.role), action, resident_id, target,
        reason,
    )  # fmt: skip
    await hub.run_store(hub.store.append_audit, [entry])
