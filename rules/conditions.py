"""Conditions: ``all``/``any``/``not`` over the event kind, device tags and typed ``data``.

A condition is a mapping; its keys are combined with *and*::

    {kind: door.opened, data: {door: exit}}
    {kind: [alarm.button, fall.detected]}
    {kind: device.battery_low, data: {battery_pct: {lt: 10}}}
    {all: [...]}  {any: [...]}  {not: {...}}  {tags: [dementia]}

Each ``data`` field is checked against the data models of every kind the
condition can match: a field one of them lacks, a value of the wrong type or
outside a ``Literal`` fails at load, never at run time.
"""

from __future__ import annotations

import operator
import types
import typing
from collections.abc import Callable
from typing import Any, Literal

from devices.events import DATA_MODELS, KINDS, EventBase
from devices.registry import Placement
from devices.tags import tag_problem
from rules.model import Predicate

Path_ = tuple[str | int, ...]
KEYS = ("kind", "data", "tags", "all", "any", "not")
OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}
ORDERED = {"lt", "le", "gt", "ge"}


class ConditionError(ValueError):
    def __init__(self, problems: list[tuple[Path_, str]]) -> None:
        super().__init__("; ".join(r for _, r in problems))
        self.problems = problems


def data_fields(kinds: frozenset[str]) -> set[str]:
    """Fields every one of ``kinds`` has in its ``data``."""
    sets = [set(DATA_MODELS[k].model_fields) for k in kinds if k in DATA_MODELS]
    return set.intersection(*sets) if sets else set()


def _field_type(kind: str, name: str) -> tuple[str, tuple[Any, ...]]:
    """('bool'|'number'|'str'|'enum', literal values) of one data field."""
    annotation: Any = DATA_MODELS[kind].model_fields[name].annotation
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = next(a for a in args if a is not type(None))
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) is Literal:
        return "enum", typing.get_args(annotation)
    if annotation is bool:
        return "bool", ()
    if annotation in (int, float):
        return "number", ()
    return "str", ()


def _check_value(kinds: frozenset[str], name: str, op: str, value: Any) -> str | None:
    for kind in sorted(kinds):
        typ, allowed = _field_type(kind, name)
        if op in ORDERED and typ != "number":
            return f"data.{name} of {kind} is not a number: '{op}' does not apply"
        if typ == "number" and (isinstance(value, bool) or not isinstance(value, int | float)):
            return f"data.{name} of {kind} is a number, got {value!r}"
        if typ == "bool" and not isinstance(value, bool):
            return f"data.{name} of {kind} is true or false, got {value!r}"
        if typ == "str" and not isinstance(value, str):
            return f"data.{name} of {kind} is text, got {value!r}"
        if typ == "enum" and value not in allowed:
            return f"data.{name} of {kind} is one of {', '.join(map(str, allowed))}, got {value!r}"
    return None


def compile_condition(raw: Any, *, require_kind: bool) -> tuple[frozenset[str], Predicate]:
    """(kinds it can match, predicate). ``require_kind``: the top level must name kinds."""
    problems: list[tuple[Path_, str]] = []
    kinds, pred = _compile(raw, (), frozenset(KINDS), problems)
    if require_kind and kinds == KINDS:
        problems.append(((), "a trigger condition must name its event 'kind' (the rule index)"))
    if problems:
        raise ConditionError(problems)
    return kinds, pred


