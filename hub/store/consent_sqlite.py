"""SQLite: legal bases, notices, the hash-chained audit log and retention.

A mixin of :class:`hub.store.sqlite.SqliteStore` (its ``_write``/``_read``).
The audit chain is extended inside one ``BEGIN IMMEDIATE`` transaction that
reads the head, so two writers can never fork it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from hub.alerts import AlertState
from hub.audit import AuditEntry, AuditRecord, link
from hub.consent.records import BasisAction, BasisChange, Notice, NoticeKind
from hub.store.base import RetentionCutoffs, RetentionResult
from hub.store.common import from_micros, to_micros
from rules.consent import LegalBasis, basis_from_json, basis_to_json

Row = tuple[Any, ...]
_OPEN = tuple(str(s) for s in AlertState if s.is_open)
_OPEN_IN = ", ".join("?" for _ in _OPEN)
_AUDIT_COLUMNS = "seq, at, actor, role, action, resident_id, target, reason, prev_hash, hash"
_NOTICE_COLUMNS = "basis_id, kind, due_at, role, site, created_at, acknowledged_by"


def _audit_from_row(row: Row) -> AuditRecord:
    seq, at, actor, role, action, resident_id, target, reason, prev_hash, digest = row
    entry = AuditEntry(from_micros(at), actor, role, action, resident_id, target, reason)
    return AuditRecord(seq, entry, prev_hash, digest)


def _notice_from_row(row: Row) -> Notice:
    basis_id, kind, due_at, role, site, created_at, acknowledged_by = row
    return Notice(
        basis_id, NoticeKind(kind), from_micros(due_at), role, site, from_micros(created_at),
        acknowledged_by,
    )  # fmt: skip


class SqliteConsentMixin:
    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError  # provided by SqliteStore

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        raise NotImplementedError  # provided by SqliteStore

    # --- bases -----------------------------------------------------------------------

    def save_basis(self, basis: LegalBasis, change: BasisChange) -> None:
        body = json.dumps(basis_to_json(basis), sort_keys=True)
        with self._write() as conn:
            if change.basis_id != basis.id:
                raise sqlite3.IntegrityError("the change names another basis")
            conn.execute(
                "INSERT INTO legal_bases (id, resident_id, body, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET resident_id = excluded.resident_id,"
                " body = excluded.body, updated_at = excluded.updated_at",
                (basis.id, basis.resident_id, body, to_micros(change.at)),
            )
            conn.execute(
                "INSERT INTO legal_basis_changes (basis_id, at, actor, action, note)"
                " VALUES (?, ?, ?, ?, ?)",
                (basis.id, to_micros(change.at), change.actor, str(change.action), change.note),
            )

    def get_basis(self, basis_id: str) -> LegalBasis | None:
        rows = self._read("SELECT body FROM legal_bases WHERE id = ?", (basis_id,))
        return basis_from_json(json.loads(rows[0][0])) if rows else None

    def list_bases(self, resident_id: str | None = None) -> list[LegalBasis]:
        if resident_id is None:
            rows = self._read("SELECT body FROM legal_bases ORDER BY id")
        else:
            rows = self._read(
                "SELECT body FROM legal_bases WHERE resident_id = ? ORDER BY id", (resident_id,)
            )
        return [basis_from_json(json.loads(body)) for (body,) in rows]

    def basis_changes(self, basis_id: str) -> list[BasisChange]:
        rows = self._read(
            "SELECT basis_id, at, actor, action, note FROM legal_basis_changes"
            " WHERE basis_id = ? ORDER BY id",
            (basis_id,),
        )
        return [
            BasisChange(b, from_micros(at), actor, BasisAction(action), note)
            for b, at, actor, action, note in rows
        ]

    def add_notice(self, notice: Notice) -> bool:
        with self._write() as conn:
            before = conn.total_changes
            conn.execute(
                f"INSERT OR IGNORE INTO consent_notices ({_NOTICE_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    notice.basis_id, str(notice.kind), to_micros(notice.due_at), notice.role,
                    notice.site, to_micros(notice.created_at), notice.acknowledged_by,
                ),
            )  # fmt: skip
            return conn.total_changes > before

    def list_notices(self, site: str | None = None) -> list[Notice]:
        where, params = ("", []) if site is None else (" WHERE site = ?", [site])
        rows = self._read(
            f"SELECT {_NOTICE_COLUMNS} FROM consent_notices{where} ORDER BY due_at, basis_id, kind",
            params,
        )
        return [_notice_from_row(r) for r in rows]

    def acknowledge_notice(self, notice: Notice, by: str) -> bool:
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE consent_notices SET acknowledged_by = ? WHERE basis_id = ? AND kind = ?"
                " AND due_at = ? AND acknowledged_by IS NULL",
                (by, notice.basis_id, str(notice.kind), to_micros(notice.due_at)),
            )
            return cursor.rowcount > 0

    def site_zones(self) -> dict[str, str]:
        return {site: tz for site, tz in self._read("SELECT id, timezone FROM sites")}

    # --- audit -----------------------------------------------------------------------

    def append_audit(self, entries: Sequence[AuditEntry]) -> list[AuditRecord]:
        out: list[AuditRecord] = []
        if not entries:
            return out
        with self._write() as conn:
            row = conn.execute(
                f"SELECT {_AUDIT_COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            prev = _audit_from_row(row) if row else None
            for entry in entries:
                prev = link(prev, entry)
                e = prev.entry
                conn.execute(
                    f"INSERT INTO audit_log ({_AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        prev.seq, to_micros(e.at), e.actor, e.role, e.action, e.resident_id,
                        e.target, e.reason, prev.prev_hash, prev.hash,
                    ),
                )  # fmt: skip
                out.append(prev)
            conn.execute(
                "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                (prev.seq, prev.hash),
            )
        return out

    def audit_records(
        self, resident_id: str | None = None, after: int = 0, limit: int = 10_000
    ) -> list[AuditRecord]:
        clause = "" if resident_id is None else " AND resident_id = ?"
        params: list[Any] = [after] + ([] if resident_id is None else [resident_id])
        rows = self._read(
            f"SELECT {_AUDIT_COLUMNS} FROM audit_log WHERE seq > ?{clause} ORDER BY seq LIMIT ?",
            [*params, max(limit, 0)],
        )
        return [_audit_from_row(r) for r in rows]

    def iter_audit(self, batch: int = 5000) -> Iterator[AuditRecord]:
        after = 0
        while True:
            rows = self.audit_records(after=after, limit=batch)
            yield from rows
            if len(rows) < batch:
                return
            after = rows[-1].seq

    def audit_head(self) -> tuple[int, str] | None:
        rows = self._read("SELECT seq, hash FROM audit_head WHERE id = 1")
        return (int(rows[0][0]), str(rows[0][1])) if rows else None

    # --- retention -------------------------------------------------------------------

    def purge(self, cutoffs: RetentionCutoffs) -> RetentionResult:
        held = (
            "id NOT IN (SELECT ae.event_id FROM alert_events ae JOIN alerts a"
            f" ON a.id = ae.alert_id WHERE a.state IN ({_OPEN_IN}))"
        )
        with self._write() as conn:
            events = conn.execute(
                f"DELETE FROM events WHERE ts < ? AND {held}",
                (to_micros(cutoffs.events_before), *_OPEN),
            ).rowcount
            for c in cutoffs.per_device:  # stricter per-basis retention
                kinds = sorted(c.kinds)
                marks = ", ".join("?" for _ in kinds)
                events += conn.execute(
                    f"DELETE FROM events WHERE device = ? AND kind IN ({marks}) AND ts < ?"
                    f" AND {held}",
                    (c.device, *kinds, to_micros(c.before), *_OPEN),
                ).rowcount
            spared = sorted(cutoffs.gps_held)  # an open locate request holds these
            not_spared = f" AND device NOT IN ({', '.join('?' for _ in spared)})" if spared else ""
            gps = conn.execute(
                f"DELETE FROM events WHERE kind = 'gps.position' AND ts < ?{not_spared}"
                f" AND {held}",
                (to_micros(cutoffs.gps_before), *spared, *_OPEN),
            ).rowcount
            old = (
                f"SELECT id FROM alerts WHERE state NOT IN ({_OPEN_IN}) AND updated_at < ?"
            )
            params = (*_OPEN, to_micros(cutoffs.alerts_before))
            conn.execute(f"DELETE FROM alert_transitions WHERE alert_id IN ({old})", params)
            conn.execute(f"DELETE FROM alert_events WHERE alert_id IN ({old})", params)
            alerts = conn.execute(f"DELETE FROM alerts WHERE id IN ({old})", params).rowcount
        return RetentionResult(events=events, gps_positions=gps, alerts=alerts)
