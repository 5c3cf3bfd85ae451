"""The store port of routing: the roster, the shift log and the routing log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from hub.routing.log import RoutingRecord
from hub.routing.roster import Shift, ShiftLog


class RoutingStore(Protocol):
    def save_shift(self, shift: Shift) -> None: ...
    def delete_shift(self, shift_id: str) -> bool: ...
    def list_shifts(self, site: str | None = None) -> list[Shift]: ...
    def log_shift(self, entry: ShiftLog) -> None: ...
    def shift_logs(self, since: datetime) -> list[ShiftLog]:
        """Log entries at or after ``since``, oldest first."""
        ...

    def append_routing(self, records: Sequence[RoutingRecord]) -> None: ...
    def routing_log(self, alert_id: str) -> list[RoutingRecord]:
        """The alert's routing records in the order they were appended."""
        ...
