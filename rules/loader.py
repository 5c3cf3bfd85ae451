"""Rule files: YAML in, a checked :class:`RulePack` out, or every problem with its line.

Pure: it takes text (the shell reads files). Everything a rule names is checked
against the event vocabulary here, once: kinds, ``data`` fields and their types,
durations, time windows, categories, priorities, message fields, parameters and
per-resident overrides. ``docs/rules.md`` is the language reference.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from devices.localtime import DEFAULT_ZONE, TimeWindow, zone
from devices.tags import tag_problem
from devices.yamlsource import Path_, YamlSyntaxError, compose, dotted, line_of
from rules.conditions import ConditionError, compile_condition, data_fields
from rules.decisions import Category, Priority
from rules.model import (
    NO_RESIDENT_CANCEL,
    ActionKind,
    Mode,
    Params,
    ResidentCancel,
    Rule,
    RulePack,
    Scope,
)

_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d)$")
_UNIT_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
TOP_KEYS = {"version", "timezone", "staff_presence_max", "rules", "overrides"}
DEFAULT_HOLD_S = 60.0
ZONE_KINDS = frozenset({"geofence.enter", "geofence.exit"})
RULE_KEYS = {
    "name", "need", "enabled", "scope", "when", "window", "count", "absent", "expect",
    "debounce", "cooldown", "staff_present", "cancel_on_clear", "hold", "merge", "params",
    "raise", "cancel", "resolve", "resident_cancel",
}  # fmt: skip
RESIDENT_CANCEL_KEYS = {"allowed", "window", "priority"}
RESIDENT_CANCEL_MAX_S = 600.0  # longer than this, a second press is a second call for help
BUTTON_KIND = "alarm.button"
SCOPE_KEYS = {"sites", "units", "residents", "devices", "tags"}
MESSAGE_FIELDS = {"where", "device", "kind", "site", "unit", "apartment", "room", "location",
                  "count", "minutes", "window"}  # fmt: skip
PARAM_TYPES = {
    "enabled": "bool",
    "window": "window",
    "within": "duration",
    "count": "int",
    "zones": "zones",
}


@dataclass(frozen=True, slots=True)
class Problem:
    source: str
    line: int | None
    path: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        return f"{where}: {self.path}: {self.reason}" if self.path else f"{where}: {self.reason}"


class RulesInvalid(ValueError):
    """One or more rule files do not load; ``str()`` is one ``file:line: path: reason`` a line."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def parse_duration(value: Any) -> float:
    """``90s``, ``3m``, ``1.5h``, ``1d`` -> seconds; ValueError otherwise."""
    match = _DURATION.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"expected a duration like '90s', '3m', '2h', got {value!r}")
    seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"a duration must be positive, got {value!r}")
    return seconds


class _File:
    """Problems of one file, each placed on a line."""

    def __init__(self, source: str, root: Any, problems: list[Problem]) -> None:
        self.source, self.root, self.problems = source, root, problems

    def bad(self, path: Path_, reason: str) -> None:
        self.problems.append(Problem(self.source, line_of(self.root, path), dotted(path), reason))


