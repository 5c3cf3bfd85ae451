"""The embedded MQTT broker (amqtt) for ``trygg demo`` and tests: nothing to install.

It is for the demo, not for production or benchmarks (a few thousand
messages a second); production runs Mosquitto (deploy/mosquitto/).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from amqtt.broker import Broker


def broker_config(host: str, port: int) -> dict[str, object]:
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }


@asynccontextmanager
async def embedded_broker(host: str = "127.0.0.1", port: int = 1884) -> AsyncIterator[Broker]:
    broker = Broker(broker_config(host, port))
    await broker.start()
    try:
        yield broker
    finally:
        await broker.shutdown()
