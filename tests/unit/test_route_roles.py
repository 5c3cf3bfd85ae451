"""Every route, every role: allowed or denied exactly as the route declares.

Routes are discovered from the app, so a route another helper adds later is
walked too: it must declare what it needs (``Depends(hub.auth.require(...))``)
or be listed in PUBLIC below. A role outside the declaration gets 403, no token
gets 401, and a role inside it never gets 401/403 from the role check. The
expected table pins the policy of the routes that exist now, so loosening one
is a visible change to this file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from hub import routing_api
from hub.api import create_app
from hub.auth import TokenIssuer, hash_password
from hub.metrics import Metrics
from hub.service import Hub
from hub.store.base import Account, Resident, Role, Site, Unit
from hub.store.memory import MemoryStore

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
TTL = timedelta(hours=1)
PUBLIC = {
    ("POST", "/api/v1/auth/token"),
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    # A relative's reply: the signed, expiring token in the path is the credential.
    ("POST", "/api/v1/relatives/reply/{reply_token}"),
}
R = Role
CARE = {R.ADMIN, R.NATTEVAKT, R.STAFF, R.LEADER}
# The policy of today's routes: (method, path) -> roles allowed past the role check.
EXPECTED: dict[tuple[str, str], set[Role]] = {
    ("GET", "/api/v1/alerts"): CARE | {R.AUDITOR, R.TEKNIKER},
    ("GET", "/api/v1/alerts/stream"): CARE | {R.AUDITOR, R.TEKNIKER},
    ("GET", "/api/v1/alerts/{alert_id}"): CARE | {R.AUDITOR, R.TEKNIKER},
    ("POST", "/api/v1/alerts/{alert_id}/accept"): CARE | {R.TEKNIKER},
    ("POST", "/api/v1/alerts/{alert_id}/on-site"): CARE | {R.TEKNIKER},
    ("POST", "/api/v1/alerts/{alert_id}/resolve"): CARE | {R.TEKNIKER},
    ("GET", "/api/v1/devices"): CARE | {R.TEKNIKER},
    ("GET", "/api/v1/devices/attention"): {R.ADMIN, R.TEKNIKER},
    ("GET", "/api/v1/devices/{device_id}"): CARE | {R.TEKNIKER},
    ("GET", "/api/v1/devices/{device_id}/history"): CARE | {R.TEKNIKER},
    ("GET", "/api/v1/gateways"): CARE | {R.TEKNIKER},
    ("POST", "/api/v1/devices"): {R.ADMIN, R.TEKNIKER},
    ("POST", "/api/v1/devices/{device_id}/actions/{action}"): {R.ADMIN, R.TEKNIKER},
    ("PATCH", "/api/v1/devices/{device_id}"): {R.ADMIN, R.TEKNIKER},
    ("POST", "/api/v1/devices/import"): {R.ADMIN, R.TEKNIKER},
    ("GET", "/api/v1/devices/export"): {R.ADMIN, R.TEKNIKER},
    ("POST", "/api/v1/gateways/{site}/{gateway}/provision"): {R.ADMIN, R.TEKNIKER},
    ("POST", "/api/v1/gateways/{site}/{gateway}/revoke"): {R.ADMIN, R.TEKNIKER},
    ("PATCH", "/api/v1/gateways/{site}/{gateway}"): {R.ADMIN, R.TEKNIKER},
    ("GET", "/api/v1/gateways/{site}/{gateway}"): CARE | {R.TEKNIKER},
    ("GET", "/api/v1/events"): CARE | {R.TEKNIKER},
    ("GET", "/api/v1/residents/{resident_id}/bases"): CARE | {R.AUDITOR},
    ("GET", "/api/v1/residents/{resident_id}/monitoring"): CARE | {R.AUDITOR},
    ("POST", "/api/v1/bases"): {R.ADMIN, R.LEADER},
    ("GET", "/api/v1/bases/{basis_id}"): CARE | {R.AUDITOR},
    ("POST", "/api/v1/bases/{basis_id}/review"): {R.ADMIN, R.LEADER},
    ("POST", "/api/v1/bases/{basis_id}/renew"): {R.ADMIN, R.LEADER},
    ("POST", "/api/v1/bases/{basis_id}/approve"): {R.ADMIN, R.LEADER},
    ("POST", "/api/v1/bases/{basis_id}/withdraw"): {R.ADMIN, R.LEADER},
    ("GET", "/api/v1/consent/notices"): {R.ADMIN, R.LEADER},
    ("POST", "/api/v1/consent/notices/acknowledge"): {R.ADMIN, R.LEADER},
    ("GET", "/api/v1/residents/{resident_id}/access-log"): {R.ADMIN, R.LEADER, R.AUDITOR},
    ("POST", "/api/v1/residents/{resident_id}/break-glass"): {R.NATTEVAKT, R.STAFF, R.LEADER},
    ("GET", "/api/v1/audit/break-glass"): {R.ADMIN, R.LEADER, R.AUDITOR},
    ("GET", "/api/v1/audit/verify"): {R.ADMIN, R.AUDITOR},
    ("POST", "/api/v1/placements"): {R.ADMIN, R.TEKNIKER},
    ("POST", "/api/v1/residents/{resident_id}/locate"): CARE,
    ("GET", "/api/v1/residents/{resident_id}/locate"): CARE,
    ("POST", "/api/v1/locate/{request_id}/close"): CARE,
    ("GET", "/api/v1/residents/{resident_id}/relatives"): {R.ADMIN, R.LEADER},
    ("PUT", "/api/v1/residents/{resident_id}/relatives/{relative_id}"): {R.ADMIN, R.LEADER},
    ("DELETE", "/api/v1/residents/{resident_id}/relatives/{relative_id}"): {R.ADMIN, R.LEADER},
    ("POST", "/api/v1/bases/{basis_id}/relatives"): {R.ADMIN, R.LEADER},
    # Resident and guardian accounts read their own page here and nowhere else.
    ("GET", "/api/v1/residents/{resident_id}/overview"): CARE | {R.AUDITOR, R.RESIDENT, R.GUARDIAN},
}
# The walk calls /residents/resident_id/...: resident and guardian tokens are bound to that
# id, so a 403 they get is the role check's, not the own-resident check's.
WALKED_RESIDENT = "resident_id"
# FastAPI's own documentation routes carry no resident data.
DOC_PATHS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def declared_roles(dependant: Dependant) -> frozenset[Role] | None:
    """The roles a route's ``require(...)`` dependency allows; None if it has none."""
    for dep in dependant.dependencies:
        roles = getattr(dep.call, "trygg_roles", None)
        if roles is not None:
            return frozenset(roles)
        found = declared_roles(dep)
        if found is not None:
            return found
    return None


