"""Shared fixtures: brokers, free ports, unique sites.

Tests that need a service use the machine's one (Mosquitto on 127.0.0.1:1883).
When it is missing they skip on a developer machine but FAIL in CI (CI=true),
so a broken CI machine can never pass by skipping.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator

import pytest

MOSQUITTO = (
    os.environ.get("TRYGG_TEST_MQTT_HOST", "127.0.0.1"),
    int(os.environ.get("TRYGG_TEST_MQTT_PORT", "1883")),
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
POSTGRES_DSN = os.environ.get(
    "TRYGG_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def need_service(name: str, host: str, port: int) -> None:
    if reachable(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if IN_CI:
        pytest.fail(f"{message} (CI must provide it; see .ci/run)")
    pytest.skip(message)


@pytest.fixture
def mosquitto() -> tuple[str, int]:
    need_service("Mosquitto", *MOSQUITTO)
    return MOSQUITTO


@pytest.fixture
def postgres_dsn() -> str:
    """The machine's PostgreSQL (database ``test``); each test makes its own schema in it."""
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(POSTGRES_DSN)
    need_service("PostgreSQL", str(info.get("host", "127.0.0.1")), int(info.get("port", 5432)))
    return POSTGRES_DSN


@pytest.fixture
async def embedded_broker() -> AsyncIterator[tuple[str, int]]:
    from trygg.broker import embedded_broker as start

    port = free_port()
    async with start("127.0.0.1", port):
        yield ("127.0.0.1", port)


@pytest.fixture
def unique_site() -> str:
    """A site id of its own, so tests sharing a broker never see each other's topics."""
    return f"t-{uuid.uuid4().hex[:10]}"