def parse_pack(files: Iterable[tuple[str, str]]) -> RulePack:
    """Compile ``(source, text)`` pairs into one pack; :class:`RulesInvalid` lists every problem.

    Rule names must be unique across the files. The first file's ``timezone`` and
    ``staff_presence_max`` apply to the pack; later files may repeat them only with the same value.
    """
    problems: list[Problem] = []
    raws: list[tuple[_File, dict[str, Any]]] = []
    for source, text in files:
        try:
            raw, root = compose(text)
        except YamlSyntaxError as exc:
            problems.append(Problem(source, exc.line, "", exc.reason))
            continue
        f = _File(source, root, problems)
        if not isinstance(raw, dict):
            f.bad((), "a rule file is a mapping with a 'rules' list")
            continue
        raws.append((f, raw))
    if not raws and not problems:
        problems.append(Problem("<none>", None, "", "no rule files given"))
    tz_name, presence_s = DEFAULT_ZONE, 7200.0
    rules: list[Rule] = []
    names: dict[str, str] = {}
    for n, (f, raw) in enumerate(raws):
        for key in raw:
            if key not in TOP_KEYS:
                f.bad((key,), f"unknown key (expected one of {', '.join(sorted(TOP_KEYS))})")
        if raw.get("version", 1) != 1:
            f.bad(("version",), "only version 1 is known")
        if "timezone" in raw:
            try:
                zone(str(raw["timezone"]))
                if n == 0:
                    tz_name = str(raw["timezone"])
                elif raw["timezone"] != tz_name:
                    f.bad(("timezone",), f"differs from the first file's {tz_name!r}")
            except ValueError as exc:
                f.bad(("timezone",), str(exc))
        if "staff_presence_max" in raw:
            try:
                presence_s = parse_duration(raw["staff_presence_max"])
            except ValueError as exc:
                f.bad(("staff_presence_max",), str(exc))
        items = raw.get("rules", [])
        if not isinstance(items, list):
            f.bad(("rules",), "expected a list of rules")
            continue
        for i, item in enumerate(items):
            rule = _rule(f, ("rules", i), item, len(rules))
            if rule is None:
                continue
            if rule.name in names:
                f.bad(
                    ("rules", i, "name"),
                    f"rule {rule.name!r} already defined at {names[rule.name]}",
                )
                continue
            names[rule.name] = rule.source
            rules.append(rule)
    # Overrides may name a rule of any file (a site file tuning the default pack).
    for f, raw in raws:
        by_name = {r.name: r for r in rules}
        for rule in _overrides(f, raw.get("overrides"), by_name, bool(problems)).values():
            rules[rule.index] = rule
    for f, raw in raws:
        for i, item in enumerate(raw.get("rules") or []):
            if isinstance(item, dict):
                for action in ("cancel", "resolve"):
                    target = item.get(action)
                    if isinstance(target, str) and target not in names:
                        f.bad(("rules", i, action), f"no rule named {target!r}")
    if problems:
        raise RulesInvalid(problems)
    return _index(tuple(rules), tz_name, presence_s, tuple(f.source for f, _ in raws))


def _index(
    rules: tuple[Rule, ...], tz: str, presence_s: float, sources: tuple[str, ...]
) -> RulePack:
    by_kind: dict[str, list[Rule]] = {}
    clears: dict[str, list[Rule]] = {}
    for r in rules:
        if r.mode is not Mode.EXPECT:
            for k in r.kinds:
                by_kind.setdefault(k, []).append(r)
        for k in r.clear_kinds:
            clears.setdefault(k, []).append(r)
    return RulePack(
        rules=rules,
        tz=zone(tz),
        presence_max_s=presence_s,
        sources=sources,
        by_kind={k: tuple(v) for k, v in by_kind.items()},
        clears_by_kind={k: tuple(v) for k, v in clears.items()},
        expect_rules=tuple(r for r in rules if r.mode is Mode.EXPECT),
    )


