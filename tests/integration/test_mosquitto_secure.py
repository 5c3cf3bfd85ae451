"""The production Mosquitto config (deploy/mosquitto/) on a private broker: TLS, accounts, ACL.

Certificates come from deploy/mosquitto/make-certs.sh, accounts and ACL from
``hub.mqtt_acl`` (as ``trygg mqtt acl`` writes them); the config is the
repository's mosquitto.conf with only ports and paths changed.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import pytest

from hub.mqtt_acl import GatewayId, parse_password_file, write

from conftest import IN_CI, free_port, reachable

pytestmark = pytest.mark.mqtt
DEPLOY = Path(__file__).parents[2] / "deploy" / "mosquitto"
GW_A = GatewayId("site-1", "gw-a")
GW_B = GatewayId("site-1", "gw-b")
HUB_PASSWORD = "hub-secret-for-tests-only"


class SecureBroker:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.tls_port = free_port()
        self.plain_port = free_port()
        self.passwords: dict[str, str] = {}


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists() or shutil.which("openssl") is None:
        if IN_CI:
            pytest.fail("mosquitto and openssl must be installed (CI must provide them)")
        pytest.skip("mosquitto or openssl is not installed")
    work = tmp_path_factory.mktemp("secure-mosquitto")
    b = SecureBroker(work)
    subprocess.run(
        ["sh", str(DEPLOY / "make-certs.sh"), str(work / "tls"), "localhost", "gw-a"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    auth = write(work, [GW_A, GW_B], hub_password=HUB_PASSWORD)
    b.passwords = {**auth.new_passwords, "trygg-hub": HUB_PASSWORD}
    conf = (DEPLOY / "mosquitto.conf").read_text()
    conf = conf.replace("/etc/mosquitto/trygg", str(work))
    conf = conf.replace("listener 8883", f"listener {b.tls_port} 127.0.0.1")
    conf = conf.replace("listener 1883 127.0.0.1", f"listener {b.plain_port} 127.0.0.1")
    # As root Mosquitto would drop to its own user, who cannot read pytest's tmp.
    (work / "mosquitto.conf").write_text(conf + "\nuser root\n")
    log = work / "mosquitto.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [binary, "-c", str(work / "mosquitto.conf")], stdout=sink, stderr=sink
        )
    deadline = time.monotonic() + 10
    while not (reachable("127.0.0.1", b.tls_port) and reachable("127.0.0.1", b.plain_port)):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait(5)
            pytest.fail(f"mosquitto did not start: {log.read_text()[-2000:]}")
        time.sleep(0.05)
    yield b
    proc.terminate()
    proc.wait(10)


def _tls(b: SecureBroker) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(b.workdir / "tls" / "ca.crt"))
    return ctx


def client(b: SecureBroker, user: str | None, password: str | None, *, tls: bool = True,
           ident: str = "t") -> aiomqtt.Client:  # fmt: skip
    return aiomqtt.Client(
        "localhost" if tls else "127.0.0.1",
        b.tls_port if tls else b.plain_port,
        username=user,
        password=password,
        identifier=f"{ident}-{time.monotonic_ns()}",
        tls_context=_tls(b) if tls else None,
        protocol=aiomqtt.ProtocolVersion.V5,
        timeout=5,
    )


def test_new_accounts_get_hashes_and_nothing_in_plain(broker: SecureBroker) -> None:
    passwd = (broker.workdir / "passwd").read_text()
    users = parse_password_file(passwd)
    assert set(users) == {"trygg-hub", "site-1/gw-a", "site-1/gw-b"}
    assert all(h.startswith("$7$") for h in users.values())
    assert broker.passwords["site-1/gw-a"] not in passwd
    assert (broker.workdir / "passwd").stat().st_mode & 0o077 == 0


async def test_tls_with_the_right_password_works(broker: SecureBroker) -> None:
    async with client(broker, GW_A.username, broker.passwords[GW_A.username]) as c:
        await c.publish(f"{GW_A.prefix}/status", b"online", qos=1)


async def test_a_server_certificate_from_another_ca_is_refused(
    broker: SecureBroker, tmp_path: Path
) -> None:
    subprocess.run(
        ["sh", str(DEPLOY / "make-certs.sh"), str(tmp_path / "other"), "localhost"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    good = _tls(broker)
    other = ssl.create_default_context(cafile=str(tmp_path / "other" / "ca.crt"))
    with (
        socket.create_connection(("127.0.0.1", broker.tls_port), timeout=5) as raw,
        good.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    with (
        socket.create_connection(("127.0.0.1", broker.tls_port), timeout=5) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        other.wrap_socket(raw, server_hostname="localhost")


@pytest.mark.parametrize(
    ("user", "password", "tls"),
    [
        (GW_A.username, "wrong-password", True),
        (None, None, True),
        (None, None, False),
        ("trygg-hub", "wrong-password", False),
        ("nobody", "whatever", True),
    ],
    ids=["wrong-password", "anonymous-tls", "anonymous-plain", "hub-wrong-password", "unknown"],
)
async def test_refused(broker: SecureBroker, user: str | None, password: str | None,
                       tls: bool) -> None:  # fmt: skip
    with pytest.raises(aiomqtt.MqttError):
        async with client(broker, user, password, tls=tls):
            pass


async def test_a_gateway_publishes_only_under_its_own_prefix(broker: SecureBroker) -> None:
    async with (
        client(broker, "trygg-hub", HUB_PASSWORD, tls=False, ident="hub") as hub,
        client(broker, GW_A.username, broker.passwords[GW_A.username], ident="a") as gw_a,
    ):
        await hub.subscribe("trygg/v1/#", qos=1)
        await gw_a.publish(f"{GW_B.prefix}/events", b"forged", qos=1)
        await gw_a.publish("trygg/v1/site-1/alerts", b"forged", qos=1)
        await gw_a.publish(f"{GW_A.prefix}/events", b"own", qos=1)
        got: list[tuple[str, bytes]] = []
        async with asyncio.timeout(5):
            async for message in hub.messages:
                got.append((str(message.topic), bytes(message.payload)))  # type: ignore[arg-type]
                if message.payload == b"own":
                    break
        # One client's messages reach a subscriber in order: the forged ones were dropped.
        assert got == [(f"{GW_A.prefix}/events", b"own")]


async def test_a_gateway_reads_its_own_commands_not_anothers(broker: SecureBroker) -> None:
    async with (
        client(broker, "trygg-hub", HUB_PASSWORD, tls=False, ident="hub") as hub,
        client(broker, GW_A.username, broker.passwords[GW_A.username], ident="a") as gw_a,
    ):
        await gw_a.subscribe(f"{GW_B.prefix}/commands/#", qos=1)
        await gw_a.subscribe(f"{GW_A.prefix}/commands/#", qos=1)
        await hub.publish(f"{GW_B.prefix}/commands/reboot", b"for-b", qos=1)
        await hub.publish(f"{GW_A.prefix}/commands/reboot", b"for-a", qos=1)
        got = []
        async with asyncio.timeout(5):
            async for message in gw_a.messages:
                got.append(bytes(message.payload))  # type: ignore[arg-type]
                if message.payload == b"for-a":
                    break
        assert got == [b"for-a"]


async def test_resident_feedback_reaches_the_gateway_on_its_exact_commands_topic(
    broker: SecureBroker,
) -> None:
    """The gateway subscribes to ``.../commands`` itself (gateway/config.py
    ``commands_topic``), not ``commands/#``: the ACL must let that through too."""
    async with (
        client(broker, "trygg-hub", HUB_PASSWORD, tls=False, ident="hub") as hub,
        client(broker, GW_A.username, broker.passwords[GW_A.username], ident="a") as gw_a,
    ):
        await gw_a.subscribe(f"{GW_B.prefix}/commands", qos=1)
        await gw_a.subscribe(f"{GW_A.prefix}/commands", qos=1)
        await hub.publish(f"{GW_B.prefix}/commands", b'{"state":"received","for":"b"}', qos=1)
        await hub.publish(f"{GW_A.prefix}/commands", b'{"state":"received","for":"a"}', qos=1)
        got = []
        async with asyncio.timeout(5):
            async for message in gw_a.messages:
                got.append(json.loads(bytes(message.payload)))  # type: ignore[arg-type]
                if got[-1]["for"] == "a":
                    break
        assert got == [{"state": "received", "for": "a"}]
