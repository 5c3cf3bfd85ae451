"""Provisioning a gateway: its broker account in the registry, the broker's files, and the
gateway's config file (issue 8).

``provision`` records a new account for the gateway in the registry's gateways table
(:mod:`hub.registry.provisioning`: a random password, only its hash stored), writes
Mosquitto's ``passwd`` and ``acl`` from the registry (through :mod:`hub.mqtt_acl`, so the
rules are the ones ``trygg mqtt acl`` writes: publish only under
``trygg/v1/{site}/{gateway}/#``, read only its own ``config``, ``commands``, ``notify``
and ``time`` topics and ``trygg/v1/{site}/alerts``), writes the new password once to a
0600 secret file, and writes the gateway's YAML config (the format of
``deploy/gateway.example.yaml``) pointing at it. ``revoke`` removes the account from the
registry and the files; after Mosquitto reloads its files (SIGHUP) the gateway can no
longer connect. Provisioning one gateway leaves the others' hashes untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from hub.mqtt_acl import HUB_USER, GatewayId, credentials_name
from hub.registry import provisioning as reg


@dataclass(frozen=True, slots=True)
class Provisioned:
    gateway: GatewayId
    config_file: Path
    secret_file: Path


def gateway_config(gw: GatewayId, secret_file: Path | None, *, host: str, port: int, tls: bool,
                   ca_file: str | None) -> dict[str, Any]:  # fmt: skip
    """The gateway's config; ``secret_file`` None leaves ``password_file`` for the caller."""
    uplink: dict[str, Any] = {"host": host, "port": port, "tls": tls,
                              "username": gw.username,
                              "password_file": str(secret_file or "/etc/trygg/gateway.secret"),
                              "client_id": f"gw-{gw.site}-{gw.gateway}"}  # fmt: skip
    if ca_file:
        uplink["ca_file"] = ca_file
    return {
        "site": gw.site, "gateway": gw.gateway,
        "data_dir": "/var/lib/trygg-gateway", "timezone": "Europe/Oslo",
        "uplink": uplink, "local": {"host": "127.0.0.1", "port": 1883},
        "z2m_base": "zigbee2mqtt", "owntracks_base": "owntracks", "heartbeat_s": 30,
    }


def provision(store: reg.GatewayStore, auth_dir: Path, config_dir: Path, site: str,
              gateway: str, *, host: str, now: datetime, port: int = 8883, tls: bool = True,
              ca_file: str | None = None, hub_user: str = HUB_USER) -> Provisioned:  # fmt: skip
    creds = reg.provision(store, site, gateway, now)
    reg.write_broker_files(store, auth_dir, hub_user=hub_user)
    config_dir.mkdir(parents=True, exist_ok=True)
    stem = credentials_name(creds.gateway.username).removesuffix(".env")
    secret = config_dir / f"{stem}.secret"
    reg.write_private(secret, creds.password + "\n")
    config = config_dir / f"{stem}.yaml"
    body = gateway_config(creds.gateway, secret, host=host, port=port, tls=tls, ca_file=ca_file)
    config.write_text("# Written by `trygg gateway provision`: copy to /etc/trygg/gateway.yaml,\n"
                      "# and the .secret beside it (mode 0600) to password_file's path.\n"
                      + yaml.safe_dump(body, sort_keys=False))
    return Provisioned(creds.gateway, config, secret)


def revoke(store: reg.GatewayStore, auth_dir: Path, site: str, gateway: str, *,
           now: datetime, hub_user: str = HUB_USER) -> GatewayId:  # fmt: skip
    record = reg.revoke(store, site, gateway, now)
    reg.write_broker_files(store, auth_dir, hub_user=hub_user)
    gw = GatewayId(record.site, record.id)
    (auth_dir / "credentials" / credentials_name(gw.username)).unlink(missing_ok=True)
    return gw