def _compile(
    raw: Any, at: Path_, kinds: frozenset[str], problems: list[tuple[Path_, str]]
) -> tuple[frozenset[str], Predicate]:
    if not isinstance(raw, dict) or not raw:
        problems.append((at, f"a condition is a mapping with {', '.join(KEYS)}"))
        return kinds, _never
    parts: list[Predicate] = []
    for key in raw:
        if key not in KEYS:
            problems.append(((*at, key), f"unknown condition (expected one of {', '.join(KEYS)})"))
    if "kind" in raw:
        names = raw["kind"] if isinstance(raw["kind"], list) else [raw["kind"]]
        bad = [n for n in names if n not in KINDS]
        for n in bad:
            problems.append(((*at, "kind"), f"unknown event kind {n!r}"))
        chosen = frozenset(n for n in names if n in KINDS)
        kinds = kinds & chosen
        if len(chosen) == 1:
            only = next(iter(chosen))
            parts.append(lambda e, p: e.kind == only)
        else:
            parts.append(lambda e, p: e.kind in chosen)
    if "data" in raw:
        parts += _data(raw["data"], (*at, "data"), kinds, problems)
    if "tags" in raw:
        tags = raw["tags"]
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            problems.append(((*at, "tags"), "expected a list of device tags"))
        elif bad := [p for t in tags if (p := tag_problem(t))]:
            problems.append(((*at, "tags"), "; ".join(bad) + " (it could never match)"))
        else:
            wanted = frozenset(tags)
            parts.append(lambda e, p: p is not None and not wanted.isdisjoint(p.tags))
    for key in ("all", "any"):
        if key in raw:
            items = raw[key]
            if not isinstance(items, list) or not items:
                problems.append(((*at, key), "expected a non-empty list of conditions"))
                continue
            subs = [_compile(c, (*at, key, i), kinds, problems) for i, c in enumerate(items)]
            preds = tuple(s[1] for s in subs)
            if key == "all":
                for sub_kinds, _ in subs:
                    kinds = kinds & sub_kinds
                parts.append(_all(preds))
            else:
                kinds = kinds & frozenset().union(*(s[0] for s in subs))
                parts.append(_any(preds))
    if "not" in raw:
        _, inner = _compile(raw["not"], (*at, "not"), kinds, problems)
        parts.append(lambda e, p: not inner(e, p))
    if len(parts) == 1:
        return kinds, parts[0]
    both = tuple(parts)
    return kinds, lambda e, p: all(q(e, p) for q in both)


def _data(
    raw: Any, at: Path_, kinds: frozenset[str], problems: list[tuple[Path_, str]]
) -> list[Predicate]:
    if not isinstance(raw, dict) or not raw:
        problems.append((at, "expected a mapping of data fields to values"))
        return []
    if kinds == KINDS:
        problems.append((at, "name the 'kind' before testing its data"))
        return []
    known = data_fields(kinds)
    out: list[Predicate] = []
    for name, test in raw.items():
        if name not in known:
            problems.append(
                (
                    (*at, name),
                    f"no data field {name!r} on {', '.join(sorted(kinds))}"
                    f" (fields: {', '.join(sorted(known)) or 'none'})",
                )
            )
            continue
        tests = test if isinstance(test, dict) else {"in" if isinstance(test, list) else "eq": test}
        for op, value in tests.items():
            values = value if op == "in" else [value]
            if op != "in" and op not in OPS:
                problems.append(
                    ((*at, name, op), f"unknown operator (known: in, {', '.join(OPS)})")
                )
                continue
            if op == "in" and (not isinstance(value, list) or not value):
                problems.append(((*at, name, op), "expected a non-empty list"))
                continue
            reason = next(
                (r for v in values if (r := _check_value(kinds, name, op, v)) is not None), None
            )
            if reason is not None:
                problems.append(((*at, name), reason))
                continue
            out.append(_field_test(name, op, value))
    return out


def _field_test(name: str, op: str, value: Any) -> Predicate:
    if op == "in":
        allowed = frozenset(value)
        return lambda e, p: getattr(e.data, name) in allowed
    fn = OPS[op]
    if op in ORDERED:
        # A missing optional reading (None) never satisfies a comparison.
        def ordered(e: EventBase, p: Placement | None) -> bool:
            v = getattr(e.data, name)
            return v is not None and fn(v, value)

        return ordered
    return lambda e, p: fn(getattr(e.data, name), value)


def _all(preds: tuple[Predicate, ...]) -> Predicate:
    return lambda e, p: all(q(e, p) for q in preds)


def _any(preds: tuple[Predicate, ...]) -> Predicate:
    return lambda e, p: any(q(e, p) for q in preds)


def _never(e: EventBase, p: Placement | None) -> bool:
    return False
