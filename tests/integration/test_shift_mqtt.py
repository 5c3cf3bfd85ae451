"""Staff log on/off a shift from the handheld over the machine's Mosquitto; the
hub answers on the retained state topic, and a gap the log-on fills is closed."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, time, timedelta

import aiomqtt
import pytest
from argon2 import PasswordHasher

from hub.alerts import AlertState
from hub.auth import hash_password
from hub.channels.setup import RoutingSettings, start_routing
from hub.routing.coverage import NOBODY_KIND
from hub.routing.roster import Shift, ShiftLog
from hub.service import Hub
from hub.store.base import Account, AlertFilter, Role, Site, Unit
from hub.store.sqlite import SqliteStore

pytestmark = pytest.mark.mqtt
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def seed(store: SqliteStore, site: str) -> None:
    store.upsert_site(Site(site, "Testheim"))
    for unit in ("unit-A", "unit-B"):
        store.upsert_unit(Unit(unit, site, unit))
    pw = hash_password("x" * 12, hasher=FAST)
    store.upsert_account(Account("kari", "Kari", Role.NATTEVAKT, pw, site, ("unit-A",)))
    store.upsert_account(Account("tek", "Tek", Role.TEKNIKER, pw, site, ()))
    # Ola's all-day shift in unit-A; Ola logged off: unit-A has nobody.
    store.save_shift(Shift("s-ola", "ola", site, ("unit-A",), time(0), time(0)))
    store.log_shift(ShiftLog("ola", site, False, datetime.now(UTC) - timedelta(seconds=5)))


async def until(check: object, seconds: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_log_on_and_off_from_the_handheld(
    mosquitto: tuple[str, int], unique_site: str
) -> None:
    host, port = mosquitto
    site = unique_site
    store = SqliteStore(":memory:")
    store.migrate()
    seed(store, site)
    hub = Hub(store)
    await hub.start()
    stop = asyncio.Event()
    running = await start_routing(
        hub,
        stop,
        mqtt_host=host,
        mqtt_port=port,
        client_id=f"hub-{uuid.uuid4().hex[:8]}",
        settings=RoutingSettings(),
    )
    router = running.router
    gaps = lambda: [a for a in hub.open_alerts() if a.kind == NOBODY_KIND]  # noqa: E731
    try:
        await until(lambda: router.channels["mqtt"].connected.is_set())  # type: ignore[attr-defined]
        await until(lambda: len(gaps()) == 1)
        (gap,) = gaps()
        base = f"trygg/v1/{site}/staff"
        async with aiomqtt.Client(host, port, identifier=f"hh-{uuid.uuid4().hex[:8]}") as hh:
            await hh.subscribe(f"{base}/+/shift/state", qos=1)
            states = hh.messages

            async def ask(staff: str, body: dict[str, object]) -> dict[str, object]:
                await hh.publish(f"{base}/{staff}/shift", json.dumps(body), qos=1)
                # Another account's state (the hub logs ola off at start, on its own time)
                # may come in between under load: the answer is the next one for this staff.
                while True:
                    msg = await asyncio.wait_for(anext(states), 10)
                    if str(msg.topic) == f"{base}/{staff}/shift/state":
                        break
                answer: dict[str, object] = json.loads(bytes(msg.payload))  # type: ignore[arg-type]
                return answer

            got = await ask("kari", {"action": "logon", "units": ["unit-B"]})
            assert got["ok"] is False and "own units" in str(got["reason"])
            got = await ask("tek", {"action": "logon"})
            assert got == {"ok": False, "reason": "this account cannot be on duty", "at": got["at"]}
            got = await ask("kari", {"action": "logon"})
            assert (got["ok"], got["on_duty"], got["units"]) == (True, True, ["unit-A"])
            assert "kari" in router.on_duty()
            # Kari's log-on covers unit-A: the system resolves the gap's alert.
            await until(lambda: not gaps())
            await hub.drain()
            stored = store.get_alert(gap.id)
            assert stored is not None and stored.state is AlertState.RESOLVED
            assert stored.note == "covered again: log-on"
            got = await ask("kari", {"action": "logoff"})
            assert (got["ok"], got["on_duty"], got["units"]) == (True, False, [])
            assert "kari" not in router.on_duty()
            # A new uncovered period: a new alert.
            await until(lambda: len(gaps()) == 1)
            for staff in ("kari", "tek"):  # leave no retained state on the shared broker
                await hh.publish(f"{base}/{staff}/shift/state", b"", qos=1, retain=True)
        logs = store.shift_logs(datetime.now(UTC) - timedelta(minutes=5))
        assert [(x.staff, x.on) for x in logs] == [("ola", False), ("kari", True), ("kari", False)]
        assert len(store.list_alerts(AlertFilter(site=site))) == 2
    finally:
        stop.set()
        await running.stop()
        await router.drain()
        await hub.stop()
        store.close()
