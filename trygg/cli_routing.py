"""``trygg bench notify``: registered on the bench group by ``trygg.cli``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(bench_app: typer.Typer) -> None:
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
