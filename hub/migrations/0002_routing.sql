-- Trygg hub schema, version 2: routing, escalation and the duty roster.
-- Datetimes are INTEGER microseconds since the epoch (UTC), as in version 1;
-- shift start/end are local wall times 'HH:MM' in the shift's time zone.

CREATE TABLE shifts (
    id          TEXT PRIMARY KEY,
    staff       TEXT NOT NULL,
    site        TEXT NOT NULL,
    units       TEXT NOT NULL,              -- JSON array of unit ids
    start_local TEXT NOT NULL,
    end_local   TEXT NOT NULL,              -- <= start_local: across midnight
    tz          TEXT NOT NULL DEFAULT 'Europe/Oslo',
    primary_for TEXT NOT NULL DEFAULT '[]'  -- JSON array of apartments
);
CREATE INDEX shifts_site ON shifts (site);

-- Staff logging on and off with their handheld or the board.
CREATE TABLE shift_log (
    id    INTEGER PRIMARY KEY,
    staff TEXT NOT NULL,
    site  TEXT NOT NULL,
    on_duty INTEGER NOT NULL,
    at    INTEGER NOT NULL,
    units TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX shift_log_at ON shift_log (at);

-- Every routing step of an alert: notify, delivered, receipt, failed, escalated,
-- rejected, withdrawn, told, nobody_on_duty, on_my_way.
CREATE TABLE alert_routing (
    id        INTEGER PRIMARY KEY,
    alert_id  TEXT NOT NULL,
    at        INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    actor     TEXT NOT NULL,
    recipient TEXT,
    channel   TEXT,
    step      INTEGER,
    detail    TEXT
);
CREATE INDEX alert_routing_alert ON alert_routing (alert_id, id);
