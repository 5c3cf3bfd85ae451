"""The hub's garbage-collector settings: start-up objects frozen, young passes rarer,
and reference cycles made afterwards still collected."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from hub import gc_tuning


@pytest.fixture
def restored() -> Iterator[None]:
    """The test process keeps its own settings: undo what tune() does."""
    thresholds = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_tune_freezes_start_up_and_raises_the_thresholds(restored: None) -> None:
    gc_tuning.tune()
    assert gc.get_threshold() == gc_tuning.THRESHOLDS
    assert gc.get_freeze_count() > 0
    assert gc.isenabled()


def test_a_cycle_made_after_tune_is_still_collected(restored: None) -> None:
    gc_tuning.tune()
    gc.disable()  # no automatic pass between the two checks
    try:
        a, b = Node(), Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
        assert gone() is not None  # a cycle: reference counting alone does not free it
        gc.collect()
        assert gone() is None
    finally:
        gc.enable()
