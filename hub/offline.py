"""Devices and gateways the hub has not heard from: counted per site for the metrics.

:func:`count_offline` is pure (device views and ``now`` in, counts out);
:func:`export_offline` is the loop that reads the registry through the store
thread every ``every_s`` and sets ``trygg_devices_offline`` and
``trygg_gateways_offline``. Labels are site ids, never device or resident ids.
A device never heard from counts as offline; a gateway is offline when none of
its registered devices was heard from within the threshold.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from hub.store.base import DeviceView

if TYPE_CHECKING:
    from hub.service import Hub

log = logging.getLogger("trygg.hub")

OFFLINE_AFTER = timedelta(minutes=30)


def count_offline(
    views: Iterable[DeviceView], now: datetime, after: timedelta = OFFLINE_AFTER
) -> tuple[dict[str, int], dict[str, int]]:
    """(offline devices by site, offline gateways by site); every site seen gets an entry."""
    devices: Counter[str] = Counter()
    gateway_alive: dict[tuple[str, str], bool] = {}
    for view in views:
        d = view.device
        alive = view.last_seen is not None and now - view.last_seen <= after
        devices[d.site] += 0 if alive else 1
        key = (d.site, d.gateway)
        gateway_alive[key] = gateway_alive.get(key, False) or alive
    gateways: Counter[str] = Counter()
    for (site, _), alive in gateway_alive.items():
        gateways[site] += 0 if alive else 1
    return dict(devices), dict(gateways)


async def export_offline(
    hub: Hub,
    stop: asyncio.Event,
    clock: Callable[[], datetime],
    every_s: float = 60.0,
    after: timedelta = OFFLINE_AFTER,
) -> None:
    m = hub.metrics
    known: set[str] = set()
    while not stop.is_set():
        try:
            views = await hub.run_store(hub.store.list_devices)
            devices, gateways = count_offline(views, clock(), after)
            for site in known - devices.keys():  # a site with no devices left
                m.devices_offline.remove(site)
                m.gateways_offline.remove(site)
            for site, n in devices.items():
                m.devices_offline.labels(site).set(n)
                m.gateways_offline.labels(site).set(gateways.get(site, 0))
            known = set(devices)
        except Exception:
            log.exception("counting offline devices failed; next try in %.0f s", every_s)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)
