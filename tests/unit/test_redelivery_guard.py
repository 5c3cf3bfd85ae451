"""The redelivery guard (gateway/redelivery.py) and its table in the outbox."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.outbox import Outbox
from gateway.redelivery import Redelivery, digest

PRESS = b'{"action":"single","battery":90}'
D = digest("z2m", "sos", PRESS)


@pytest.mark.parametrize(
    ("committed", "mid", "dup", "message", "skip"),
    [
        ({7: D}, 7, True, D, True),  # committed, ack lost, redelivered: skip
        ({7: D}, 7, False, D, False),  # DUP clear: a fresh message that reuses the id
        ({7: D}, 8, True, D, False),  # another id: in flight when we died, never committed
        ({7: D}, 7, True, digest("z2m", "sos", b'{"action":"double"}'), False),
        ({7: D}, 7, True, digest("z2m", "other", PRESS), False),  # another device
        ({}, 7, True, D, False),  # nothing committed (a fresh gateway)
    ],
)
def test_only_a_dup_of_the_committed_message_is_skipped(
        committed: dict[int, str], mid: int, dup: bool, message: str, skip: bool) -> None:
    guard = Redelivery(dict(committed))
    assert guard.is_redelivery(mid, dup, message) is skip
    assert guard.skipped == int(skip)


def test_a_reused_id_replaces_the_record() -> None:
    guard = Redelivery({7: D})
    other = digest("z2m", "sos", b'{"action":"hold"}')
    guard.remember([(7, other, 1.0)])
    assert not guard.is_redelivery(7, True, D)
    assert guard.is_redelivery(7, True, other)


@given(st.text(max_size=5), st.text(max_size=5), st.binary(max_size=8),
       st.text(max_size=5), st.text(max_size=5), st.binary(max_size=8))
def test_digest_separates_its_parts(s1: str, k1: str, p1: bytes, s2: str, k2: str,
                                    p2: bytes) -> None:
    if (s1, k1, p1) != (s2, k2, p2):
        assert digest(s1, k1, p1) != digest(s2, k2, p2)


def test_outbox_commits_inputs_and_prunes_expired_ones(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    box.append([], inputs=[(1, "a", 100.0), (2, "b", 5000.0)])
    box.append([], inputs=[(2, "c", 6000.0)])  # the id came back with a new message
    box.close()
    again = Outbox(tmp_path / "o.db")
    assert again.load_inputs(older_than=1000.0) == {2: "c"}
    assert again.load_inputs(older_than=0.0) == {2: "c"}  # pruned for good
    again.close()
