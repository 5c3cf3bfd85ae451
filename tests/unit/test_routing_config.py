"""Routing files: the example loads; every problem is reported with its line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from hub.routing import policy
from hub.routing.config import RoutingInvalid, parse_routing
from hub.routing.policy import Target
from rules.decisions import Category, Priority

EXAMPLE = Path(__file__).parents[2] / "deploy" / "routing.example.yaml"


def test_the_example_loads_and_routes() -> None:
    policies = parse_routing(EXAMPLE.read_text(), str(EXAMPLE))
    assert len(policies) == 4
    crit = policy.choose(policies, "solsikken", "unit-a", Category.RESIDENT, Priority.CRITICAL)
    assert crit is not None and crit.renotify == timedelta(seconds=20)
    assert [s.target for s in crit.steps] == [
        Target.PRIMARY,
        Target.UNIT,
        Target.SITE,
        Target.RESPONSE_CENTRE,
    ]
    assert crit.steps[-1].channels == ("webhook",) and crit.steps[0].channels == ("mqtt",)
    # unit-b's own chain is more specific than the site's for high...
    high = policy.choose(policies, "solsikken", "unit-b", Category.RESIDENT, Priority.HIGH)
    assert high is not None and len(high.steps) == 3
    # ...and for critical the two tie on specificity: the earlier one wins.
    tie = policy.choose(policies, "solsikken", "unit-b", Category.RESIDENT, Priority.CRITICAL)
    assert tie is crit
    # Elsewhere the built-in chains apply.
    other = policy.choose(policies, "elsewhere", "u", Category.RESIDENT, Priority.CRITICAL)
    assert other is policy.DEFAULTS[1].chain
    gap = policy.choose(
        policies, "x", None, Category.COLLEAGUE, Priority.CRITICAL, "roster.nobody_on_duty"
    )
    assert gap is not None and gap.renotify == timedelta(minutes=3)


BAD = """\
version: 2
chains:
  a:
    renotify: soon
    steps:
      - {target: primary, timeout: 60s, channels: [pager]}
      - {target: response_centre, timeout: 2m, channels: [mqtt]}
      - {target: nobody, timeout: 0s}
  b:
    steps: []
    colour: red
policies:
  - {chain: a, category: technical}
  - {chain: missing, priority: urgent, unit: 7}
  - {site: x}
"""


def test_every_problem_with_its_line() -> None:
    with pytest.raises(RoutingInvalid) as info:
        parse_routing(BAD, "r.yaml")
    got = [(p.line, p.path) for p in info.value.problems]
    assert got == [
        (1, "version"),
        (4, "chains.a.renotify"),
        (6, "chains.a.steps[0].channels[0]"),
        (7, "chains.a.steps[1].channels[0]"),
        (8, "chains.a.steps[2].target"),
        (8, "chains.a.steps[2].timeout"),
        (11, "chains.b.colour"),
        (10, "chains.b.renotify"),
        (10, "chains.b.steps"),
        (13, "policies[0].category"),
        (14, "policies[1].chain"),
        (14, "policies[1].priority"),
        (14, "policies[1].unit"),
        (15, "policies[2].chain"),
    ]
    text = str(info.value)
    assert "r.yaml:6: chains.a.steps[0].channels[0]: unknown channel 'pager'" in text
    assert "r.yaml:7: chains.a.steps[1].channels[0]: mqtt reaches staff handhelds" in text
    assert "no chain named 'missing' (chains: a, b)" in text


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("chains: [\n", 2, "not valid YAML"),
        ("- 1\n", 1, "a routing file is a YAML mapping"),
        ("chains: {}\nchains: {}\n", 2, "duplicate key"),
        ("policies: {a: 1}\n", 1, "expected a list of policies"),
        ("chains: {a: 3}\n", 1, "a chain is a mapping"),
        ("chains: {a: {renotify: 1m, steps: [3]}}\n", 1, "a step is a mapping"),
        ("chains: {a: {renotify: 1m, steps: [{target: unit}]}}\n", 1, "missing: a duration"),
        ("oops: 1\n", 1, "unknown key"),
    ],
)
def test_single_problems(text: str, line: int, reason: str) -> None:
    with pytest.raises(RoutingInvalid) as info:
        parse_routing(text, "f.yaml")
    (problem,) = info.value.problems
    assert problem.line == line and reason in problem.reason


def test_an_empty_file_is_the_built_ins() -> None:
    assert parse_routing("version: 1\n", "f.yaml") == ()


async def test_the_hub_routes_by_the_file_in_trygg_routing(tmp_path: Path) -> None:
    import asyncio

    from hub.channels.setup import RoutingSettings, start_routing
    from hub.service import Hub
    from hub.store.memory import MemoryStore

    store = MemoryStore()
    store.migrate()
    hub = Hub(store)
    await hub.start()
    stop = asyncio.Event()
    args = {"mqtt_host": "127.0.0.1", "mqtt_port": 9, "client_id": "t-routing-config"}
    bad = tmp_path / "bad.yaml"
    bad.write_text("chains: {a: {renotify: 1m}}\n")
    with pytest.raises(RoutingInvalid, match=r"bad\.yaml:1: chains\.a\.steps"):
        await start_routing(hub, stop, settings=RoutingSettings(routing=bad), **args)
    running = await start_routing(hub, stop, settings=RoutingSettings(routing=EXAMPLE), **args)
    assert len(running.router.policies) == 4
    stop.set()
    await running.stop()
    await hub.stop()