def _walk(routes: list[Any], prefix: str) -> Iterator[tuple[str, APIRoute]]:
    """APIRoutes with their full paths, also inside included routers (FastAPI >= 0.16x keeps
    an included router as one ``_IncludedRouter`` entry instead of copying its routes)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
        elif hasattr(route, "original_router") and hasattr(route, "include_context"):
            yield from _walk(route.original_router.routes, prefix + route.include_context.prefix)


def api_routes(app: FastAPI) -> Iterator[tuple[str, str, APIRoute]]:
    for path, route in _walk(list(app.routes), ""):
        if path not in DOC_PATHS:
            for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
                yield method, path, route


def full_app(hub: Hub, tokens: TokenIssuer, clock: Callable[[], datetime]) -> FastAPI:
    """The app as ``trygg hub`` serves it: create_app plus what runtime installs on it."""
    app = create_app(hub, tokens, clock)
    routing_api.install(app, None)  # routes answer 503 past the role check without a router
    return app


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def app_and_tokens() -> AsyncIterator[tuple[FastAPI, Callable[[Role], str]]]:
    store = MemoryStore()
    store.upsert_site(Site("site-1", "S"))
    store.upsert_unit(Unit("unit-A", "site-1", "A"))
    store.upsert_resident(Resident("res-1", "site-1", "unit-A", "Test Person"))
    clock = Clock()
    hub = Hub(store, metrics=Metrics(), clock=clock)
    await hub.start()
    tokens = TokenIssuer(ttl=TTL)
    hashed = hash_password("x" * 12)
    issued: dict[Role, str] = {}
    for role in Role:
        account = Account(role.value, role.value, role, hashed, "site-1", ("unit-A",))
        own = (WALKED_RESIDENT,) if role in (R.RESIDENT, R.GUARDIAN) else ()
        issued[role] = tokens.issue(account, NOW, own)[0]
    # Almost expired: every token is still valid, and the SSE stream ends at once.
    clock.now = NOW + TTL - timedelta(milliseconds=20)
    app = full_app(hub, tokens, clock)
    yield app, issued.__getitem__
    await hub.stop()


def test_every_route_declares_what_it_needs() -> None:
    store = MemoryStore()
    app = full_app(Hub(store), TokenIssuer(), lambda: NOW)
    undeclared = [
        (m, p)
        for m, p, route in api_routes(app)
        if (m, p) not in PUBLIC and declared_roles(route.dependant) is None
    ]
    assert undeclared == [], "routes must Depends(require(...)) or be listed as PUBLIC"
    for m, p, route in api_routes(app):
        if (m, p) in EXPECTED:
            assert declared_roles(route.dependant) == EXPECTED[(m, p)], (m, p)
    known = {(m, p) for m, p, _ in api_routes(app)}
    assert set(EXPECTED) <= known, "a route in the table is gone"


def _url(path: str) -> str:
    return path.replace("{", "").replace("}", "")  # {alert_id} -> alert_id: a missing row


BODIES: dict[str, Any] = {"POST": {}}


async def test_every_route_with_every_role(
    app_and_tokens: tuple[FastAPI, Callable[[Role], str]],
) -> None:
    app, token = app_and_tokens
    transport = httpx.ASGITransport(app=app)
    outcomes: list[tuple[str, str, str, int]] = []
    wrong: list[str] = []
    async with httpx.AsyncClient(transport=transport, base_url="http://trygg") as client:
        for method, path, route in api_routes(app):
            if (method, path) in PUBLIC:
                continue
            allowed = declared_roles(route.dependant) or frozenset()
            url = _url(path)
            r = await client.request(method, url, json=BODIES.get(method))
            if r.status_code != 401:
                wrong.append(f"{method} {path} without a token: {r.status_code}")
            for role in Role:
                headers = {"Authorization": f"Bearer {token(role)}"}
                r = await client.request(method, url, json=BODIES.get(method), headers=headers)
                outcomes.append((method, path, role.value, r.status_code))
                denied = r.status_code in (401, 403)
                if role in allowed and denied:
                    wrong.append(f"{method} {path} as {role}: {r.status_code}, should pass")
                if role not in allowed and r.status_code != 403:
                    wrong.append(f"{method} {path} as {role}: {r.status_code}, should be 403")
    assert wrong == []
    assert len(outcomes) >= len(EXPECTED) * len(Role)
