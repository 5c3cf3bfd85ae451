"""``trygg demo``: an embedded broker, a hub on SQLite, the API, and one night played.

Demo mode only: the staff accounts have the password ``demo``.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from devices.events import EventBase
from hub.alerts import Alert, AlertState
from hub.feed import AlertFeed
from hub.settings import HubSettings
from simulators.player import play
from simulators.scenario import PlannedEvent, Scenario, load_scenario
from trygg.broker import embedded_broker
from trygg.runtime import open_store, running_hub
from trygg.seed import seed_demo_accounts, seed_registry
from trygg.seed_consent import seed_demo_bases
from trygg.seed_residents import seed_demo_resident_accounts
from trygg.seed_routing import seed_demo_roster

STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan"}


class NightClock:
    """The scenario's local time of the last event played, to label what is printed."""

    def __init__(self) -> None:
        self.label = "--:--"

    def played(self, planned: PlannedEvent, event: EventBase) -> None:
        self.label = f"{planned.at:%H:%M}"


def _alert_line(alert: Alert, clock: NightClock) -> str:
    colour = STYLE.get(str(alert.priority), "")
    where = alert.apartment or alert.unit or alert.site
    if len(alert.event_ids) > 1:
        # Joined an alert that is still open (a second press, or the last demo run's).
        where = f"{where}, still open, {len(alert.event_ids)} events"
    return (
        f"{clock.label} [{colour}]{alert.priority.upper():8}[/] {alert.category:9} {alert.message}"
        f"  [dim]({where}, alert {alert.id})[/]"
    )


async def _print_alerts(feed: AlertFeed, console: Console, clock: NightClock) -> None:
    async with feed.subscribe() as queue:
        while True:
            alert = await queue.get()
            if alert is not None and alert.state is AlertState.NOTIFIED:
                console.print(_alert_line(alert, clock))
            elif alert is not None and not alert.is_open:
                console.print(
                    f"[green]{alert.state:9}[/] {alert.message} [dim](by {alert.accepted_by})[/]"
                )


async def run_demo(
    *,
    data_dir: Path,
    http_port: int,
    mqtt_port: int,
    speed: float,
    duration: float | None,
    simulate: bool,
    stop: asyncio.Event,
    console: Console,
) -> None:
    scenario = load_scenario("night-unit")
    settings = HubSettings(
        demo=True,
        data_dir=data_dir,
        http_port=http_port,
        mqtt_port=mqtt_port,
        mqtt_protocol=4,  # amqtt speaks MQTT 3.1.1
        mqtt_client_id="trygg-hub-demo",
    )
    store = open_store(settings)
    seed_registry(store, scenario)
    seed_demo_bases(store, scenario, datetime.now(UTC))
    accounts = seed_demo_accounts(store, scenario)
    residents = seed_demo_resident_accounts(store, scenario)
    on_duty = seed_demo_roster(store, scenario, datetime.now(UTC))
    async with embedded_broker("127.0.0.1", mqtt_port), running_hub(settings, store, stop) as run:
        base = f"http://127.0.0.1:{http_port}"
        console.print(
            f"[bold]Trygg demo[/]: API {base}/docs, metrics {base}/metrics, broker 127.0.0.1:{mqtt_port}"
        )
        console.print(f"Accounts (password [bold]demo[/]): {', '.join(accounts)}. Ctrl-C stops.")
        console.print(f"Alarm board: {base}/board/  (on duty now: {', '.join(on_duty)})")
        console.print(f"Resident's own page: {base}/resident/  ({', '.join(residents)}, password demo)")
        console.print(
            f'Accept an alert: TOKEN=$(curl -s -d "username=nattevakt&password=demo" {base}/api/v1/auth/token'
            " | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])'); "
            f'curl -X POST -H "Authorization: Bearer $TOKEN" {base}/api/v1/alerts/ALERT_ID/accept'
        )
        clock = NightClock()
        tasks = [asyncio.create_task(_print_alerts(run.hub.feed, console, clock))]
        if simulate:
            console.print(
                f"Playing [bold]{scenario.name}[/] at {speed:g}x: one night, 22:00-07:00 Europe/Oslo"
            )
            tasks.append(
                asyncio.create_task(_play(scenario, mqtt_port, speed, stop, console, clock))
            )
        try:
            await asyncio.wait_for(stop.wait(), duration)
        except TimeoutError:
            pass
        finally:
            for task in tasks:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*tasks, return_exceptions=True)
    store.close()
    console.print("[bold]Trygg demo stopped.[/]")


async def _play(
    scenario: Scenario,
    mqtt_port: int,
    speed: float,
    stop: asyncio.Event,
    console: Console,
    clock: NightClock,
) -> None:
    result = await play(
        scenario,
        "127.0.0.1",
        mqtt_port,
        speed=speed,
        on_event=clock.played,
        stop=stop,
        progress=False,
        client_id="trygg-demo-sim",
    )
    if stop.is_set():
        console.print(f"Simulation stopped after {result.published} events.")
    else:
        console.print(
            f"Night played: {result.published} events published. The API stays up until Ctrl-C."
        )
