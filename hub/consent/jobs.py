"""The hub's scheduled consent work: notices before expiry/review, retention, and
reloading the bases so one that expires or starts is enforced without a restart
(the check itself reads validity per event; reloading picks up outside changes)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from hub import retention
from hub.consent import notices
from hub.errors import StoreError

log = logging.getLogger("trygg.consent")


async def run_jobs(
    hub: Any,
    settings: retention.RetentionSettings,
    clock: Callable[[], datetime],
    stop: asyncio.Event,
) -> None:
    while not stop.is_set():
        now = clock()
        try:
            await hub.reload_consent()
            await hub.run_store(notices.send_due, hub.store, now)
            locating = hub.consent.locates.residents_open(now)
            result = await hub.run_store(retention.run, hub.store, settings, now, locating)
            log.info(
                "retention pass",
                extra={
                    "events": result.events,
                    "gps_positions": result.gps_positions,
                    "alerts": result.alerts,
                },
            )
        except StoreError as exc:
            log.error("consent jobs failed; next pass later: %s", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), settings.job_interval_s)
