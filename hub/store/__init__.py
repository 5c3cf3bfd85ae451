"""Storage: the ports the hub writes through, an in-memory fake and SQLite."""
