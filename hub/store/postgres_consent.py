"""PostgreSQL: legal bases, notices, the hash-chained audit log and retention.

The twin of :class:`hub.store.consent_sqlite.SqliteConsentMixin`, as a mixin of
:class:`hub.store.postgres.PostgresStore`; tables from migration 0003. The audit
chain is extended under a transaction-scoped advisory lock after reading the
head, so two writers (two hubs on one database) can never fork it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from psycopg.types.json import Jsonb

from hub.alerts import AlertState
from hub.audit import AuditEntry, AuditRecord, link
from hub.consent.records import BasisAction, BasisChange, Notice, NoticeKind
from hub.errors import StoreError
from hub.store.base import RetentionCutoffs, RetentionResult
from hub.store.common import utc
from rules.consent import LegalBasis, basis_from_json, basis_to_json

Row = tuple[Any, ...]
_OPEN = [str(s) for s in AlertState if s.is_open]
_AUDIT_COLUMNS = "seq, at, actor, role, action, resident_id, target, reason, prev_hash, hash"
_NOTICE_COLUMNS = "basis_id, kind, due_at, role, site, created_at, acknowledged_by"
_AUDIT_LOCK = 0x7472_7967_0003


def _audit_from_row(row: Row) -> AuditRecord:
    seq, at, actor, role, action, resident_id, target, reason, prev_hash, digest = row
    entry = AuditEntry(utc(at), actor, role, action, resident_id, target, reason)
    return AuditRecord(int(seq), entry, prev_hash, digest)


def _notice_from_row(row: Row) -> Notice:
    basis_id, kind, due_at, role, site, created_at, acknowledged_by = row
    return Notice(basis_id, NoticeKind(kind), utc(due_at), role, site, utc(created_at),
                  acknowledged_by)  # fmt: skip


class PostgresConsentMixin:
    _write: Any
    _read: Any

    # --- bases -----------------------------------------------------------------------

    def save_basis(self, basis: LegalBasis, change: BasisChange) -> None:
        if change.basis_id != basis.id:
            raise StoreError("the change names another basis")
        with self._write() as conn:
            conn.execute(
                "INSERT INTO legal_bases (id, resident_id, body, updated_at)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET"
                " resident_id = excluded.resident_id, body = excluded.body,"
                " updated_at = excluded.updated_at",
                (basis.id, basis.resident_id, Jsonb(basis_to_json(basis)), utc(change.at)),
            )
            conn.execute(
                "INSERT INTO legal_basis_changes (basis_id, at, actor, action, note)"
                " VALUES (%s, %s, %s, %s, %s)",
                (basis.id, utc(change.at), change.actor, str(change.action), change.note),
            )

    def get_basis(self, basis_id: str) -> LegalBasis | None:
        rows = self._read("SELECT body FROM legal_bases WHERE id = %s", (basis_id,))
        return basis_from_json(rows[0][0]) if rows else None

    def list_bases(self, resident_id: str | None = None) -> list[LegalBasis]:
        if resident_id is None:
            rows = self._read('SELECT body FROM legal_bases ORDER BY id COLLATE "C"')
        else:
            rows = self._read(
                'SELECT body FROM legal_bases WHERE resident_id = %s ORDER BY id COLLATE "C"',
                (resident_id,),
            )
        return [basis_from_json(body) for (body,) in rows]

    def basis_changes(self, basis_id: str) -> list[BasisChange]:
        rows = self._read(
            "SELECT basis_id, at, actor, action, note FROM legal_basis_changes"
            " WHERE basis_id = %s ORDER BY id",
            (basis_id,),
        )
        return [
            BasisChange(b, utc(at), actor, BasisAction(action), note)
            for b, at, actor, action, note in rows
        ]

    def add_notice(self, notice: Notice) -> bool:
        with self._write() as conn:
            cur = conn.execute(
                f"INSERT INTO consent_notices ({_NOTICE_COLUMNS})"
                " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (notice.basis_id, str(notice.kind), utc(notice.due_at), notice.role,
                 notice.site, utc(notice.created_at), notice.acknowledged_by),
            )  # fmt: skip
            return bool(cur.rowcount > 0)

    def list_notices(self, site: str | None = None) -> list[Notice]:
        where, params = ("", []) if site is None else (" WHERE site = %s", [site])
        rows = self._read(
            f"SELECT {_NOTICE_COLUMNS} FROM consent_notices{where}"
            ' ORDER BY due_at, basis_id COLLATE "C", kind COLLATE "C"',
            params,
        )
        return [_notice_from_row(r) for r in rows]

    def acknowledge_notice(self, notice: Notice, by: str) -> bool:
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE consent_notices SET acknowledged_by = %s WHERE basis_id = %s"
                " AND kind = %s AND due_at = %s AND acknowledged_by IS NULL",
                (by, notice.basis_id, str(notice.kind), utc(notice.due_at)),
            )
            return bool(cur.rowcount > 0)

    def site_zones(self) -> dict[str, str]:
        return {site: tz for site, tz in self._read("SELECT id, timezone FROM sites")}

    # --- audit -----------------------------------------------------------------------

    def append_audit(self, entries: Sequence[AuditEntry]) -> list[AuditRecord]:
        out: list[AuditRecord] = []
        if not entries:
            return out
        with self._write() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_AUDIT_LOCK,))
            row = conn.execute(
                f"SELECT {_AUDIT_COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            prev = _audit_from_row(row) if row else None
            rows = []
            for entry in entries:
                prev = link(prev, entry)
                e = prev.entry
                rows.append((prev.seq, utc(e.at), e.actor, e.role, e.action, e.resident_id,
                             e.target, e.reason, prev.prev_hash, prev.hash))  # fmt: skip
                out.append(prev)
            with conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO audit_log ({_AUDIT_COLUMNS})"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    rows,
                )
            assert prev is not None
            conn.execute(
                "INSERT INTO audit_head (id, seq, hash) VALUES (1, %s, %s)"
                " ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                (prev.seq, prev.hash),
            )
        return out

    def audit_records(
        self, resident_id: str | None = None, after: int = 0, limit: int = 10_000
    ) -> list[AuditRecord]:
        clause = "" if resident_id is None else " AND resident_id = %s"
        params: list[Any] = [after] + ([] if resident_id is None else [resident_id])
        rows = self._read(
            f"SELECT {_AUDIT_COLUMNS} FROM audit_log WHERE seq > %s{clause} ORDER BY seq LIMIT %s",
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
            " ON a.id = ae.alert_id WHERE a.state = ANY(%s))"
        )
        old = "SELECT id FROM alerts WHERE NOT (state = ANY(%s)) AND updated_at < %s"
        with self._write() as conn:
            events = conn.execute(
                f"DELETE FROM events WHERE ts < %s AND {held}",
                (utc(cutoffs.events_before), _OPEN),
            ).rowcount
            for c in cutoffs.per_device:  # stricter per-basis retention
                events += conn.execute(
                    f"DELETE FROM events WHERE device = %s AND kind = ANY(%s) AND ts < %s"
                    f" AND {held}",
                    (c.device, sorted(c.kinds), utc(c.before), _OPEN),
                ).rowcount
            gps = conn.execute(
                "DELETE FROM events WHERE kind = 'gps.position' AND ts < %s"
                f" AND NOT (device = ANY(%s)) AND {held}",
                (utc(cutoffs.gps_before), sorted(cutoffs.gps_held), _OPEN),
            ).rowcount
            params = (_OPEN, utc(cutoffs.alerts_before))
            conn.execute(f"DELETE FROM alert_transitions WHERE alert_id IN ({old})", params)
            conn.execute(f"DELETE FROM alert_events WHERE alert_id IN ({old})", params)
            alerts = conn.execute(f"DELETE FROM alerts WHERE id IN ({old})", params).rowcount
        return RetentionResult(events=events, gps_positions=gps, alerts=alerts)
