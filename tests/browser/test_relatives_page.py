"""The relative's reply page in a real headless Chromium: Johs presses his alarm, his
daughter (allowed by his basis) is told first through the SMS gateway (a local HTTP
server); she opens the link she got, taps "Jeg kan ikke", and home care is told at
once, with her answer in the alert's routing log. A forged link says so."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import uuid6

from devices.events import make_event
from hub.consent.records import BasisAction, BasisChange
from hub.relatives.model import Relative
from hub.routing.log import RoutingKind
from hub.routing.roster import Shift
from hub.store.base import Device, PlacementRecord, Resident, Site, Unit
from hub.store.sqlite import SqliteStore
from rules.consent import BasisKind, LegalBasis

from browserkit import ARGS, ARTIFACTS, CHROMIUM, seeded_hub

pytestmark = [pytest.mark.browser, pytest.mark.mqtt]
ROUTING = """version: 1
chains:
  relatives-first:
    renotify: 1m
    steps:
      - {target: relatives, timeout: 10m}
      - {target: unit, timeout: 5m}
policies:
  - {chain: relatives-first, kind: alarm.button}
"""


class SmsGateway:
    def __init__(self) -> None:
        self.bodies: list[dict[str, object]] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                gateway.bodies.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/sms"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def sms(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[SmsGateway]:
    gateway = SmsGateway()
    policy = tmp_path / "routing.yaml"
    policy.write_text(ROUTING)
    monkeypatch.setenv("TRYGG_ROUTING", str(policy))
    monkeypatch.setenv("TRYGG_RELATIVES_WEBHOOK_URL", gateway.url)
    monkeypatch.setenv("TRYGG_RELATIVES_WEBHOOK_SECRET", "sms-gateway-secret-0123456789")
    yield gateway
    gateway.server.shutdown()
    gateway.server.server_close()


def seed(store: SqliteStore, site: str) -> None:
    now = datetime.now(UTC)
    store.upsert_site(Site(site, "Hjemmetjenesten"))
    store.upsert_unit(Unit("home", site, "Hjemmetjenesten"))
    store.upsert_resident(Resident("res-johs", site, "home", "Johs Pedersen", "Storgata 12"))
    store.upsert_device(Device("johs-button", site, "gw-1", "alarm_button"))
    store.place(PlacementRecord("johs-button", "home", "Storgata 12", None, "res-johs"))
    basis = LegalBasis(
        id="basis-alarm", resident_id="res-johs", measure="safety_alarm",
        kinds=frozenset({"alarm.button"}), basis=BasisKind.CONSENT, decided_by="lisa",
        reference="HT-1", valid_from=now - timedelta(days=1), valid_to=None, review_at=None,
        notify_relatives=("kari",),
    )  # fmt: skip
    store.save_basis(basis, BasisChange(basis.id, now, "lisa", BasisAction.RECORD))
    store.save_relative(Relative("res-johs", "kari", "Kari", "datter", phone="+4791234567"), now)
    store.save_shift(Shift("all-day", "liv", site, ("home",), time(0), time(0)))


async def until(check: object, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_the_daughter_answers_from_the_link_and_home_care_is_told(
    mosquitto: tuple[str, int], unique_site: str, tmp_path: Path, sms: SmsGateway
) -> None:
    from playwright.async_api import async_playwright, expect

    ARTIFACTS.mkdir(exist_ok=True)
    async with seeded_hub(mosquitto, unique_site, tmp_path, seed) as (url, store, run):
        event = make_event(id=str(uuid6.uuid7()), site=unique_site, gateway="gw-1",
                           device="johs-button", kind="alarm.button", ts=datetime.now(UTC),
                           seq=1, data={"press": "single"})  # fmt: skip
        run.hub.handle_message(event.model_dump_json().encode(),
                               f"trygg/v1/{unique_site}/gw-1/events")  # fmt: skip
        await until(lambda: sms.bodies)
        (alert,) = run.hub.open_alerts()
        link = str(sms.bodies[0]["reply"]["url"])  # type: ignore[index]
        assert link.startswith("http://127.0.0.1:8080/relatives/?lang=nb#")
        page_url = url + link.removeprefix("http://127.0.0.1:8080")
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = await browser.new_page(viewport={"width": 420, "height": 700})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            try:
                await page.goto(url + "/relatives/?lang=nb#forged.token")
                await page.click("#cannot")
                await expect(page.locator("#result")).to_have_text("Lenken er ikke gyldig.")
                await page.goto(page_url)
                await page.reload()  # a fragment-only change does not reload the page
                await expect(page.locator("#ask")).to_contain_text("tar du deg av det?")
                await page.click("#cannot")
                await expect(page.locator("#result")).to_have_text(
                    "Takk. Hjemmetjenesten blir varslet nå.", timeout=5000
                )
                await page.screenshot(path=str(ARTIFACTS / "relative-reply.png"))
            except Exception:
                await page.screenshot(path=str(ARTIFACTS / "relative-reply-failure.png"))
                raise
            finally:
                await browser.close()
        assert errors == []

        # Through the hub's store thread: the hub is still writing on the same connection.
        for _ in range(200):
            log = await run.hub.run_store(store.routing_log, alert.id)
            if any(r.kind is RoutingKind.NOTIFY and r.recipient == "liv" for r in log):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("home care was not told")
        answers = [(r.actor, r.detail) for r in log if r.kind is RoutingKind.RELATIVE_ANSWER]
        assert answers == [("relative:kari", "cannot")]
        assert [r.detail for r in log if r.kind is RoutingKind.ESCALATED] == ["relatives cannot"]
