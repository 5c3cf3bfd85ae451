"""``trygg rules check``, ``trygg replay`` and ``trygg bench rules``."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

rules_app = typer.Typer(help="Rule files.", no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True)


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    app.add_typer(rules_app, name="rules")
    app.command("replay")(replay)
    bench_app.command("rules")(bench_rules)


@rules_app.command("check")
def check(
    paths: Annotated[list[Path], typer.Argument(help="rule files, checked together")],
) -> None:
    """Check rule files against the event vocabulary; every problem as file:line: reason."""
    from hub.ruleset import load_pack
    from rules.loader import RulesInvalid

    try:
        pack = load_pack(paths)
    except RulesInvalid as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        typer.echo(f"{len(exc.problems)} problem(s)", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"ok: {len(pack.rules)} rules in {len(paths)} file(s)")


@rules_app.command("scenario")
def scenario_rules(
    name: Annotated[str, typer.Argument(help="a shipped scenario or a scenario file")],
) -> None:
    """Print a scenario's rule overrides as a site rule file, for the hub `sim verify` plays
    against: TRYGG_RULES='["rules/packs/default.yaml", "site.yaml"]' trygg hub."""
    from simulators.scenario import load_scenario
    from simulators.scenario_yaml import ScenarioError
    from trygg.sim_inprocess import scenario_rule_file, scenario_rules

    try:
        scenario = load_scenario(name)
    except (ScenarioError, OSError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    text = scenario_rule_file(scenario)
    if text is None:
        typer.echo(f"{scenario.name}: no rule overrides (the default pack is enough)", err=True)
        return
    scenario_rules(scenario)  # a RulesInvalid names what does not fit the default pack
    typer.echo(text, nl=False)


def _aware(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{option}: expected an ISO 8601 time, got {value!r}") from exc
    if parsed.tzinfo is None:
        raise typer.BadParameter(f"{option}: give the UTC offset, e.g. {value}+01:00")
    return parsed


def replay(
    events_file: Annotated[Path, typer.Argument(metavar="EVENTS.jsonl", help="one event a line")],
    rules: Annotated[
        list[Path] | None, typer.Option("--rules", help="rule file (repeat; default pack if none)")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="a hub's data directory: its device registry")
    ] = None,
    from_: Annotated[str | None, typer.Option("--from", help="first event time (ISO)")] = None,
    to: Annotated[str | None, typer.Option("--to", help="end time, exclusive (ISO)")] = None,
) -> None:
    """Run a recorded event log through rule files and print the alerts they would raise."""
    from hub.ruleset import load_pack
    from rules.loader import RulesInvalid
    from trygg.replay import read_events
    from trygg.replay import replay as run

    start, end = _aware(from_, "--from"), _aware(to, "--to")
    try:
        pack = load_pack(rules or [])
    except RulesInvalid as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(1) from exc
    try:
        with events_file.open(encoding="utf-8") as fh:
            events, bad = read_events(fh)
    except OSError as exc:
        err.print(f"[red]cannot read {escape(str(events_file))}:[/] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    for b in bad:
        typer.echo(f"{events_file}:{b.number}: {b.reason}", err=True)
    placements = _placements(data_dir)
    lines = run(events, pack, placements, start=start, end=end)
    for line in lines:
        typer.echo(str(line))
    raised = sum(1 for x in lines if x.what == "raised")
    typer.echo(f"{len(events)} events, {raised} alerts raised, {len(bad)} bad lines", err=True)
    if bad:
        raise typer.Exit(2)


def _placements(data_dir: Path | None) -> list:  # type: ignore[type-arg]
    if data_dir is None:
        from simulators.scenario import load_scenario

        return load_scenario("night-unit").placements()
    from hub.settings import HubSettings
    from hub.store.sqlite import SqliteStore

    db = HubSettings(data_dir=data_dir).db_path
    if not db.exists():
        err.print(f"[red]no hub database in {escape(str(data_dir))}[/]")
        raise typer.Exit(2)
    store = SqliteStore(db)
    try:
        return list(store.placements())
    finally:
        store.close()


def bench_rules(
    residents: Annotated[int, typer.Option(help="residents on the site")] = 1000,
    events: Annotated[int, typer.Option(help="events through the engine")] = 300_000,
    output: Annotated[
        Path | None,
        typer.Option(help="write the result section into this markdown file (docs/benchmarks.md)"),
    ] = None,
) -> None:
    """Events/s through the pure rule engine (default pack) and its state per resident."""
    from trygg.bench_rules import run_rules_bench, write_markdown

    result = run_rules_bench(residents=residents, events=events)
    for name, value in result.rows():
        typer.echo(f"{name:<40} {value}")
    if output is not None:
        write_markdown(output, result, " ".join(["trygg", "bench", "rules", *sys.argv[3:]]))
