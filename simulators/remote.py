"""``trygg sim verify``: play a scenario against a running hub and compare its alerts.

1. Log in to the hub's API (OAuth2 password flow) first, so a wrong password
   fails before anything is published.
2. Play the scenario to the broker at ``speed`` with live timestamps, recording
   each event's id, planned time and the real time the broker acknowledged it.
3. Wait ``settle_s`` for the last alerts, then read ``GET /api/v1/alerts`` for
   the scenario's site and keep the alerts that belong to this run: those whose
   events were played by it, or raised during it (timer rules).
4. Match them against the scenario's expected alerts (:mod:`simulators.verify`).

The account must see every alert of the site (``admin``, or staff of all its
units); a ``tekniker`` sees only technical alerts and would report the rest missing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime

import httpx

from devices.events import EventBase
from simulators import SimulatorError
from simulators.player import PlayResult, default_night, play
from simulators.scenario import PlannedEvent, Scenario
from simulators.verify import (
    PlayLog,
    RaisedAlert,
    Report,
    due_alerts,
    match_alerts,
    raised_from_api,
)

API_LIMIT = 1000


class VerifyError(SimulatorError):
    """The hub's API could not be reached, refused the login or answered nonsense."""


@dataclass(frozen=True)
class RemoteRun:
    night_of: date
    play: PlayResult
    raised: list[RaisedAlert]
    report: Report


async def _token(http: httpx.AsyncClient, username: str, password: str) -> str:
    try:
        r = await http.post("/api/v1/auth/token", data={"username": username, "password": password})
    except httpx.HTTPError as exc:
        raise VerifyError(f"cannot reach the hub's API at {http.base_url}: {exc}") from exc
    if r.status_code != 200:
        raise VerifyError(f"login as {username!r} refused: HTTP {r.status_code} {r.text[:200]}")
    return str(r.json()["access_token"])


async def fetch_alerts(http: httpx.AsyncClient, token: str, site: str) -> list[dict[str, object]]:
    try:
        r = await http.get(
            "/api/v1/alerts",
            params={"site": site, "limit": API_LIMIT},
            headers={"Authorization": f"Bearer {token}"},
        )
    except httpx.HTTPError as exc:
        raise VerifyError(f"cannot read alerts from {http.base_url}: {exc}") from exc
    if r.status_code != 200:
        raise VerifyError(f"reading alerts failed: HTTP {r.status_code} {r.text[:200]}")
    body = r.json()
    if not isinstance(body, list):
        raise VerifyError("the hub's /api/v1/alerts did not answer a list")
    return body


async def verify_remote(
    scenario: Scenario,
    broker_host: str,
    broker_port: int,
    api_url: str,
    *,
    username: str,
    password: str,
    speed: float = 60.0,
    settle_s: float = 3.0,
    night_of: date | None = None,
    mqtt_username: str | None = None,
    mqtt_password: str | None = None,
    client_id: str | None = None,
    progress: bool = False,
    stop: asyncio.Event | None = None,
) -> RemoteRun:
    night = night_of or scenario.night_of or default_night(scenario, datetime.now(UTC))
    log = PlayLog(speed)

    def played(planned: PlannedEvent, event: EventBase) -> None:
        log.record(event.id, planned.at, datetime.now(UTC))

    async with httpx.AsyncClient(base_url=api_url, timeout=30.0) as http:
        token = await _token(http, username, password)
        result = await play(
            scenario,
            broker_host,
            broker_port,
            speed=speed,
            night_of=night,
            stamp="live",
            on_event=played,
            username=mqtt_username,
            password=mqtt_password,
            client_id=client_id,
            stop=stop,
            progress=progress,
        )
        await asyncio.sleep(settle_s)
        body = await fetch_alerts(http, token, scenario.site.id)
    raised = [r for a in body if (r := raised_from_api(a, log)) is not None]
    report = match_alerts(due_alerts(scenario, night), raised)
    return RemoteRun(night_of=night, play=result, raised=raised, report=report)
