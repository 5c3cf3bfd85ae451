"""The alarm board in a real headless Chromium: log in, see a simulated fall
appear within 2 s, accept it, resolve it, see it leave the board."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from datetime import time as wall
from pathlib import Path

import aiomqtt
import pytest
import uuid6

from devices.events import make_event
from hub.auth import hash_password
from hub.routing.roster import Shift
from hub.store.base import Account, Device, PlacementRecord, Role, Site, Unit
from hub.store.sqlite import SqliteStore

from browserkit import ARGS, ARTIFACTS, CHROMIUM, seeded_hub

pytestmark = [pytest.mark.browser, pytest.mark.mqtt]
PASSWORD = "board test password"


def seed(store: SqliteStore, site: str) -> None:
    store.upsert_site(Site(id=site, name="Testheim"))
    store.upsert_unit(Unit(id="unit-a", site=site, name="A"))
    store.upsert_device(Device(id="dev-fall", site=site, gateway="gw-1", type="fall_sensor"))
    store.place(PlacementRecord(device="dev-fall", unit="unit-a", apartment="Leil. 4"))
    store.upsert_account(
        Account("kari", "Kari", Role.NATTEVAKT, hash_password(PASSWORD), site, ("unit-a",))
    )
    store.save_shift(Shift("all-day", "kari", site, ("unit-a",), wall(0), wall(23, 59)))


@pytest.fixture
async def board(mosquitto: tuple[str, int], unique_site: str, tmp_path: Path) -> AsyncIterator[str]:
    async with seeded_hub(mosquitto, unique_site, tmp_path, seed) as (url, _, _):
        yield url


async def publish_fall(host: str, port: int, site: str) -> None:
    event = make_event(
        id=str(uuid6.uuid7()),
        site=site,
        gateway="gw-1",
        device="dev-fall",
        kind="fall.detected",
        ts=datetime.now(UTC),
        seq=1,
    )
    async with aiomqtt.Client(host, port, identifier=f"pub-{uuid.uuid4().hex[:8]}") as client:
        await client.publish(f"trygg/v1/{site}/gw-1/events", event.model_dump_json(), qos=1)


async def test_board_shows_a_fall_then_accept_and_resolve(
    board: str, mosquitto: tuple[str, int], unique_site: str
) -> None:
    from playwright.async_api import async_playwright, expect

    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = await browser.new_page(viewport={"width": 390, "height": 844})  # a phone
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            await page.goto(f"{board}/board/")
            await page.fill("#username", "kari")
            await page.fill("#password", PASSWORD)
            await page.click("#login-button")
            await expect(page.locator("#status")).to_have_text("tilkoblet", timeout=5000)
            await expect(page.locator("#login")).to_be_hidden()
            await expect(page.locator("#empty")).to_be_visible()

            await publish_fall(*mosquitto, unique_site)
            card = page.locator("li.alert").filter(has_text="Leil. 4")
            await expect(card).to_be_visible(timeout=2000)
            await expect(card).to_have_class("alert critical waiting")
            await expect(page.locator("body")).to_have_attribute("data-sound", "on")
            await page.screenshot(path=str(ARTIFACTS / "board-new-fall.png"), full_page=True)

            await card.locator('[data-do="accept"]').click()
            await expect(card.locator(".state")).to_contain_text("kari", timeout=2000)
            await expect(page.locator("body")).to_have_attribute("data-sound", "off")
            await card.locator(".outcome").select_option("assisted")
            await card.locator('[data-do="resolve"]').click()
            await expect(card).to_have_count(0, timeout=2000)
            await expect(page.locator("#empty")).to_be_visible()
            await page.screenshot(path=str(ARTIFACTS / "board-after-resolve.png"), full_page=True)
        except Exception:
            await page.screenshot(path=str(ARTIFACTS / "board-failure.png"), full_page=True)
            raise
        finally:
            await browser.close()
    assert errors == []
