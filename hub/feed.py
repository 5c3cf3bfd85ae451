"""Fan-out of alert changes to live listeners (the board's SSE streams).

A slow listener never holds up the hub: each has a bounded queue, and one
that falls behind is told to reload (``None`` in its queue) and dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from hub.alerts import Alert

LISTENER_QUEUE = 1000


class AlertFeed:
    def __init__(self) -> None:
        self._listeners: set[asyncio.Queue[Alert | None]] = set()
        # Called when a listener arrives: the hub marks what it will now see as notified.
        self.on_subscribe: Callable[[], None] | None = None

    def publish(self, alert: Alert) -> None:
        for queue in list(self._listeners):
            try:
                queue.put_nowait(alert)
            except asyncio.QueueFull:
                self._listeners.discard(queue)
                queue.get_nowait()
                queue.put_nowait(None)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Alert | None]]:
        queue: asyncio.Queue[Alert | None] = asyncio.Queue(LISTENER_QUEUE)
        self._listeners.add(queue)
        if self.on_subscribe is not None:
            self.on_subscribe()
        try:
            yield queue
        finally:
            self._listeners.discard(queue)

    def __len__(self) -> int:
        return len(self._listeners)
