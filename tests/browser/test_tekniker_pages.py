"""The tekniker pages in a real headless Chromium against a running hub (real Mosquitto,
SQLite, supervision): a tekniker logs in and sees a resident's silent fall sensor at the
top of the attention list, above a smoke detector with a low battery, and a tampered
door appear between them when the list refreshes itself; filters the
inventory; opens a device, reads its history, sends it to repair, and has an action
that is no longer allowed refused with the hub's reason; opens the unit's page. A
nattevakt gets the API's 403 as a message and no data."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import pytest

from devices.events import make_event
from hub.auth import hash_password
from hub.store.base import Account, Device, PlacementRecord, Resident, Role, Site, Unit
from hub.store.sqlite import SqliteStore
from hub.supervision.policy import BATTERY_LOW_READINGS, Windows
from hub.supervision.shell import SupervisionService
from trygg.runtime import Running

from browserkit import ARGS, ARTIFACTS, CHROMIUM, seeded_hub

pytestmark = [pytest.mark.browser, pytest.mark.mqtt]
PASSWORD = "tekniker test password"
# The fall sensor's window, shortened so it is offline a second after the hub starts
# watching it with these windows (3 h in use).
FALL_WINDOW = timedelta(seconds=1)
SEQ = itertools.count(1)


def seed(store: SqliteStore, site: str) -> None:
    store.upsert_site(Site(id=site, name="Testheim"))
    for unit in ("unit-a", "unit-b"):
        store.upsert_unit(Unit(id=unit, site=site, name=unit.upper()))
    store.upsert_resident(Resident("res-1", site, "unit-a", "Test Resident", "Leil. 1"))
    for dev, gw, kind, unit, room, resident in (
        ("fall-1", "gw-a", "fall_sensor", "unit-a", "bad", "res-1"),
        ("smoke-1", "gw-a", "smoke_detector", "unit-a", "kjøkken", None),
        ("door-2", "gw-b", "door_contact", "unit-b", "entré", None),
    ):
        store.upsert_device(Device(id=dev, site=site, gateway=gw, type=kind, serial=f"SN-{dev}"))
        store.place(PlacementRecord(dev, unit, "Leil. 1", room, resident_id=resident))
    for name, role in (("tore", Role.TEKNIKER), ("kari", Role.NATTEVAKT)):
        store.upsert_account(
            Account(name, name.title(), role, hash_password(PASSWORD), site, ("unit-a",)))


@pytest.fixture
async def hub(
    mosquitto: tuple[str, int], unique_site: str, tmp_path: Path
) -> AsyncIterator[tuple[str, SqliteStore, Running]]:
    async with seeded_hub(mosquitto, unique_site, tmp_path, seed) as running:
        yield running


def supervision(run: Running) -> SupervisionService:
    service: SupervisionService = run.server.config.app.state.supervision
    return service


async def until(check: Any, timeout: float, what: str) -> None:
    for _ in range(int(timeout / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {what}")


async def publish(mosquitto: tuple[str, int], site: str, gateway: str, device: str, kind: str,
                  times: int = 1, **data: Any) -> None:
    async with aiomqtt.Client(*mosquitto, identifier=f"gw-{uuid.uuid4().hex[:8]}") as gw:
        for _ in range(times):
            ev = make_event(id=str(uuid.uuid4()), site=site, gateway=gateway, device=device,
                            kind=kind, ts=datetime.now(UTC), seq=next(SEQ), data=data)
            await gw.publish(f"trygg/v1/{site}/{gateway}/events", ev.to_json(), qos=1)


async def low_battery(mosquitto: tuple[str, int], site: str, device: str) -> None:
    """The device's gateway reports a low battery ``BATTERY_LOW_READINGS`` times."""
    await publish(mosquitto, site, "gw-a", device, "device.heartbeat", BATTERY_LOW_READINGS,
                  battery_pct=4)


async def attention_ready(run: Running, mosquitto: tuple[str, int], site: str) -> None:
    service = supervision(run)
    await until(lambda: "fall-1" in service.supervisor, 10, "supervision watches the registry")
    service.windows = Windows({"fall_sensor": FALL_WINDOW})
    await service.reload()
    await low_battery(mosquitto, site, "smoke-1")

    def ready() -> bool:
        keys = {s.key: s for s in service.subjects()}
        return "fall-1" in keys and "smoke-1" in keys
    await until(ready, 15, "fall-1 offline and smoke-1 low on battery")


async def login(page: Any, url: str, user: str) -> None:
    await page.goto(f"{url}/tekniker/")
    await page.fill("#username", user)
    await page.fill("#password", PASSWORD)
    await page.click("#login-button")


