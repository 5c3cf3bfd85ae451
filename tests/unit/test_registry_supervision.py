"""Supervision watches only devices that are ``installed`` or ``in_service``, and reads the
gateway's software version from its status for the gateway registry."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from test_supervision_shell import DAY, GW, GW2, RULE, SITE, Env, make_env

from devices.lifecycle import DeviceState
from hub.registry.ports import DeviceChange
from hub.registry.records import NO_GATEWAY, DeviceHistory, DeviceInfo
from hub.store.base import Device
from hub.supervision.status import parse_status


@pytest.fixture
async def day() -> AsyncIterator[Env]:
    env = await make_env(DAY)
    yield env
    env.service.stop()
    await env.router.drain()
    await env.hub.stop()
    env.store.close()


def shelved(device: str, type_: str, state: DeviceState) -> DeviceChange:
    return DeviceChange(
        Device(device, SITE, NO_GATEWAY, type_),
        DeviceInfo(state),
        None,
        DeviceHistory(device, DAY, "per", "send_to_repair", DeviceState.IN_SERVICE, state),
    )


@pytest.mark.parametrize("state", [DeviceState.IN_STOCK, DeviceState.IN_REPAIR,
                                   DeviceState.RETIRED])  # fmt: skip
async def test_a_device_off_duty_is_not_watched_and_raises_nothing(
    day: Env, state: DeviceState
) -> None:
    assert day.service.supervisor.state("smoke-1") is not None
    day.store.write_devices([shelved("smoke-1", "smoke_detector", state)])
    await day.service.reload()
    assert day.service.supervisor.state("smoke-1") is None
    assert day.service.supervisor.state("button-1") is not None  # the others stay watched
    for _ in range(7 * 30):  # 3.5 hours (smoke window: 3) with both gateways alive
        day.status(GW, **{"button-1": {"last_seen": day.clock().isoformat()}})
        day.status(GW2)
        await day.advance(60)
    offline = sorted(a.device for a in day.hub.open_alerts() if a.rule == RULE)
    assert offline == ["smoke-2"]  # the one still in service, and not smoke-1


async def test_installed_devices_are_watched(day: Env) -> None:
    day.store.write_devices([shelved("smoke-1", "smoke_detector", DeviceState.INSTALLED)])
    await day.service.reload()
    assert day.service.supervisor.state("smoke-1") is not None


async def test_the_status_gives_the_gateway_software_version(day: Env) -> None:
    assert day.hub.gateway_sightings.get(SITE, GW) is None
    body = {"online": True, "site": SITE, "gateway": GW, "ts": day.clock().isoformat(),
            "software": {"name": "trygg-gateway", "version": "0.4.1"}, "devices": {}}
    day.feed.handle(json.dumps(body).encode(), f"trygg/v1/{SITE}/{GW}/status")
    seen = day.hub.gateway_sightings.get(SITE, GW)
    assert seen is not None and seen.software_version == "0.4.1" and seen.online
    assert seen.at == day.clock()
    day.status(GW, online=False)  # an old gateway that sends no version
    seen = day.hub.gateway_sightings.get(SITE, GW)
    assert seen is not None and seen.software_version is None and not seen.online


def test_a_status_without_software_still_parses() -> None:
    body = {"online": True, "site": SITE, "gateway": GW}
    assert parse_status(json.dumps(body).encode(), f"trygg/v1/{SITE}/{GW}/status").software is None
