"""Correlation ids on real log output: every line logged while the hub handles an
event or an alert carries its ids, in JSON when not on a terminal, and never a
resident's name or id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import uuid6

from devices.events import EventBase, make_event
from hub import logctx
from hub.alerts import Alert, Command
from hub.service import Hub
from hub.store.base import Device, PlacementRecord, Resident, Site, Unit
from hub.store.memory import MemoryStore
from trygg import logs

from builders import basis_change, covering_basis

SITE, GW = "site-1", "gw-1"
TOPIC = f"trygg/v1/{SITE}/{GW}/events"
NOW = datetime(2026, 11, 24, 2, 13, tzinfo=UTC)
RESIDENT_ID, RESIDENT_NAME = "res-4711", "Kari Nordmann"


def ev(kind: str) -> EventBase:
    return make_event(
        id=str(uuid6.uuid7()), site=SITE, gateway=GW, device="dev-1", kind=kind, ts=NOW,
        seq=1, data={},
    )  # fmt: skip


def raw(event: EventBase) -> bytes:
    return event.model_dump_json().encode()


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """The real formatter and handler ``trygg hub`` installs, writing JSON into a buffer."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    out = io.StringIO()
    logs.configure("INFO", json_output=None, stream=out)  # a StringIO is not a terminal: JSON
    try:
        yield out
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


class LoggingNotifier:
    """A channel that logs as a real one does, and can fail."""

    def __init__(self, channel: str, fail: bool = False) -> None:
        self.channel = channel
        self.fail = fail
        self.log = logging.getLogger(f"trygg.test.{channel}")

    async def send(self, alert: Alert) -> bool:
        self.log.info("sending alert")
        if self.fail:
            raise ConnectionError("provider down")
        return True


async def _hub() -> Hub:
    store = MemoryStore()
    store.upsert_site(Site(id=SITE, name="Testheim"))
    store.upsert_unit(Unit(id="unit-a", site=SITE, name="A"))
    store.upsert_resident(Resident(id=RESIDENT_ID, site=SITE, unit="unit-a", name=RESIDENT_NAME))
    basis = covering_basis(RESIDENT_ID)
    store.save_basis(basis, basis_change(basis))
    store.upsert_device(Device(id="dev-1", site=SITE, gateway=GW, type="alarm_button"))
    store.place(
        PlacementRecord(device="dev-1", unit="unit-a", apartment="Leil. 1", resident_id=RESIDENT_ID)
    )
    hub = Hub(store, clock=lambda: NOW)
    hub.add_notifier(LoggingNotifier("handheld"))
    hub.add_notifier(LoggingNotifier("sms", fail=True))
    await hub.start()
    return hub


async def test_every_line_while_handling_an_alarm_carries_its_ids(log_output: io.StringIO) -> None:
    hub = await _hub()
    try:
        alarm = ev("alarm.button")
        hub.handle_message(raw(alarm), TOPIC)
        await hub.drain()
        (alert,) = hub.open_alerts()
        logging.getLogger("trygg.test").info("between events")
        hub.handle_message(b'{"not": "an event"}', TOPIC)
        await hub.command(alert.id, Command.ACCEPT, "staff-1")
        await hub.drain()
    finally:
        await hub.stop()

    out = lines(log_output)
    by_msg: dict[str, list[dict[str, Any]]] = {}
    for line in out:
        by_msg.setdefault(line["msg"], []).append(line)

    # Ingest: the alert is raised, both channels are tried (one fails), all with both ids.
    raised = by_msg["alert raised"][0]
    assert raised["event_id"] == alarm.id and raised["alert_id"] == alert.id
    sends = by_msg["sending alert"]
    assert {s["logger"] for s in sends} >= {"trygg.test.handheld", "trygg.test.sms"}
    first_sends = [s for s in sends if s.get("event_id") == alarm.id]
    assert len(first_sends) >= 2, "the notifier tasks started by the event lost its ids"
    assert all(s["alert_id"] == alert.id for s in sends)
    assert all(s["site"] == SITE and s["gateway"] == GW for s in first_sends)
    failed = by_msg["notifier failed"][0]
    assert failed["event_id"] == alarm.id and failed["alert_id"] == alert.id
    assert "provider down" in failed["exc"]

    # Outside an event nothing is bound: no stale ids leak into later lines.
    (between,) = by_msg["between events"]
    assert "event_id" not in between and "alert_id" not in between
    (rejected,) = by_msg["event rejected"]
    assert "event_id" not in rejected and rejected["reason"]

    # A staff command is about the alert, not the event.
    accepted = by_msg["alert accepted"][0]
    assert accepted["alert_id"] == alert.id and "event_id" not in accepted
    later_sends = [s for s in sends if "event_id" not in s]
    assert later_sends and all(s["alert_id"] == alert.id for s in later_sends)

    # Every line is JSON with a level and a time, and no line names the resident.
    assert all({"ts", "level", "logger", "msg"} <= line.keys() for line in out)
    text = log_output.getvalue()
    assert RESIDENT_NAME not in text and RESIDENT_ID not in text


def test_only_ids_can_be_bound() -> None:
    with pytest.raises(ValueError, match="resident_id"):
        logctx.bind(resident_id=RESIDENT_ID)
    with logctx.correlate(event_id="e-1", site="s-1"):
        with logctx.correlate(alert_id="a-1", unit=None):
            assert logctx.current() == {"event_id": "e-1", "site": "s-1", "alert_id": "a-1"}
        assert logctx.current() == {"event_id": "e-1", "site": "s-1"}
    assert logctx.current() == {}


def test_text_lines_on_a_terminal_show_the_ids_too() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    out = Tty()
    logs.configure("INFO", stream=out)
    try:
        with logctx.correlate(event_id="e-42", kind="alarm.button"):
            logging.getLogger("trygg.test").info("handled", extra={"kind": "explicit"})
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    line = out.getvalue().strip()
    assert not line.startswith("{")
    assert "handled" in line and "event_id=e-42" in line
    assert "kind=explicit" in line and "kind=alarm.button" not in line  # extra wins
