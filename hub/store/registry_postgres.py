"""PostgreSQL: the device registry (device changes with history, gateways).

A mixin of :class:`hub.store.postgres.PostgresStore` (its ``_write``/``_read``):
``write_devices`` is one transaction, so a bulk import is all or nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import psycopg

from hub.errors import StoreError
from hub.registry.ports import DeviceChange
from hub.registry.records import DeviceHistory, GatewayRecord
from hub.store import postgres_rows as codec
from hub.store import registry_rows as rr
from hub.store.base import Unit
from hub.store.common import utc

Row = tuple[Any, ...]
_UPSERT_DEVICE = rr.upsert_device_sql("%s")
_INSERT_HISTORY = rr.insert_history_sql("%s")
_SELECT_HISTORY = rr.select_history_sql("%s")
_UPSERT_GATEWAY = rr.upsert_gateway_sql("%s")
_SELECT_UNITS = 'SELECT id, site, name FROM units ORDER BY id COLLATE "C"'
_DELETE_PLACEMENT = "DELETE FROM placements WHERE device = %s"


def _same(value: datetime) -> datetime:
    return utc(value)  # refuses a naive datetime, as SQLite's to_micros does


class PostgresRegistryMixin:
    def _write(self) -> AbstractContextManager[psycopg.Connection[Row]]:
        raise NotImplementedError  # provided by PostgresStore

    def _read(self, query: str, params: Sequence[Any] = ()) -> list[Row]:
        raise NotImplementedError  # provided by PostgresStore

    def write_devices(self, changes: Sequence[DeviceChange]) -> None:
        rows = list(_rows(changes))  # naive datetimes and mismatches fail before the transaction
        with self._write() as conn:
            for device, placement, history, device_id in rows:
                conn.execute(_UPSERT_DEVICE, device)
                if placement is None:
                    conn.execute(_DELETE_PLACEMENT, (device_id,))
                else:
                    conn.execute(codec.UPSERT_PLACEMENT, placement)
                conn.execute(_INSERT_HISTORY, history)

    def device_history(self, device: str) -> list[DeviceHistory]:
        return [rr.history_from_row(r, utc) for r in self._read(_SELECT_HISTORY, (device,))]

    def list_units(self) -> list[Unit]:
        return [Unit(*r) for r in self._read(_SELECT_UNITS)]

    def list_gateways(self, site: str | None = None) -> list[GatewayRecord]:
        query = rr.select_gateways_sql("%s", site is not None, ' COLLATE "C"')
        rows = self._read(query, () if site is None else (site,))
        return [rr.gateway_from_row(r, utc) for r in rows]

    def save_gateway(self, gateway: GatewayRecord) -> None:
        row = rr.gateway_row(gateway, _same)
        with self._write() as conn:
            conn.execute(_UPSERT_GATEWAY, row)


def _rows(changes: Sequence[DeviceChange]) -> Iterator[tuple[Row, Row | None, Row, str]]:
    for change in changes:
        device_id = change.device.id
        if change.history.device != device_id or (
            change.placement is not None and change.placement.device != device_id
        ):
            raise StoreError(f"device {device_id}: the placement or history names another device")
        placement = None if change.placement is None else codec.placement_row(change.placement)
        yield (rr.device_row(change, _same), placement, rr.history_row(change.history, _same),
               device_id)  # fmt: skip
