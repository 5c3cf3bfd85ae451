"""Reading scenario YAML: a safe loader, duplicate keys, and problems with file and line.

Kept apart from the model (:mod:`simulators.scenario`) so each stays readable; the
model module re-exports :class:`ScenarioError` and :class:`Problem`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError

from devices.yamlsource import Path_ as Path_  # a place in the document
from devices.yamlsource import YamlSyntaxError, compose, dotted, duplicate_keys, line_of
from simulators import SimulatorError


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a scenario: where (line, path) and why."""

    line: int | None
    path: str
    reason: str


class ScenarioError(SimulatorError):
    """A scenario that does not load. ``str()`` is one ``file:line: path: reason`` per problem."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(_format(source, p) for p in problems))


def _format(source: str, p: Problem) -> str:
    where = f"{source}:{p.line}" if p.line is not None else source
    return f"{where}: {p.path}: {p.reason}" if p.path else f"{where}: {p.reason}"


class ProblemList(ValueError):
    """Raised inside validation; carries structured paths out through pydantic."""

    def __init__(self, problems: list[tuple[Path_, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{_dotted(p)}: {r}" for p, r in problems))


_dotted = dotted


def read_yaml(text: str, source: str) -> dict[str, Any]:
    """The document as a mapping, with its node tree for line numbers.

    Raises :class:`ScenarioError` for invalid YAML, a document that is not a mapping,
    or a duplicate key."""
    try:
        raw, root = compose(text)
    except YamlSyntaxError as exc:
        raise ScenarioError(source, [Problem(exc.line, "", exc.reason)]) from exc
    if not isinstance(raw, dict) or root is None:
        raise ScenarioError(source, [Problem(1, "", "a scenario is a YAML mapping")])
    duplicates = [Problem(line, path, "duplicate key") for path, line in duplicate_keys(root)]
    if duplicates:
        raise ScenarioError(source, duplicates)
    return {"raw": raw, "root": root}


def validation_problems(exc: ValidationError, root: yaml.Node) -> list[Problem]:
    """pydantic's errors as problems with the line of the offending node."""
    return _problems(exc, root)


def _problems(exc: ValidationError, root: yaml.Node) -> list[Problem]:
    out: list[Problem] = []
    for error in exc.errors(include_url=False):
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, ProblemList):
            out += [Problem(_line(root, p), _dotted(p), r) for p, r in cause.problems]
            continue
        path = tuple(error["loc"])
        reason = error["msg"].removeprefix("Value error, ")
        if error["type"] not in ("missing", "extra_forbidden"):
            reason = f"{reason} (got {_short(error.get('input'))})"
        out.append(Problem(_line(root, path), _dotted(path), reason))
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _line(root: yaml.Node, path: Path_) -> int | None:
    return line_of(root, path)
