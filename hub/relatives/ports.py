"""The store port of the relatives registry (shared tests: tests/unit/test_relatives_store.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from hub.relatives.model import Relative


class RelativeStore(Protocol):
    def save_relative(self, relative: Relative, at: datetime) -> None:
        """Insert or replace (resident_id, id); the resident must exist."""
        ...

    def delete_relative(self, resident_id: str, relative_id: str) -> bool: ...
    def list_relatives(self, resident_id: str | None = None) -> list[Relative]:
        """Ordered by resident, then relative id."""
        ...
