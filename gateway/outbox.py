"""The durable outbox: SQLite in WAL mode, ``synchronous=FULL``.

An event is acknowledged to its source only after the transaction holding it
has committed. FULL, not NORMAL: in WAL mode NORMAL survives a killed process
but may lose the last commits on power loss, and a Raspberry Pi loses power
(a pulled plug, a failing SD card supply) far more often than it crashes.
Writes are group-committed (one transaction per batch the writer drains), so
the fsync is paid once per batch, not once per event.

Rows leave in ``seq`` order and are deleted only when the uplink broker has
sent PUBACK for them. The per-gateway ``seq`` counter lives in the same file
and is advanced in the same transaction as the rows, so a restart never
reuses a sequence number.

Disk cap: ``max_bytes`` of queued event bodies. Past ``warn_fraction`` the
outbox reports ``warning`` (the gateway raises a clear alarm in its status
and log). At the cap a new event evicts the oldest *low-value* events first
(heartbeats, motion, positions), then ordinary ones; alarms are never evicted
and are always admitted, even over the cap. Every dropped event is counted by
kind.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

# Priority classes: lower is more important. Alarms are never dropped.
ALARM, NORMAL, LOW = 0, 1, 2
ALARM_KINDS = frozenset({
    "alarm.button", "staff.alarm", "fall.detected", "floor.person", "smoke.detected",
    "water.leak", "stove.cutoff",
})
DEAD_KEEP = 1000  # dead letters kept for a technician; older ones go
LOW_KINDS = frozenset({"device.heartbeat", "room.motion", "room.no_motion", "gps.position"})

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    class INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_class ON outbox (class, seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('next_seq', 0);
CREATE TABLE IF NOT EXISTS dead_letter (
    at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    source TEXT NOT NULL, payload BLOB NOT NULL, error TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS device_state (device TEXT PRIMARY KEY, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS local_input (
    mid INTEGER PRIMARY KEY, digest TEXT NOT NULL, at REAL NOT NULL
);
"""


def priority_class(kind: str) -> int:
    if kind in ALARM_KINDS:
        return ALARM
    return LOW if kind in LOW_KINDS else NORMAL


@dataclass(frozen=True, slots=True)
class Row:
    seq: int
    id: str
    kind: str
    body: bytes
    device: str = ""


class Outbox:
    """Thread-safe: the writer thread appends, the uplink thread reads and deletes."""

    def __init__(self, path: Path, max_bytes: int = 256 * 1024 * 1024,
                 warn_fraction: float = 0.8) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.warn_bytes = int(max_bytes * warn_fraction)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self.dropped: Counter[str] = Counter()
        self._recount()

    def _recount(self) -> None:
        row = self._db.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(body)), 0) FROM outbox")
        self._count, self._bytes = row.fetchone()

    # --- the writer side ---------------------------------------------------------

    def next_seq(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT value FROM meta WHERE key='next_seq'").fetchone()[0])

    def load_states(self) -> dict[str, str]:
        with self._lock:
            return dict(self._db.execute("SELECT device, state FROM device_state"))

    def load_inputs(self, older_than: float) -> dict[int, str]:
        """Committed local messages (packet id -> digest), after pruning those older than
        ``older_than`` (a Unix time: past the local session's expiry nothing redelivers)."""
        with self._lock:
            self._db.execute("DELETE FROM local_input WHERE at < ?", (older_than,))
            return dict(self._db.execute("SELECT mid, digest FROM local_input"))

    def append(self, rows: list[Row], states: dict[str, str] | None = None,
               dead: list[tuple[str, bytes, str]] | None = None,
               inputs: list[tuple[int, str, float]] | None = None) -> None:
        """Commit ``rows`` (seqs from :meth:`next_seq` upwards) durably, evicting if full.

        ``states`` (each device's last converted input) commit in the same
        transaction, so an input redelivered after a crash converts to nothing new.
        """
        if not rows and not states and not dead and not inputs:
            return
        rows = list(rows)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if dead:
                    self._db.executemany(
                        "INSERT INTO dead_letter (source, payload, error) VALUES (?, ?, ?)", dead)
                    self._db.execute("DELETE FROM dead_letter WHERE rowid <= "
                                     "(SELECT MAX(rowid) FROM dead_letter) - ?", (DEAD_KEEP,))
                if inputs:  # gateway/redelivery.py: committed with what came of them
                    self._db.executemany(
                        "INSERT OR REPLACE INTO local_input (mid, digest, at) VALUES (?, ?, ?)",
                        inputs)
                if states:
                    self._db.executemany(
                        "INSERT OR REPLACE INTO device_state (device, state) VALUES (?, ?)",
                        list(states.items()))
                if rows:
                    last_seq = rows[-1].seq
                    self._make_room(sum(len(r.body) for r in rows), rows)
                    self._db.executemany(
                        "INSERT INTO outbox (seq, id, kind, class, body) VALUES (?, ?, ?, ?, ?)",
                        [(r.seq, r.id, r.kind, priority_class(r.kind), r.body) for r in rows])
                    # A dropped event keeps its seq used: the hub sees the gap.
                    self._db.execute("UPDATE meta SET value=? WHERE key='next_seq'",
                                     (last_seq + 1,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                self._recount()
                raise
            self._count += len(rows)
            self._bytes += sum(len(r.body) for r in rows)

    def _make_room(self, size: int, rows: list[Row]) -> None:
        excess = self._bytes + size - self.max_bytes
        if excess <= 0:
            return
        for cls in (LOW, NORMAL):
            found = self._db.execute(
                "SELECT seq, kind, LENGTH(body) FROM outbox WHERE class=? ORDER BY seq", (cls,))
            victims: list[tuple[int]] = []
            for seq, kind, length in found:
                if excess <= 0:
                    break
                victims.append((seq,))
                self.dropped[kind] += 1
                excess -= length
                self._bytes -= length
                self._count -= 1
            self._db.executemany("DELETE FROM outbox WHERE seq=?", victims)
            if excess <= 0:
                return
        # Nothing left to evict but alarms: alarms are admitted over the cap; the
        # rest of this batch that is not an alarm is dropped (and counted).
        keep = [r for r in rows if priority_class(r.kind) == ALARM]
        for r in rows:
            if priority_class(r.kind) != ALARM:
                self.dropped[r.kind] += 1
        rows[:] = keep

    # --- the uplink side ---------------------------------------------------------

    def peek(self, after_seq: int, limit: int) -> list[Row]:
        with self._lock:
            cur = self._db.execute(
                "SELECT seq, id, kind, body FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit))
            return [Row(s, i, k, bytes(b)) for s, i, k, b in cur]

    def remove(self, seqs: list[int]) -> None:
        if not seqs:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            sizes = 0
            removed = 0
            for seq in seqs:
                got = self._db.execute(
                    "DELETE FROM outbox WHERE seq=? RETURNING LENGTH(body)", (seq,)).fetchone()
                if got is not None:
                    sizes += got[0]
                    removed += 1
            self._db.execute("COMMIT")
            self._bytes -= sizes
            self._count -= removed

    # --- reporting ---------------------------------------------------------------

    def dead_letters(self) -> list[tuple[str, bytes, str]]:
        with self._lock:
            cur = self._db.execute("SELECT source, payload, error FROM dead_letter ORDER BY rowid")
            return [(s, bytes(p), e) for s, p, e in cur]

    @property
    def count(self) -> int:
        return int(self._count)

    @property
    def bytes(self) -> int:
        return int(self._bytes)

    @property
    def warning(self) -> bool:
        return bool(self._bytes >= self.warn_bytes)

    def close(self) -> None:
        with self._lock:
            self._db.close()
