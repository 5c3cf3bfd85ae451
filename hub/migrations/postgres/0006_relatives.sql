-- Trygg hub schema, version 6, PostgreSQL: relatives (pårørende) of residents.
-- The same table as ../0006_relatives.sql (SQLite); updated_at is timestamptz.
CREATE TABLE relatives (
    resident_id  text NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    id           text NOT NULL,
    display_name text NOT NULL,
    relation     text NOT NULL,
    phone        text,
    address      text,
    language     text NOT NULL DEFAULT 'nb' CHECK (language IN ('nb', 'en')),
    notify       boolean NOT NULL DEFAULT true,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (resident_id, id),
    CHECK (phone IS NOT NULL OR address IS NOT NULL)
);
