-- Trygg hub schema, PostgreSQL: cancel by the resident, the same columns as
-- ../0008_resident_cancel.sql (SQLite). A mark on an open alert, not a state.
ALTER TABLE alerts ADD COLUMN cancelled_by_resident_at timestamptz;
ALTER TABLE alerts ADD COLUMN priority_before_cancel text
    CHECK (priority_before_cancel IN ('critical', 'high', 'medium', 'low'));
