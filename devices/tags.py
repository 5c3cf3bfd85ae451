"""Device tags: free labels on a placement that rules scope on (``scope: {tags: [exit]}``).

A tag names what a device is for ("exit", "stove-guard", "night-watch"), never who it
serves: no names, no resident ids. Every store, the placement API and the scenario
files go through :func:`normalise_tags`, so a stored tag set is always valid, sorted
and free of duplicates, and two equal sets compare equal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated

from pydantic import AfterValidator

TAG_PATTERN = re.compile(r"[a-z0-9_-]{1,32}")
MAX_TAGS = 16


class TagError(ValueError):
    """A tag set that cannot be stored; the message says which tag and why."""


def tag_problem(tag: object) -> str | None:
    """Why ``tag`` is not a valid tag, or ``None`` if it is."""
    if not isinstance(tag, str):
        return f"tag {tag!r} is not text"
    if TAG_PATTERN.fullmatch(tag) is None:
        return f"tag {tag!r} is not 1-32 characters of lowercase a-z, digits, '_' or '-'"
    return None


def normalise_tags(tags: Iterable[object]) -> tuple[str, ...]:
    """The tags sorted and de-duplicated; :class:`TagError` for a bad tag or too many."""
    if isinstance(tags, str | bytes):
        raise TagError(f"tags must be a list of tags, not the text {tags!r}")
    unique: set[str] = set()
    for tag in tags:
        problem = tag_problem(tag)
        if problem is not None:
            raise TagError(problem)
        assert isinstance(tag, str)  # tag_problem checked it
        unique.add(tag)
    if len(unique) > MAX_TAGS:
        raise TagError(f"{len(unique)} tags; a placement may carry at most {MAX_TAGS}")
    return tuple(sorted(unique))


def _tag_list(tags: list[str]) -> list[str]:
    return list(normalise_tags(tags))


# A pydantic field type: a list of tags, checked, sorted and de-duplicated (a bad tag
# fails validation with the reason: 422 at the API, a load error in a scenario file).
Tags = Annotated[list[str], AfterValidator(_tag_list)]
