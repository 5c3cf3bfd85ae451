-- Trygg hub schema, version 7, PostgreSQL: resident and guardian accounts, each bound to the
-- residents whose own page it may read. The same tables as ../0007_account_residents.sql.
CREATE TABLE account_residents (
    username    text NOT NULL REFERENCES staff (username) ON DELETE CASCADE,
    resident_id text NOT NULL REFERENCES residents (id),
    PRIMARY KEY (username, resident_id)
);
CREATE INDEX account_residents_resident ON account_residents (resident_id);

-- The resident's page reads one resident's alerts of the last 30 days.
CREATE INDEX alerts_resident_raised ON alerts (resident_id, raised_at);
