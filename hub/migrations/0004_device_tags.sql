-- Trygg hub schema, version 4: device tags on placements, for rule scopes (scope: {tags: [...]}).
-- tags is a JSON array of text, sorted and de-duplicated by the hub (devices.tags checks
-- each tag: lowercase [a-z0-9_-]{1,32}, at most 16); the CHECK keeps out anything else.
ALTER TABLE placements ADD COLUMN tags TEXT NOT NULL DEFAULT '[]'
    CHECK (json_valid(tags) AND json_type(tags) = 'array' AND json_array_length(tags) <= 16);
