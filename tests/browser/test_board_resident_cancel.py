"""The alarm board in a real headless Chromium: a press, then a second press 5 s later
(by the button's clock). The card stays on the board, marked "Avbrutt av beboer" with
its lowered priority, and staff still accept it and resolve it as a false alarm."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
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
    store.upsert_device(Device(id="dev-btn", site=site, gateway="gw-1", type="alarm_button"))
    store.place(PlacementRecord(device="dev-btn", unit="unit-a", apartment="Leil. 7"))
    store.upsert_account(
        Account("kari", "Kari", Role.NATTEVAKT, hash_password(PASSWORD), site, ("unit-a",))
    )
    store.save_shift(Shift("all-day", "kari", site, ("unit-a",), wall(0), wall(23, 59)))


@pytest.fixture
async def board(mosquitto: tuple[str, int], unique_site: str, tmp_path: Path) -> AsyncIterator[str]:
    async with seeded_hub(mosquitto, unique_site, tmp_path, seed) as (url, _, _):
        yield url


async def publish_press(host: str, port: int, site: str, ts: datetime, seq: int) -> None:
    event = make_event(
        id=str(uuid6.uuid7()),
        site=site,
        gateway="gw-1",
        device="dev-btn",
        kind="alarm.button",
        ts=ts,
        seq=seq,
        data={"press": "single"},
    )
    async with aiomqtt.Client(host, port, identifier=f"pub-{uuid.uuid4().hex[:8]}") as client:
        await client.publish(f"trygg/v1/{site}/gw-1/events", event.model_dump_json(), qos=1)


async def test_board_shows_a_resident_cancel_and_staff_still_close_it(
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

            first = datetime.now(UTC)
            await publish_press(*mosquitto, unique_site, first, 1)
            card = page.locator("li.alert").filter(has_text="Leil. 7")
            await expect(card).to_be_visible(timeout=3000)
            await expect(card.locator(".priority")).to_have_text("high")
            await expect(card.locator(".resident-cancel")).to_be_hidden()

            await publish_press(*mosquitto, unique_site, first + timedelta(seconds=5), 2)
            mark = card.locator(".resident-cancel")
            await expect(mark).to_be_visible(timeout=3000)
            await expect(mark).to_contain_text("Avbrutt av beboer")
            await expect(mark).to_contain_text("prioritet senket fra high til medium")
            await expect(card.locator(".priority")).to_have_text("medium")
            await expect(card).to_have_class("alert medium waiting cancelled-by-resident")
            await expect(card.locator('[data-do="accept"]')).to_be_visible()
            await page.screenshot(path=str(ARTIFACTS / "board-resident-cancel.png"), full_page=True)

            # Still open: reloading the page shows it again, from the snapshot.
            await page.reload()
            await expect(page.locator("#status")).to_have_text("tilkoblet", timeout=5000)
            await expect(card.locator(".resident-cancel")).to_be_visible(timeout=3000)

            await card.locator('[data-do="accept"]').click()
            await expect(card.locator(".state")).to_contain_text("kari", timeout=3000)
            await expect(card.locator(".resident-cancel")).to_be_visible()
            await card.locator(".outcome").select_option("false_alarm")
            await card.locator('[data-do="resolve"]').click()
            await expect(card).to_have_count(0, timeout=3000)
        except Exception:
            await page.screenshot(path=str(ARTIFACTS / "board-resident-cancel-failure.png"))
            raise
        finally:
            await browser.close()
    assert errors == []
