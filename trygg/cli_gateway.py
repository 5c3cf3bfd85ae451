"""``trygg gateway``: run the edge gateway (a group, so ``provision`` can join it later)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from trygg import logs

gateway_app = typer.Typer(help="The edge gateway.", invoke_without_command=True)
err = Console(stderr=True, soft_wrap=True)


@gateway_app.callback()
def gateway(
    ctx: typer.Context,
    config: Annotated[Path | None, typer.Option("--config", help="the gateway's YAML file")] = None,
    log_level: Annotated[str, typer.Option()] = "INFO",
) -> None:
    """Run the gateway service with --config FILE (until SIGINT/SIGTERM)."""
    if ctx.invoked_subcommand is not None:
        return
    if config is None:
        err.print("[red]trygg gateway needs --config FILE[/]")
        raise typer.Exit(2)
    from gateway.config import ConfigError, load
    from gateway.service import Gateway

    logs.configure(log_level, json_output=None)
    try:
        cfg = load(config)
    except ConfigError as exc:
        err.print(f"[red]bad gateway config:[/] {exc}")
        raise typer.Exit(2) from exc
    service = Gateway(cfg)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    service.start()
    err.print(f"gateway {cfg.site}/{cfg.gateway} running; data in {cfg.data_dir}")
    stop.wait()
    service.stop()


def register(app: typer.Typer) -> None:
    from trygg.cli_devices import register_provision

    register_provision(gateway_app)
    app.add_typer(gateway_app, name="gateway")


def register_bench(bench_app: typer.Typer) -> None:
    @bench_app.command("gateway")
    def bench_gateway(
        events: Annotated[int, typer.Option(help="events per phase")] = 5000,
        output: Annotated[Path | None, typer.Option(
            help="write the result section into this markdown file (docs/benchmarks.md)")] = None,
    ) -> None:
        """CPU per event and RSS of the gateway at 50 devices; replay rate after an outage."""
        from trygg.bench import BenchError
        from trygg.bench_gateway import run, section

        try:
            bench = run(events, output)
        except BenchError as exc:
            err.print(f"[red]bench gateway failed:[/] {exc}")
            raise typer.Exit(1) from exc
        Console(soft_wrap=True).print(section(bench))
