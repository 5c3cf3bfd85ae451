"""``trygg mqtt ...``: broker accounts and ACL from the hub's registry."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

mqtt_app = typer.Typer(help="Broker accounts and ACLs.", no_args_is_help=True)


@mqtt_app.command("acl")
def mqtt_acl(
    out: Annotated[Path, typer.Option(help="folder for passwd, acl and credentials/")] = Path(
        "broker-auth"
    ),
    data_dir: Annotated[Path, typer.Option(help="SQLite data dir (unless TRYGG_DATABASE_URL)")] = (
        Path("data")
    ),
    hub_user: Annotated[str, typer.Option()] = "trygg-hub",
) -> None:
    """Write Mosquitto's password file and ACL for every gateway in the registry.

    The hub's password is taken from TRYGG_MQTT_PASSWORD when set; new accounts get
    a random password, written once to credentials/<user>.env (mode 0600).
    """
    from hub.mqtt_acl import AclError, gateways_of, write
    from hub.settings import HubSettings
    from trygg.runtime import open_store

    store = open_store(HubSettings(data_dir=data_dir))
    try:
        views = store.list_devices()
    finally:
        store.close()
    try:
        # Devices on the shelf are on no gateway (""): no account for them.
        gateways = gateways_of((v.device.site, v.device.gateway) for v in views if v.device.gateway)
        auth = write(
            out, gateways, hub_user=hub_user, hub_password=os.environ.get("TRYGG_MQTT_PASSWORD")
        )
    except AclError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"{len(gateways)} gateways and the hub in {out}/passwd and {out}/acl")
    for user in auth.new_passwords:
        typer.echo(f"new account {user}: password in {out}/credentials/")
