"""Routing policy from a YAML file: escalation chains, and which alerts follow them.

Pure: it takes text (the shell reads ``TRYGG_ROUTING``). Every problem is
reported, each with file, line and reason, so ``trygg routing check`` can show
them all at once and a hub never starts on a half-understood policy. What no
policy in the file matches follows the built-in chains (``policy.DEFAULTS``).

    version: 1
    chains:
      night-critical:
        renotify: 30s
        steps:
          - {target: primary, timeout: 60s}
          - {target: unit, timeout: 60s}
          - {target: site, timeout: 90s}
          - {target: response_centre, timeout: 2m}
      left-zone:
        renotify: 2m
        steps:
          - {target: relatives, timeout: 10m, relative_can_hold: true}
          - {target: unit, timeout: 5m}
    policies:
      - {chain: night-critical, unit: unit-a, category: resident, priority: critical}

``docs/routing.md`` describes every key; ``deploy/routing.example.yaml`` is a
complete file.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, TypeVar

from devices.yamlsource import Path_, YamlSyntaxError, compose, dotted, duplicate_keys, line_of
from hub.routing.policy import Chain, Policy, Step, Target
from rules.decisions import Category, Priority
from rules.loader import Problem, parse_duration

E = TypeVar("E", Target, Category, Priority)
TOP_KEYS = {"version", "chains", "policies"}
CHAIN_KEYS = {"renotify", "steps"}
STEP_KEYS = {"target", "timeout", "channels", "relative_can_hold"}
POLICY_KEYS = {"chain", "site", "unit", "category", "priority", "kind"}
CHANNELS = {"mqtt", "webhook", "relatives"}
# Who each channel reaches: handhelds are staff; the webhook is the response centre;
# the relatives channel (a signed webhook to an SMS gateway) is relatives.
_REACHES = {"mqtt": "staff handhelds", "webhook": "the response centre", "relatives": "relatives"}
_DEFAULT_CHANNEL = {Target.RESPONSE_CENTRE: "webhook", Target.RELATIVES: "relatives"}


class RoutingInvalid(ValueError):
    """A routing file that does not load; ``str()`` is one ``file:line: path: reason`` a line."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


class _File:
    def __init__(self, source: str, root: Any) -> None:
        self.source, self.root = source, root
        self.problems: list[Problem] = []

    def bad(self, path: Path_, reason: str) -> None:
        self.problems.append(Problem(self.source, line_of(self.root, path), dotted(path), reason))

    def keys(self, value: Mapping[Any, Any], path: Path_, allowed: set[str]) -> None:
        for key in value:
            if key not in allowed:
                self.bad((*path, key), f"unknown key; expected one of {', '.join(sorted(allowed))}")


def parse_routing(text: str, source: str) -> tuple[Policy, ...]:
    """The policies of a routing file, in file order (earlier wins a tie);
    :class:`RoutingInvalid` with every problem otherwise."""
    try:
        raw, root = compose(text)
    except YamlSyntaxError as exc:
        raise RoutingInvalid([Problem(source, exc.line, "", exc.reason)]) from exc
    f = _File(source, root)
    for path, line in duplicate_keys(root):
        f.problems.append(Problem(source, line, path, "duplicate key"))
    if not isinstance(raw, dict):
        f.bad((), "a routing file is a YAML mapping with 'chains' and 'policies'")
        raise RoutingInvalid(f.problems)
    f.keys(raw, (), TOP_KEYS)
    if raw.get("version", 1) != 1:
        f.bad(("version",), f"only version 1 is known, got {raw.get('version')!r}")
    chains = _chains(f, raw.get("chains"))
    policies = _policies(f, raw.get("policies"), chains)
    if f.problems:
        raise RoutingInvalid(f.problems)
    return policies


