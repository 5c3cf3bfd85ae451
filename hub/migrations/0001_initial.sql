-- Trygg hub schema, version 1.
-- Datetimes are INTEGER microseconds since 1970-01-01T00:00:00Z (UTC): exact,
-- sortable, and small index keys. Read them with datetime(col / 1000000, 'unixepoch').

-- The registry: site -> unit -> resident, devices at a site, one placement per device.
CREATE TABLE sites (
    id       TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    timezone TEXT NOT NULL DEFAULT 'Europe/Oslo'
);

CREATE TABLE units (
    id   TEXT PRIMARY KEY,
    site TEXT NOT NULL REFERENCES sites (id),
    name TEXT NOT NULL
);
CREATE INDEX units_site ON units (site);

CREATE TABLE residents (
    id        TEXT PRIMARY KEY,
    site      TEXT NOT NULL REFERENCES sites (id),
    unit      TEXT NOT NULL REFERENCES units (id),
    name      TEXT NOT NULL,
    apartment TEXT
);
CREATE INDEX residents_unit ON residents (unit);

-- last_seen: the latest received_at of the device's stored events, kept up to
-- date by each event batch so the device list never scans events.
CREATE TABLE devices (
    id        TEXT PRIMARY KEY,
    site      TEXT NOT NULL REFERENCES sites (id),
    gateway   TEXT NOT NULL,
    type      TEXT NOT NULL,
    serial    TEXT,
    last_seen INTEGER
);
CREATE INDEX devices_site ON devices (site);

CREATE TABLE placements (
    device      TEXT PRIMARY KEY REFERENCES devices (id),
    unit        TEXT REFERENCES units (id),
    apartment   TEXT,
    room        TEXT,
    resident_id TEXT REFERENCES residents (id)
);
CREATE INDEX placements_unit ON placements (unit);
CREATE INDEX placements_resident ON placements (resident_id);

-- Accounts (staff, technicians, admins). units: JSON array of unit ids in scope.
CREATE TABLE staff (
    username      TEXT PRIMARY KEY,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    site          TEXT,
    units         TEXT NOT NULL DEFAULT '[]'
);

-- Events as the gateways sent them. position (the rowid) is the paging cursor and
-- arrival order. Not AUTOINCREMENT: that burns a position for every duplicate
-- INSERT OR IGNORE skips and updates sqlite_sequence per batch; max(rowid) + 1 is
-- never reused while the newest rows are kept (retention deletes the oldest).
-- No foreign key to devices: events from unregistered devices are stored too.
CREATE TABLE events (
    position    INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    site        TEXT NOT NULL,
    gateway     TEXT NOT NULL,
    device      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    ts          INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    data        TEXT NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE INDEX events_site_ts ON events (site, ts);
CREATE INDEX events_device_ts ON events (device, ts);
CREATE INDEX events_kind ON events (kind);

-- Alerts. event_ids (JSON array) is the alert as saved; alert_events indexes the
-- same ids by event for alert_for_event.
CREATE TABLE alerts (
    id          TEXT PRIMARY KEY,
    site        TEXT NOT NULL,
    unit        TEXT,
    apartment   TEXT,
    resident_id TEXT,
    device      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    category    TEXT NOT NULL,
    priority    TEXT NOT NULL,
    rule        TEXT NOT NULL,
    message     TEXT NOT NULL,
    state       TEXT NOT NULL,
    raised_at   INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    event_ts    INTEGER NOT NULL,
    event_ids   TEXT NOT NULL,
    accepted_by TEXT,
    outcome     TEXT,
    note        TEXT
);
CREATE INDEX alerts_raised ON alerts (raised_at);
CREATE INDEX alerts_state ON alerts (state);
CREATE INDEX alerts_site_raised ON alerts (site, raised_at);

-- Not unique on event_id alone: one event can raise alerts under two rules.
-- No foreign key to events: rules run before the event batch is committed.
CREATE TABLE alert_events (
    alert_id TEXT NOT NULL REFERENCES alerts (id),
    event_id TEXT NOT NULL,
    PRIMARY KEY (alert_id, event_id)
);
CREATE INDEX alert_events_event ON alert_events (event_id);

CREATE TABLE alert_transitions (
    id         INTEGER PRIMARY KEY,
    alert_id   TEXT NOT NULL REFERENCES alerts (id),
    from_state TEXT,
    to_state   TEXT NOT NULL,
    at         INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    outcome    TEXT,
    note       TEXT
);
CREATE INDEX alert_transitions_alert ON alert_transitions (alert_id, id);
