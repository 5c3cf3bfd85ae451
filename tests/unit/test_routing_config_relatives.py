"""The relatives step in a routing file: it loads, and every misuse names its line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from hub.routing import policy
from hub.routing.config import RoutingInvalid, parse_routing
from hub.routing.policy import Target
from rules.decisions import Category, Priority

EXAMPLE = Path(__file__).parents[2] / "deploy" / "routing.example.yaml"


def test_the_example_sends_home_care_left_zone_to_the_daughter_first() -> None:
    policies = parse_routing(EXAMPLE.read_text(), str(EXAMPLE))
    chain = policy.choose(policies, "johs-home", "home-sentrum", Category.RESIDENT,
                          Priority.HIGH, "geofence.exit")  # fmt: skip
    assert chain is not None
    first = chain.steps[0]
    assert (first.target, first.timeout, first.channels, first.relative_can_hold) == (
        Target.RELATIVES, timedelta(minutes=10), ("relatives",), True,
    )  # fmt: skip
    assert chain.steps[1].target is Target.UNIT
    other = policy.choose(policies, "johs-home", "home-sentrum", Category.RESIDENT,
                          Priority.HIGH, "door.opened")  # fmt: skip
    assert other is not None and other.steps[0].target is not Target.RELATIVES


def load(steps: str) -> tuple[policy.Policy, ...]:
    text = f"""version: 1
chains:
  c:
    renotify: 1m
    steps:
{steps}
policies:
  - {{chain: c, kind: geofence.exit}}
"""
    return parse_routing(text, "r.yaml")


def test_a_relatives_step_defaults_to_the_relatives_channel_and_no_hold() -> None:
    (p,) = load("      - {target: relatives, timeout: 10m}\n      - {target: unit, timeout: 1m}")
    assert p.chain.steps[0].channels == ("relatives",)
    assert p.chain.steps[0].relative_can_hold is False


@pytest.mark.parametrize(
    ("steps", "problem"),
    [
        ("      - {target: unit, timeout: 1m}\n      - {target: relatives, timeout: 10m}",
         "r.yaml:7: chains.c.steps[1].target: a chain must not end with relatives"),
        ("      - {target: relatives, timeout: 10m, channels: [mqtt]}\n"
         "      - {target: unit, timeout: 1m}",
         "r.yaml:6: chains.c.steps[0].channels[0]: mqtt reaches staff handhelds, not target"
         " relatives"),
        ("      - {target: unit, timeout: 1m, channels: [relatives]}\n"
         "      - {target: site, timeout: 1m}",
         "r.yaml:6: chains.c.steps[0].channels[0]: relatives reaches relatives, not target unit"),
        ("      - {target: unit, timeout: 1m, relative_can_hold: true}",
         "r.yaml:6: chains.c.steps[0].relative_can_hold: only a relatives step can be held"),
        ("      - {target: relatives, timeout: 1m, relative_can_hold: yes please}\n"
         "      - {target: unit, timeout: 1m}",
         "r.yaml:6: chains.c.steps[0].relative_can_hold: expected true or false"),
        ("      - {target: relative, timeout: 1m}",
         "r.yaml:6: chains.c.steps[0].target: unknown target 'relative'"),
    ],
)  # fmt: skip
def test_misuse_is_reported_with_file_and_line(steps: str, problem: str) -> None:
    with pytest.raises(RoutingInvalid) as info:
        load(steps)
    assert any(str(p).startswith(problem) for p in info.value.problems), str(info.value)
