"""The audit log's hash chain: who read or wrote which resident's data, when and why.

Every read and write of resident data appends one :class:`AuditEntry`. The store
numbers entries ``1, 2, 3, ...`` and chains them: each row keeps the previous
row's hash and its own, ``sha256(prev_hash || canonical JSON of the row)``. The
newest ``(seq, hash)`` is also kept as the chain's head. :func:`verify` walks the
rows and names every break:

- an edited row: its stored hash no longer matches its content;
- a deleted row: a gap in ``seq``, or the next row's ``prev_hash`` does not match;
- deleted newest rows: the head names a row that is not there.

An attacker who can rewrite the whole table *and* the head from the edited row
on defeats any chain kept in the same database; ``trygg audit verify`` prints
the head so it can be copied somewhere else (a ticket, a printout) and compared
later with ``--expect-head``.

Pure: hashing only, no I/O, no clock (the caller stamps ``at``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One access. ``resident_id`` None: not about a resident (e.g. a login)."""

    at: datetime
    actor: str  # username, or "system"
    role: str
    action: str  # e.g. "alert.read", "basis.create", "break_glass", "retention.run"
    resident_id: str | None = None
    target: str | None = None  # what was touched: an alert id, a basis id, a query
    reason: str | None = None  # why: break-the-glass reasons, withdrawal reasons


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    entry: AuditEntry
    prev_hash: str
    hash: str


def _micros(at: datetime) -> int:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("audit times must carry a UTC offset")
    return (at.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)) // _MICRO


_MICRO = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)


def canonical(seq: int, entry: AuditEntry) -> bytes:
    """The bytes hashed for one row: every field, in a fixed order, UTC microseconds."""
    fields = [
        seq,
        _micros(entry.at),
        entry.actor,
        entry.role,
        entry.action,
        entry.resident_id,
        entry.target,
        entry.reason,
    ]
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()


def chain_hash(prev_hash: str, seq: int, entry: AuditEntry) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical(seq, entry)).hexdigest()


def link(prev: AuditRecord | None, entry: AuditEntry) -> AuditRecord:
    """The record that follows ``prev`` (None: the first record)."""
    seq = 1 if prev is None else prev.seq + 1
    prev_hash = GENESIS if prev is None else prev.hash
    return AuditRecord(seq, entry, prev_hash, chain_hash(prev_hash, seq, entry))


@dataclass(frozen=True, slots=True)
class Problem:
    seq: int
    what: str  # "edited", "deleted", "truncated", "reordered"
    detail: str


def verify(records: Iterable[AuditRecord], head: tuple[int, str] | None) -> list[Problem]:
    """Every break in the chain, in ``seq`` order; empty when the log is intact."""
    problems: list[Problem] = []
    expected_seq, expected_prev = 1, GENESIS
    last: AuditRecord | None = None
    for record in records:
        if record.seq < expected_seq:
            problems.append(Problem(record.seq, "reordered", "rows out of order or repeated"))
            continue
        if record.seq > expected_seq:
            missing = f"{expected_seq}" + (
                f"-{record.seq - 1}" if record.seq - 1 > expected_seq else ""
            )
            problems.append(Problem(expected_seq, "deleted", f"rows {missing} are missing"))
        elif record.prev_hash != expected_prev:
            problems.append(Problem(record.seq, "deleted", "previous hash does not match"))
        if chain_hash(record.prev_hash, record.seq, record.entry) != record.hash:
            problems.append(Problem(record.seq, "edited", "content does not match its hash"))
        expected_seq, expected_prev = record.seq + 1, record.hash
        last = record
    if head is not None:
        head_seq, head_hash = head
        if last is None or last.seq < head_seq:
            problems.append(
                Problem(head_seq, "truncated", f"the head names row {head_seq}, which is missing")
            )
        elif last.seq == head_seq and last.hash != head_hash:
            problems.append(Problem(head_seq, "edited", "the newest row does not match the head"))
    elif last is not None:
        problems.append(Problem(last.seq, "truncated", "rows exist but the head is missing"))
    return problems
