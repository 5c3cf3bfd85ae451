-- Trygg hub schema, version 6: relatives (pårørende) of residents, for the relatives step
-- of an escalation chain (hub.relatives). Who of them may be told of which measure's
-- alerts is on the legal basis (notify_relatives in legal_bases.body), not here.
CREATE TABLE relatives (
    resident_id  TEXT NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    id           TEXT NOT NULL,
    display_name TEXT NOT NULL,
    relation     TEXT NOT NULL,
    phone        TEXT,
    address      TEXT,
    language     TEXT NOT NULL DEFAULT 'nb' CHECK (language IN ('nb', 'en')),
    notify       INTEGER NOT NULL DEFAULT 1 CHECK (notify IN (0, 1)),
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (resident_id, id),
    CHECK (phone IS NOT NULL OR address IS NOT NULL)
);
