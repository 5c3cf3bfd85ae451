"""``trygg sim ...``: play, verify and check scenarios, and generate load.

| command                                  | what                                                |
|------------------------------------------|-----------------------------------------------------|
| ``sim scenario NAME``                    | publish a scenario's events to a broker              |
| ``sim verify NAME --broker --api``       | play against a running hub, compare its alerts      |
| ``sim check NAME``                       | same, against an in-process hub at simulated time   |
| ``sim list``                             | the shipped scenarios                               |
| ``sim load --gateways --devices-per-gateway --rate`` | realistic load, sent/acknowledged per s |
| ``sim faults NAME --broker ...``         | publish a scenario with seeded wire faults          |
"""

from __future__ import annotations

import asyncio
import math
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from simulators.verify import Report

sim_app = typer.Typer(help="Sensor simulators.", no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True)

Speed = Annotated[float, typer.Option(help="scenario time per real time; 0 = as fast as possible")]


def _load(name: str):  # type: ignore[no-untyped-def]
    from simulators.scenario import ScenarioError, load_scenario

    try:
        return load_scenario(name)
    except ScenarioError as exc:
        err.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(2) from exc


def report_table(report: Report, title: str, zone: ZoneInfo) -> Table:
    """Expected vs. raised alerts: matched, missing and unexpected, in time order (UTC
    order, shown on the scenario's wall clock)."""
    table = Table(title=title, title_justify="left")
    for col in ("result", "when", "device", "category", "priority", "rule (expected)", "raised"):
        table.add_column(col, overflow="fold")
    rows: list[tuple[datetime, tuple[str, ...]]] = []

    def when(at: datetime) -> str:
        return f"{at.astimezone(zone):%a %H:%M:%S %Z}"

    for m in report.matched:
        e = m.due.expected
        rule = m.raised.rule if m.rule_ok else f"[yellow]{m.raised.rule}[/] ({e.rule})"
        rows.append(
            (
                m.due.at,
                (
                    "[green]matched[/]",
                    when(m.due.at),
                    e.device,
                    e.category,
                    e.priority,
                    rule,
                    f"{m.delta_s:+.0f} s",
                ),
            )
        )
    for d in report.missing:
        e = d.expected
        rows.append(
            (
                d.at,
                (
                    "[red]missing[/]",
                    when(d.at),
                    e.device,
                    e.category,
                    e.priority,
                    f"({e.rule or '-'})",
                    "-",
                ),
            )
        )
    for r in report.unexpected:
        rows.append(
            (
                r.at,
                (
                    "[red]unexpected[/]",
                    when(r.at),
                    r.device,
                    r.category,
                    r.priority,
                    r.rule,
                    r.id,
                ),
            )
        )
    for _, cells in sorted(rows, key=lambda row: row[0]):
        table.add_row(*cells)
    return table


def _summary(report: Report) -> str:
    line = (
        f"{len(report.matched)} matched, {len(report.missing)} missing, "
        f"{len(report.unexpected)} unexpected"
    )
    if report.rule_mismatches:
        line += f" ({len(report.rule_mismatches)} matched under another rule id)"
    return line


@sim_app.command("list")
def sim_list() -> None:
    """The shipped scenarios."""
    from simulators.scenario import load_scenario, scenario_names

    for name in scenario_names():
        s = load_scenario(name)
        typer.echo(f"{name:16} {s.days} day(s)  {s.description[:90]}")


@sim_app.command("scenario")
def sim_scenario(
    name: Annotated[str, typer.Argument(help="scenario name (night-unit) or YAML file")],
    broker: Annotated[str, typer.Option(help="HOST:PORT")] = "127.0.0.1:1883",
    speed: Speed = 60.0,
    stamp: Annotated[
        str, typer.Option(help="live: events carry the wall clock; scenario: the planned time")
    ] = "live",
    username: Annotated[str | None, typer.Option(envvar="TRYGG_SIM_USERNAME")] = None,
    password: Annotated[str | None, typer.Option(envvar="TRYGG_SIM_PASSWORD")] = None,
) -> None:
    """Publish a scripted scenario's canonical events to a broker."""
    from devices.events import EventBase
    from simulators.player import play
    from simulators.scenario import PlannedEvent
    from trygg.cli import _run, parse_broker

    if stamp not in ("live", "scenario"):
        raise typer.BadParameter("--stamp is live or scenario")
    host, port = parse_broker(broker)
    scenario = _load(name)
    console = Console()

    def show(planned: PlannedEvent, event: EventBase) -> None:
        console.print(f"{planned.at:%H:%M:%S} {event.kind:20} {event.device}")

    async def main(stop: asyncio.Event) -> None:
        result = await play(
            scenario,
            host,
            port,
            speed=speed,
            stamp=stamp,  # type: ignore[arg-type]
            on_event=show,
            username=username,
            password=password,
            stop=stop,
            progress=False,
        )
        console.print(f"published {result.published} events")

    _run(main)


