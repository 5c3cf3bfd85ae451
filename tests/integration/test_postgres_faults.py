"""The database goes away for 30 s while events flow (the link is cut at a local TCP proxy).

The hub keeps taking events, acknowledges none it has not committed, reconnects
by itself when the database is back, and every event is stored exactly once,
also those the broker redelivered meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import psycopg
import pytest
import uuid6
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from devices.events import make_event
from hub.service import Hub
from hub.store.postgres import PostgresStore

from pgtools import pg_schema
from tcpproxy import TcpProxy

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(170)]

OUTAGE_S = 30.0
RATE = 50  # events/s offered while the database is away


def _payload(site: str, seq: int) -> tuple[str, bytes]:
    event = make_event(
        id=str(uuid6.uuid7()), site=site, gateway="gw-1", device=f"dev-{seq % 7}",
        kind="room.motion", ts=datetime.now(UTC), seq=seq,
    )  # fmt: skip
    return f"trygg/v1/{site}/gw-1/events", event.model_dump_json().encode()


async def test_the_database_away_for_30_s_loses_and_doubles_nothing(
    postgres_dsn: str, unique_site: str
) -> None:
    info = conninfo_to_dict(postgres_dsn)
    with (
        pg_schema(postgres_dsn) as (dsn, schema),
        TcpProxy((str(info.get("host", "127.0.0.1")), int(info.get("port", 5432)))) as proxy,
    ):
        proxied = make_conninfo(dsn, host="127.0.0.1", port=str(proxy.port))
        store = PostgresStore(proxied, schema=schema)
        store.migrate()
        hub = Hub(store)
        await hub.start()
        acked: list[str] = []
        sent: list[tuple[str, bytes]] = []

        async def offer(seconds: float, start_seq: int) -> int:
            seq = start_seq
            until = time.monotonic() + seconds
            while time.monotonic() < until:
                topic, payload = _payload(unique_site, seq)
                sent.append((topic, payload))
                hub.handle_message(payload, topic, lambda s=seq: acked.append(str(s)))
                seq += 1
                await asyncio.sleep(1 / RATE)
            return seq

        try:
            seq = await offer(2.0, 0)
            await hub.drain(10)
            before_cut = len(acked)
            assert before_cut == len(sent)

            proxy.cut()
            seq = await offer(OUTAGE_S / 2, seq)
            # The broker redelivers what was not acked: copies of held events.
            for topic, payload in sent[before_cut : before_cut + 50]:
                hub.handle_message(payload, topic, lambda: acked.append("copy"))
            seq = await offer(OUTAGE_S / 2, seq)
            assert hub.health()["store_ok"] is False
            assert len(acked) == before_cut  # nothing acked while nothing could commit
            proxy.restore()

            seq = await offer(2.0, seq)
            await hub.drain(90)
            assert hub.health()["store_ok"] is True
        finally:
            await hub.stop()
            store.close()

        assert len([a for a in acked if a != "copy"]) == len(sent)
        assert acked.count("copy") == 50
        with psycopg.connect(dsn, options=f"-c search_path={schema}") as conn:
            rows = conn.execute(
                "SELECT count(*), count(DISTINCT id), max(position) FROM events WHERE site = %s",
                (unique_site,),
            ).fetchone()
        assert rows == (len(sent), len(sent), len(sent))