def _rule(f: _File, at: Path_, item: Any, index: int) -> Rule | None:
    if not isinstance(item, dict):
        f.bad(at, "a rule is a mapping")
        return None
    before = len(f.problems)
    for key in item:
        if key not in RULE_KEYS:
            f.bad((*at, key), "unknown key")
    name = item.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        f.bad((*at, "name"), "a rule needs a name: lower case, digits, '_', '.', '-'")
        name = "?"
    modes = [m for m in ("count", "absent", "expect") if m in item]
    if len(modes) > 1:
        f.bad(at, f"choose one of count, absent, expect (got {', '.join(modes)})")
    mode = Mode(modes[0]) if len(modes) == 1 else Mode.INSTANT
    params = _params(f, at, item, mode)
    kinds: frozenset[str] = frozenset()
    when = None
    clear_kinds: frozenset[str] = frozenset()
    clear = None
    cond_at = (*at, "expect", "when") if mode is Mode.EXPECT else (*at, "when")
    cond_raw = (
        item.get("expect", {}).get("when")
        if mode is Mode.EXPECT and isinstance(item.get("expect"), dict)
        else item.get("when")
    )
    if mode is Mode.EXPECT and "when" in item:
        f.bad((*at, "when"), "an expect rule has no trigger: put the expected event in expect.when")
    try:
        kinds, when = compile_condition(cond_raw, require_kind=True)
    except ConditionError as exc:
        for path, reason in exc.problems:
            f.bad((*cond_at, *path), reason)
    if mode is Mode.ABSENT and isinstance(item["absent"], dict):
        try:
            clear_kinds, clear = compile_condition(
                {"any": item["absent"].get("any")}, require_kind=True
            )
        except ConditionError as exc:
            for path, reason in exc.problems:
                f.bad((*at, "absent", *path), reason)
    scope = _scope(f, (*at, "scope"), item.get("scope", {}))
    action, target, category, priority, message = _action(f, at, item, kinds)
    staff = item.get("staff_present")
    if staff is None:
        suppress = category is Category.RESIDENT
    elif staff in ("suppress", "raise"):
        suppress = staff == "suppress"
        if suppress and category is Category.COLLEAGUE:
            f.bad((*at, "staff_present"), "colleague alarms are never suppressed")
    else:
        f.bad((*at, "staff_present"), "expected 'suppress' or 'raise'")
        suppress = False
    cancel_on_clear = item.get("cancel_on_clear", False)
    if not isinstance(cancel_on_clear, bool) or (cancel_on_clear and mode is not Mode.ABSENT):
        f.bad((*at, "cancel_on_clear"), "true or false, and only on an 'absent' rule")
    merge = item.get("merge", category is not Category.COLLEAGUE)
    if not isinstance(merge, bool) or (merge and category is Category.COLLEAGUE):
        f.bad((*at, "merge"), "true or false; colleague alarms are never merged")
    debounce = _opt_duration(f, (*at, "debounce"), item.get("debounce"))
    cooldown = _opt_duration(f, (*at, "cooldown"), item.get("cooldown"))
    # A rule that may cancel its alert holds it back from staff for this long after the
    # deadline; once it is dispatched the rule can no longer withdraw it.
    hold = DEFAULT_HOLD_S if cancel_on_clear is True else 0.0
    if "hold" in item:
        if cancel_on_clear is not True:
            f.bad((*at, "hold"), "only on a rule with cancel_on_clear: true")
        hold = _opt_duration(f, (*at, "hold"), item.get("hold"))
    cancel = _resident_cancel(f, at, item, action, category, priority, kinds)
    if len(f.problems) > before or when is None or params is None:
        return None
    return Rule(
        index=index,
        name=name,
        source=f"{f.source}:{line_of(f.root, at)}",
        kinds=kinds,
        when=when,
        mode=mode,
        scope=scope,
        scoped=not scope.everything,
        defaults=params,
        overrides={},
        action=action,
        target=target or name,
        category=category,
        priority=priority,
        message=message,
        clear_kinds=clear_kinds,
        clear=clear,
        cancel_on_clear=cancel_on_clear,
        suppress_with_staff=suppress,
        debounce_s=debounce,
        cooldown_s=cooldown,
        hold_s=hold,
        merge_open=merge,
        resident_cancel=cancel,
    )


def _resident_cancel(
    f: _File,
    at: Path_,
    item: dict[str, Any],
    action: ActionKind,
    category: Category,
    priority: Priority,
    kinds: frozenset[str],
) -> ResidentCancel:
    """``resident_cancel: {allowed, window, priority}``. Without it, a resident may cancel
    the alert of a rule triggered by the alarm button, and nothing else."""
    path = (*at, "resident_cancel")
    raw = item.get("resident_cancel")
    default = action is ActionKind.RAISE and category is not Category.COLLEAGUE
    if raw is None:
        return ResidentCancel(allowed=True) if default and BUTTON_KIND in kinds else NO_RESIDENT_CANCEL
    if not isinstance(raw, dict):
        f.bad(path, "expected {allowed: true|false, window: DURATION, priority: PRIORITY}")
        return NO_RESIDENT_CANCEL
    for key in raw:
        if key not in RESIDENT_CANCEL_KEYS:
            f.bad((*path, key), f"unknown key (expected {', '.join(sorted(RESIDENT_CANCEL_KEYS))})")
    if action is not ActionKind.RAISE:
        f.bad(path, "only a rule that raises an alert has resident_cancel")
        return NO_RESIDENT_CANCEL
    allowed = raw.get("allowed", True)
    if not isinstance(allowed, bool):
        f.bad((*path, "allowed"), f"expected true or false, got {allowed!r}")
        allowed = False
    if allowed and category is Category.COLLEAGUE:
        f.bad((*path, "allowed"), "a colleague alarm is never cancelled by a resident")
    window_s = None
    if "window" in raw:
        window_s = _opt_duration(f, (*path, "window"), raw["window"])
        if window_s > RESIDENT_CANCEL_MAX_S:
            f.bad((*path, "window"), f"at most {RESIDENT_CANCEL_MAX_S / 60:.0f}m")
    lowered = None
    if "priority" in raw:
        try:
            lowered = Priority(str(raw["priority"]))
        except ValueError:
            f.bad((*path, "priority"), f"expected one of {', '.join(Priority)}")
        else:
            if lowered.rank < priority.rank:
                f.bad(
                    (*path, "priority"),
                    f"a cancel may only lower the priority: {lowered} is above the rule's {priority}",
                )
    return ResidentCancel(allowed=allowed, window_s=window_s, priority=lowered)


