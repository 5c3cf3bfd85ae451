"""Reading scenario YAML: a safe loader, duplicate keys, and problems with file and line.

Kept apart from the model (:mod:`simulators.scenario`) so each stays readable; the
model module re-exports :class:`ScenarioError` and :class:`Problem`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError

from simulators import SimulatorError

Path_ = tuple[str | int, ...]  # a place in the document: ("timeline", 3, "kind")


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


def _dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out


# --- loading ----------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1 base-60 numbers: ``at: 23:40`` stays the string '23:40'."""


_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, rx)
        for tag, rx in resolvers
        if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?|\.[0-9_]+(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def read_yaml(text: str, source: str) -> dict[str, Any]:
    """The document as a mapping, with its node tree for line numbers.

    Raises :class:`ScenarioError` for invalid YAML, a document that is not a mapping,
    or a duplicate key."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        raw = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ScenarioError(source, [Problem(line, "", f"not valid YAML: {exc}")]) from exc
    finally:
        loader.dispose()
    if not isinstance(raw, dict) or root is None:
        raise ScenarioError(source, [Problem(1, "", "a scenario is a YAML mapping")])
    duplicates = [Problem(line, path, "duplicate key") for path, line in _duplicate_keys(root)]
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


def _line(root: yaml.Node, path: Path_) -> int:
    """1-based line of the node at ``path``, or of the deepest ancestor found."""
    node = root
    for part in path:
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            child = node.value[part] if 0 <= part < len(node.value) else None
        else:
            child = None
        if child is not None:
            node = child
        # A part that is not in the document (a union tag, a missing key) is skipped.
    return int(node.start_mark.line) + 1


def _duplicate_keys(node: yaml.Node, path: Path_ = ()) -> Iterator[tuple[str, int]]:
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key, value in node.value:
            if key.value in seen:
                yield _dotted((*path, key.value)), key.start_mark.line + 1
            seen.add(key.value)
            yield from _duplicate_keys(value, (*path, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*path, i))
