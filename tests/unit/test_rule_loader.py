"""Rule files are checked against the vocabulary at load: every problem, with file and line."""

from __future__ import annotations

import textwrap

import pytest

from hub.ruleset import default_pack_text
from rules.loader import RulesInvalid, parse_duration, parse_pack

GOOD = """\
rules:
  - name: r
    when: {kind: water.leak}
    raise: {category: resident, priority: high, message: "Leak: {where}"}
"""


def problems(text: str, *more: str) -> list[str]:
    files = [("a.yaml", textwrap.dedent(text))] + [(f"b{i}.yaml", t) for i, t in enumerate(more)]
    with pytest.raises(RulesInvalid) as info:
        parse_pack(files)
    return [str(p) for p in info.value.problems]


def test_the_default_pack_loads_and_every_rule_says_which_need_it_serves() -> None:
    source, text = default_pack_text()
    pack = parse_pack([(source, text)])
    lines = text.splitlines()
    for rule in pack.rules:
        line = int(rule.source.rsplit(":", 1)[1])  # the "- name:" line
        assert lines[line - 2].strip().startswith("#"), f"{rule.name} has no comment"
        above = "\n".join(lines[max(0, line - 8) : line - 1])
        assert "Need:" in above, rule.name


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("when: {kind: door.opend}", "a.yaml:3: rules[0].when.kind: unknown event kind 'door.opend'"),
        ("when: {kind: door.opened, data: {doors: exit}}", "a.yaml:3: rules[0].when.data.doors: no data field 'doors'"),
        ("when: {kind: door.opened, data: {door: garage}}", "a.yaml:3: rules[0].when.data.door: data.door of door.opened is one of"),
        ("when: {kind: device.battery_low, data: {battery_pct: low}}", "is a number, got 'low'"),
        ("when: {kind: smoke.detected, data: {test: {lt: 1}}}", "is not a number: 'lt' does not apply"),
        ("when: {kind: water.leak}\n    window: '22:00-25:00'", "a.yaml:4: rules[0].window: no such time of day"),
        ("when: {kind: water.leak}\n    cooldown: 5 minutes", "a.yaml:4: rules[0].cooldown: expected a duration"),
        ("when: {kind: water.leak}\n    absent: {any: [{kind: water.dry}], within: 3m}", "rules[0].absent.any[0].kind: unknown event kind 'water.dry'"),
        ("when: {kind: water.leak}\n    staff_present: maybe", "expected 'suppress' or 'raise'"),
        ("when: {kind: water.leak}\n    colour: red", "a.yaml:4: rules[0].colour: unknown key"),
        ("when: {kind: door.opened}\n    scope: {tags: [Exit]}", "a.yaml:4: rules[0].scope.tags: tag 'Exit' is not"),
        ("when: {kind: door.opened, tags: [exit door]}", "rules[0].when.tags: tag 'exit door' is not"),
        ("when: {data: {door: exit}}", "name the 'kind' before testing its data"),
    ],
)
def test_each_mistake_is_named_with_its_line(rule: str, expected: str) -> None:
    text = f"rules:\n  - name: r\n    {rule}\n    raise: {{category: resident, priority: high, message: m}}\n"
    found = problems(text)
    assert any(expected in p for p in found), found


def test_every_problem_of_every_file_is_reported_in_one_run() -> None:
    found = problems(
        """\
        timezone: Europe/Olso
        rules:
          - name: one
            when: {kind: bed.exitt}
            raise: {category: resident, priority: urgent, message: "{who}"}
          - name: two
            when: {kind: staff.alarm}
            staff_present: suppress
            raise: {category: colleague, priority: critical, message: m}
          - name: one
            when: {kind: water.leak}
            cancel: nothing
        overrides:
          res-1: {two: {within: 3m}, three: {enabled: false}}
        """,
        "rules: [{name: BAD}]\n",
    )
    text = "\n".join(found)
    for expected in [
        "a.yaml:1: timezone: unknown time zone",
        "a.yaml:4: rules[0].when.kind: unknown event kind 'bed.exitt'",
        "a.yaml:5: rules[0].raise.priority: expected one of",
        "unknown field {who}",
        "a.yaml:8: rules[1].staff_present: colleague alarms are never suppressed",
        "a.yaml:12: rules[2].cancel: no rule named 'nothing'",
        "b0.yaml:1: rules[0].name: a rule needs a name",
    ]:
        assert expected in text, text


def test_names_are_unique_across_files_and_overrides_are_checked() -> None:
    found = problems(GOOD, GOOD)
    assert found == ["b0.yaml:2: rules[0].name: rule 'r' already defined at a.yaml:2"]
    found = problems(GOOD + "overrides:\n  res-1: {r: {within: 3m, colour: red}}\n")
    assert "a.yaml:6: overrides.res-1.r.within: only count and absent rules have 'within'" in found
    assert any("overrides.res-1.r.colour: unknown parameter" in p for p in found)
    found = problems(GOOD + "overrides:\n  res-1: {nope: {enabled: false}}\n")
    assert found == ["a.yaml:6: overrides.res-1.nope: no rule of that name in the files given"]


def test_not_yaml_and_no_files() -> None:
    assert problems("rules: [\n")[0].startswith("a.yaml:")
    with pytest.raises(RulesInvalid, match="no rule files"):
        parse_pack([])


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("3m", 180), ("1.5h", 5400), ("1d", 86400)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["3", "3 min", "-3m", "0s", "m", 3])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)
