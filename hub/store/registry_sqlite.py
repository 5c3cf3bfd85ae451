"""SQLite: the device registry (device changes with history, gateways).

A mixin of :class:`hub.store.sqlite.SqliteStore` (its ``_write``/``_read``):
``write_devices`` is one ``BEGIN IMMEDIATE`` transaction, so a bulk import is all
or nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from hub.registry.ports import DeviceChange
from hub.registry.records import DeviceHistory, GatewayRecord
from hub.store import registry_rows as rr
from hub.store import sqlite_rows as codec
from hub.store.base import Unit
from hub.store.common import from_micros, to_micros

Row = tuple[Any, ...]
_UPSERT_DEVICE = rr.upsert_device_sql("?")
_INSERT_HISTORY = rr.insert_history_sql("?")
_SELECT_HISTORY = rr.select_history_sql("?")
_UPSERT_GATEWAY = rr.upsert_gateway_sql("?")
_SELECT_UNITS = 'SELECT id, site, name FROM units ORDER BY id'
_DELETE_PLACEMENT = "DELETE FROM placements WHERE device = ?"


class SqliteRegistryMixin:
    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError  # provided by SqliteStore

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        raise NotImplementedError  # provided by SqliteStore

    def write_devices(self, changes: Sequence[DeviceChange]) -> None:
        with self._write() as conn:
            for change in changes:
                conn.execute(_UPSERT_DEVICE, rr.device_row(change, to_micros))
                if change.placement is None:
                    conn.execute(_DELETE_PLACEMENT, (change.device.id,))
                else:
                    if change.placement.device != change.device.id:
                        raise sqlite3.IntegrityError("the placement names another device")
                    conn.execute(codec.UPSERT_PLACEMENT, codec.placement_row(change.placement))
                if change.history.device != change.device.id:
                    raise sqlite3.IntegrityError("the history row names another device")
                conn.execute(_INSERT_HISTORY, rr.history_row(change.history, to_micros))

    def device_history(self, device: str) -> list[DeviceHistory]:
        return [rr.history_from_row(r, from_micros) for r in self._read(_SELECT_HISTORY, (device,))]

    def list_units(self) -> list[Unit]:
        return [Unit(*r) for r in self._read(_SELECT_UNITS)]

    def list_gateways(self, site: str | None = None) -> list[GatewayRecord]:
        query = rr.select_gateways_sql("?", site is not None)
        rows = self._read(query, () if site is None else (site,))
        return [rr.gateway_from_row(r, from_micros) for r in rows]

    def save_gateway(self, gateway: GatewayRecord) -> None:
        row = rr.gateway_row(gateway, to_micros)
        with self._write() as conn:
            conn.execute(_UPSERT_GATEWAY, row)
