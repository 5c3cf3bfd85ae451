"""Issue 8 commands: ``trygg devices import|export``, ``trygg gateway provision|revoke`` (on
the gateway group, from ``trygg.cli_gateway``) and ``trygg bench supervision`` (on the
bench group)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register_bench(bench_app: typer.Typer) -> None:
    @bench_app.command("supervision")
    def bench_supervision(
        devices: Annotated[int, typer.Option(help="devices supervised")] = 50_000,
        interval: Annotated[float, typer.Option(help="heartbeat interval, s")] = 60.0,
        minutes: Annotated[float, typer.Option(help="simulated minutes (cost part)")] = 30.0,
        fast_interval: Annotated[float, typer.Option(
            help="heartbeat interval of the real-time part, s (window: three of them)")] = 2.0,
        seconds: Annotated[float, typer.Option(help="length of the real-time part, s")] = 20.0,
        output: Annotated[Path | None, typer.Option(
            help="write the result section into this markdown file (docs/benchmarks.md)")] = None,
    ) -> None:
        """CPU and memory of supervising DEVICES with INTERVAL heartbeats; detection delay."""
        from rich.console import Console
        from rich.table import Table

        from trygg.bench_supervision import rows, run_supervision_bench, write_markdown

        console = Console()
        result = run_supervision_bench(devices, interval, minutes, fast_interval, seconds)
        table = Table("measure", "value")
        for name, value in rows(result):
            table.add_row(name, value)
        console.print(table)
        if output is not None:
            write_markdown(output, result)
            console.print(f"written to {output}")


def register_provision(gateway_app: typer.Typer) -> None:
    @gateway_app.command("provision")
    def provision(
        site: Annotated[str, typer.Argument(help="site id")],
        gateway_id: Annotated[str, typer.Argument(help="gateway id")],
        auth_dir: Annotated[Path, typer.Option(
            help="folder of Mosquitto's passwd and acl (as `trygg mqtt acl` writes)")] = Path(
            "broker-auth"),
        config_dir: Annotated[Path, typer.Option(
            help="where the gateway's YAML config and 0600 secret are written")] = Path(
            "gateway-configs"),
        host: Annotated[str, typer.Option(help="the hub broker as the gateway reaches it")] = (
            "localhost"),
        port: Annotated[int, typer.Option()] = 8883,
        tls: Annotated[bool, typer.Option()] = True,
        ca_file: Annotated[str | None, typer.Option(help="CA path on the gateway")] = (
            "/etc/trygg/ca.pem"),
        data_dir: Annotated[Path, typer.Option(
            help="the hub's SQLite data dir (unless TRYGG_DATABASE_URL)")] = Path("data"),
    ) -> None:
        """Record GATEWAY_ID's broker account in the registry, write the broker's passwd and
        acl from the registry, and write the gateway's config file.

        Reload Mosquitto afterwards (SIGHUP) so it reads the new passwd and acl.
        """
        from datetime import UTC, datetime

        from hub.mqtt_acl import AclError
        from hub.provision import provision as run
        from hub.registry.provisioning import ProvisionRefused, UnknownSite
        from hub.settings import HubSettings
        from trygg.runtime import open_store

        store = open_store(HubSettings(data_dir=data_dir))
        try:
            done = run(store, auth_dir, config_dir, site, gateway_id, host=host, port=port,
                       tls=tls, ca_file=ca_file, now=datetime.now(UTC))  # fmt: skip
        except (AclError, ProvisionRefused, UnknownSite) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        finally:
            store.close()
        typer.echo(f"gateway {done.gateway.username}: account in the registry, passwd and acl"
                   f" in {auth_dir}; config {done.config_file}, secret {done.secret_file} (0600)")

    @gateway_app.command("revoke")
    def revoke(
        site: Annotated[str, typer.Argument(help="site id")],
        gateway_id: Annotated[str, typer.Argument(help="gateway id")],
        auth_dir: Annotated[Path, typer.Option(help="folder of Mosquitto's passwd and acl")] = (
            Path("broker-auth")),
        data_dir: Annotated[Path, typer.Option(
            help="the hub's SQLite data dir (unless TRYGG_DATABASE_URL)")] = Path("data"),
    ) -> None:
        """Remove GATEWAY_ID's broker account from the registry and the broker's files
        (reload Mosquitto afterwards)."""
        from datetime import UTC, datetime

        from hub.mqtt_acl import AclError
        from hub.provision import revoke as run
        from hub.registry.provisioning import ProvisionRefused
        from hub.settings import HubSettings
        from trygg.runtime import open_store

        store = open_store(HubSettings(data_dir=data_dir))
        try:
            gw = run(store, auth_dir, site, gateway_id, now=datetime.now(UTC))
        except (AclError, ProvisionRefused) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        finally:
            store.close()
        typer.echo(f"gateway {gw.username}: access removed from the registry and {auth_dir}")


def register_devices(app: typer.Typer) -> None:
    """``trygg devices import|export``: the registry as CSV, on the hub's database
    (TRYGG_DATABASE_URL, else SQLite in --data-dir). A running hub picks the changes up
    on SIGHUP or restart; the API (``POST /api/v1/devices/import``) applies them at once."""
    devices_app = typer.Typer(help="The device registry as CSV.", no_args_is_help=True)
    app.add_typer(devices_app, name="devices")

    @devices_app.command("import")
    def import_(
        file: Annotated[Path, typer.Argument(help="CSV file (columns: docs/devices.md)",
                                             exists=True, dir_okay=False)],
        dry_run: Annotated[bool, typer.Option("--dry-run", help="check every row, write none")] = (
            False),
        by: Annotated[str | None, typer.Option(help="who imports (history); default: $USER")] = (
            None),
        data_dir: Annotated[Path, typer.Option(help="SQLite data dir")] = Path("data"),
    ) -> None:
        """Import devices: every bad row is reported (line, column, reason); nothing is
        written unless every row is good (one transaction)."""
        import getpass
        from datetime import UTC, datetime

        from hub.registry.writes import import_devices
        from hub.settings import HubSettings
        from trygg.runtime import open_store

        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            typer.echo(f"error: {file}: {exc}", err=True)
            raise typer.Exit(2) from exc
        actor = by or f"cli:{getpass.getuser()}"
        store = open_store(HubSettings(data_dir=data_dir))
        try:
            checked = import_devices(store, text, None, actor, datetime.now(UTC), dry_run)
        finally:
            store.close()
        for p in checked.problems:
            typer.echo(f"{file}:{p.line}: {p.column or '-'}: {p.reason}", err=True)
        if checked.problems:
            typer.echo(f"{len(checked.problems)} problems in {checked.rows} rows: nothing written",
                       err=True)  # fmt: skip
            raise typer.Exit(1)
        verb = "would import" if dry_run else "imported"
        typer.echo(f"{verb} {checked.rows} devices from {file}")

    @devices_app.command("export")
    def export(
        file: Annotated[Path | None, typer.Argument(help="CSV file; default: standard output")] = (
            None),
        site: Annotated[str | None, typer.Option(help="only this site")] = None,
        data_dir: Annotated[Path, typer.Option(help="SQLite data dir")] = Path("data"),
    ) -> None:
        """Export devices as CSV (the columns import reads)."""
        from hub.registry.csvio import export as to_csv
        from hub.settings import HubSettings
        from trygg.runtime import open_store

        store = open_store(HubSettings(data_dir=data_dir))
        try:
            text = to_csv(store.list_devices(site))
        finally:
            store.close()
        if file is None:
            typer.echo(text, nl=False)
        else:
            file.write_text(text, encoding="utf-8")
            typer.echo(f"exported {text.count(chr(10)) - 1} devices to {file}", err=True)
