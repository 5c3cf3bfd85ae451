"""Hub side of config sync: which devices and bases go to which gateway; the clock reply."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from gateway.config import parse_hub_config
from hub.gateway_config import build_config, time_reply
from hub.store.base import Device, DeviceView, PlacementRecord
from rules.consent import basis_from_json

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def basis(resident: str) -> dict[str, object]:
    return {"id": f"b-{resident}", "resident_id": resident, "measure": "exit_door",
            "kinds": ["door.opened"], "basis": "consent", "decided_by": resident,
            "reference": "ref", "valid_from": "2026-01-01T00:00:00+00:00", "valid_to": None,
            "review_at": None}


def test_a_gateway_gets_its_devices_and_only_its_residents_bases() -> None:
    views = [
        DeviceView(Device("door-1", "s1", "gw-1", "MCCGQ11LM"), PlacementRecord("door-1", "u", resident_id="r1")),
        DeviceView(Device("smoke-1", "s1", "gw-1", "HS1SA"), PlacementRecord("smoke-1", "u")),
        DeviceView(Device("door-2", "s1", "gw-2", "MCCGQ11LM"), PlacementRecord("door-2", "u", resident_id="r2")),
    ]
    bases = [basis_from_json(basis("r1")), basis_from_json(basis("r2"))]
    cfg = build_config("s1", "gw-1", views, bases, NOW, wiring={"smoke-1": {"friendly_name": "kitchen"}})
    assert [(d["id"], d.get("resident_id"), d["friendly_name"]) for d in cfg["devices"]] == [
        ("door-1", "r1", "door-1"), ("smoke-1", None, "kitchen")]
    assert [b["resident_id"] for b in cfg["bases"]] == ["r1"]
    # What the hub builds, the gateway parses.
    parsed = parse_hub_config(json.dumps(cfg).encode())
    assert parsed.devices[0].model == "MCCGQ11LM" and len(parsed.bases) == 1


def test_time_reply_echoes_the_request() -> None:
    reply = time_reply(b'{"t0": "2026-11-23T02:00:00+00:00"}', NOW)
    assert reply is not None
    assert json.loads(reply) == {"t0": "2026-11-23T02:00:00+00:00", "hub": NOW.isoformat()}
    assert time_reply(b"junk", NOW) is None
    assert time_reply(b'{"t0": 5}', NOW) is None
