"""CSV import and export: a good file (tests/data/devices_good.csv) goes in whole, a bad one
(tests/data/devices_bad.csv) is reported row by row and writes nothing; export round-trips;
the same through ``trygg devices import|export``; all or nothing on every store backend."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from registry_env import NOW, Env, env
from test_registry_store import store
from typer.testing import CliRunner

from devices.lifecycle import DeviceState
from hub.registry import csvio
from hub.registry.writes import import_devices
from hub.settings import HubSettings
from hub.store.base import Site, Store, Unit
from trygg.cli import app
from trygg.runtime import open_store

__all__ = ["env", "store"]
DATA = Path(__file__).parent.parent / "data"
GOOD = (DATA / "devices_good.csv").read_text(encoding="utf-8")
BAD = (DATA / "devices_bad.csv").read_text(encoding="utf-8")
GOOD_IDS = ["btn-101", "door-101", "old-101", "smoke-101", "spare-101"]
# (line, column) of every problem in devices_bad.csv, and a word of each reason.
BAD_PROBLEMS = [
    (3, "id", "duplicate id btn-201: also on line 2"),
    (4, "model", "unknown model 'NOT-A-MODEL'"),
    (5, "site", "unknown site 'site-9'"),
    (6, "unit", "unknown unit 'unit-Z'"),
    (7, "state", "bad state 'broken'"),
    (8, "gateway", "a device in_service needs a gateway"),
    (9, "unit", "a device in_stock has no unit"),
    (9, "gateway", "a device in_stock has no gateway"),
    (10, "tags", "tag 'Exit!' is not"),
    (11, None, "6 fields, the header has 12"),
    (12, "state", "device spare-1 is in_stock: change its state with its actions"),
]


async def post_csv(env: Env, text: str | bytes, user: str = "tore",
                   dry_run: str = "false") -> dict[str, object]:  # fmt: skip
    r = await env.client.post("/api/v1/devices/import", params={"dry_run": dry_run},
                              content=text, headers=env.auth(user))  # fmt: skip
    assert r.status_code in (200, 422), r.text
    body: dict[str, object] = r.json()
    assert (r.status_code == 200) is body["ok"]
    return body


def ids(env: Env) -> set[str]:
    return {v.device.id for v in env.store.list_devices()}


def problems(body: dict[str, object]) -> list[tuple[object, object, object]]:
    return [(p["line"], p["column"], p["reason"]) for p in body["problems"]]  # type: ignore[attr-defined, index]


async def test_a_dry_run_checks_and_writes_nothing(env: Env) -> None:
    before = ids(env)
    body = await post_csv(env, GOOD, dry_run="true")
    assert body == {"dry_run": True, "ok": True, "rows": 5, "written": 0, "problems": []}
    assert ids(env) == before
    body = await post_csv(env, GOOD)  # dry_run=false
    assert body["written"] == 5 and ids(env) == before | set(GOOD_IDS)


async def test_a_good_file_goes_in_whole_with_history(env: Env) -> None:
    await post_csv(env, GOOD)
    r = await env.get("tore", "/api/v1/devices/door-101")
    door = r.json()
    assert door["model"] == "MCCGQ11LM" and door["state"] == "installed"
    assert door["location"] == {"site": "site-1", "unit": "unit-A", "apartment": "H1",
                                "room": "gang"}  # fmt: skip
    assert door["notes"] == "Ytterdør, magnet øverst" and door["placement"]["tags"] == ["exit"]
    assert door["installed_at"] == "2026-11-23T10:00:00Z"
    [spare] = (await env.get("tore", "/api/v1/devices", q="spare-101")).json()
    assert spare["gateway"] is None and spare["notes"] == 'På hylle 3, "reserve"'
    r = await env.get("tore", "/api/v1/devices/btn-101/history")
    [h] = r.json()
    assert (h["actor"], h["action"], h["note"], h["to_state"]) == (
        "tore", "import", "imported by tore", "in_service")
    assert env.hub.registry.placement("btn-101") is not None  # the hub reloaded its registry


async def test_a_bad_file_reports_every_row_and_writes_nothing(env: Env) -> None:
    before = ids(env)
    for dry_run in ("true", "false"):
        body = await post_csv(env, BAD, dry_run=dry_run)
        assert body["ok"] is False and body["written"] == 0 and body["rows"] == 11
        found = problems(body)
        assert [(line, col) for line, col, _ in found] == [(ln, c) for ln, c, _ in BAD_PROBLEMS]
        for (_, _, reason), (_, _, expected) in zip(found, BAD_PROBLEMS, strict=True):
            assert expected in str(reason)
        assert ids(env) == before
    assert env.store.device_history("btn-201") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", [(1, None, "empty file")]),
        ("id,model\nx,alarm_button\n", [(1, "site", "missing required column")]),
        ("id,model,site,colour\n", [(1, "colour", "unknown column")]),
        ("id,model,site,site\n", [(1, "site", "column named twice")]),
        ('id,model,site\n"d-1,alarm_button,site-1\n', [(2, None, "malformed CSV")]),
        ("ID , Model,SITE\nd-1,alarm_button,site-1\n", []),  # names are read loosely
        ("\ufeffid,model,site\nd-2,alarm_button,site-1\n", []),  # a spreadsheet's BOM
    ],
)
async def test_the_file_itself(env: Env, text: str, expected: list[tuple[int, str | None, str]],
                               ) -> None:  # fmt: skip
    body = await post_csv(env, text, dry_run="true")
    found = problems(body)
    assert [(line, col) for line, col, _ in found] == [(ln, c) for ln, c, _ in expected]
    for (_, _, reason), (_, _, word) in zip(found, expected, strict=True):
        assert word in str(reason)


async def test_not_utf8_and_too_large(env: Env) -> None:
    r = await env.client.post("/api/v1/devices/import", content=b"id,model,site\n\xff\xfe\n",
                              headers=env.auth("tore"))  # fmt: skip
    assert r.status_code == 422 and "not UTF-8" in r.text
    big = b"id,model,site\n" + b"x" * (csvio.MAX_CELL + 1) * 5000
    r = await env.client.post("/api/v1/devices/import", content=big, headers=env.auth("tore"))
    assert r.status_code == 413


async def test_a_tekniker_imports_only_for_its_site(env: Env) -> None:
    text = "id,model,site\nn-1,alarm_button,site-1\nn-2,alarm_button,site-2\n"
    body = await post_csv(env, text, user="trude")
    assert problems(body) == [(2, "site", "site site-1 is outside your scope")]
    assert not {"n-1", "n-2"} & ids(env)


async def test_export_round_trips(env: Env) -> None:
    await post_csv(env, GOOD)
    r = await env.client.get("/api/v1/devices/export", headers=env.auth("tore"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    exported = r.text
    assert exported.splitlines()[0] == ",".join(csvio.COLUMNS)
    # Importing the export again changes nothing but adds a history row per device.
    body = await post_csv(env, exported)
    assert body["ok"] is True, problems(body)
    r = await env.client.get("/api/v1/devices/export", headers=env.auth("tore"))
    assert r.text == exported
    # The tekniker of site-2 exports its site only.
    r = await env.client.get("/api/v1/devices/export", headers=env.auth("trude"))
    assert [line.split(",")[0] for line in r.text.splitlines()[1:]] == ["btn-S2"]


def test_export_into_an_empty_registry_is_the_same_registry() -> None:
    from test_registry_store import T0

    from hub.store.memory import MemoryStore

    def fresh() -> MemoryStore:
        s = MemoryStore()
        s.upsert_site(Site("site-1", "S"))
        for unit in ("unit-A", "unit-B"):
            s.upsert_unit(Unit(unit, "site-1", unit))
        return s

    first = fresh()
    assert not import_devices(first, GOOD, None, "tor", T0, dry_run=False).problems
    text = csvio.export(first.list_devices())
    second = fresh()
    assert not import_devices(second, text, None, "tor", T0, dry_run=False).problems
    assert csvio.export(second.list_devices()) == text
    strip = [(v.device, v.placement, v.info) for v in first.list_devices()]
    assert strip == [(v.device, v.placement, v.info) for v in second.list_devices()]


def test_all_or_nothing_on_every_backend(store: Store) -> None:
    store.upsert_unit(Unit("unit-B", "site-1", "B"))
    at = datetime(2026, 11, 23, tzinfo=UTC)
    bad = import_devices(store, BAD, None, "tor", at, dry_run=False)
    assert len(bad.problems) == len(BAD_PROBLEMS) - 1  # spare-1 is not in this store
    assert store.list_devices() == []
    good = import_devices(store, GOOD, None, "tor", at, dry_run=False)
    assert not good.problems
    assert sorted(v.device.id for v in store.list_devices()) == GOOD_IDS
    states = {v.device.id: v.info.state for v in store.list_devices()}
    assert states["door-101"] is DeviceState.INSTALLED and states["old-101"] is DeviceState.RETIRED
    assert [h.action for h in store.device_history("smoke-101")] == ["import"]


def test_the_cli(tmp_path: Path) -> None:
    data = tmp_path / "data"
    s = open_store(HubSettings(data_dir=data))
    s.upsert_site(Site("site-1", "S"))
    for unit in ("unit-A", "unit-B"):
        s.upsert_unit(Unit(unit, "site-1", unit))
    s.close()
    run = CliRunner().invoke
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD, encoding="utf-8")
    r = run(app, ["devices", "import", str(bad), "--data-dir", str(data)])
    assert r.exit_code == 1
    assert f"{bad}:3: id: duplicate id btn-201" in r.output
    assert "nothing written" in r.output
    good = tmp_path / "good.csv"
    good.write_text(GOOD, encoding="utf-8")
    r = run(app, ["devices", "import", str(good), "--dry-run", "--data-dir", str(data)])
    assert r.exit_code == 0 and "would import 5 devices" in r.output
    r = run(app, ["devices", "import", str(good), "--by", "tor", "--data-dir", str(data)])
    assert r.exit_code == 0 and "imported 5 devices" in r.output
    out = tmp_path / "out.csv"
    r = run(app, ["devices", "export", str(out), "--data-dir", str(data)])
    assert r.exit_code == 0, r.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == GOOD_IDS
    r = run(app, ["devices", "export", "--data-dir", str(data)])
    assert r.stdout == out.read_text(encoding="utf-8")
    s = open_store(HubSettings(data_dir=data))
    assert [h.actor for h in s.device_history("btn-101")] == ["tor"]
    s.close()
    assert NOW.tzinfo is not None
