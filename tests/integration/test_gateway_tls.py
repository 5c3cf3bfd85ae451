"""The uplink over TLS with the gateway's own credentials (a private Mosquitto with a
test CA, a server certificate for 127.0.0.1 and a password file; no anonymous access)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gateway.config import BrokerConfig, DeviceConfig, GatewayConfig
from gateway.inputs import Item
from gateway.service import Gateway

from conftest import IN_CI, free_port
from gwhelpers import wait_for

pytestmark = pytest.mark.mqtt


def _tools() -> tuple[str, str, str]:
    found = [shutil.which(n) or f"/usr/sbin/{n}" for n in ("openssl", "mosquitto",
                                                            "mosquitto_passwd")]
    if not all(Path(f).exists() for f in found):
        if IN_CI:
            pytest.fail("openssl and mosquitto (with mosquitto_passwd) are needed in CI")
        pytest.skip("openssl or mosquitto is not installed")
    return found[0], found[1], found[2]


def _certs(openssl: str, d: Path) -> None:
    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, cwd=d)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
        "-subj", "/CN=trygg test CA")
    run("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "1", "-extfile", "san.ext")


def test_uplink_over_tls_with_its_own_credentials(tmp_path: Path) -> None:
    openssl, mosquitto, passwd = _tools()
    _certs(openssl, tmp_path)
    subprocess.run([passwd, "-c", "-b", str(tmp_path / "passwd"), "gw-1", "s3cret-gw"],
                   check=True, capture_output=True)
    subprocess.run([passwd, "-b", str(tmp_path / "passwd"), "hub", "s3cret-hub"],
                   check=True, capture_output=True)
    port = free_port()
    (tmp_path / "m.conf").write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous false\n"
        f"password_file {tmp_path}/passwd\ncafile {tmp_path}/ca.pem\n"
        f"certfile {tmp_path}/server.pem\nkeyfile {tmp_path}/server.key\nuser root\n")
    broker = subprocess.Popen([mosquitto, "-c", str(tmp_path / "m.conf")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    (tmp_path / "gw.secret").write_text("s3cret-gw\n")
    hub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    got: list[bytes] = []
    try:
        time.sleep(0.3)
        hub.tls_set_context(ssl.create_default_context(cafile=str(tmp_path / "ca.pem")))
        hub.username_pw_set("hub", "s3cret-hub")
        hub.on_message = lambda c, u, m: got.append(m.payload)
        hub.on_connect = lambda c, *a: c.subscribe("trygg/v1/tls/gw-1/events", 1)
        hub.connect("127.0.0.1", port)
        hub.loop_start()

        def gateway(password_file: Path, data: str) -> Gateway:
            return Gateway(GatewayConfig(
                site="tls", gateway="gw-1", data_dir=tmp_path / data, local=None,
                uplink=BrokerConfig(port=port, tls=True, ca_file=tmp_path / "ca.pem",
                                    username="gw-1", password_file=password_file),
                devices=[DeviceConfig(id="door-1", protocol="z2m", friendly_name="d",
                                      model="MCCGQ11LM")]))

        # A wrong password: refused; the event waits in the outbox.
        (tmp_path / "wrong.secret").write_text("guess\n")
        bad = gateway(tmp_path / "wrong.secret", "bad")
        bad.start()
        bad.process([Item("z2m", "d", b'{"contact": false}')])
        time.sleep(1.5)
        assert not bad.uplink.connected.is_set() and bad.outbox.count == 1
        bad.stop()

        good = gateway(tmp_path / "gw.secret", "good")
        good.start()
        try:
            assert good.uplink.wait_connected(10)
            good.process([Item("z2m", "d", b'{"contact": false}')])
            wait_for(lambda: bool(got), 10, "event over TLS")
            wait_for(lambda: good.outbox.count == 0, 10, "removed after PUBACK")
        finally:
            good.stop()
    finally:
        hub.disconnect()
        hub.loop_stop()
        broker.terminate()
        broker.wait(10)


def test_uplink_with_a_client_certificate_from_make_certs(tmp_path: Path) -> None:
    """``require_certificate true`` and the certificate's CN as the user name: the gateway
    gets in with its own certificate only; without one, or with one from another CA, it
    is refused and the event waits in the outbox."""
    _, mosquitto, _ = _tools()
    script = Path(__file__).parents[2] / "deploy" / "mosquitto" / "make-certs.sh"
    pki, other = tmp_path / "pki", tmp_path / "other-pki"
    for out in (pki, other):
        subprocess.run(["sh", str(script), str(out), "127.0.0.1", "gw-1", "hub"], check=True,
                       capture_output=True, env={"PATH": "/usr/bin:/bin", "DAYS": "2"})
    port = free_port()
    (tmp_path / "acl").write_text(
        "user gw-1\ntopic write trygg/v1/tls/gw-1/events\n"
        "topic readwrite trygg/v1/tls/gw-1/status\ntopic write trygg/v1/tls/gw-1/time/request\n"
        "topic read trygg/v1/tls/gw-1/time\ntopic read trygg/v1/tls/gw-1/config\n"
        "topic read trygg/v1/tls/alerts\n\nuser hub\ntopic readwrite trygg/v1/#\n")
    (tmp_path / "m.conf").write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous false\nrequire_certificate true\n"
        f"use_identity_as_username true\nacl_file {tmp_path}/acl\ncafile {pki}/ca.crt\n"
        f"certfile {pki}/server.crt\nkeyfile {pki}/server.key\nuser root\n")
    broker = subprocess.Popen([mosquitto, "-c", str(tmp_path / "m.conf")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    hub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    got: list[bytes] = []
    try:
        time.sleep(0.3)
        context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        context.load_cert_chain(pki / "clients" / "hub.crt", pki / "clients" / "hub.key")
        hub.tls_set_context(context)
        hub.on_message = lambda c, u, m: got.append(m.payload)
        hub.on_connect = lambda c, *a: c.subscribe("trygg/v1/tls/gw-1/events", 1)
        hub.connect("127.0.0.1", port)
        hub.loop_start()

        def gateway(data: str, cert_dir: Path | None) -> Gateway:
            certs = {} if cert_dir is None else {
                "cert_file": cert_dir / "clients" / "gw-1.crt",
                "key_file": cert_dir / "clients" / "gw-1.key"}
            return Gateway(GatewayConfig(
                site="tls", gateway="gw-1", data_dir=tmp_path / data, local=None,
                uplink=BrokerConfig(port=port, tls=True, ca_file=pki / "ca.crt", **certs),
                devices=[DeviceConfig(id="door-1", protocol="z2m", friendly_name="d",
                                      model="MCCGQ11LM")]))

        for data, cert_dir in (("none", None), ("foreign", other)):
            refused = gateway(data, cert_dir)
            refused.start()
            refused.process([Item("z2m", "d", b'{"contact": false}')])
            time.sleep(1.5)
            assert not refused.uplink.connected.is_set(), data
            assert refused.outbox.count == 1, data
            refused.stop()
        assert got == []

        good = gateway("good", pki)
        good.start()
        try:
            assert good.uplink.wait_connected(10)
            good.process([Item("z2m", "d", b'{"contact": false}')])
            wait_for(lambda: bool(got), 10, "event over TLS with a client certificate")
            wait_for(lambda: good.outbox.count == 0, 10, "removed after PUBACK")
        finally:
            good.stop()
    finally:
        hub.disconnect()
        hub.loop_stop()
        broker.terminate()
        broker.wait(10)
