-- Trygg hub schema, version 2, PostgreSQL: routing, escalation and the duty roster.
-- The same tables and columns as ../0002_routing.sql (SQLite); datetimes are
-- timestamptz, JSON arrays jsonb; shift start/end stay local wall times 'HH:MM'.

CREATE TABLE shifts (
    id          text PRIMARY KEY,
    staff       text NOT NULL,
    site        text NOT NULL,
    units       jsonb NOT NULL,
    start_local text NOT NULL,
    end_local   text NOT NULL,
    tz          text NOT NULL DEFAULT 'Europe/Oslo',
    primary_for jsonb NOT NULL DEFAULT '[]'
);
CREATE INDEX shifts_site ON shifts (site);

CREATE TABLE shift_log (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    staff   text NOT NULL,
    site    text NOT NULL,
    on_duty boolean NOT NULL,
    at      timestamptz NOT NULL,
    units   jsonb NOT NULL DEFAULT '[]'
);
CREATE INDEX shift_log_at ON shift_log (at);

CREATE TABLE alert_routing (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id  text NOT NULL,
    at        timestamptz NOT NULL,
    kind      text NOT NULL,
    actor     text NOT NULL,
    recipient text,
    channel   text,
    step      integer,
    detail    text
);
CREATE INDEX alert_routing_alert ON alert_routing (alert_id, id);
