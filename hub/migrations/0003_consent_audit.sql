-- Trygg hub schema, version 3: legal bases, their history, notices, the audit log.
-- Datetimes are INTEGER microseconds since the epoch (UTC), as in version 1.

-- One row per basis; body is rules.consent.basis_to_json (the same JSON the gateways get).
CREATE TABLE legal_bases (
    id          TEXT PRIMARY KEY,
    resident_id TEXT NOT NULL REFERENCES residents (id),
    body        TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX legal_bases_resident ON legal_bases (resident_id);

-- Who did what to a basis, append-only.
CREATE TABLE legal_basis_changes (
    id       INTEGER PRIMARY KEY,
    basis_id TEXT NOT NULL REFERENCES legal_bases (id),
    at       INTEGER NOT NULL,
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    note     TEXT
);
CREATE INDEX legal_basis_changes_basis ON legal_basis_changes (basis_id, id);

-- Notices before a basis expires or is due for review: one per basis, kind and due date.
CREATE TABLE consent_notices (
    basis_id        TEXT NOT NULL REFERENCES legal_bases (id),
    kind            TEXT NOT NULL,
    due_at          INTEGER NOT NULL,
    role            TEXT NOT NULL,
    site            TEXT,
    created_at      INTEGER NOT NULL,
    acknowledged_by TEXT,
    PRIMARY KEY (basis_id, kind, due_at)
);

-- The audit log: append-only and hash-chained (hub.audit). seq is assigned 1, 2, 3, ...
-- with no gaps; audit_head holds the newest (seq, hash) so a cut-off tail shows.
CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    role        TEXT NOT NULL,
    action      TEXT NOT NULL,
    resident_id TEXT,
    target      TEXT,
    reason      TEXT,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX audit_log_resident ON audit_log (resident_id, seq);

CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);

-- Refuse edits and deletes through SQL; verify still catches a file edited by hand.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

-- Retention deletes events by kind and time.
CREATE INDEX events_kind_ts ON events (kind, ts);