def _opt_duration(f: _File, at: Path_, value: Any) -> float:
    if value is None:
        return 0.0
    try:
        return parse_duration(value)
    except ValueError as exc:
        f.bad(at, str(exc))
        return 0.0


def _params(f: _File, at: Path_, item: dict[str, Any], mode: Mode) -> Params | None:
    """Defaults: ``params:`` names values that ``$name`` references elsewhere in the rule."""
    declared = item.get("params", {})
    if not isinstance(declared, dict):
        f.bad((*at, "params"), "expected a mapping of parameter names to values")
        declared = {}

    def value(path: Path_, raw: Any, kind: str) -> Any:
        if isinstance(raw, str) and raw.startswith("$"):
            name = raw[1:]
            if name not in declared:
                f.bad(path, f"parameter {raw!r} is not declared under params")
                return None
            if PARAM_TYPES.get(name) != kind:
                f.bad(path, f"parameter {raw!r} is not a {kind} parameter")
                return None
            raw, path = declared[name], (*at, "params", name)
        return _typed(f, path, raw, kind)

    enabled = value((*at, "enabled"), item.get("enabled", True), "bool")
    window = item.get("window")
    win = value((*at, "window"), window, "window") if window is not None else None
    within_s, count = 0.0, 1
    if mode is Mode.COUNT:
        spec = item["count"]
        if not isinstance(spec, dict) or set(spec) - {"n", "within"} or "within" not in spec:
            f.bad((*at, "count"), "expected {n: N, within: DURATION}")
            return None
        count = value((*at, "count", "n"), spec.get("n", 2), "int")
        within_s = value((*at, "count", "within"), spec["within"], "duration")
    elif mode is Mode.ABSENT:
        spec = item["absent"]
        if not isinstance(spec, dict) or set(spec) - {"any", "within"} or "within" not in spec:
            f.bad((*at, "absent"), "expected {any: [CONDITION...], within: DURATION}")
            return None
        within_s = value((*at, "absent", "within"), spec["within"], "duration")
    elif mode is Mode.EXPECT:
        spec = item["expect"]
        if not isinstance(spec, dict) or set(spec) - {"when", "window"} or "window" not in spec:
            f.bad((*at, "expect"), "expected {when: CONDITION, window: 'HH:MM-HH:MM'}")
            return None
        if win is not None:
            f.bad((*at, "window"), "an expect rule's window goes under expect")
        win = value((*at, "expect", "window"), spec["window"], "window")
        if win is not None and win.whole_day:
            f.bad((*at, "expect", "window"), "an expect window needs an end")
    for name, raw in declared.items():
        if name not in PARAM_TYPES:
            f.bad((*at, "params", name), f"unknown parameter (known: {', '.join(PARAM_TYPES)})")
        else:
            _typed(f, (*at, "params", name), raw, PARAM_TYPES[name])
    if None in (enabled, within_s, count):
        return None
    return Params(enabled=enabled, window=win, within_s=within_s, count=count)


def _typed(f: _File, path: Path_, raw: Any, kind: str) -> Any:
    try:
        if kind == "bool":
            if not isinstance(raw, bool):
                raise ValueError(f"expected true or false, got {raw!r}")
            return raw
        if kind == "int":
            if not isinstance(raw, int) or isinstance(raw, bool) or not 1 <= raw <= 1000:
                raise ValueError(f"expected a whole number 1..1000, got {raw!r}")
            return raw
        if kind == "duration":
            return parse_duration(raw)
        if kind == "zones":
            if not isinstance(raw, list) or not all(isinstance(z, str) and z for z in raw):
                raise ValueError(f"expected a list of zone names, got {raw!r}")
            return frozenset(raw)
        return TimeWindow.parse(raw)
    except ValueError as exc:
        f.bad(path, str(exc))
        return None


def _scope(f: _File, at: Path_, raw: Any) -> Scope:
    if not isinstance(raw, dict):
        f.bad(at, "expected a mapping with sites, units, residents, devices or tags")
        return Scope()
    sets: dict[str, frozenset[str]] = {}
    for key, values in raw.items():
        if key not in SCOPE_KEYS:
            f.bad((*at, key), f"unknown scope (expected one of {', '.join(sorted(SCOPE_KEYS))})")
            continue
        if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
            f.bad((*at, key), "expected a list of ids")
            continue
        bad_tags = [p for v in values if key == "tags" and (p := tag_problem(v))]
        if bad_tags:
            f.bad(
                (*at, key),
                "; ".join(bad_tags) + " (stored tags are like that, so it never matches)",
            )
            continue
        sets[key] = frozenset(values)
    return Scope(**sets)


