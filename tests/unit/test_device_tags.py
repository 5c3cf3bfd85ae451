"""Device tags: the pure check, the three store backends, and scenario files -> seed."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.registry import Placement
from devices.tags import MAX_TAGS, TagError, normalise_tags
from hub.store.base import Device, PlacementRecord, Resident, Site, Store, Unit
from hub.store.memory import MemoryStore
from hub.store.postgres import PostgresStore
from hub.store.sqlite import SqliteStore
from simulators.scenario import ScenarioError, load_scenario
from trygg.seed import seed_registry

from pgtools import pg_schema

# --- the pure check -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_tags", "stored"),
    [
        ([], ()),
        (["exit"], ("exit",)),
        (["stove-guard", "exit", "exit"], ("exit", "stove-guard")),
        (["night_watch", "0", "a" * 32], ("0", "a" * 32, "night_watch")),
        ([f"t{n}" for n in range(MAX_TAGS)] * 2, tuple(sorted(f"t{n}" for n in range(MAX_TAGS)))),
    ],
)
def test_tags_are_sorted_and_deduplicated(given_tags: list[str], stored: tuple[str, ...]) -> None:
    assert normalise_tags(given_tags) == stored


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (["Exit"], "tag 'Exit' is not 1-32 characters of lowercase"),
        ([""], "tag '' is not"),
        (["a" * 33], "is not 1-32 characters"),
        (["night watch"], "tag 'night watch'"),
        (["dør"], "tag 'dør'"),
        (["exit\n"], "tag 'exit\\n'"),
        ([3], "tag 3 is not text"),
        (
            [f"t{n}" for n in range(MAX_TAGS + 1)],
            f"17 tags; a placement may carry at most {MAX_TAGS}",
        ),
        ("exit", "a list of tags, not the text 'exit'"),
    ],
)
def test_bad_tags_are_refused_with_the_reason(bad: object, reason: str) -> None:
    with pytest.raises(TagError) as caught:
        normalise_tags(bad)
    assert reason in str(caught.value)


@given(st.lists(st.from_regex(r"[a-z0-9_-]{1,32}", fullmatch=True), max_size=MAX_TAGS))
def test_normalising_is_idempotent_and_order_free(tags: list[str]) -> None:
    once = normalise_tags(tags)
    assert once == normalise_tags(once) == normalise_tags(reversed(tags))
    assert list(once) == sorted(set(tags))


def test_records_and_placements_hold_only_valid_tags() -> None:
    assert PlacementRecord("d", "u", tags=("b", "a", "b")).tags == ("a", "b")
    assert Placement(device="d", device_type="t", site="s", gateway="g", tags=("x", "x")).tags == (
        "x",
    )
    with pytest.raises(TagError):
        PlacementRecord("d", "u", tags=("Exit",))
    with pytest.raises(ValueError, match="tag 'Exit'"):
        Placement(device="d", device_type="t", site="s", gateway="g", tags=("Exit",))


# --- the stores ------------------------------------------------------------------------


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "postgres":
        with pg_schema(request.getfixturevalue("postgres_dsn")) as (dsn, schema):
            pg = PostgresStore(dsn, schema=schema)
            pg.migrate()
            yield pg
            pg.close()
        return
    backend: Store = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "t.db")
    backend.migrate()
    yield backend
    backend.close()


def seed(store: Store) -> None:
    store.upsert_site(Site("site-1", "Solsiden"))
    store.upsert_unit(Unit("unit-A", "site-1", "A"))
    store.upsert_resident(Resident("res-1", "site-1", "unit-A", "Test Person"))
    for device in ("door-1", "door-2", "door-3"):
        store.upsert_device(Device(device, "site-1", "gw-1", "door_contact"))


def test_tags_round_trip_into_views_and_placements(store: Store) -> None:
    seed(store)
    store.place(
        PlacementRecord(
            "door-1", "unit-A", "H0101", "entré", "res-1", tags=("stove-guard", "exit", "exit")
        )
    )
    store.place(PlacementRecord("door-2", "unit-A"))
    views = {v.device.id: v for v in store.list_devices()}
    assert views["door-1"].placement == PlacementRecord(
        "door-1", "unit-A", "H0101", "entré", "res-1", tags=("exit", "stove-guard")
    )
    assert views["door-2"].placement is not None and views["door-2"].placement.tags == ()
    assert views["door-3"].placement is None
    by_device = {p.device: p for p in store.placements()}
    assert by_device["door-1"].tags == ("exit", "stove-guard")
    assert by_device["door-2"].tags == () and by_device["door-3"].tags == ()


def test_placing_again_replaces_the_tags(store: Store) -> None:
    seed(store)
    store.place(PlacementRecord("door-1", "unit-A", tags=("exit", "night-watch")))
    store.place(PlacementRecord("door-1", "unit-A", tags=("night-watch",)))
    assert {p.device: p.tags for p in store.placements()}["door-1"] == ("night-watch",)
    store.place(PlacementRecord("door-1", "unit-A"))
    assert {p.device: p.tags for p in store.placements()}["door-1"] == ()


def test_the_schema_refuses_a_bad_tag_written_around_the_hub(tmp_path: Path) -> None:
    """The column's CHECK is the last line: a hand-written row cannot hold 17 tags."""
    sqlite_store = SqliteStore(tmp_path / "t.db")
    sqlite_store.migrate()
    seed(sqlite_store)
    sqlite_store.close()
    conn = sqlite3.connect(tmp_path / "t.db")
    too_many = "[" + ",".join(f'"t{n}"' for n in range(MAX_TAGS + 1)) + "]"
    for bad in (too_many, "not json", '{"exit": 1}'):
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("INSERT INTO placements (device, tags) VALUES ('door-1', ?)", (bad,))
    conn.close()


