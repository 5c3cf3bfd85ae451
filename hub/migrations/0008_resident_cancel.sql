-- Trygg hub schema: cancel by the resident. A mark on an open alert, not a state: when
-- the resident cancelled (second press or cancel key, microseconds since the epoch, UTC,
-- as every time here) and the priority the alert had before the cancel lowered it.
ALTER TABLE alerts ADD COLUMN cancelled_by_resident_at INTEGER;
ALTER TABLE alerts ADD COLUMN priority_before_cancel TEXT
    CHECK (priority_before_cancel IN ('critical', 'high', 'medium', 'low'));
