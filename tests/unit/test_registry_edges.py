"""Devices on the shelf (gateway ``""``) reach no gateway config and no broker account."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from devices.lifecycle import DeviceState
from hub.gateway_config import ConfigPublisher
from hub.registry.ports import DeviceChange
from hub.registry.records import NO_GATEWAY, DeviceHistory, DeviceInfo
from hub.settings import HubSettings
from hub.store.base import Device, DeviceView, Site
from trygg.cli import app
from trygg.runtime import open_store

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, object]]] = []

    def publish_config(self, site: str, gateway: str, config: dict[str, object]) -> None:
        self.sent.append((site, gateway, config))


def test_a_device_taken_off_its_gateway_empties_that_gateways_config() -> None:
    rec = Recorder()
    pub = ConfigPublisher(rec, lambda: None)  # type: ignore[arg-type, return-value]
    on = DeviceView(Device("d1", "s", "gw-a", "MCCGQ11LM"), None)
    assert pub.publish_changed(([on], [], {}), NOW) == 1
    shelved = DeviceView(Device("d1", "s", NO_GATEWAY, "MCCGQ11LM"), None,
                         info=DeviceInfo(DeviceState.IN_STOCK))  # fmt: skip
    assert pub.publish_changed(([shelved], [], {}), NOW) == 1
    site, gateway, config = rec.sent[-1]
    assert (site, gateway, config["devices"]) == ("s", "gw-a", [])
    assert all(gw for _, gw, _ in rec.sent)


def test_mqtt_acl_gives_no_account_to_a_shelf(tmp_path: Path) -> None:
    store = open_store(HubSettings(data_dir=tmp_path / "data"))
    store.upsert_site(Site("s", "S"))
    store.upsert_device(Device("d1", "s", "gw-a", "MCCGQ11LM"))
    store.write_devices([DeviceChange(
        Device("d2", "s", NO_GATEWAY, "MCCGQ11LM"), DeviceInfo(DeviceState.IN_STOCK), None,
        DeviceHistory("d2", NOW, "tor", "register", None, DeviceState.IN_STOCK))])  # fmt: skip
    store.close()
    out = tmp_path / "auth"
    r = CliRunner().invoke(app, ["mqtt", "acl", "--out", str(out),
                                 "--data-dir", str(tmp_path / "data")])  # fmt: skip
    assert r.exit_code == 0, r.output
    users = [line.split(":")[0] for line in (out / "passwd").read_text().splitlines()]
    assert users == ["trygg-hub", "s/gw-a"]
