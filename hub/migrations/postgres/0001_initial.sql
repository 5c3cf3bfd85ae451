-- Trygg hub schema, version 1, PostgreSQL. The same tables, columns and names as
-- ../0001_initial.sql (SQLite); datetimes are timestamptz (UTC in every session),
-- JSON columns are jsonb.

CREATE TABLE sites (
    id       text PRIMARY KEY,
    name     text NOT NULL,
    timezone text NOT NULL DEFAULT 'Europe/Oslo'
);

CREATE TABLE units (
    id   text PRIMARY KEY,
    site text NOT NULL REFERENCES sites (id),
    name text NOT NULL
);
CREATE INDEX units_site ON units (site);

CREATE TABLE residents (
    id        text PRIMARY KEY,
    site      text NOT NULL REFERENCES sites (id),
    unit      text NOT NULL REFERENCES units (id),
    name      text NOT NULL,
    apartment text
);
CREATE INDEX residents_unit ON residents (unit);

CREATE TABLE devices (
    id        text PRIMARY KEY,
    site      text NOT NULL REFERENCES sites (id),
    gateway   text NOT NULL,
    type      text NOT NULL,
    serial    text,
    last_seen timestamptz
);
CREATE INDEX devices_site ON devices (site);

CREATE TABLE placements (
    device      text PRIMARY KEY REFERENCES devices (id),
    unit        text REFERENCES units (id),
    apartment   text,
    room        text,
    resident_id text REFERENCES residents (id)
);
CREATE INDEX placements_unit ON placements (unit);
CREATE INDEX placements_resident ON placements (resident_id);

CREATE TABLE staff (
    username      text PRIMARY KEY,
    display_name  text NOT NULL,
    role          text NOT NULL,
    password_hash text NOT NULL,
    site          text,
    units         jsonb NOT NULL DEFAULT '[]'
);

