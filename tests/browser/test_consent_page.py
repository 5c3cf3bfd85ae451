"""The consent page in a real headless Chromium: a leader records a basis for a
resident, the gateway's config is republished with it at once, the leader withdraws
it, the config follows at once, the history shows who did what, and the resident's
plain-language page says it is withdrawn. Every step is in the audit log."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from hub.auth import hash_password
from hub.consent import notices
from hub.consent.records import BasisAction, BasisChange
from hub.store.base import Account, Device, PlacementRecord, Resident, Role, Site, Unit
from hub.store.sqlite import SqliteStore
from rules.consent import BasisKind, LegalBasis

from browserkit import ARGS, ARTIFACTS, CHROMIUM, seeded_hub

pytestmark = [pytest.mark.browser, pytest.mark.mqtt]
PASSWORD = "consent test password"


def seed(store: SqliteStore, site: str) -> None:
    store.upsert_site(Site(id=site, name="Testheim"))
    store.upsert_unit(Unit(id="unit-a", site=site, name="A"))
    store.upsert_resident(Resident("res-7", site, "unit-a", "Johs Hansen"))
    store.upsert_device(Device(id="dev-fall", site=site, gateway="gw-1", type="fall_sensor"))
    store.place(PlacementRecord(device="dev-fall", unit="unit-a", resident_id="res-7"))
    store.upsert_account(
        Account("lise", "Lise", Role.LEADER, hash_password(PASSWORD), site, ("unit-a",))
    )


@pytest.fixture
async def hub_url(
    mosquitto: tuple[str, int], unique_site: str, tmp_path: Path
) -> AsyncIterator[tuple[str, SqliteStore]]:
    async with seeded_hub(mosquitto, unique_site, tmp_path, seed) as (url, store, _):
        yield url, store


async def next_config(messages: Any, want: Any) -> dict[str, Any]:
    """The next config on the topic for which ``want(config)`` holds."""
    async for message in messages:
        config: dict[str, Any] = json.loads(bytes(message.payload))
        if want(config):
            return config
    raise AssertionError("config stream ended")


async def test_record_and_withdraw_a_basis_through_the_page(
    hub_url: tuple[str, SqliteStore], mosquitto: tuple[str, int], unique_site: str
) -> None:
    from playwright.async_api import async_playwright, expect

    url, store = hub_url
    ARTIFACTS.mkdir(exist_ok=True)
    topic = f"trygg/v1/{unique_site}/gw-1/config"
    async with (
        aiomqtt.Client(*mosquitto, identifier=f"gw-{uuid.uuid4().hex[:8]}") as gateway,
        async_playwright() as pw,
    ):
        await gateway.subscribe(topic, qos=1)
        configs = gateway.messages
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = await browser.new_page(viewport={"width": 1000, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            await page.goto(f"{url}/consent/")
            await page.fill("#username", "lise")
            await page.fill("#password", PASSWORD)
            await page.click("#login-button")
            await page.fill("#resident-id", "res-7")
            await page.click("#open-resident")
            await expect(page.locator("#no-bases")).to_be_visible(timeout=5000)

            await page.click("#record-box summary")
            await page.select_option("#measure", "fall")
            await expect(page.locator("#kinds")).to_have_value("fall.detected, floor.person")
            await page.fill("#reference", "SAK-2026/17")
            await page.fill("#purpose", "Så personalet kommer raskt hvis du faller om natten.")
            await page.fill("#windows", "22:00-07:00")
            await page.click("#record-button")
            card = page.locator("li.basis").filter(has_text="SAK-2026/17")
            await expect(card.locator(".state")).to_have_text("I kraft", timeout=5000)
            await expect(card.locator(".history")).to_contain_text("lise registrerte")
            recorded = await asyncio.wait_for(next_config(configs, lambda c: c["bases"]), timeout=5)
            (basis,) = recorded["bases"]
            assert basis["resident_id"] == "res-7" and basis["withdrawn_at"] is None
            assert basis["windows"] == ["22:00-07:00"]

            await card.locator(".withdraw-reason").fill("Beboeren trakk samtykket i samtale")
            await card.locator('[data-do="withdraw"]').click()
            await expect(card.locator(".state")).to_contain_text("Trukket tilbake", timeout=5000)
            await expect(card.locator(".history")).to_contain_text(
                "lise trakk tilbake – Beboeren trakk samtykket i samtale"
            )
            await expect(card.locator(".actions")).to_be_hidden()
            withdrawn = await asyncio.wait_for(
                next_config(configs, lambda c: c["bases"] and c["bases"][0]["withdrawn_at"]),
                timeout=5,
            )
            assert withdrawn["bases"][0]["id"] == basis["id"]

            await page.click("#show-plain")
            plain = page.frame_locator("#plain")
            await expect(plain.locator("body")).to_contain_text("trukket tilbake", timeout=5000)
            await page.screenshot(path=str(ARTIFACTS / "consent-withdrawn.png"), full_page=True)
        except Exception:
            await page.screenshot(path=str(ARTIFACTS / "consent-failure.png"), full_page=True)
            raise
        finally:
            await browser.close()
    assert errors == []
    actions = [(r.entry.actor, r.entry.action) for r in store.audit_records("res-7", 0, 1000)]
    assert ("lise", "basis.record") in actions
    assert ("lise", "basis.withdraw") in actions
    assert ("lise", "monitoring.read") in actions


async def test_a_notice_before_expiry_shows_on_the_leaders_board(
    hub_url: tuple[str, SqliteStore],
) -> None:
    """The notice reaches the leader actively: a banner on the alarm board, until acknowledged."""
    from playwright.async_api import async_playwright, expect

    url, store = hub_url
    now = datetime.now(UTC)
    basis = LegalBasis(
        "basis-soon", "res-7", "fall", frozenset({"fall.detected"}), BasisKind.CONSENT, "lise",
        "SAK-1", now - timedelta(days=300), now + timedelta(days=5), None,
    )  # fmt: skip
    store.save_basis(basis, BasisChange(basis.id, now, "lise", BasisAction.RECORD))
    assert notices.send_due(store, now) == 1  # what the hourly job does
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = await browser.new_page(viewport={"width": 390, "height": 844})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            await page.goto(f"{url}/board/")
            await page.fill("#username", "lise")
            await page.fill("#password", PASSWORD)
            await page.click("#login-button")
            notice = page.locator("#consent-notices li.consent-notice")
            await expect(notice).to_contain_text("fall for beboer res-7 utløper", timeout=5000)
            await expect(notice.locator("a")).to_have_attribute("href", "/consent/#res-7")
            await page.screenshot(path=str(ARTIFACTS / "board-consent-notice.png"), full_page=True)
            await notice.locator("button.ack").click()
            await expect(page.locator("#consent-notices")).to_be_hidden(timeout=5000)
        except Exception:
            await page.screenshot(path=str(ARTIFACTS / "notice-failure.png"), full_page=True)
            raise
        finally:
            await browser.close()
    assert errors == []
    (stored,) = store.list_notices()
    assert stored.acknowledged_by == "lise"