async def test_a_tekniker_works_through_the_pages(
    hub: tuple[str, SqliteStore, Running], mosquitto: tuple[str, int], unique_site: str
) -> None:
    from playwright.async_api import async_playwright, expect

    url, _, run = hub
    await attention_ready(run, mosquitto, unique_site)
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = await browser.new_page(viewport={"width": 1200, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.add_init_script("window.TRYGG_ATTENTION_REFRESH_MS = 300")  # 15 s in use
        try:
            await login(page, url, "tore")
            # The attention list is the default view: the resident's fall sensor first.
            rows = page.locator("#attention tbody tr")
            await expect(rows).to_have_count(2, timeout=10000)
            await expect(rows.nth(0)).to_have_attribute("data-key", "fall-1")
            await expect(rows.nth(0)).to_have_attribute("data-rank", "critical_offline")
            await expect(rows.nth(0)).to_contain_text("Sikkerhetskritisk, frakoblet")
            await expect(rows.nth(1)).to_have_attribute("data-key", "smoke-1")
            await expect(rows.nth(1)).to_contain_text("Lavt batteri")
            # It refreshes by itself: a door in unit-b is tampered with, and shows up
            # between the two (tamper ranks above a low battery).
            await publish(mosquitto, unique_site, "gw-b", "door-2", "device.tamper")
            await expect(rows).to_have_count(3, timeout=10000)
            await expect(rows.nth(1)).to_have_attribute("data-key", "door-2")
            await expect(rows.nth(1)).to_contain_text("Manipulert")
            await page.screenshot(path=str(ARTIFACTS / "tekniker-attention.png"), full_page=True)

            # Inventory: a filter and a search narrow the list.
            await page.click('#nav a[data-view="inventory"]')
            devices = page.locator("#devices tbody tr")
            await expect(devices).to_have_count(3, timeout=5000)
            await page.fill("#f-unit", "unit-a")
            await page.click("#f-apply")
            await expect(devices).to_have_count(2, timeout=5000)
            await page.fill("#f-q", "SN-smoke")
            await page.click("#f-apply")
            await expect(devices).to_have_count(1, timeout=5000)
            await expect(devices.nth(0)).to_have_attribute("data-id", "smoke-1")
            assert "unit=unit-a" in page.url and "q=SN-smoke" in page.url

            # The unit's page, from the row's unit link: every device and gateway of unit-a.
            await devices.nth(0).locator("a", has_text="unit-a").click()
            await expect(page.locator("#unit-name")).to_contain_text("unit-a", timeout=5000)
            unit_rows = page.locator("#unit-devices tbody tr")
            await expect(unit_rows).to_have_count(2, timeout=5000)
            fall = page.locator('#unit-devices tr[data-id="fall-1"]')
            await expect(fall).to_contain_text("Frakoblet")
            await expect(page.locator("#unit-gateways tbody tr")).to_have_count(1)
            await expect(page.locator('#unit-gateways tr[data-id="gw-a"]')).to_be_visible()
            await page.screenshot(path=str(ARTIFACTS / "tekniker-unit.png"), full_page=True)

            await page.click('#nav a[data-view="gateways"]')
            await expect(page.locator("#gateways tbody tr")).to_have_count(2, timeout=5000)

            # Back to the unit, and on to a device: its facts, history and the actions
            # its state allows.
            await page.go_back()
            await expect(page.locator("#unit-view")).to_be_visible(timeout=5000)
            await page.locator('#unit-devices tr[data-id="smoke-1"] a').click()
            await expect(page.locator("#device-id")).to_have_text("smoke-1", timeout=5000)
            await expect(page.locator("#device-facts")).to_contain_text("I drift")
            await expect(page.locator("#device-facts")).to_contain_text("Lavt batteri siden")
            await expect(page.locator("#history-empty")).to_be_visible()
            actions = page.locator("#device-actions button")
            await expect(actions).to_have_count(2)
            assert sorted(await actions.evaluate_all("bs => bs.map(b => b.dataset.do)")) == [
                "deactivate", "send_to_repair"]
            await page.fill("#action-note", "Bytter batteri og deksel")
            await page.click('#device-actions [data-do="send_to_repair"]')
            await expect(page.locator("#device-facts")).to_contain_text("Til reparasjon",
                                                                        timeout=5000)
            history = page.locator("#history li")
            await expect(history.last).to_contain_text("tore: Send til reparasjon")
            await expect(history.last).to_contain_text("Bytter batteri og deksel")
            # Someone else retires it meanwhile; this page still offers "back from repair".
            await retire_behind_the_page(url, "smoke-1")
            await page.click('#device-actions [data-do="repaired"]')
            await expect(page.locator("#action-message")).to_contain_text("Ikke tillatt",
                                                                          timeout=5000)
            await expect(page.locator("#action-message")).to_contain_text("retired")
            # The page now shows the device as it is: retired, nothing more to offer.
            await expect(page.locator("#device-facts")).to_contain_text("Kassert")
            await expect(actions).to_have_count(0)
            await expect(history).to_have_count(2)
            await page.screenshot(path=str(ARTIFACTS / "tekniker-device.png"), full_page=True)
        except Exception:
            await page.screenshot(path=str(ARTIFACTS / "tekniker-failure.png"), full_page=True)
            raise
        finally:
            await browser.close()
    assert errors == []


async def retire_behind_the_page(url: str, device: str) -> None:
    async with httpx.AsyncClient(base_url=url) as client:
        r = await client.post("/api/v1/auth/token", data={"username": "tore",
                                                           "password": PASSWORD})
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        r = await client.post(f"/api/v1/devices/{device}/actions/retire", json={},
                              headers=headers)
        assert r.status_code == 200, r.text


async def test_a_nattevakt_is_refused_the_data_with_a_message(
    hub: tuple[str, SqliteStore, Running], mosquitto: tuple[str, int], unique_site: str
) -> None:
    from playwright.async_api import async_playwright, expect

    url, _, run = hub
    await attention_ready(run, mosquitto, unique_site)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = await browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            await login(page, url, "kari")
            await expect(page.locator("#error")).to_contain_text("Ingen tilgang", timeout=10000)
            await expect(page.locator("#attention tbody tr")).to_have_count(0)
            await expect(page.locator("#attention-empty")).to_be_hidden()
        except Exception:
            await page.screenshot(path=str(ARTIFACTS / "tekniker-nattevakt.png"), full_page=True)
            raise
        finally:
            await browser.close()
    assert errors == []
