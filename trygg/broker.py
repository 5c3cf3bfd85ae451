"""The embedded MQTT broker (amqtt) for ``trygg demo`` and tests: nothing to install.

It is for the demo, not for production or benchmarks (a few thousand
messages a second); production runs Mosquitto (deploy/mosquitto/).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from amqtt.broker import Broker


def broker_config(host: str, port: int) -> dict[str, object]:
    # An explicit plugin list: amqtt's defaults load deprecated plugins that warn.
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }


class _Broker(Broker):
    """amqtt that closes every client connection when it stops.

    amqtt 0.12 sometimes cancels its own close of a client's stream when the
    client disconnects (its log says "Writer close was cancelled"), leaving the
    socket open until garbage collection; the demo must not leak sockets.
    """

    def __init__(self, config: dict[str, object]) -> None:
        super().__init__(config)
        self._streams: set[asyncio.StreamWriter] = set()

    async def stream_connected(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, listener_name: str
    ) -> None:
        self._streams.add(writer)
        try:
            await super().stream_connected(reader, writer, listener_name)
        finally:
            writer.close()
            self._streams.discard(writer)

    async def shutdown(self) -> None:
        await super().shutdown()
        for writer in list(self._streams):
            writer.close()
        self._streams.clear()


@asynccontextmanager
async def embedded_broker(host: str = "127.0.0.1", port: int = 1884) -> AsyncIterator[Broker]:
    broker = _Broker(broker_config(host, port))
    await broker.start()
    try:
        yield broker
    finally:
        await broker.shutdown()