def _action(
    f: _File, at: Path_, item: dict[str, Any], kinds: frozenset[str]
) -> tuple[ActionKind, str | None, Category, Priority, str]:
    given = [a for a in ActionKind if a.value in item]
    if len(given) != 1:
        f.bad(at, "a rule needs exactly one action: raise, cancel or resolve")
        return ActionKind.RAISE, None, Category.TECHNICAL, Priority.LOW, ""
    action = given[0]
    if action is not ActionKind.RAISE:
        target = item[action.value]
        if not isinstance(target, str):
            f.bad((*at, action.value), "expected the name of the rule whose alert to close")
        return action, str(target), Category.TECHNICAL, Priority.LOW, ""
    spec = item["raise"]
    path = (*at, "raise")
    if not isinstance(spec, dict):
        f.bad(path, "expected {category, priority, message}")
        return action, None, Category.TECHNICAL, Priority.LOW, ""
    for key in spec:
        if key not in ("category", "priority", "message"):
            f.bad((*path, key), "unknown key")
    category, priority = Category.TECHNICAL, Priority.LOW
    try:
        category = Category(str(spec.get("category")))
    except ValueError:
        f.bad((*path, "category"), f"expected one of {', '.join(Category)}")
    try:
        priority = Priority(str(spec.get("priority")))
    except ValueError:
        f.bad((*path, "priority"), f"expected one of {', '.join(Priority)}")
    message = spec.get("message")
    if not isinstance(message, str) or not message.strip():
        f.bad((*path, "message"), "expected a message template")
        return action, None, category, priority, ""
    allowed = MESSAGE_FIELDS | data_fields(kinds)
    try:
        for _, field_name, spec_, _ in string.Formatter().parse(message):
            if field_name is not None and (field_name not in allowed or spec_):
                f.bad(
                    (*path, "message"),
                    f"unknown field {{{field_name}}} (known: {', '.join(sorted(allowed))})",
                )
    except ValueError as exc:
        f.bad((*path, "message"), f"bad template: {exc}")
    return action, None, category, priority, message


def _overrides(f: _File, raw: Any, rules: Mapping[str, Rule], incomplete: bool) -> dict[str, Rule]:
    """``overrides: {RESIDENT: {RULE: {param: value}}}`` -> rules with per-resident params."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        f.bad(("overrides",), "expected resident id -> rule name -> parameters")
        return {}
    out: dict[str, Rule] = dict(rules)
    changed: set[str] = set()
    for resident, per_rule in raw.items():
        at: Path_ = ("overrides", resident)
        if not isinstance(per_rule, dict):
            f.bad(at, "expected rule name -> parameters")
            continue
        for name, values in per_rule.items():
            rule = out.get(name)
            if rule is None:
                if not incomplete:  # the rule may be one that failed to load
                    f.bad((*at, name), "no rule of that name in the files given")
                continue
            if not isinstance(values, dict):
                f.bad((*at, name), "expected parameter -> value")
                continue
            updates: dict[str, Any] = {}
            for key, v in values.items():
                kind = PARAM_TYPES.get(key)
                if kind is None:
                    f.bad((*at, name, key), f"unknown parameter (known: {', '.join(PARAM_TYPES)})")
                    continue
                if key == "within" and rule.mode not in (Mode.COUNT, Mode.ABSENT):
                    f.bad((*at, name, key), "only count and absent rules have 'within'")
                    continue
                if key == "count" and rule.mode is not Mode.COUNT:
                    f.bad((*at, name, key), "only count rules have 'count'")
                    continue
                if key == "zones" and not rule.kinds <= ZONE_KINDS:
                    f.bad((*at, name, key), "only rules on geofence.enter/exit have 'zones'")
                    continue
                typed = _typed(f, (*at, name, key), v, kind)
                if typed is not None:
                    updates["within_s" if key == "within" else key] = typed
            params = replace(rule.params(str(resident)), **updates)
            out[name] = replace(rule, overrides={**rule.overrides, str(resident): params})
            changed.add(name)
    return {n: out[n] for n in changed}
