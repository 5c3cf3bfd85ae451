-- Trygg hub schema, version 9, PostgreSQL: every stored event id once, in a table of
-- its own, for the ingest path's duplicate check.
--
-- The primary key of a partitioned (or hypertable) events table must hold the
-- partition column, (ts, id), so it cannot refuse an id stored before, and
-- "not stored yet" asked of events reads every monthly partition: the check
-- grew with the table. event_ids is not partitioned: its primary key refuses
-- an id seen before with one index probe whatever events holds. The writer
-- inserts the batch's ids here (ON CONFLICT DO NOTHING RETURNING id) and only
-- those it got back into events, in one statement and one transaction
-- (hub/store/postgres_rows.py). Retention prunes it with the events, by the
-- same cutoff (hub/store/postgres_layout.py).
--
-- COLLATE "C": ids are ASCII (UUID or ULID); byte order compares them without
-- the locale, which is most of an index probe's cost under C.UTF-8.
CREATE TABLE event_ids (
    id text COLLATE "C" PRIMARY KEY,
    ts timestamptz NOT NULL
);
-- Ids are time-ordered and arrive close to time order: a BRIN index finds the
-- rows to prune at almost no cost per insert.
CREATE INDEX event_ids_ts ON event_ids USING brin (ts);
INSERT INTO event_ids (id, ts) SELECT id, min(ts) FROM events GROUP BY id;
