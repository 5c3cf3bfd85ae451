"""Provisioning a gateway: its broker account, its ACL and its config file (issue 8).

``provision`` adds one gateway to the broker's password file and ACL (through
:mod:`hub.mqtt_acl`, so the rules are the ones ``trygg mqtt acl`` writes: publish
only under ``trygg/v1/{site}/{gateway}/#``, read only its own ``config``,
``commands``, ``notify`` and ``time`` topics and ``trygg/v1/{site}/alerts``),
writes the new password once to a 0600 secret file, and writes the gateway's
YAML config (the format of ``deploy/gateway.example.yaml``) pointing at it.
``revoke`` removes the account and the ACL block; after Mosquitto reloads its
files (SIGHUP) the gateway can no longer connect.

The gateways already provisioned are the ones in the password file, so
provisioning and revoking one leaves the others' hashes untouched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hub.mqtt_acl import (
    HUB_USER,
    AclError,
    GatewayId,
    credentials_name,
    gateways_of,
    parse_password_file,
    write,
)


@dataclass(frozen=True, slots=True)
class Provisioned:
    gateway: GatewayId
    config_file: Path
    secret_file: Path


def provisioned(auth_dir: Path, hub_user: str = HUB_USER) -> list[GatewayId]:
    """The gateways with an account in ``auth_dir/passwd``."""
    passwd = auth_dir / "passwd"
    users = parse_password_file(passwd.read_text()) if passwd.exists() else {}
    pairs: list[tuple[str, str]] = []
    for user in users:
        site, sep, gateway = user.partition("/")
        if sep and user != hub_user:
            pairs.append((site, gateway))
    return gateways_of(pairs)


def gateway_config(gw: GatewayId, secret_file: Path, *, host: str, port: int, tls: bool,
                   ca_file: str | None) -> dict[str, Any]:
    uplink: dict[str, Any] = {"host": host, "port": port, "tls": tls,
                              "username": gw.username, "password_file": str(secret_file),
                              "client_id": f"gw-{gw.site}-{gw.gateway}"}
    if ca_file:
        uplink["ca_file"] = ca_file
    return {
        "site": gw.site, "gateway": gw.gateway,
        "data_dir": "/var/lib/trygg-gateway", "timezone": "Europe/Oslo",
        "uplink": uplink, "local": {"host": "127.0.0.1", "port": 1883},
        "z2m_base": "zigbee2mqtt", "owntracks_base": "owntracks", "heartbeat_s": 30,
    }


def provision(auth_dir: Path, config_dir: Path, site: str, gateway: str, *, host: str,
              port: int = 8883, tls: bool = True, ca_file: str | None = None,
              hub_user: str = HUB_USER) -> Provisioned:
    [gw] = gateways_of([(site, gateway)])  # AclError for ids unfit for users and topics
    existing = provisioned(auth_dir, hub_user)
    if gw in existing:
        raise AclError(f"gateway {gw.username} is already provisioned; revoke it first")
    auth = write(auth_dir, [*existing, gw], hub_user=hub_user)
    password = auth.new_passwords[gw.username]
    config_dir.mkdir(parents=True, exist_ok=True)
    stem = credentials_name(gw.username).removesuffix(".env")
    secret = config_dir / f"{stem}.secret"
    _private(secret, password + "\n")
    config = config_dir / f"{stem}.yaml"
    body = gateway_config(gw, secret, host=host, port=port, tls=tls, ca_file=ca_file)
    config.write_text("# Written by `trygg gateway provision`: copy to /etc/trygg/gateway.yaml,\n"
                      "# and the .secret beside it (mode 0600) to password_file's path.\n"
                      + yaml.safe_dump(body, sort_keys=False))
    return Provisioned(gw, config, secret)


def revoke(auth_dir: Path, site: str, gateway: str, hub_user: str = HUB_USER) -> GatewayId:
    [gw] = gateways_of([(site, gateway)])
    existing = provisioned(auth_dir, hub_user)
    if gw not in existing:
        raise AclError(f"gateway {gw.username} is not provisioned")
    write(auth_dir, [g for g in existing if g != gw], hub_user=hub_user)
    (auth_dir / "credentials" / credentials_name(gw.username)).unlink(missing_ok=True)
    return gw


def _private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    path.chmod(0o600)
