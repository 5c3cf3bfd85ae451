-- Trygg hub schema, version 5, PostgreSQL: the device registry (see ../0005_device_registry.sql).
-- Devices that exist before this version are the ones the hub already watches: in_service.
-- devices.gateway is '' while a device is on no gateway (in stock, in repair, retired).
ALTER TABLE devices ADD COLUMN state text NOT NULL DEFAULT 'in_service'
    CHECK (state IN ('in_stock', 'installed', 'in_service', 'in_repair', 'retired'));
ALTER TABLE devices ADD COLUMN firmware text;
ALTER TABLE devices ADD COLUMN notes text;
ALTER TABLE devices ADD COLUMN installed_at timestamptz;
ALTER TABLE devices ADD COLUMN last_service_at timestamptz;
ALTER TABLE devices ADD COLUMN service_due_at timestamptz;
CREATE INDEX devices_state ON devices (state);

CREATE TABLE device_history (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device     text NOT NULL REFERENCES devices (id),
    at         timestamptz NOT NULL,
    actor      text NOT NULL,
    action     text NOT NULL,
    from_state text,
    to_state   text,
    note       text,
    site       text,
    unit       text,
    apartment  text,
    room       text
);
CREATE INDEX device_history_device ON device_history (device, id);

CREATE TABLE gateways (
    site           text NOT NULL REFERENCES sites (id),
    id             text NOT NULL,
    state          text NOT NULL DEFAULT 'registered'
        CHECK (state IN ('registered', 'provisioned', 'revoked')),
    password_hash  text,
    provisioned_at timestamptz,
    revoked_at     timestamptz,
    notes          text,
    PRIMARY KEY (site, id)
);
