"""The demo through every layer: embedded broker, hub, SQLite, API, simulator."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from trygg.demo import run_demo

from conftest import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.mqtt]


async def test_demo_night_raises_alerts_that_staff_can_accept(tmp_path: Path) -> None:
    http_port, mqtt_port = free_port(), free_port()
    out = io.StringIO()
    stop = asyncio.Event()
    demo = asyncio.create_task(
        run_demo(
            data_dir=tmp_path,
            http_port=http_port,
            mqtt_port=mqtt_port,
            speed=4000,
            duration=None,
            simulate=True,
            stop=stop,
            console=Console(file=out, width=200),
        )
    )
    base = f"http://127.0.0.1:{http_port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            token = await _login(http, demo)
            auth = {"Authorization": f"Bearer {token}"}
            falls: list[dict[str, object]] = []
            for _ in range(400):
                alerts = (
                    await http.get("/api/v1/alerts", headers=auth, params={"state": "open"})
                ).json()
                falls = [a for a in alerts if a["kind"] == "fall.detected"]
                if falls:
                    break
                await asyncio.sleep(0.05)
            assert falls, "no fall alert from the night-unit scenario"
            alert_id = falls[0]["id"]
            r = await http.post(f"/api/v1/alerts/{alert_id}/accept", headers=auth)
            assert r.status_code == 200 and r.json()["accepted_by"] == "nattevakt"
            # tekniker sees technical alerts only
            tech = await _token(http, "tekniker")
            seen = (
                await http.get("/api/v1/alerts", headers={"Authorization": f"Bearer {tech}"})
            ).json()
            assert all(a["category"] == "technical" for a in seen)
            # The resident's own page: beboer is res-1, and sees res-1's alarms only.
            beboer = {"Authorization": f"Bearer {await _token(http, 'beboer')}"}
            theirs = {a["id"] for a in alerts if a["resident_id"] == "res-1"
                      and a["category"] == "resident"}  # fmt: skip
            for _ in range(100):  # an alert closing now is stored a moment later
                own = await http.get("/api/v1/residents/res-1/overview", headers=beboer)
                assert own.status_code == 200 and own.json()["monitoring"]
                if theirs <= {a["id"] for a in own.json()["alarms"]}:
                    break
                await asyncio.sleep(0.05)
            assert theirs <= {a["id"] for a in own.json()["alarms"]}
            other = await http.get("/api/v1/residents/res-2/overview", headers=beboer)
            assert other.status_code == 403
    finally:
        stop.set()
        await asyncio.wait_for(demo, 20)
    printed = out.getvalue()
    assert "Fall detected" in printed and "CRITICAL" in printed
    assert "Trygg demo stopped." in printed


async def _token(http: httpx.AsyncClient, user: str) -> str:
    r = await http.post("/api/v1/auth/token", data={"username": user, "password": "demo"})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


async def _login(http: httpx.AsyncClient, demo: asyncio.Task[None]) -> str:
    for _ in range(200):
        if demo.done():
            demo.result()
        try:
            return await _token(http, "nattevakt")
        except httpx.TransportError:
            await asyncio.sleep(0.05)
    raise AssertionError("demo API did not come up")