@sim_app.command("verify")
def sim_verify(
    name: Annotated[str, typer.Argument(help="scenario name or YAML file")],
    broker: Annotated[str, typer.Option(help="HOST:PORT of the hub's broker")],
    api: Annotated[str, typer.Option(help="base URL of the hub, e.g. http://127.0.0.1:8080")],
    speed: Speed = 60.0,
    user: Annotated[str, typer.Option(envvar="TRYGG_VERIFY_USER", help="API account")] = "admin",
    password: Annotated[
        str, typer.Option(envvar="TRYGG_VERIFY_PASSWORD", prompt=True, hide_input=True)
    ] = "",
    settle: Annotated[float, typer.Option(help="seconds to wait for the last alerts")] = 3.0,
    mqtt_username: Annotated[str | None, typer.Option(envvar="TRYGG_SIM_USERNAME")] = None,
    mqtt_password: Annotated[str | None, typer.Option(envvar="TRYGG_SIM_PASSWORD")] = None,
) -> None:
    """Play a scenario against a running hub; report expected vs. raised alerts.

    Exit status 0 when every expected alert was raised and nothing else, 1 on a
    mismatch, 2 when the scenario, broker or API could not be used."""
    from simulators import SimulatorError
    from simulators.remote import verify_remote
    from trygg.cli import _run, parse_broker

    host, port = parse_broker(broker)
    scenario = _load(name)
    if speed < 0 or math.isnan(speed):
        raise typer.BadParameter("--speed must be >= 0")
    outcome: list[Report] = []

    async def main(stop: asyncio.Event) -> None:
        run = await verify_remote(
            scenario,
            host,
            port,
            api.rstrip("/"),
            username=user,
            password=password,
            speed=speed if speed > 0 else math.inf,
            settle_s=settle,
            mqtt_username=mqtt_username,
            mqtt_password=mqtt_password,
            progress=True,
            stop=stop,
        )
        console = Console(soft_wrap=True)
        title = f"{scenario.name}, night of {run.night_of}: {run.play.published} events"
        console.print(report_table(run.report, title, scenario.zone))
        console.print(_summary(run.report))
        outcome.append(run.report)

    try:
        _run(main)
    except SimulatorError as exc:
        err.print(f"[red]sim verify failed:[/] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    if not outcome or not outcome[0].ok:
        raise typer.Exit(1)


@sim_app.command("check")
def sim_check(
    name: Annotated[str, typer.Argument(help="scenario name or YAML file")],
) -> None:
    """Play a scenario into an in-process hub at simulated time (no broker, seconds for a
    week) and report expected vs. raised alerts; exit 1 on a mismatch."""
    from trygg.sim_inprocess import run_in_process

    scenario = _load(name)
    run = asyncio.run(run_in_process(scenario))
    console = Console(soft_wrap=True)
    title = f"{scenario.name}, night of {run.night_of}: {run.events} events, simulated clock"
    console.print(report_table(run.report, title, scenario.zone))
    console.print(_summary(run.report))
    if not run.report.ok:
        raise typer.Exit(1)


@sim_app.command("load")
def sim_load(
    gateways: Annotated[int, typer.Option(help="simulated gateways")] = 10,
    devices_per_gateway: Annotated[int, typer.Option(help="devices on each gateway")] = 20,
    rate: Annotated[float, typer.Option(help="events/s in total")] = 1000.0,
    duration: Annotated[float, typer.Option(help="seconds to send")] = 10.0,
    broker: Annotated[str, typer.Option(help="HOST:PORT")] = "127.0.0.1:1883",
    site: Annotated[str, typer.Option(help="site id in the topics")] = "load-site",
    processes: Annotated[int, typer.Option(help="publishing processes")] = 1,
    seed: Annotated[int, typer.Option()] = 1,
    progress: Annotated[bool, typer.Option(help="draw a progress bar")] = True,
) -> None:
    """Realistic load (heartbeats, motion, doors, GPS) at --rate; sent/acknowledged per s."""
    from simulators.load import LoadError, LoadSpec, run_load
    from trygg.cli import parse_broker

    host, port = parse_broker(broker)
    try:
        spec = LoadSpec(
            gateways=gateways,
            devices_per_gateway=devices_per_gateway,
            rate=rate,
            duration_s=duration,
            site=site,
            seed=seed,
            processes=processes,
            host=host,
            port=port,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    try:
        result = _load_with_bar(spec, run_load) if progress else run_load(spec)
    except LoadError as exc:
        err.print(f"[red]sim load failed:[/] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    typer.echo(
        f"sent {result.sent} ({result.sent_per_s:,.0f}/s), acknowledged {result.acked} "
        f"({result.acked_per_s:,.0f}/s) in {result.elapsed_s:g} s, "
        f"{gateways} gateways x {devices_per_gateway} devices, {processes} process(es)"
    )
    if result.acked < result.sent:
        raise typer.Exit(1)


def _load_with_bar(spec, run_load):  # type: ignore[no-untyped-def]
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("load"),
        BarColumn(),
        TextColumn("{task.fields[sent]:>9,} sent {task.fields[sps]:>8,.0f}/s"),
        TextColumn("{task.fields[acked]:>9,} acked {task.fields[aps]:>8,.0f}/s"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err) as bar:
        task = bar.add_task("load", total=spec.duration_s, sent=0, acked=0, sps=0.0, aps=0.0)
        last = [0.0, 0, 0]

        def tick(elapsed: float, sent: int, acked: int) -> None:
            dt = max(elapsed - last[0], 1e-6)
            if dt >= 0.5:
                sps, aps = (sent - last[1]) / dt, (acked - last[2]) / dt
                last[:] = [elapsed, sent, acked]
                bar.update(task, sps=sps, aps=aps)
            bar.update(task, completed=min(elapsed, spec.duration_s), sent=sent, acked=acked)

        return run_load(spec, on_tick=tick)


@sim_app.command("faults")
def sim_faults(
    name: Annotated[str, typer.Argument(help="scenario name or YAML file")],
    broker: Annotated[str, typer.Option(help="HOST:PORT")] = "127.0.0.1:1883",
    seed: Annotated[int, typer.Option(help="fault seed: same seed, same faults")] = 1,
    duplicate: Annotated[float, typer.Option(help="share of events sent twice")] = 0.0,
    reorder: Annotated[int, typer.Option(help="shuffle inside windows of this many")] = 0,
    malformed: Annotated[float, typer.Option(help="broken payloads per valid event")] = 0.0,
    oversized: Annotated[float, typer.Option(help="payloads over 16 KiB per valid event")] = 0.0,
    skew: Annotated[
        list[str] | None, typer.Option(help="GATEWAY=SECONDS: that gateway's clock is off")
    ] = None,
    drops: Annotated[int, typer.Option(help="uplink drops (reconnects)")] = 0,
    username: Annotated[str | None, typer.Option(envvar="TRYGG_SIM_USERNAME")] = None,
    password: Annotated[str | None, typer.Option(envvar="TRYGG_SIM_PASSWORD")] = None,
) -> None:
    """Publish a scenario as fast as the broker takes it, with seeded wire faults."""
    from simulators import SimulatorError
    from simulators.fault_player import play_with_faults
    from simulators.faults import FaultSpec
    from trygg.cli import _run, parse_broker

    host, port = parse_broker(broker)
    skews: list[tuple[str, float]] = []
    for item in skew or []:
        gateway, sep, seconds = item.partition("=")
        try:
            skews.append((gateway, float(seconds)))
        except ValueError:
            sep = ""
        if not sep or not gateway:
            raise typer.BadParameter(f"--skew expects GATEWAY=SECONDS, got {item!r}")
    spec = FaultSpec(
        seed=seed,
        duplicate=duplicate,
        reorder=reorder,
        malformed=malformed,
        oversized=oversized,
        skew=tuple(skews),
        drops=drops,
    )
    scenario = _load(name)

    async def main(stop: asyncio.Event) -> None:
        run = await play_with_faults(
            scenario, host, port, spec, username=username, password=password, stop=stop
        )
        faults = ", ".join(f"{k} {v}" for k, v in sorted(run.by_fault.items()) if k != "none")
        typer.echo(
            f"published {run.published} messages for {run.valid_events} valid events, "
            f"{run.reconnects} reconnects; faults: {faults or 'none'}"
        )

    try:
        _run(main)
    except SimulatorError as exc:
        err.print(f"[red]sim faults failed:[/] {escape(str(exc))}")
        raise typer.Exit(2) from exc
