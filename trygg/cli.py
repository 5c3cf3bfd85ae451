"""The ``trygg`` command. Settings are built here, never at import."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from trygg import cli_accounts, cli_audit, cli_devices, cli_relatives, cli_routing, logs
from trygg.cli_gateway import register as register_gateway
from trygg.cli_gateway import register_bench as register_gateway_bench
from trygg.cli_mqtt import mqtt_app

app = typer.Typer(help="Trygg: welfare-technology event hub.", no_args_is_help=True)
schema_app = typer.Typer(help="Print schemas.", no_args_is_help=True)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks (results go to docs/benchmarks.md).", no_args_is_help=True)
app.add_typer(schema_app, name="schema")
app.add_typer(db_app, name="db")
app.add_typer(bench_app, name="bench")
register_gateway(app)
register_gateway_bench(bench_app)
app.add_typer(mqtt_app, name="mqtt")
cli_audit.register(app)
cli_accounts.register(app)
cli_routing.register(bench_app, app)
cli_devices.register_bench(bench_app)
cli_devices.register_devices(app)
cli_relatives.register(app)

err = Console(stderr=True, soft_wrap=True)


def _run(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run ``main(stop)``; SIGINT/SIGTERM set ``stop`` so everything closes cleanly."""

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    asyncio.run(runner())


def parse_broker(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise typer.BadParameter(f"expected HOST:PORT, got {value!r}")
    return host, int(port)


@app.command()
def demo(
    duration: Annotated[float | None, typer.Option(help="stop after this many seconds")] = None,
    speed: Annotated[float, typer.Option(help="scenario time per real time")] = 120.0,
    http_port: Annotated[int, typer.Option()] = 8080,
    mqtt_port: Annotated[int, typer.Option(help="port of the embedded broker")] = 1884,
    data_dir: Annotated[Path, typer.Option()] = Path("demo-data"),
    no_sim: Annotated[bool, typer.Option("--no-sim", help="do not play the night")] = False,
    log_level: Annotated[str, typer.Option()] = "WARNING",
) -> None:
    """Embedded broker, hub on SQLite, API on 127.0.0.1, and the night-unit scenario."""
    from trygg.demo import run_demo

    logs.configure(log_level, json_output=False)
    console = Console(soft_wrap=True)
    _run(
        lambda stop: run_demo(
            data_dir=data_dir,
            http_port=http_port,
            mqtt_port=mqtt_port,
            speed=speed,
            duration=duration,
            simulate=not no_sim,
            stop=stop,
            console=console,
        )
    )


@app.command()
def hub(log_level: Annotated[str, typer.Option()] = "INFO") -> None:
    """Run the hub against a broker (settings from TRYGG_* environment variables)."""
    from rich.markup import escape

    from hub import gc_tuning
    from hub.channels.setup import check_routing
    from hub.errors import ConfigError
    from hub.routing.config import RoutingInvalid
    from hub.ruleset import load_pack
    from hub.settings import HubSettings
    from rules.loader import RulesInvalid
    from trygg.runtime import ensure_admin, open_store, refuse_default_credentials, running_hub

    logs.configure(log_level)
    settings = HubSettings()
    store = open_store(settings)
    try:
        if not settings.demo:
            # Checked before the admin account is created from these settings.
            refuse_default_credentials(store, settings)
        ensure_admin(store, settings)
        load_pack(settings.rules)  # every rule problem as file:line: reason, before starting
        check_routing()  # the same for TRYGG_ROUTING
    except (ConfigError, RulesInvalid, RoutingInvalid) as exc:
        err.print(f"[red]{escape(str(exc))}[/]")
        store.close()
        raise typer.Exit(2) from exc

    async def main(stop: asyncio.Event) -> None:
        async with running_hub(settings, store, stop):
            gc_tuning.tune()  # started, before the flood: see hub/gc_tuning.py
            await stop.wait()

    _run(main)
    store.close()


@app.command()
def seed(
    scenario: Annotated[str, typer.Argument(help="scenario name or file")] = "night-unit",
    data_dir: Annotated[Path, typer.Option()] = Path("data"),
    demo_bases: Annotated[
        bool,
        typer.Option(
            help="also record the demo's fictional legal bases, so the scenario's events are "
            "lawful and not dropped (development and testing only)"
        ),
    ] = True,
) -> None:
    """Register a scenario's site, residents and devices in a hub's database (no accounts)."""
    from datetime import UTC, datetime

    from hub.settings import HubSettings
    from simulators.scenario import load_scenario
    from trygg.runtime import open_store
    from trygg.seed import seed_registry
    from trygg.seed_consent import seed_demo_bases

    store = open_store(HubSettings(data_dir=data_dir))
    loaded = load_scenario(scenario)
    count = seed_registry(store, loaded)
    bases = seed_demo_bases(store, loaded, datetime.now(UTC)) if demo_bases else 0
    store.close()
    typer.echo(f"registered {count} devices and {bases} legal bases in {data_dir}")


@db_app.command("upgrade")
def db_upgrade(data_dir: Annotated[Path, typer.Option()] = Path("data")) -> None:
    """Apply pending migrations."""
    from hub.settings import HubSettings
    from trygg.runtime import open_store

    store = open_store(HubSettings(data_dir=data_dir))
    version = store.migrate()
    store.close()
    typer.echo(f"schema version {version}")


@schema_app.command("events")
def schema_events() -> None:
    """Print the JSON Schema of the canonical event."""
    from devices.events import events_json_schema

    json.dump(events_json_schema(), sys.stdout, indent=2)
    sys.stdout.write("\n")


@bench_app.command("ingest")
def bench_ingest(
    broker: Annotated[
        str | None,
        typer.Option(help="HOST:PORT of a running broker; default: start a private Mosquitto"),
    ] = None,
    events: Annotated[int, typer.Option(help="events for the throughput phase")] = 50_000,
    rate: Annotated[float, typer.Option(help="background events/s for the latency phase")] = 500.0,
    seconds: Annotated[float, typer.Option(help="length of the latency phase")] = 20.0,
    store: Annotated[
        str, typer.Option(help="sqlite, postgres (TRYGG_DATABASE_URL) or memory")
    ] = "sqlite",
    output: Annotated[
        Path | None,
        typer.Option(
            help="write the result section into this markdown file (e.g. docs/benchmarks.md)"
        ),
    ] = None,
    publishers: Annotated[
        int, typer.Option(help="publisher processes for phases A and B (one can be the wall)")
    ] = 1,
    backlog: Annotated[
        bool, typer.Option(help="A and B drain a queued backlog: consumers without publishers")
    ] = False,
) -> None:
    """Hub ingest events/s vs. a bare aiomqtt subscriber, and alert latency p50/p99."""
    from rich.markup import escape

    from trygg.bench import BenchError, run_ingest_bench

    host_port = parse_broker(broker) if broker else None
    try:
        run_ingest_bench(
            host_port,
            events=events,
            rate=rate,
            seconds=seconds,
            store=store,
            output=output,
            publishers=publishers,
            backlog=backlog,
        )
    except BenchError as exc:
        err.print(f"[red]bench ingest failed:[/] {escape(str(exc))}")
        raise typer.Exit(2) from exc


# Simulator commands live in their own module (imported last: it uses the helpers above).
from trygg.cli_sim import sim_app  # noqa: E402

app.add_typer(sim_app, name="sim")
from trygg import cli_rules  # noqa: E402

cli_rules.register(app, bench_app)
