"""The resident's own page in a real headless Chromium, at a phone's width: the resident
logs in, sees the alarm that Kari accepted and resolved, who came and when, and the
monitoring basis, in Norwegian; switches to English; nothing is cut off at 375 px or on a
tablet; another resident's page gives the refusal, which the audit log keeps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uuid6

from devices.events import make_event
from devices.localtime import TimeWindow
from devices.registry import Placement
from hub.alerts import Command, Outcome, raise_alert, transition
from hub.auth import hash_password
from hub.consent.records import BasisAction, BasisChange
from hub.store.base import Account, Device, PlacementRecord, Resident, Role, Site, Unit
from hub.store.sqlite import SqliteStore
from rules.consent import BasisKind, LegalBasis
from rules.decisions import Category, Priority, Raise

from browserkit import ARGS, ARTIFACTS, CHROMIUM, seeded_hub

pytestmark = [pytest.mark.browser, pytest.mark.mqtt]
PASSWORD = "resident page password"
PURPOSE = "Så nattevakten kommer hvis du går ut om natten og ikke finner veien tilbake."
# No element may be wider than its box (text cut off or a sideways scroll).
OVERFLOW = """() => {
  const out = [];
  if (document.documentElement.scrollWidth > window.innerWidth) out.push("page");
  for (const el of document.querySelectorAll("h1,h2,h3,h4,p,li,dt,dd,button,label")) {
    if (el.offsetParent !== null && el.scrollWidth > el.clientWidth + 1) out.push(el.textContent);
  }
  return out;
}"""


def seed(store: SqliteStore, site: str) -> None:
    now = datetime.now(UTC)
    store.upsert_site(Site(id=site, name="Solsiden"))
    store.upsert_unit(Unit(id="unit-a", site=site, name="A"))
    store.upsert_resident(Resident("res-1", site, "unit-a", "Ingrid Solberg", "Leil. 1"))
    store.upsert_resident(Resident("res-2", site, "unit-a", "Magnus Haugen", "Leil. 2"))
    store.upsert_device(Device(id="btn-1", site=site, gateway="gw-1", type="alarm_button"))
    store.place(PlacementRecord(device="btn-1", unit="unit-a", resident_id="res-1"))
    door = LegalBasis(
        "basis-door", "res-1", "exit_door", frozenset({"door.opened", "door.closed"}),
        BasisKind.CONSENT, "lisa", "SAK-2026/17", now - timedelta(days=100),
        datetime(2027, 6, 1, 10, 0, tzinfo=UTC), None,
        windows=(TimeWindow.parse("22:00-07:00"),), visible_to=frozenset({"nattevakt"}),
        purpose=PURPOSE,
    )  # fmt: skip
    store.save_basis(door, BasisChange(door.id, now, "lisa", BasisAction.RECORD))
    hashed = hash_password(PASSWORD)
    store.upsert_account(Account("ingrid", "Ingrid Solberg", Role.RESIDENT, hashed))
    store.bind_account_residents("ingrid", ["res-1"])
    store.upsert_account(Account("vera", "Vera Verge", Role.GUARDIAN, hashed))
    store.bind_account_residents("vera", ["res-1", "res-2"])
    store.upsert_account(
        Account("kari", "Kari Nordmann", Role.NATTEVAKT, hashed, site, ("unit-a",))
    )
    _handled_alarm(store, site, now - timedelta(hours=3))


def _handled_alarm(store: SqliteStore, site: str, at: datetime) -> None:
    """An alarm button press that Kari accepted, came to, and resolved: the resident was helped."""
    decision = Raise(rule="first.alarm_button", category=Category.RESIDENT,
                     priority=Priority.HIGH, message="Alarmknapp")  # fmt: skip
    pressed = make_event(id=str(uuid6.uuid7()), site=site, gateway="gw-1", device="btn-1",
                         kind="alarm.button", ts=at, seq=1)  # fmt: skip
    where = Placement(device="btn-1", device_type="alarm_button", site=site, gateway="gw-1",
                      unit="unit-a", resident_id="res-1")  # fmt: skip
    alert, record = raise_alert(decision, pressed, where, "alert-1", at)
    store.save_alert(alert, record)
    steps: list[tuple[Command, int, Any]] = [
        (Command.ACCEPT, 1, None), (Command.ON_SITE, 6, None),
        (Command.RESOLVE, 20, Outcome.ASSISTED),
    ]  # fmt: skip
    for command, minutes, outcome in steps:
        alert, record = transition(alert, command, "kari", at + timedelta(minutes=minutes),
                                   outcome=outcome)  # fmt: skip
        store.save_alert(alert, record)


@pytest.fixture
async def hub_url(
    mosquitto: tuple[str, int], unique_site: str, tmp_path: Path
) -> AsyncIterator[tuple[str, SqliteStore]]:
    async with seeded_hub(mosquitto, unique_site, tmp_path, seed) as (url, store, _):
        yield url, store


async def test_the_resident_sees_the_alarm_who_came_and_the_basis(
    hub_url: tuple[str, SqliteStore],
) -> None:
    from playwright.async_api import async_playwright, expect

    url, store = hub_url
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = await browser.new_page(viewport={"width": 375, "height": 812})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            await page.goto(f"{url}/resident/")
            assert await page.get_attribute("html", "lang") == "nb"
            await page.get_by_label("Brukernavn").fill("ingrid")
            await page.get_by_label("Passord").fill(PASSWORD)
            await page.get_by_role("button", name="Logg inn").click()
            await expect(page.locator("#name")).to_have_text("Siden til Ingrid Solberg",
                                                             timeout=5000)  # fmt: skip
            alarm = page.locator("li.alarm")
            await expect(alarm).to_have_count(1)
            await expect(alarm.locator("h4")).to_contain_text("Alarmknappen")
            await expect(alarm.locator(".status")).to_have_text("Ferdig: Du fikk hjelp")
            await expect(alarm).to_contain_text("Kari tok alarmen kl.")
            await expect(alarm).to_contain_text("Kari kom til deg kl.")
            assert "Nordmann" not in await alarm.inner_text()
            measure = page.locator("li.measure")
            await expect(measure.locator("h4")).to_have_text("Dørsensor på utgangsdøren")
            await expect(measure).to_contain_text(PURPOSE)
            await expect(measure).to_contain_text("Du har selv samtykket.")
            await expect(measure).to_contain_text("22:00-07:00")
            await expect(measure).to_contain_text("1. juni 2027")
            await expect(measure).to_contain_text("at døren åpnes")
            await expect(measure).to_contain_text("nattevakten")
            size = await page.evaluate("getComputedStyle(document.body).fontSize")
            assert float(size.removesuffix("px")) >= 20
            assert await page.evaluate(OVERFLOW) == []
            await page.screenshot(path=str(ARTIFACTS / "resident-nb-375.png"), full_page=True)

            await page.get_by_role("button", name="Switch to English").click()
            assert await page.get_attribute("html", "lang") == "en"
            await expect(page.locator("#name")).to_have_text("Ingrid Solberg's page")
            await expect(alarm.locator(".status")).to_have_text("Finished: You were helped")
            await expect(alarm).to_contain_text("Kari took the alarm at")
            await expect(alarm).to_contain_text("Kari came to you at")
            await expect(measure.locator("h4")).to_have_text("Door sensor on the front door")
            await expect(measure).to_contain_text("You gave your own consent.")
            await expect(measure).to_contain_text("the door opening")
            await expect(measure).to_contain_text("1 June 2027")
            assert await page.evaluate(OVERFLOW) == []
            await page.screenshot(path=str(ARTIFACTS / "resident-en-375.png"), full_page=True)

            await page.set_viewport_size({"width": 820, "height": 1180})  # a tablet
            assert await page.evaluate(OVERFLOW) == []

            await page.goto(f"{url}/resident/#res-2")
            message = page.locator("#message")
            await expect(message).to_have_text(
                "You do not have access to this page. You can only see your own page.",
                timeout=5000,
            )
            await expect(page.locator("#page")).to_be_hidden()
            await page.get_by_role("button", name="Bytt til norsk").click()
            await expect(message).to_contain_text("Du har ikke tilgang til denne siden")
            await page.screenshot(path=str(ARTIFACTS / "resident-denied.png"), full_page=True)
            await page.get_by_role("button", name="Til min side").click()
            await expect(page.locator("#name")).to_have_text("Siden til Ingrid Solberg")
            await expect(message).to_be_hidden()

            await page.get_by_role("button", name="Logg ut").click()
            await expect(page.get_by_label("Brukernavn")).to_be_visible()
            assert await page.evaluate("sessionStorage.getItem('trygg.token')") is None
        except Exception:
            await page.screenshot(path=str(ARTIFACTS / "resident-failure.png"), full_page=True)
            raise
        finally:
            await browser.close()
    assert errors == []
    mine = [(r.entry.actor, r.entry.action) for r in store.audit_records("res-1", 0, 1000)]
    assert ("ingrid", "overview.read") in mine
    refused = [(r.entry.actor, r.entry.action) for r in store.audit_records("res-2", 0, 1000)]
    assert refused == [("ingrid", "overview.refused")]


async def test_a_guardian_picks_between_their_residents(hub_url: tuple[str, SqliteStore]) -> None:
    from playwright.async_api import async_playwright, expect

    url, store = hub_url
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = await browser.new_page(viewport={"width": 375, "height": 812})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            await page.goto(f"{url}/resident/")
            await page.get_by_label("Brukernavn").fill("vera")
            await page.get_by_label("Passord").fill(PASSWORD)
            await page.get_by_role("button", name="Logg inn").click()
            await expect(page.locator("#name")).to_have_text("Siden til Ingrid Solberg",
                                                             timeout=5000)  # fmt: skip
            picker = page.get_by_role("navigation")
            await expect(picker.get_by_role("button")).to_have_text(
                ["Ingrid Solberg", "Magnus Haugen"]
            )
            await picker.get_by_role("button", name="Magnus Haugen").click()
            await expect(page.locator("#name")).to_have_text("Siden til Magnus Haugen")
            await expect(page.locator("#no-alarms")).to_be_visible()
            await expect(page.locator("#no-measures")).to_have_text("Ingenting overvåkes hos deg.")
            current = picker.get_by_role("button", name="Magnus Haugen")
            await expect(current).to_have_attribute("aria-current", "true")
            assert await page.evaluate(OVERFLOW) == []
        except Exception:
            await page.screenshot(path=str(ARTIFACTS / "guardian-failure.png"), full_page=True)
            raise
        finally:
            await browser.close()
    assert errors == []
    for rid in ("res-1", "res-2"):
        reads = [r.entry.action for r in store.audit_records(rid, 0, 1000) if r.entry.actor == "vera"]
        assert reads == ["overview.read"]  # read once at login; switching reads nothing again
