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
    """Write Mosquitto's password file and ACL from the registry's gateways.

    Gateways that devices name and the registry has not provisioned yet (nor revoked)
    get an account first: a hash already in the password file is kept, a new account
    gets a random password, written once to credentials/<user>.env (mode 0600). The
    hub's password is taken from TRYGG_MQTT_PASSWORD when set.
    """
    from datetime import UTC, datetime

    from hub.mqtt_acl import AclError
    from hub.registry.provisioning import (
        adopt_device_gateways,
        write_broker_files,
        write_new_credentials,
    )
    from hub.settings import HubSettings
    from trygg.runtime import open_store

    store = open_store(HubSettings(data_dir=data_dir))
    try:
        fresh = adopt_device_gateways(store, out, datetime.now(UTC))
        auth = write_broker_files(store, out, hub_user=hub_user,
                                  hub_password=os.environ.get("TRYGG_MQTT_PASSWORD"))
        write_new_credentials(out, fresh)
        count = sum(g.credentials_provisioned for g in store.list_gateways())
    except AclError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    finally:
        store.close()
    typer.echo(f"{count} gateways and the hub in {out}/passwd and {out}/acl")
    for user in [*auth.new_passwords, *fresh]:
        typer.echo(f"new account {user}: password in {out}/credentials/")
