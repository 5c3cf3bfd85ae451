"""``trygg routing check`` and ``trygg bench notify``: registered by ``trygg.cli``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

routing_app = typer.Typer(help="Routing policy: escalation chains.", no_args_is_help=True)


@routing_app.command("check")
def check(
    path: Annotated[Path, typer.Argument(help="a routing file (TRYGG_ROUTING)")],
) -> None:
    """Check a routing file; every problem as file:line: path: reason, exit 1 if any."""
    from hub.channels.setup import load_policies
    from hub.routing.config import RoutingInvalid

    try:
        policies = load_policies(path)
    except RoutingInvalid as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        typer.echo(f"{len(exc.problems)} problem(s)", err=True)
        raise typer.Exit(1) from exc
    chains = len({id(p.chain) for p in policies})
    typer.echo(f"ok: {len(policies)} policies, {chains} chains in {path}")


def register(bench_app: typer.Typer, app: typer.Typer | None = None) -> None:
    if app is not None:
        app.add_typer(routing_app, name="routing")

    @bench_app.command("notify")
    def bench_notify(
        rate: Annotated[float, typer.Option(help="background events/s")] = 500.0,
        seconds: Annotated[float, typer.Option(help="length of the run")] = 20.0,
        probes: Annotated[int, typer.Option(help="probe falls (each its own alert)")] = 200,
        output: Annotated[
            Path | None, typer.Option(help="write the result section into this markdown file")
        ] = None,
    ) -> None:
        """Delivery latency event publish -> SSE board and -> MQTT handheld, p50/p99."""
        from rich.console import Console
        from rich.table import Table

        from trygg.bench import BenchError
        from trygg.bench_notify import rows, run_notify_bench, write_markdown

        console = Console()
        try:
            result = run_notify_bench(rate, seconds, probes, console.print)
        except BenchError as exc:
            console.print(f"[red]{exc}[/]")
            raise typer.Exit(1) from exc
        table = Table("measure", "value")
        for name, value in rows(result):
            table.add_row(name, value)
        console.print(table)
        if output is not None:
            write_markdown(output, result)
            console.print(f"written to {output}")
