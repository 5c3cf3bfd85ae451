"""The tekniker pages are served, and the life-cycle buttons they offer are exactly the
transitions ``devices.lifecycle`` allows (the page keeps a copy of the table)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from importlib import resources

import httpx

from devices.lifecycle import TRANSITIONS, Action, DeviceState
from hub.api import create_app
from hub.auth import TokenIssuer
from hub.service import Hub
from hub.store.memory import MemoryStore

JS = (resources.files("hub") / "web" / "tekniker" / "tekniker.js").read_text(encoding="utf-8")


def page_transitions() -> dict[str, dict[str, str]]:
    block = re.search(r"const TRANSITIONS = (\{.*?\n  \});", JS, re.S)
    assert block is not None, "tekniker.js has no TRANSITIONS table"
    as_json = re.sub(r"(\w+):", r'"\1":', block.group(1)).replace(",\n  }", "\n  }")
    table: dict[str, dict[str, str]] = json.loads(as_json)
    return table


def test_the_page_offers_what_the_life_cycle_allows() -> None:
    expected: dict[str, dict[str, str]] = {s.value: {} for s in DeviceState}
    for (state, action), to in TRANSITIONS.items():
        expected[state.value][action.value] = to.value
    assert page_transitions() == expected


def test_every_action_and_state_has_a_norwegian_word() -> None:
    for action in Action:
        assert re.search(rf"\b{action.value}: \"", JS), action
    for state in DeviceState:
        assert re.search(rf"\b{state.value}: \"", JS), state


async def test_the_pages_and_the_shared_login_are_served() -> None:
    app = create_app(Hub(MemoryStore()), TokenIssuer(), lambda: datetime.now(UTC))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://trygg") as client:
        page = await client.get("/tekniker/")
        assert page.status_code == 200 and "Trygg – tekniker" in page.text
        assert '<script src="/common/session.js">' in page.text
        for path in ("/tekniker/tekniker.js", "/tekniker/tekniker.css", "/common/session.js"):
            r = await client.get(path)
            assert r.status_code == 200, path
