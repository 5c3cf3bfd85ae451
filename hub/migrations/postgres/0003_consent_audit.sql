-- Trygg hub schema, version 3, PostgreSQL: legal bases, their history, notices, the
-- audit log. The same tables and columns as ../0003_consent_audit.sql (SQLite).

CREATE TABLE legal_bases (
    id          text PRIMARY KEY,
    resident_id text NOT NULL REFERENCES residents (id),
    body        jsonb NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX legal_bases_resident ON legal_bases (resident_id);

CREATE TABLE legal_basis_changes (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    basis_id text NOT NULL REFERENCES legal_bases (id),
    at       timestamptz NOT NULL,
    actor    text NOT NULL,
    action   text NOT NULL,
    note     text
);
CREATE INDEX legal_basis_changes_basis ON legal_basis_changes (basis_id, id);

CREATE TABLE consent_notices (
    basis_id        text NOT NULL REFERENCES legal_bases (id),
    kind            text NOT NULL,
    due_at          timestamptz NOT NULL,
    role            text NOT NULL,
    site            text,
    created_at      timestamptz NOT NULL,
    acknowledged_by text,
    PRIMARY KEY (basis_id, kind, due_at)
);

-- The audit log: append-only and hash-chained (hub.audit); seq 1, 2, 3, ... without gaps.
CREATE TABLE audit_log (
    seq         bigint PRIMARY KEY,
    at          timestamptz NOT NULL,
    actor       text NOT NULL,
    role        text NOT NULL,
    action      text NOT NULL,
    resident_id text,
    target      text,
    reason      text,
    prev_hash   text NOT NULL,
    hash        text NOT NULL
);
CREATE INDEX audit_log_resident ON audit_log (resident_id, seq);

CREATE TABLE audit_head (
    id   integer PRIMARY KEY CHECK (id = 1),
    seq  bigint NOT NULL,
    hash text NOT NULL
);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

CREATE INDEX events_kind_ts ON events (kind, ts);
