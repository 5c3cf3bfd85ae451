"""What every browser test shares: Debian's Chromium, its flags, the artefact folder and a
hub (real Mosquitto, SQLite, the HTTP server) seeded by the test."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from hub.settings import HubSettings
from hub.store.sqlite import SqliteStore
from trygg.runtime import Running, running_hub

from conftest import IN_CI, free_port

CHROMIUM = os.environ.get("TRYGG_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


def need_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    if IN_CI:
        pytest.fail(f"Chromium is missing at {CHROMIUM} (CI installs it: see .ci/run)")
    pytest.skip(f"Chromium is missing at {CHROMIUM}")


@asynccontextmanager
async def seeded_hub(
    mosquitto: tuple[str, int],
    site: str,
    data_dir: Path,
    seed: Callable[[SqliteStore, str], None],
) -> AsyncIterator[tuple[str, SqliteStore, Running]]:
    """A demo-mode hub on the machine's Mosquitto with ``seed(store, site)`` applied;
    yields its base URL, its store and the running hub, connected to the broker."""
    need_chromium()
    host, port = mosquitto
    settings = HubSettings(
        data_dir=data_dir,
        http_port=free_port(),
        mqtt_host=host,
        mqtt_port=port,
        mqtt_client_id=f"hub-{site}",
        mqtt_session_expiry_s=5,
        demo=True,
    )
    store = SqliteStore(settings.db_path)
    store.migrate()
    seed(store, site)
    stop = asyncio.Event()
    try:
        async with running_hub(settings, store, stop) as run:
            for _ in range(200):
                if run.hub.broker_connected:
                    break
                await asyncio.sleep(0.025)
            yield f"http://127.0.0.1:{settings.http_port}", store, run
    finally:
        store.close()
