-- Trygg hub schema, version 9: the PostgreSQL series (postgres/0009_event_ids.sql)
-- adds event_ids, a table of every stored event id, because its partitioned
-- events table cannot hold a primary key on id alone. SQLite's events table is
-- not partitioned and its primary key on id already refuses a duplicate with one
-- index probe, so this version changes nothing here; it keeps the two series
-- numbered and named alike.
SELECT 1;