@pytest.mark.postgres
def test_the_postgres_schema_refuses_a_bad_tag(postgres_dsn: str) -> None:
    with pg_schema(postgres_dsn) as (dsn, schema):
        pg = PostgresStore(dsn, schema=schema)
        pg.migrate()
        seed(pg)
        pg.close()
        with psycopg.connect(dsn, options=f"-c search_path={schema}") as conn:
            bad_sets = (["Exit"], [""], ["a" * 33], ["a b"], ["a,b"], ["ok", None],
                        [f"t{n}" for n in range(MAX_TAGS + 1)])  # fmt: skip
            for bad in bad_sets:
                with pytest.raises(psycopg.errors.CheckViolation):
                    conn.execute(
                        "INSERT INTO placements (device, tags) VALUES ('door-1', %s)", (bad,)
                    )
                conn.rollback()
            good = ["null", "exit", "a" * 32]  # "null" is quoted in the text form
            conn.execute("INSERT INTO placements (device, tags) VALUES ('door-1', %s)", (good,))


# --- scenario files and the seed ---------------------------------------------------------

SCENARIO = """\
name: tagged
seed: 1
site: {id: s1, name: Test site}
units:
  - {id: u1, name: Unit}
gateways:
  - {id: gw1, unit: u1}
residents:
  - {id: r1, name: Test Person, unit: u1, apartment: Leil. 1}
devices:
  - {id: dev-door, type: door_contact, gateway: gw1, unit: u1, resident: r1, tags: [exit, dementia]}
  - {id: dev-btn, type: alarm_button, gateway: gw1, unit: u1, resident: r1}
timeline:
  - at: 23:40
    device: dev-btn
    kind: alarm.button
"""


def test_scenario_tags_reach_the_store_through_the_seed(tmp_path: Path) -> None:
    path = tmp_path / "tagged.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    scenario = load_scenario(path)
    assert {p.device: p.tags for p in scenario.placements()} == {
        "dev-door": ("dementia", "exit"),
        "dev-btn": (),
    }
    store = MemoryStore()
    seed_registry(store, scenario)
    assert {p.device: p.tags for p in store.placements()} == {
        "dev-btn": (),
        "dev-door": ("dementia", "exit"),
    }


def test_a_bad_scenario_tag_names_the_device_and_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "tagged.yaml"
    path.write_text(SCENARIO.replace("[exit, dementia]", "[exit, Dementia]"), encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    problem = caught.value.problems[0]
    assert problem.path == "devices[0].tags"
    assert "tag 'Dementia' is not 1-32 characters of lowercase" in problem.reason
    door_line = next(i for i, line in enumerate(SCENARIO.splitlines(), 1) if "dev-door" in line)
    assert problem.line == door_line
