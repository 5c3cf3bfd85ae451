"""Gateway credentials kept in the registry, and the broker's files written from it.

The gateways table is the list of broker accounts: :func:`provision` gives a gateway a
new random password (returned once, only its hash stored), :func:`revoke` removes it.
:func:`write_broker_files` writes Mosquitto's ``passwd`` and ``acl`` from the provisioned
gateways (the hub's and hand-added handheld accounts are kept from the file; a gateway
account that is only in the file is dropped). :func:`adopt_device_gateways` is what
``trygg mqtt acl`` does first: every gateway that devices name and the registry has not
provisioned (nor revoked) gets an account, keeping a hash the password file already has.
Mosquitto reads its files again on SIGHUP (``systemctl reload mosquitto``).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Protocol

from hub.mqtt_acl import (
    HUB_USER,
    BrokerAuth,
    GatewayId,
    credentials_name,
    gateways_of,
    hash_password,
    parse_password_file,
    write,
)
from hub.registry.records import GatewayRecord, GatewayState
from hub.store.base import DeviceView


class ProvisionRefused(ValueError):
    """Provisioning or revoking is not possible in the gateway's state (HTTP 409)."""


class UnknownSite(ValueError):
    pass


class GatewayStore(Protocol):
    def list_gateways(self, site: str | None = None) -> list[GatewayRecord]: ...
    def save_gateway(self, gateway: GatewayRecord) -> None: ...
    def site_zones(self) -> dict[str, str]: ...
    def list_devices(self, site: str | None = None) -> list[DeviceView]: ...


@dataclass(frozen=True, slots=True)
class Credentials:
    gateway: GatewayId
    record: GatewayRecord
    password: str  # shown once, never stored


def new_password() -> str:
    return secrets.token_urlsafe(24)


def _find(store: GatewayStore, site: str, gateway: str) -> GatewayRecord | None:
    return next((g for g in store.list_gateways(site) if g.id == gateway), None)


def provision(store: GatewayStore, site: str, gateway: str, now: datetime,
              secret: Callable[[], str] = new_password) -> Credentials:  # fmt: skip
    """A new broker account for the gateway; :class:`hub.mqtt_acl.AclError` for an id that
    cannot be a user name or topic level."""
    [gw] = gateways_of([(site, gateway)])
    if site not in store.site_zones():
        raise UnknownSite(f"unknown site {site!r}")
    old = _find(store, site, gateway)
    if old is not None and old.state is GatewayState.PROVISIONED:
        raise ProvisionRefused(f"gateway {gw.username} is already provisioned; revoke it first")
    password = secret()
    record = GatewayRecord(site, gateway, GatewayState.PROVISIONED, hash_password(password), now,
                           None, old.notes if old else None)  # fmt: skip
    store.save_gateway(record)
    return Credentials(gw, record, password)


def revoke(store: GatewayStore, site: str, gateway: str, now: datetime) -> GatewayRecord:
    [gw] = gateways_of([(site, gateway)])
    old = _find(store, site, gateway)
    if old is None or old.state is not GatewayState.PROVISIONED:
        raise ProvisionRefused(f"gateway {gw.username} is not provisioned")
    record = replace(old, state=GatewayState.REVOKED, password_hash=None, revoked_at=now)
    store.save_gateway(record)
    return record


def set_notes(store: GatewayStore, site: str, gateway: str, notes: str | None) -> GatewayRecord:
    """The gateway's notes; a gateway the registry does not have yet is registered."""
    [gw] = gateways_of([(site, gateway)])
    if site not in store.site_zones():
        raise UnknownSite(f"unknown site {site!r}")
    old = _find(store, gw.site, gw.gateway) or GatewayRecord(site, gateway)
    record = replace(old, notes=notes)
    store.save_gateway(record)
    return record


def write_broker_files(store: GatewayStore, auth_dir: Path, *, hub_user: str = HUB_USER,
                       hub_password: str | None = None) -> BrokerAuth:  # fmt: skip
    """``passwd`` and ``acl`` in ``auth_dir`` for every provisioned gateway of the registry."""
    live = [g for g in store.list_gateways() if g.credentials_provisioned]
    hashes = {f"{g.site}/{g.id}": g.password_hash for g in live if g.password_hash}
    gateways = gateways_of((g.site, g.id) for g in live)
    return write(auth_dir, gateways, hub_user=hub_user, hub_password=hub_password,
                 hashes=hashes)  # fmt: skip


def adopt_device_gateways(store: GatewayStore, auth_dir: Path, now: datetime,
                          secret: Callable[[], str] = new_password) -> dict[str, str]:  # fmt: skip
    """Provision the gateways devices name that have no account in the registry yet (a hash
    already in ``auth_dir/passwd`` is kept); return the new passwords by user name."""
    passwd = auth_dir / "passwd"
    in_file = parse_password_file(passwd.read_text()) if passwd.exists() else {}
    known = {(g.site, g.id): g for g in store.list_gateways()}
    named = gateways_of({(v.device.site, v.device.gateway) for v in store.list_devices()
                         if v.device.gateway})  # fmt: skip
    fresh: dict[str, str] = {}
    for gw in named:
        old = known.get((gw.site, gw.gateway))
        if old is not None and old.state is not GatewayState.REGISTERED:
            continue  # provisioned already, or revoked on purpose
        hashed = in_file.get(gw.username)
        if hashed is None:
            fresh[gw.username] = secret()
            hashed = hash_password(fresh[gw.username])
        store.save_gateway(GatewayRecord(gw.site, gw.gateway, GatewayState.PROVISIONED, hashed,
                                         now, None, old.notes if old else None))  # fmt: skip
    return fresh


def write_new_credentials(auth_dir: Path, fresh: dict[str, str]) -> None:
    """``credentials/{user}.env`` (0600) for accounts :func:`adopt_device_gateways` made."""
    creds = auth_dir / "credentials"
    creds.mkdir(mode=0o700, parents=True, exist_ok=True)
    for user, password in fresh.items():
        write_private(creds / credentials_name(user),
                      f"TRYGG_MQTT_USERNAME={user}\nTRYGG_MQTT_PASSWORD={password}\n")  # fmt: skip


def write_private(path: Path, text: str) -> None:
    """A secret file readable by its owner only (created 0600, never world-readable)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    path.chmod(0o600)