def _chains(f: _File, value: Any) -> dict[str, Chain | None]:
    """Every chain by name; None for one that has problems (policies may still name it)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        f.bad(("chains",), "expected a mapping of chain names to chains")
        return {}
    return {str(name): _chain(f, ("chains", name), body) for name, body in value.items()}


def _chain(f: _File, path: Path_, body: Any) -> Chain | None:
    if not isinstance(body, dict):
        f.bad(path, "a chain is a mapping with 'steps' and 'renotify'")
        return None
    before = len(f.problems)
    f.keys(body, path, CHAIN_KEYS)
    renotify = _duration(f, (*path, "renotify"), body.get("renotify"))
    steps_raw = body.get("steps")
    steps: list[Step] = []
    if not isinstance(steps_raw, list) or not steps_raw:
        f.bad((*path, "steps"), "a chain needs a list of at least one step")
    else:
        for i, item in enumerate(steps_raw):
            step = _step(f, (*path, "steps", i), item)
            if step is not None:
                steps.append(step)
    if isinstance(steps_raw, list) and steps and steps[-1].target is Target.RELATIVES:
        f.bad((*path, "steps", len(steps_raw) - 1, "target"),
              "a chain must not end with relatives: staff come after them")  # fmt: skip
    if len(f.problems) > before or renotify is None:
        return None
    return Chain(tuple(steps), renotify)


def _step(f: _File, path: Path_, body: Any) -> Step | None:
    if not isinstance(body, dict):
        f.bad(path, "a step is a mapping with 'target' and 'timeout'")
        return None
    before = len(f.problems)
    f.keys(body, path, STEP_KEYS)
    target = _enum(f, (*path, "target"), body.get("target"), Target, required=True)
    timeout = _duration(f, (*path, "timeout"), body.get("timeout"))
    own = _DEFAULT_CHANNEL.get(target, "mqtt") if target is not None else None
    channels = body.get("channels", [own or "mqtt"])
    if (
        not isinstance(channels, list)
        or not channels
        or not all(isinstance(c, str) for c in channels)
    ):
        f.bad((*path, "channels"), f"expected a list of channels, got {channels!r}")
    else:
        for i, c in enumerate(channels):
            if c not in CHANNELS:
                known = ", ".join(sorted(CHANNELS))
                f.bad((*path, "channels", i), f"unknown channel {c!r}; known: {known}")
            elif own is not None and c != own:
                f.bad((*path, "channels", i), f"{c} reaches {_REACHES[c]}, not target {target}")
    hold = body.get("relative_can_hold", False)
    if not isinstance(hold, bool):
        f.bad((*path, "relative_can_hold"), f"expected true or false, got {hold!r}")
    elif hold and target is not None and target is not Target.RELATIVES:
        f.bad((*path, "relative_can_hold"), "only a relatives step can be held by a relative")
    if len(f.problems) > before or target is None or timeout is None:
        return None
    return Step(target, timeout, tuple(channels), relative_can_hold=hold)


def _policies(f: _File, value: Any, chains: Mapping[str, Chain | None]) -> tuple[Policy, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        f.bad(("policies",), "expected a list of policies")
        return ()
    out: list[Policy] = []
    for i, body in enumerate(value):
        path: Path_ = ("policies", i)
        if not isinstance(body, dict):
            f.bad(path, "a policy is a mapping with 'chain' and what it matches")
            continue
        f.keys(body, path, POLICY_KEYS)
        name = body.get("chain")
        chain = chains.get(str(name)) if name is not None else None
        if name is None:
            f.bad((*path, "chain"), "missing: the name of a chain under 'chains'")
        elif str(name) not in chains:
            known = ", ".join(sorted(chains)) or "none defined"
            f.bad((*path, "chain"), f"no chain named {name!r} (chains: {known})")
        category = _enum(f, (*path, "category"), body.get("category"), Category)
        if category is Category.TECHNICAL:
            f.bad((*path, "category"), "technical alerts go to the tekniker, never to a chain")
        priority = _enum(f, (*path, "priority"), body.get("priority"), Priority)
        where = {k: body.get(k) for k in ("site", "unit", "kind")}
        for key, v in where.items():
            if v is not None and (not isinstance(v, str) or not v):
                f.bad((*path, key), f"expected a non-empty string, got {v!r}")
        if chain is not None:
            out.append(Policy(chain, category=category, priority=priority, **where))
    return tuple(out)


def _duration(f: _File, path: Path_, value: Any) -> timedelta | None:
    if value is None:
        f.bad(path, "missing: a duration like '60s' or '2m'")
        return None
    try:
        return timedelta(seconds=parse_duration(value))
    except ValueError as exc:
        f.bad(path, str(exc))
        return None


def _enum(f: _File, path: Path_, value: Any, enum: type[E], *, required: bool = False) -> E | None:
    if value is None:
        if required:
            f.bad(path, f"missing: one of {', '.join(e.value for e in enum)}")
        return None
    try:
        return enum(value)
    except ValueError:
        f.bad(
            path,
            f"unknown {path[-1]} {value!r}; expected one of {', '.join(e.value for e in enum)}",
        )
        return None
