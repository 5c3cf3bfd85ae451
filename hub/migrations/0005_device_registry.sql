-- Trygg hub schema, version 5: the device registry of the technical aid service (issue 8).
-- A device's life cycle state (devices.lifecycle: in_stock -> installed -> in_service ->
-- in_repair -> retired), firmware, notes and service dates; its history with who did what;
-- and the gateways with their broker credentials (the hash only, never the password).
-- Devices that exist before this version are the ones the hub already watches: in_service.
-- devices.site is the site a device belongs to (installed there, or kept in stock for it);
-- devices.gateway is '' while a device is on no gateway (in stock, in repair, retired).
ALTER TABLE devices ADD COLUMN state TEXT NOT NULL DEFAULT 'in_service'
    CHECK (state IN ('in_stock', 'installed', 'in_service', 'in_repair', 'retired'));
ALTER TABLE devices ADD COLUMN firmware TEXT;
ALTER TABLE devices ADD COLUMN notes TEXT;
ALTER TABLE devices ADD COLUMN installed_at INTEGER;
ALTER TABLE devices ADD COLUMN last_service_at INTEGER;
ALTER TABLE devices ADD COLUMN service_due_at INTEGER;
CREATE INDEX devices_state ON devices (state);

-- Append-only: every change to a device, with who made it and where the device was after.
CREATE TABLE device_history (
    id         INTEGER PRIMARY KEY,
    device     TEXT NOT NULL REFERENCES devices (id),
    at         INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    from_state TEXT,
    to_state   TEXT,
    note       TEXT,
    site       TEXT,
    unit       TEXT,
    apartment  TEXT,
    room       TEXT
);
CREATE INDEX device_history_device ON device_history (device, id);

-- One broker account per gateway (user {site}/{id}). password_hash is the hash as the
-- Mosquitto password file holds it ($7$, PBKDF2); NULL until provisioned and once revoked.
CREATE TABLE gateways (
    site           TEXT NOT NULL REFERENCES sites (id),
    id             TEXT NOT NULL,
    state          TEXT NOT NULL DEFAULT 'registered'
        CHECK (state IN ('registered', 'provisioned', 'revoked')),
    password_hash  TEXT,
    provisioned_at INTEGER,
    revoked_at     INTEGER,
    notes          TEXT,
    PRIMARY KEY (site, id)
);
