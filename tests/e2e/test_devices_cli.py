"""``trygg devices import|export`` as an operator runs them, on SQLite and on PostgreSQL:
a bad file is reported row by row and writes nothing, a good one goes in whole, the
export gives the same devices back."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.store.base import Site, Store, Unit
from hub.store.postgres import PostgresStore
from hub.store.sqlite import SqliteStore

from pgtools import pg_schema

pytestmark = pytest.mark.e2e
DATA = Path(__file__).parent.parent / "data"


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("TRYGG_")} | env
    return subprocess.run([sys.executable, "-m", "trygg", *args], capture_output=True,
                          text=True, timeout=60, env=full)  # fmt: skip


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, dict[str, str]]]:
    with contextlib.ExitStack() as stack:
        store: Store
        if request.param == "postgres":
            dsn, schema = stack.enter_context(pg_schema(request.getfixturevalue("postgres_dsn")))
            store = PostgresStore(dsn, schema=schema)
            env = {"TRYGG_DATABASE_URL": dsn, "TRYGG_DATABASE_SCHEMA": schema}
        else:
            (tmp_path / "data").mkdir()
            store = SqliteStore(tmp_path / "data" / "trygg.db")
            env = {"TRYGG_DATA_DIR": str(tmp_path / "data")}
        stack.callback(store.close)
        store.migrate()
        store.upsert_site(Site("site-1", "Solsiden"))
        for unit in ("unit-A", "unit-B"):
            store.upsert_unit(Unit(unit, "site-1", unit))
        yield store, env


def test_import_and_export(backend: tuple[Store, dict[str, str]], tmp_path: Path) -> None:
    store, env = backend
    where = ["--data-dir", env["TRYGG_DATA_DIR"]] if "TRYGG_DATA_DIR" in env else []
    env = {k: v for k, v in env.items() if k != "TRYGG_DATA_DIR"}
    bad = _run("devices", "import", str(DATA / "devices_bad.csv"), "--by", "tor", *where,
               env=env)  # fmt: skip
    assert bad.returncode == 1, bad.stderr
    assert "devices_bad.csv:4: model: unknown model 'NOT-A-MODEL'" in bad.stderr
    assert "nothing written" in bad.stderr
    assert store.list_devices() == []
    good = _run("devices", "import", str(DATA / "devices_good.csv"), "--by", "tor", *where,
                env=env)  # fmt: skip
    assert good.returncode == 0, good.stderr
    assert "imported 5 devices" in good.stdout
    assert len(store.list_devices()) == 5
    assert [h.actor for h in store.device_history("door-101")] == ["tor"]
    out = tmp_path / "export.csv"
    exported = _run("devices", "export", str(out), *where, env=env)
    assert exported.returncode == 0, exported.stderr
    again = _run("devices", "import", str(out), "--dry-run", *where, env=env)
    assert again.returncode == 0 and "would import 5 devices" in again.stdout
