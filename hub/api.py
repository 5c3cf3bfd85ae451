"""The HTTP API: a thin shell over the hub.

| route                            | who (roles in hub.access)                      |
|----------------------------------|------------------------------------------------|
| POST /api/v1/auth/token          | anyone with a password (OAuth2 password flow)  |
| GET  /api/v1/alerts              | ALERT_READERS, each alert by can_see_alert     |
| GET  /api/v1/alerts/stream       | same; SSE, token also as ``?access_token=``    |
| GET  /api/v1/alerts/{id}         | same; 404 when not visible (existence hidden)  |
| POST /api/v1/alerts/{id}/accept  | ALERT_ACTORS, each alert by can_command (403)  |
| POST /api/v1/alerts/{id}/on-site | same                                           |
| POST /api/v1/alerts/{id}/resolve | same, with an outcome                          |
| GET  /api/v1/devices...           | hub.registry.api (the device registry)         |
| GET  /api/v1/devices/attention   | tekniker, admin (hub.attention_api)            |
| GET  /api/v1/events              | EVENT_READERS, narrowed by scope_events        |
| GET  /healthz, GET /metrics      | no auth                                        |

Handlers check access and translate; the hub decides. Store calls go through
``hub.run_store`` (one store thread); a handler that needs several reads does
them in one store-thread function so they see one state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any, Literal, Protocol, TypeVar

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordRequestForm
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import TypeAdapter
from sse_starlette import EventSourceResponse, ServerSentEvent

from devices.events import EventBase
from hub import access, attention_api, audit_api, resident_api, tekniker_pages
from hub.alerts import Alert, AlertState, Command, Outcome, Transition
from hub.auth import (
    Principal,
    TokenIssuer,
    require,
    unauthorized,
    verify_password,
    verify_unknown_user,
)
from hub.consent import api as consent_api
from hub.consent import locate_api
from hub.consent.access import BreakGlass
from hub.consent.auditing import audit_reads, audit_reads_app, glass_now, residents_of_devices
from hub.errors import IllegalTransition, NotFound, StoreError
from hub.feed import AlertFeed
from hub.metrics import Metrics
from hub.ratelimit import LoginThrottle
from hub.registry import routes as registry_routes
from hub.relatives import api as relatives_api
from hub.schemas import (
    AlertDetailOut,
    AlertOut,
    ErrorOut,
    EventOut,
    EventPageOut,
    EventQuery,
    HealthOut,
    ResolveIn,
    StoredEventOut,
    TokenOut,
    TransitionOut,
)
from hub.store.base import AlertFilter, EventFilter, Store, StoredEvent
from rules.decisions import Category

T = TypeVar("T")
log = logging.getLogger("trygg.api")

PING_SECONDS = 15
# Alerts are sorted here (priority first), so the store must not cut the list
# in its own order: read up to this many and cut after sorting.
ALERT_SCAN_LIMIT = 5000
# A tekniker's event page skips health events; give up filling a page after
# this many store pages so one request stays cheap (the cursor still advances).
EVENT_SCAN_ROUNDS = 10
BAD_LOGIN = "wrong username or password"
OPEN_STATES = tuple(s for s in AlertState if s.is_open)


class HubPort(Protocol):
    """What the API needs from ``hub.service.Hub``."""

    @property
    def store(self) -> Store: ...
    @property
    def metrics(self) -> Metrics: ...
    @property
    def feed(self) -> AlertFeed: ...

    async def run_store(self, fn: Callable[..., T], *args: Any) -> T: ...

    async def command(
        self,
        alert_id: str,
        command: Command,
        actor: str,
        *,
        outcome: Outcome | None = None,
        note: str | None = None,
    ) -> Alert: ...

    def health(self) -> dict[str, object]: ...

    def open_alerts(self) -> list[Alert]:
        """The hub's in-memory open alerts (newer than the store's copy)."""
        ...


def _hub(request: Request) -> HubPort:
    hub: HubPort = request.app.state.hub
    return hub


HubDep = Annotated[HubPort, Depends(_hub)]
AlertViewer = Annotated[Principal, Depends(require(*access.ALERT_READERS))]
AlertActor = Annotated[Principal, Depends(require(*access.ALERT_ACTORS))]

# --- helpers that run on the store thread or shape data -------------------------


def board_order(alert: Alert) -> tuple[int, int, float]:
    """Open alerts first, most urgent first, newest first within a priority."""
    if alert.is_open:
        return (0, alert.priority.rank, -alert.raised_at.timestamp())
    return (1, 0, -alert.raised_at.timestamp())


def _alert_context(
    store: Store, alert: Alert, with_name: bool
) -> tuple[list[EventBase], list[Transition], str | None]:
    events = store.get_events(list(alert.event_ids))
    transitions = store.transitions(alert.id)
    resident = store.get_resident(alert.resident_id) if with_name and alert.resident_id else None
    return events, transitions, resident.name if resident else None


def page_events(
    store: Store, flt: EventFilter, kinds: frozenset[str] | None
) -> tuple[list[StoredEvent], int | None]:
    """One page of events, newest first, keeping only ``kinds`` when given."""
    items: list[StoredEvent] = []
    cursor = flt.cursor
    for _ in range(EVENT_SCAN_ROUNDS):
        rows = store.list_events(replace(flt, cursor=cursor))
        for row in rows:
            if kinds is None or row.event.kind in kinds:
                items.append(row)
                if len(items) == flt.limit:
                    return items, row.position
        if len(rows) < flt.limit:
            return items, None
        cursor = rows[-1].position
    return items, cursor


def _matches(alert: Alert, flt: AlertFilter) -> bool:
    return (
        (flt.states is None or alert.state in flt.states)
        and (flt.site is None or alert.site == flt.site)
        and (flt.category is None or alert.category in flt.category)
    )


def _visible(principal: Principal, alerts: Iterable[Alert], flt: AlertFilter) -> list[Alert]:
    found = [a for a in alerts if _matches(a, flt) and access.can_see_alert(principal, a)]
    return sorted(found, key=board_order)


async def _visible_alerts(
    hub: HubPort,
    principal: Principal,
    states: tuple[AlertState, ...] | None,
    site: str | None,
    category: tuple[Category, ...] | None,
) -> list[Alert]:
    requested = AlertFilter(states=states, site=site, category=category, limit=ALERT_SCAN_LIMIT)
    flt = access.scope_alerts(principal, requested)
    if flt is None:
        return []
    stored = await hub.run_store(hub.store.list_alerts, flt)
    # The hub's own open alerts are the newest truth: the store lags by a write,
    # or by minutes while a failing store is retried.
    live = {a.id: a for a in hub.open_alerts()}
    merged = {a.id: live.get(a.id, a) for a in stored} | live
    return _visible(principal, merged.values(), flt)


async def _visible_alert(hub: HubPort, principal: Principal, alert_id: str) -> Alert:
    alert = next((a for a in hub.open_alerts() if a.id == alert_id), None)
    if alert is None:
        alert = await hub.run_store(hub.store.get_alert, alert_id)
    if alert is None or not access.can_see_alert(principal, alert):
        raise HTTPException(404, f"no alert {alert_id}")
    return alert


def _states(values: Sequence[AlertState | Literal["open"]] | None) -> tuple[AlertState, ...] | None:
    if not values:
        return None
    expanded = {s for v in values for s in (OPEN_STATES if v == "open" else (AlertState(v),))}
    return tuple(sorted(expanded))


_SNAPSHOT = TypeAdapter(list[AlertOut])

# --- routes -------------------------------------------------------------------

router = APIRouter(prefix="/api/v1")
_404: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut}}


@router.post("/auth/token", responses={401: {"model": ErrorOut}, 429: {"model": ErrorOut}})
async def login(
    request: Request,
    response: Response,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    hub: HubDep,
) -> TokenOut:
    throttle = request.app.state.login_throttle
    now = request.app.state.clock()
    keys = (f"user:{form.username}", f"addr:{request.client.host if request.client else '-'}")
    wait = throttle.retry_after(keys, now)
    if wait is not None:
        headers = {"Retry-After": str(max(1, int(wait)))}
        raise HTTPException(429, "too many failed logins; try again later", headers=headers)
    account = await hub.run_store(hub.store.get_account, form.username)
    if account is None:
        await asyncio.to_thread(verify_unknown_user, form.password)
        throttle.failed(keys, now)
        raise unauthorized(BAD_LOGIN)
    if not await asyncio.to_thread(verify_password, account.password_hash, form.password):
        throttle.failed(keys, now)
        raise unauthorized(BAD_LOGIN)
    throttle.succeeded(keys[0])
    residents: tuple[str, ...] = ()
    if account.role in access.SELF_ROLES:
        residents = await hub.run_store(hub.store.account_residents, account.username)
        if access.binding_problem(account.role, residents) is not None:
            raise HTTPException(403, "this account is not bound to a resident; ask the admin")
    token, expires_at = request.app.state.tokens.issue(account, now, residents)
    response.headers["Cache-Control"] = "no-store"
    expires_in = int((expires_at - now).total_seconds())
    return TokenOut(
        access_token=token, expires_in=expires_in, role=account.role, residents=list(residents)
    )


@router.get("/alerts")
async def list_alerts(
    principal: AlertViewer,
    hub: HubDep,
    request: Request,
    state: Annotated[list[AlertState | Literal["open"]] | None, Query()] = None,
    site: str | None = None,
    category: Annotated[list[Category] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[AlertOut]:
    categories = tuple(category) if category else None
    alerts = (await _visible_alerts(hub, principal, _states(state), site, categories))[:limit]
    await audit_reads(request, principal, "alert.list", _alert_rows(alerts), "alert list")
    return [AlertOut.of(a) for a in alerts]


def _alert_rows(alerts: Iterable[Alert]) -> list[tuple[str | None, str | None]]:
    return [(a.resident_id, a.id) for a in alerts]


@router.get(
    "/alerts/stream",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream_alerts(
    request: Request,
    principal: Annotated[Principal, Depends(require(*access.ALERT_READERS, query_token=True))],
    hub: HubDep,
) -> EventSourceResponse:
    """``snapshot`` (the visible open alerts), then one ``alert`` per change;
    a new ``snapshot`` when this listener fell behind; ``expired`` at token expiry."""
    async def audit(alerts: list[Alert]) -> None:
        await audit_reads_app(request.app, principal, "alert.stream", _alert_rows(alerts),
                              "alert board")  # fmt: skip

    events = _alert_stream(hub, principal, request.app.state.clock, audit, glass_now(request.app))
    return EventSourceResponse(events, ping=PING_SECONDS)


async def _alert_stream(
    hub: HubPort,
    principal: Principal,
    clock: Callable[[], datetime],
    audit: Callable[[list[Alert]], Awaitable[None]] | None = None,
    refresh: Callable[[Principal], Principal] | None = None,
) -> AsyncIterator[ServerSentEvent]:
    """``refresh`` brings the principal's break-the-glass grants up to date (they last an
    hour; a stream may last a shift)."""
    while True:
        # Subscribe before reading the snapshot, so no change falls between them.
        async with hub.feed.subscribe() as queue:
            principal = refresh(principal) if refresh is not None else principal
            alerts = _visible(principal, hub.open_alerts(), AlertFilter(states=OPEN_STATES))
            snapshot = _SNAPSHOT.dump_json([AlertOut.of(a) for a in alerts]).decode()
            if audit is not None:
                await audit(alerts)
            yield ServerSentEvent(data=snapshot, event="snapshot")
            while True:
                try:
                    alert = await asyncio.wait_for(queue.get(), _seconds_left(principal, clock))
                except TimeoutError:
                    yield ServerSentEvent(data="{}", event="expired")
                    return
                if alert is None:  # fell behind and was dropped: subscribe again
                    break
                principal = refresh(principal) if refresh is not None else principal
                if access.can_see_alert(principal, alert):
                    if audit is not None:
                        await audit([alert])
                    yield ServerSentEvent(data=AlertOut.of(alert).model_dump_json(), event="alert")


def _seconds_left(principal: Principal, clock: Callable[[], datetime]) -> float | None:
    if principal.expires_at is None:
        return None
    return max((principal.expires_at - clock()).total_seconds(), 0.0)


@router.get("/alerts/{alert_id}", responses=_404)
async def get_alert(
    alert_id: str, principal: AlertViewer, hub: HubDep, request: Request
) -> AlertDetailOut:
    alert = await _visible_alert(hub, principal, alert_id)
    with_name = access.may_see_resident_name(principal.role)
    events, transitions, name = await hub.run_store(_alert_context, hub.store, alert, with_name)
    await audit_reads(request, principal, "alert.read", [(alert.resident_id, alert.id)],
                      "alert detail")  # fmt: skip
    return AlertDetailOut(
        **AlertOut.of(alert).model_dump(),
        events=[EventOut.of(e) for e in events],
        transitions=[TransitionOut.of(t) for t in transitions],
        resident_name=name,
    )


async def _command(
    hub: HubPort,
    principal: Principal,
    alert_id: str,
    command: Command,
    request: Request,
    body: ResolveIn | None = None,
) -> AlertOut:
    alert = await _visible_alert(hub, principal, alert_id)
    if not access.can_command(principal, alert, command):
        raise HTTPException(403, f"role {principal.role} may not {command} this alert")
    outcome, note = (body.outcome, body.note) if body else (None, None)
    updated = await hub.command(alert_id, command, principal.username, outcome=outcome, note=note)
    await audit_reads(request, principal, f"alert.{command}", [(alert.resident_id, alert.id)],
                      "alert handling")  # fmt: skip
    return AlertOut.of(updated)


_COMMAND_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorOut},
    404: {"model": ErrorOut},
    409: {"model": ErrorOut},
}


@router.post("/alerts/{alert_id}/accept", responses=_COMMAND_ERRORS)
async def accept_alert(
    alert_id: str, principal: AlertActor, hub: HubDep, request: Request
) -> AlertOut:
    return await _command(hub, principal, alert_id, Command.ACCEPT, request)


@router.post("/alerts/{alert_id}/on-site", responses=_COMMAND_ERRORS)
async def on_site(alert_id: str, principal: AlertActor, hub: HubDep, request: Request) -> AlertOut:
    return await _command(hub, principal, alert_id, Command.ON_SITE, request)


@router.post("/alerts/{alert_id}/resolve", responses=_COMMAND_ERRORS)
async def resolve_alert(
    alert_id: str, body: ResolveIn, principal: AlertActor, hub: HubDep, request: Request
) -> AlertOut:
    return await _command(hub, principal, alert_id, Command.RESOLVE, request, body)


@router.get("/events")
async def list_events(
    principal: Annotated[Principal, Depends(require(*access.EVENT_READERS))],
    hub: HubDep,
    request: Request,
    q: Annotated[EventQuery, Query()],
) -> EventPageOut:
    flt = access.scope_events(principal, q.to_filter())
    if flt is None:
        return EventPageOut(items=[], next_cursor=None)
    kinds = access.kinds_to_keep(principal.role, flt)
    rows, next_cursor = await hub.run_store(page_events, hub.store, flt, kinds)
    residents = residents_of_devices(hub, {r.event.device for r in rows})
    read = [(residents[r.event.device], r.event.id) for r in rows]
    await audit_reads(request, principal, "event.list", read, "event list")
    return EventPageOut(items=[StoredEventOut.of_stored(r) for r in rows], next_cursor=next_cursor)


ops = APIRouter(tags=["operations"])


@ops.get("/healthz", responses={503: {"model": HealthOut}})
async def healthz(hub: HubDep) -> JSONResponse:
    health = HealthOut.model_validate(hub.health())
    code = 200 if health.status == "ok" else 503
    return JSONResponse(jsonable_encoder(health), status_code=code)


@ops.get("/metrics", response_class=Response)
async def metrics(hub: HubDep) -> Response:
    return Response(generate_latest(hub.metrics.registry), media_type=CONTENT_TYPE_LATEST)


# --- the app ------------------------------------------------------------------


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    # "accepted_by": who holds the alert, so a second accept knows whom it lost to.
    held_by = getattr(exc, "held_by", None)
    return JSONResponse({"detail": str(exc), "accepted_by": held_by}, status_code=409)


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=404)


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.error("store unavailable: %s", exc)
    return JSONResponse({"detail": "the store is unavailable; try again"}, status_code=503)


def create_app(hub: HubPort, tokens: TokenIssuer, clock: Callable[[], datetime]) -> FastAPI:
    """The API over one hub. ``clock`` is the only time source (token expiry)."""
    app = FastAPI(title="Trygg", version="0.1.0", docs_url="/docs")
    app.state.hub = hub
    app.state.tokens = tokens
    app.state.clock = clock
    app.state.supervision = None  # set by the runtime once supervision runs
    # Ahead of every /devices/{id} route, so "attention" is never read as a device id.
    app.include_router(attention_api.router)
    app.include_router(router)
    app.include_router(ops)
    app.state.break_glass = BreakGlass()
    app.state.login_throttle = LoginThrottle()
    app.include_router(consent_api.router)
    consent_api.mount_pages(app)
    tekniker_pages.mount_pages(app)
    app.include_router(locate_api.router)
    for registry_router in registry_routes.ROUTERS:
        app.include_router(registry_router)
    app.include_router(audit_api.router)
    app.include_router(relatives_api.router)
    relatives_api.mount_page(app)
    app.include_router(resident_api.router)
    resident_api.mount_page(app)
    app.add_exception_handler(IllegalTransition, _conflict)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(StoreError, _unavailable)
    return app
