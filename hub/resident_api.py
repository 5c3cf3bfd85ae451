"""A resident's own page: the HTTP route and the static page at ``/resident/``.

| route                                     | roles                                          |
|-------------------------------------------|------------------------------------------------|
| GET /api/v1/residents/{id}/overview       | resident, guardian: only their own resident     |
|                                           | (403, audited, for anyone else); staff roles   |
|                                           | that read bases (hub.consent.access): in scope |
| GET /resident/                            | anyone (the page logs in with the API)         |

The answer is :func:`hub.resident_view.overview`: the alarms of the last 30 days with
what happened to them, and what is monitored about the resident, on which basis, until
when. Every answer is audited as a read of the resident's data (``overview.read``); a
resident or guardian asking for someone else's page is refused and the refusal is
audited under the resident they asked for (``overview.refused``), so it shows in that
resident's access log.
"""

from __future__ import annotations

from datetime import datetime
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.staticfiles import StaticFiles

from hub import access, resident_view
from hub.alerts import Alert, Transition
from hub.auth import Principal, require
from hub.consent import access as ca
from hub.consent.auditing import MAX_TARGETS, audit, hub_of, now_of
from hub.schemas import ErrorOut
from hub.store.base import Resident, Store
from rules.consent import LegalBasis

router = APIRouter(prefix="/api/v1", tags=["resident"])
OVERVIEW_READERS = access.SELF_ROLES | ca.BASIS_READERS
Reader = Annotated[Principal, Depends(require(*OVERVIEW_READERS))]
# Read a few more than the page shows: technical and colleague alerts are dropped after.
SCAN_LIMIT = 5 * resident_view.MAX_ALARMS
PURPOSE = "the resident's own page"
REFUSED = "refused: not the caller's own resident"


class _Read:
    """Everything the page needs, read in one store-thread call so it is one state."""

    def __init__(self, store: Store, resident_id: str, since: datetime) -> None:
        self.alerts: list[Alert] = store.resident_alerts(resident_id, since, SCAN_LIMIT)
        self.transitions: dict[str, list[Transition]] = {}
        self.names: dict[str, str] = {}
        self.bases: list[LegalBasis] = store.list_bases(resident_id)
        self.zones: dict[str, str] = store.site_zones()
        self._store = store

    def details(self, alerts: list[Alert]) -> _Read:
        for alert in alerts:
            self.transitions[alert.id] = self._store.transitions(alert.id)
        actors = {t.actor for ts in self.transitions.values() for t in ts}
        actors |= {a.accepted_by for a in alerts if a.accepted_by}
        for username in sorted(actors):
            account = self._store.get_account(username)
            if account is not None and account.role not in access.SELF_ROLES:
                self.names[username] = account.display_name
        return self


async def _resident_for(request: Request, principal: Principal, resident_id: str) -> Resident:
    hub = hub_of(request)
    if principal.role in access.SELF_ROLES:
        if not access.is_own_resident(principal, resident_id):
            await audit(request, principal, "overview.refused", resident_id, None, REFUSED)
            raise HTTPException(403, "you may read only your own page")
        resident: Resident | None = await hub.run_store(hub.store.get_resident, resident_id)
        if resident is None:
            raise HTTPException(404, "no such resident")
        return resident
    resident = await hub.run_store(hub.store.get_resident, resident_id)
    if resident is None or not ca.may_read(
        principal, resident, request.app.state.break_glass, now_of(request)
    ):
        raise HTTPException(404, "no such resident")  # existence is itself resident data
    return resident


@router.get(
    "/residents/{resident_id}/overview",
    responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}},
)
async def resident_overview(
    resident_id: str, request: Request, principal: Reader
) -> dict[str, Any]:
    """My alarms of the last 30 days and what happened to them; what is monitored about me."""
    resident = await _resident_for(request, principal, resident_id)
    hub = hub_of(request)
    now = now_of(request)
    since = now - resident_view.HISTORY

    # The hub's own open alerts are the newest truth (the store lags by a write).
    live = {a.id: a for a in hub.open_alerts() if a.resident_id == resident_id}

    def read() -> _Read:
        found = _Read(hub.store, resident_id, since)
        found.alerts = list(({a.id: a for a in found.alerts} | live).values())
        return found.details(found.alerts)

    data = await hub.run_store(read)
    page = resident_view.overview(
        resident, data.alerts, data.transitions, data.names, data.bases, now,
        data.zones.get(resident.site),
    )  # fmt: skip
    shown = _targets([a["id"] for a in page["alarms"]])
    # A staff member who opened the resident by break-the-glass: the stated reason is the why.
    why = None if resident_id in principal.opened else PURPOSE
    await audit(request, principal, "overview.read", resident_id, shown, why)
    return page


def _targets(ids: list[str]) -> str | None:
    """The alarm ids shown, as the audit row's target: at most MAX_TARGETS, the rest counted."""
    if not ids:
        return None
    more = len(ids) - MAX_TARGETS
    return ",".join(ids[:MAX_TARGETS]) + (f",+{more} more" if more > 0 else "")


def mount_page(app: FastAPI) -> None:
    """The resident's page at /resident/ (static; every datum comes through the API)."""
    folder = resources.files("hub") / "web" / "resident"
    app.mount("/resident", StaticFiles(directory=str(folder), html=True), name="resident")
