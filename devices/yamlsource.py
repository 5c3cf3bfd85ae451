"""YAML documents whose errors can name a line: one loader for scenarios and rule files.

:func:`compose` parses text into plain values and keeps the node tree, so a
validator that finds a problem at a path (``("rules", 3, "when", "kind")``)
can ask :func:`line_of` for the 1-based line to report. The loader is safe
and reads ``at: 23:40`` as the string ``'23:40'``, not a base-60 number.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import yaml

Path_ = tuple[str | int, ...]  # a place in the document: ("timeline", 3, "kind")


class YamlSyntaxError(ValueError):
    """Text that is not YAML; ``line`` is 1-based or None."""

    def __init__(self, line: int | None, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


class Loader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1 base-60 numbers: ``at: 23:40`` stays the string '23:40'."""


Loader.yaml_implicit_resolvers = {
    first: [
        (tag, rx)
        for tag, rx in resolvers
        if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?|\.[0-9_]+(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def compose(text: str) -> tuple[Any, yaml.Node | None]:
    """Parse ``text``: (plain value, node tree). Raises :class:`YamlSyntaxError`."""
    loader = Loader(text)
    try:
        root = loader.get_single_node()
        raw = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise YamlSyntaxError(line, f"not valid YAML: {exc}") from exc
    finally:
        loader.dispose()
    return raw, root


def line_of(root: yaml.Node | None, path: Path_) -> int | None:
    """1-based line of the node at ``path``, or of the deepest ancestor found."""
    if root is None:
        return None
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


def dotted(path: Path_) -> str:
    """``("rules", 3, "when")`` -> ``rules[3].when``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out


def duplicate_keys(node: yaml.Node | None, path: Path_ = ()) -> Iterator[tuple[str, int]]:
    """(dotted path, line) of every key given twice in one mapping."""
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key, value in node.value:
            if key.value in seen:
                yield dotted((*path, key.value)), key.start_mark.line + 1
            seen.add(key.value)
            yield from duplicate_keys(value, (*path, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from duplicate_keys(item, (*path, i))
