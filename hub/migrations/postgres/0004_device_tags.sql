-- Trygg hub schema, version 4, PostgreSQL: device tags on placements, for rule scopes.
-- The same column as ../0004_device_tags.sql (SQLite), as a text array, sorted and
-- de-duplicated by the hub (devices.tags). The CHECK repeats the rule for each tag on
-- the array's text form ({exit,stove-guard}; a tag spelt null is printed "null").
ALTER TABLE placements ADD COLUMN tags text[] NOT NULL DEFAULT '{}'
    CHECK (
        cardinality(tags) <= 16
        AND (
            tags = '{}'
            OR tags::text ~ '^\{([a-z0-9_-]{1,32}|"[a-z0-9_-]{1,32}")(,([a-z0-9_-]{1,32}|"[a-z0-9_-]{1,32}"))*\}$'
        )
    );