-- Events. The hub is the only writer and numbers rows from this sequence in
-- arrival order (position is the paging cursor, as SQLite's rowid is).
-- Partitioned by event time: the key (ts, id) holds the partition column, as
-- PostgreSQL and TimescaleDB require; the writer skips ids already stored
-- (events_id index) before it inserts, so an id is stored once.
CREATE SEQUENCE events_position_seq AS bigint;

-- With TimescaleDB installed or installable: a hypertable with compression and a
-- retention policy (the retention interval is set at every start, see
-- hub/store/postgres_layout.py). Otherwise: native monthly range partitions,
-- created ahead and dropped after the retention by the same module.
DO $$
DECLARE
    columns text := $cols$(
        position    bigint NOT NULL DEFAULT nextval('events_position_seq'),
        id          text NOT NULL,
        site        text NOT NULL,
        gateway     text NOT NULL,
        device      text NOT NULL,
        kind        text NOT NULL,
        ts          timestamptz NOT NULL,
        seq         bigint NOT NULL,
        data        jsonb NOT NULL,
        received_at timestamptz NOT NULL,
        PRIMARY KEY (ts, id)
    )$cols$;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
        CREATE EXTENSION IF NOT EXISTS timescaledb;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        EXECUTE 'CREATE TABLE events ' || columns;
        PERFORM create_hypertable('events', 'ts', chunk_time_interval => interval '7 days');
        EXECUTE 'ALTER TABLE events SET (timescaledb.compress,'
            || ' timescaledb.compress_segmentby = ''site'','
            || ' timescaledb.compress_orderby = ''ts DESC, id'')';
        PERFORM add_compression_policy('events', interval '30 days');
    ELSE
        EXECUTE 'CREATE TABLE events ' || columns || ' PARTITION BY RANGE (ts)';
        -- Events far outside the partitions made ahead (a gateway clock gone wrong)
        -- are kept here, never refused.
        CREATE TABLE events_default PARTITION OF events DEFAULT;
    END IF;
END
$$;
ALTER SEQUENCE events_position_seq OWNED BY events.position;
CREATE INDEX events_id ON events (id);
CREATE INDEX events_position ON events (position);
CREATE INDEX events_site_ts ON events (site, ts);
CREATE INDEX events_device_ts ON events (device, ts);
CREATE INDEX events_kind ON events (kind);

CREATE TABLE alerts (
    id          text PRIMARY KEY,
    site        text NOT NULL,
    unit        text,
    apartment   text,
    resident_id text,
    device      text NOT NULL,
    kind        text NOT NULL,
    category    text NOT NULL,
    priority    text NOT NULL,
    rule        text NOT NULL,
    message     text NOT NULL,
    state       text NOT NULL,
    raised_at   timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    event_ts    timestamptz NOT NULL,
    event_ids   jsonb NOT NULL,
    accepted_by text,
    outcome     text,
    note        text,
    saved       bigint GENERATED ALWAYS AS IDENTITY  -- insertion order: the tie-break
);
CREATE INDEX alerts_raised ON alerts (raised_at);
CREATE INDEX alerts_state ON alerts (state);
CREATE INDEX alerts_site_raised ON alerts (site, raised_at);

CREATE TABLE alert_events (
    alert_id text NOT NULL REFERENCES alerts (id),
    event_id text NOT NULL,
    linked   bigint GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (alert_id, event_id)
);
CREATE INDEX alert_events_event ON alert_events (event_id);

CREATE TABLE alert_transitions (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id   text NOT NULL REFERENCES alerts (id),
    from_state text,
    to_state   text NOT NULL,
    at         timestamptz NOT NULL,
    actor      text NOT NULL,
    outcome    text,
    note       text
);
CREATE INDEX alert_transitions_alert ON alert_transitions (alert_id, id);

-- Alert statistics per hour, site and unit: how many alerts reached each state.
-- A continuous aggregate with TimescaleDB, a plain view otherwise; same columns.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        CREATE TABLE alert_state_log (
            at       timestamptz NOT NULL,
            alert_id text NOT NULL,
            site     text NOT NULL,
            unit     text,
            category text NOT NULL,
            to_state text NOT NULL
        );
        PERFORM create_hypertable('alert_state_log', 'at');
        EXECUTE 'CREATE MATERIALIZED VIEW alert_stats_hourly'
            || ' WITH (timescaledb.continuous) AS'
            || ' SELECT time_bucket(interval ''1 hour'', at) AS hour, site, unit, category,'
            || ' to_state, count(*) AS alerts'
            || ' FROM alert_state_log GROUP BY 1, 2, 3, 4, 5 WITH NO DATA';
        PERFORM add_continuous_aggregate_policy('alert_stats_hourly',
            start_offset => interval '3 days', end_offset => interval '1 hour',
            schedule_interval => interval '15 minutes');
    ELSE
        CREATE TABLE alert_state_log (
            at       timestamptz NOT NULL,
            alert_id text NOT NULL,
            site     text NOT NULL,
            unit     text,
            category text NOT NULL,
            to_state text NOT NULL
        );
        CREATE INDEX alert_state_log_at ON alert_state_log (at);
        CREATE VIEW alert_stats_hourly AS
            SELECT date_trunc('hour', at) AS hour, site, unit, category, to_state,
                   count(*) AS alerts
            FROM alert_state_log GROUP BY 1, 2, 3, 4, 5;
    END IF;
END
$$;

-- Each transition lands in alert_state_log with the alert's site and unit, so
-- the statistics need no join (continuous aggregates cannot join freely).
CREATE FUNCTION log_alert_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO alert_state_log (at, alert_id, site, unit, category, to_state)
    SELECT NEW.at, NEW.alert_id, a.site, a.unit, a.category, NEW.to_state
    FROM alerts AS a WHERE a.id = NEW.alert_id;
    RETURN NEW;
END
$$;
CREATE TRIGGER alert_transitions_log AFTER INSERT ON alert_transitions
    FOR EACH ROW EXECUTE FUNCTION log_alert_transition();
