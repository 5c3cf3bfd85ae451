"""Gateway parts without a broker: outbox, fallback, clock skew, the consent filter."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from devices.framing import sentence
from devices.reading import Reading
from gateway.clock import SkewProbe
from gateway.config import DeviceConfig
from gateway.fallback import Fallback, is_cancel_key
from gateway.outbox import Outbox, Row
from gateway.pipeline import Pipeline

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def rows(start: int, kinds: list[str], size: int = 100) -> list[Row]:
    return [Row(start + i, f"id-{start + i}", k, b"x" * size) for i, k in enumerate(kinds)]


def test_outbox_order_removal_and_seq_survive_reopen(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    box.append(rows(0, ["door.opened", "alarm.button", "room.motion"]))
    assert [r.seq for r in box.peek(-1, 10)] == [0, 1, 2]
    assert [r.seq for r in box.peek(0, 1)] == [1]
    box.remove([0, 2])
    box.close()
    again = Outbox(tmp_path / "o.db")
    assert again.next_seq() == 3
    assert [r.id for r in again.peek(-1, 10)] == ["id-1"]
    assert again.count == 1 and again.bytes == 100
    mode = again._db.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_outbox_cap_drops_low_value_first_and_never_alarms(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", max_bytes=1000, warn_fraction=0.6)
    box.append(rows(0, ["room.motion", "door.opened", "device.heartbeat", "alarm.button",
                        "door.closed"]))
    assert not box.warning  # 500 of 1000 bytes
    box.append(rows(5, ["fall.detected"] * 3))
    assert box.warning  # 800 of 1000 bytes: the alarm before the cap
    box.append(rows(8, ["alarm.button"] * 4))  # 400 more: the two low-value ones go first
    kept = [r.kind for r in box.peek(-1, 100)]
    assert "room.motion" not in kept and "device.heartbeat" not in kept
    assert "door.opened" in kept and "door.closed" in kept
    box.append(rows(12, ["alarm.button", "alarm.button"]))  # then ordinary events, oldest first
    kept = [r.kind for r in box.peek(-1, 100)]
    assert "door.opened" not in kept and "door.closed" not in kept
    # Only alarms left: alarms are admitted over the cap, anything else is dropped.
    box.append(rows(14, ["alarm.button", "door.opened"]))
    kept = [r.kind for r in box.peek(-1, 100)]
    assert kept.count("alarm.button") == 8 and kept.count("fall.detected") == 3
    assert kept == [k for k in kept if k in ("alarm.button", "fall.detected")]
    assert box.bytes > box.max_bytes
    assert dict(box.dropped) == {"room.motion": 1, "device.heartbeat": 1, "door.opened": 2,
                                 "door.closed": 1}
    assert box.next_seq() == 16  # a dropped event still used its seq: the hub sees the gap


def test_fallback_sounds_unconfirmed_alarms_once() -> None:
    fb = Fallback(timedelta(seconds=5), frozenset({"alarm.button"}))
    fb.watch("a", "btn", "alarm.button", T0)
    fb.watch("b", "btn", "alarm.button", T0)
    fb.watch("c", "door", "door.opened", T0)  # not critical: never sounds
    assert fb.due(T0 + timedelta(seconds=4.9)) == []
    fb.confirm(["a", "zzz"])
    [due] = fb.due(T0 + timedelta(seconds=5))
    assert due.event_id == "b"
    assert fb.due(T0 + timedelta(seconds=60)) == []
    assert (fb.confirmed, fb.sounded, fb.waiting) == (1, 1, 0)


def test_the_cancel_key_withdraws_the_devices_waiting_button_alarm_and_nothing_else() -> None:
    fb = Fallback(timedelta(seconds=5), frozenset({"alarm.button", "fall.detected"}))
    fb.watch("press", "btn", "alarm.button", T0)
    fb.watch("fall", "btn", "fall.detected", T0)  # a fall is never called off locally
    fb.watch("other", "btn-2", "alarm.button", T0)  # another resident's button
    assert fb.withdraw("btn") == 1
    due = fb.due(T0 + timedelta(seconds=5))
    assert sorted(p.event_id for p in due) == ["fall", "other"]
    assert fb.withdraw("btn") == 0


@pytest.mark.parametrize(
    ("kind", "data", "cancel"),
    [
        ("alarm.button", {"press": "cancel"}, True),
        ("alarm.button", {"press": "single"}, False),
        ("alarm.button", {}, False),
        ("fall.detected", {"press": "cancel"}, False),
    ],
)
def test_is_cancel_key(kind: str, data: dict[str, str], cancel: bool) -> None:
    assert is_cancel_key(kind, data) is cancel


def test_skew_probe() -> None:
    probe = SkewProbe()
    sent = probe.request(T0)
    t0 = json.loads(sent)["t0"]
    hub = T0 + timedelta(seconds=3.05)  # hub is 3 s ahead; reply after 100 ms
    assert not probe.reply(json.dumps({"t0": "2020-01-01T00:00:00+00:00", "hub": hub.isoformat()}).encode(), T0)
    assert not probe.reply(b"garbage", T0)
    assert probe.reply(json.dumps({"t0": t0, "hub": hub.isoformat()}).encode(),
                       T0 + timedelta(seconds=0.1))
    assert probe.report()["skew_ms"] == pytest.approx(3000.0)
    assert probe.report()["rtt_ms"] == pytest.approx(100.0)


BASIS = {
    "id": "b1", "resident_id": "r1", "measure": "exit_door", "kinds": ["door.opened"],
    "basis": "consent", "decided_by": "r1", "reference": "ref-1",
    "valid_from": "2026-01-01T00:00:00+00:00", "valid_to": None, "review_at": None,
    "windows": ["22:00-07:00"],
}


def test_consent_filter_before_anything_is_queued() -> None:
    door = DeviceConfig(id="door-1", protocol="z2m", friendly_name="d", model="MCCGQ11LM",
                        resident_id="r1")
    gps = DeviceConfig(id="gps-1", protocol="owntracks", topic="owntracks/a/b", resident_id="r1")
    p = Pipeline([door, gps], [BASIS, {"id": "broken"}], ZoneInfo("Europe/Oslo"))
    assert p.rejected["bad_basis"] == 1
    night = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 02:00 in Oslo: inside the window
    day = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
    assert [r.kind for _, r in p.z2m("d", b'{"contact": false}', night)] == ["door.opened"]
    assert p.z2m("d", b'{"contact": true}', day) == []  # door.closed: no basis covers it
    assert p.z2m("d", b'{"contact": false}', day) == []  # outside the window
    assert p.consent_dropped == {"no_basis": 1, "outside_window": 1}
    # No basis for GPS at all: dropped; a battery report needs none.
    got = p.owntracks("owntracks/a/b", b'{"_type":"location","lat":1,"lon":2,"tst":1763900000,'
                      b'"batt":3}', night)
    assert [r.kind for _, r in got] == ["device.battery_low"]
    assert p.health["door-1"].last_seen == day


def test_unknown_names_are_reported_without_the_name() -> None:
    p = Pipeline([DeviceConfig(id="x", protocol="z2m", friendly_name="n", model="NOPE")], [],
                 ZoneInfo("Europe/Oslo"))
    assert p.z2m("johs_bedroom", b"{}", T0) == []
    assert p.z2m("n", b"{}", T0) == []
    assert "model:NOPE" in p.unknown
    assert not any("johs" in u for u in p.unknown)


def test_pipeline_serial_and_door_role() -> None:
    stove = DeviceConfig(id="stove-1", protocol="stoveguard", serial_url="loop://")
    balcony = DeviceConfig(id="b", protocol="z2m", friendly_name="b", model="MCCGQ11LM",
                           door="balcony")
    p = Pipeline([stove, balcony], [], ZoneInfo("Europe/Oslo"))
    assert [r for _, r in p.serial("stove-1", sentence("TSG,OFF"), T0)] == [Reading("stove.off")]
    assert p.serial("stove-1", "$TSG,OFF*00", T0) == []
    assert p.rejected["bad_checksum"] == 1
    assert [r.data for _, r in p.z2m("b", b'{"contact": false}', T0)] == [{"door": "balcony"}]


def test_device_state_commits_with_rows_so_a_redelivery_converts_to_nothing(
        tmp_path: Path) -> None:
    door = DeviceConfig(id="door-1", protocol="z2m", friendly_name="d", model="MCCGQ11LM")
    gps = DeviceConfig(id="gps-1", protocol="owntracks", topic="owntracks/a/b")
    fix = b'{"_type":"location","lat":1,"lon":2,"tst":1763900000}'
    p = Pipeline([door, gps], [], ZoneInfo("Europe/Oslo"))
    assert len(p.z2m("d", b'{"contact": false}', T0)) == 1
    assert len(p.owntracks("owntracks/a/b", fix, T0)) == 1
    box = Outbox(tmp_path / "o.db")
    box.append([], p.take_dirty())
    box.close()
    # A restarted gateway gets the same two messages again from the local broker.
    again = Pipeline([door, gps], [], ZoneInfo("Europe/Oslo"))
    again.restore(Outbox(tmp_path / "o.db").load_states())
    assert again.z2m("d", b'{"contact": false}', T0) == []
    assert again.owntracks("owntracks/a/b", fix, T0) == []
    assert again.rejected["stale"] == 1
    assert len(again.z2m("d", b'{"contact": true}', T0)) == 1


def test_a_failing_input_is_dead_lettered_and_the_batch_goes_on(tmp_path: Path) -> None:
    from gateway.config import GatewayConfig
    from gateway.inputs import Item
    from gateway.service import Gateway

    cfg = GatewayConfig(site="s", gateway="g", data_dir=tmp_path, local=None, devices=[
        DeviceConfig(id="door-1", protocol="z2m", friendly_name="d", model="MCCGQ11LM")])
    gw = Gateway(cfg, clock=lambda: T0)
    acked: list[str] = []
    gw.process([
        Item("mystery", "x", b"boom", lambda: acked.append("mystery")),
        Item("z2m", "d", b'{"contact": false}', lambda: acked.append("door")),
    ])
    assert acked == ["mystery", "door"]
    assert [r.kind for r in gw.outbox.peek(-1, 10)] == ["door.opened"]
    [(source, payload, error)] = gw.outbox.dead_letters()
    assert (source, payload) == ("mystery", b"boom") and "unknown item source" in error
    assert gw.pipeline.rejected["internal_error"] == 1
    gw.outbox.close()
