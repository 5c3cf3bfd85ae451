"""Opening the PostgreSQL store from the hub's settings, and its daily upkeep.

Kept apart from :mod:`hub.store.postgres` so the runtime can import the upkeep
task without importing psycopg when it runs on SQLite.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from hub.settings import HubSettings

if TYPE_CHECKING:
    from hub.service import Hub
    from hub.store.postgres import PostgresStore

log = logging.getLogger("trygg.store")

MAINTAIN_EVERY_S = 24 * 3600.0


def open_postgres(settings: HubSettings) -> PostgresStore:
    from hub.retention import RetentionSettings
    from hub.store.postgres import PostgresStore

    assert settings.database_url is not None
    # One retention for raw events: the retention job deletes rows after
    # TRYGG_EVENT_RETENTION_DAYS (per-basis retention may only be shorter), and
    # whole partitions (or Timescale chunks) older than that are dropped.
    store = PostgresStore(
        settings.database_url.get_secret_value(),
        schema=settings.database_schema,
        retention=timedelta(days=RetentionSettings().event_retention_days),
    )
    try:
        store.migrate()
    except BaseException:
        store.close()
        raise
    return store


async def maintain_daily(hub: Hub, stop: asyncio.Event, every_s: float = MAINTAIN_EVERY_S) -> None:
    """Partitions ahead and retention, once a day, for stores that need upkeep."""
    maintain: Any = getattr(hub.store, "maintain", None)
    if maintain is None:
        return
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), every_s)
            return
        except TimeoutError:
            pass
        try:
            layout = await hub.run_store(maintain)
            log.info(
                "store upkeep done",
                extra={"events_layout": layout.path, "created": list(layout.created),
                       "dropped": list(layout.dropped), "event_ids_pruned": layout.pruned_ids},
            )  # fmt: skip
        except Exception:
            log.exception("store upkeep failed; retrying tomorrow")
