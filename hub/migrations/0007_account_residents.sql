-- Trygg hub schema, version 7: resident and guardian accounts, each bound to the residents
-- whose own page it may read (hub.access.SELF_ROLES; a resident: exactly one, a guardian:
-- one or more, checked by hub.access.binding_problem before a row is written).
CREATE TABLE account_residents (
    username    TEXT NOT NULL REFERENCES staff (username) ON DELETE CASCADE,
    resident_id TEXT NOT NULL REFERENCES residents (id),
    PRIMARY KEY (username, resident_id)
);
CREATE INDEX account_residents_resident ON account_residents (resident_id);

-- The resident's page reads one resident's alerts of the last 30 days.
CREATE INDEX alerts_resident_raised ON alerts (resident_id, raised_at);
