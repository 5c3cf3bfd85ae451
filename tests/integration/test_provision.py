"""``trygg gateway provision`` / ``revoke`` against a private Mosquitto that reads the
passwd and acl written from the registry: a gateway's credentials cannot publish as
another gateway, and a revoked gateway cannot connect once Mosquitto reloads its files."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import pytest
import yaml
from typer.testing import CliRunner

from gateway.config import load
from hub.settings import HubSettings
from hub.store.base import Site
from trygg.cli import app
from trygg.runtime import open_store

from conftest import IN_CI, free_port, reachable

pytestmark = pytest.mark.mqtt


def env_password(path: Path) -> str:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())["TRYGG_MQTT_PASSWORD"]


class Broker:
    def __init__(self, auth: Path) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(binary).exists():
            if IN_CI:
                pytest.fail("mosquitto is not installed (CI must provide it)")
            pytest.skip("mosquitto is not installed")
        self.port = free_port()
        conf = auth / "mosquitto.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous false\n"
                        f"password_file {auth}/passwd\nacl_file {auth}/acl\nuser root\n")
        self.proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not reachable("127.0.0.1", self.port):
            assert time.monotonic() < deadline, "mosquitto did not start"
            time.sleep(0.05)

    def reload(self) -> None:
        self.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)

    def client(self, user: str, password: str) -> aiomqtt.Client:
        return aiomqtt.Client("127.0.0.1", self.port, username=user, password=password,
                              identifier=f"t-{time.monotonic_ns()}", timeout=5,
                              protocol=aiomqtt.ProtocolVersion.V5)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def provisioned(tmp_path: Path) -> Iterator[tuple[Broker, Path, Path]]:
    auth, configs, data = tmp_path / "auth", tmp_path / "configs", tmp_path / "data"
    store = open_store(HubSettings(data_dir=data))
    store.upsert_site(Site("site-1", "Solsiden"))
    store.close()
    runner = CliRunner()
    for gw in ("gw-a", "gw-b"):
        result = runner.invoke(app, ["gateway", "provision", "site-1", gw, "--auth-dir",
                                     str(auth), "--config-dir", str(configs), "--host",
                                     "127.0.0.1", "--port", "1883", "--no-tls",
                                     "--data-dir", str(data)])  # fmt: skip
        assert result.exit_code == 0, result.output
    broker = Broker(auth)
    yield broker, auth, configs
    broker.stop()


def test_the_config_file_is_a_valid_gateway_config(
    provisioned: tuple[Broker, Path, Path],
) -> None:
    _, auth, configs = provisioned
    cfg = load(configs / "site-1__gw-a.yaml")
    assert (cfg.site, cfg.gateway, cfg.uplink.username) == ("site-1", "gw-a", "site-1/gw-a")
    secret = configs / "site-1__gw-a.secret"
    assert secret.stat().st_mode & 0o077 == 0
    assert cfg.uplink.secret() == secret.read_text().strip()
    assert secret.read_text().strip() not in (auth / "passwd").read_text()  # only the hash
    raw = yaml.safe_load((configs / "site-1__gw-a.yaml").read_text())
    assert raw["uplink"]["password_file"] == str(secret)


def test_provisioning_twice_is_refused(provisioned: tuple[Broker, Path, Path]) -> None:
    _, auth, configs = provisioned
    result = CliRunner().invoke(app, ["gateway", "provision", "site-1", "gw-a", "--auth-dir",
                                      str(auth), "--config-dir", str(configs), "--data-dir",
                                      str(auth.parent / "data")])  # fmt: skip
    assert result.exit_code == 2 and "already provisioned" in result.output


async def test_a_gateway_cannot_publish_as_another_and_revoked_is_locked_out(
    provisioned: tuple[Broker, Path, Path],
) -> None:
    broker, auth, configs = provisioned
    hub_pw = env_password(auth / "credentials" / "trygg-hub.env")
    a_pw = (configs / "site-1__gw-a.secret").read_text().strip()
    b_pw = (configs / "site-1__gw-b.secret").read_text().strip()
    async with (
        broker.client("trygg-hub", hub_pw) as hub,
        broker.client("site-1/gw-b", b_pw) as gw_b,
    ):
        await hub.subscribe("trygg/v1/#", qos=1)
        await gw_b.publish("trygg/v1/site-1/gw-a/events", b"forged", qos=1)
        await gw_b.publish("trygg/v1/site-1/gw-a/status", b"forged", qos=1)
        await gw_b.publish("trygg/v1/site-1/alerts", b"forged", qos=1)
        await gw_b.publish("trygg/v1/site-1/gw-b/events", b"own", qos=1)
        got: list[tuple[str, bytes]] = []
        async with asyncio.timeout(5):
            async for message in hub.messages:
                got.append((str(message.topic), bytes(message.payload)))  # type: ignore[arg-type]
                if message.payload == b"own":
                    break
        assert got == [("trygg/v1/site-1/gw-b/events", b"own")]
    result = CliRunner().invoke(app, ["gateway", "revoke", "site-1", "gw-b", "--auth-dir",
                                      str(auth), "--data-dir", str(auth.parent / "data")])
    assert result.exit_code == 0, result.output
    broker.reload()
    with pytest.raises(aiomqtt.MqttError):
        async with broker.client("site-1/gw-b", b_pw):
            pass
    async with broker.client("site-1/gw-a", a_pw) as gw_a:  # the others keep their access
        await gw_a.publish("trygg/v1/site-1/gw-a/events", b"still", qos=1)
