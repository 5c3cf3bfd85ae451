"""``trygg account add|bind|list``: resident and guardian accounts bound to residents, with
clear refusals, the binding in the audit log, and a login that works afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.auth import verify_password
from hub.settings import DEMO_PASSWORD
from hub.store.base import Resident, Role, Site, Unit
from hub.store.sqlite import SqliteStore
from trygg.cli import app

PASSWORD = "a long enough password"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    store = SqliteStore(tmp_path / "trygg.db")
    store.migrate()
    store.upsert_site(Site("site-1", "Solsiden"))
    store.upsert_unit(Unit("unit-A", "site-1", "A"))
    for rid in ("res-A", "res-B", "res-C"):
        store.upsert_resident(Resident(rid, "site-1", "unit-A", rid))
    store.close()
    return tmp_path


def run(data_dir: Path, *args: str, password: str = PASSWORD) -> tuple[int, str]:
    argv = ["account", *args, "--data-dir", str(data_dir)]
    if args[0] == "add":
        argv.append("--password-stdin")
    result = CliRunner().invoke(app, argv, input=password + "\n")
    return result.exit_code, result.output


def opened(data_dir: Path) -> SqliteStore:
    return SqliteStore(data_dir / "trygg.db")


def test_add_a_resident_and_a_guardian(data_dir: Path) -> None:
    code, out = run(data_dir, "add", "ingrid", "--role", "resident", "--name", "Ingrid",
                    "--resident", "res-A")  # fmt: skip
    assert code == 0, out
    assert "ingrid (resident) for res-A created" in out
    code, out = run(data_dir, "add", "verge", "--role", "guardian", "--name", "Vera",
                    "--resident", "res-A", "--resident", "res-C")  # fmt: skip
    assert code == 0, out
    store = opened(data_dir)
    try:
        account = store.get_account("ingrid")
        assert account is not None and account.role is Role.RESIDENT
        assert verify_password(account.password_hash, PASSWORD)
        assert store.account_residents("ingrid") == ("res-A",)
        assert store.account_residents("verge") == ("res-A", "res-C")
        binds = [(r.entry.action, r.entry.target) for r in store.audit_records("res-C", 0, 100)]
        assert binds == [("account.bind", "verge")]
    finally:
        store.close()
    code, out = run(data_dir, "list")
    assert code == 0
    assert "verge\tguardian\tVera\tresidents res-A,res-C" in out


@pytest.mark.parametrize(
    ("args", "password", "reason"),
    [
        (("--role", "resident", "--name", "X"), PASSWORD, "exactly one resident"),
        (("--role", "resident", "--name", "X", "--resident", "res-A", "--resident", "res-B"),
         PASSWORD, "exactly one resident"),
        (("--role", "guardian", "--name", "X"), PASSWORD, "at least one resident"),
        (("--role", "guardian", "--name", "X", "--resident", "res-Z"), PASSWORD,
         "no such resident: res-Z"),
        (("--role", "leader", "--name", "X", "--resident", "res-A"), PASSWORD,
         "not bound to residents"),
        (("--role", "beboer", "--name", "X"), PASSWORD, "unknown role 'beboer'"),
        (("--role", "resident", "--name", "X", "--resident", "res-A"), "short", "at least 12"),
        (("--role", "resident", "--name", "X", "--resident", "res-A"), DEMO_PASSWORD,
         "at least 12"),
    ],
)  # fmt: skip
def test_add_refuses_with_a_reason_and_writes_nothing(
    data_dir: Path, args: tuple[str, ...], password: str, reason: str
) -> None:
    code, out = run(data_dir, "add", "x", *args, password=password)
    assert code == 2 and reason in out, out
    store = opened(data_dir)
    try:
        assert store.get_account("x") is None
    finally:
        store.close()


def test_add_refuses_an_existing_account_and_bind_changes_residents(data_dir: Path) -> None:
    assert run(data_dir, "add", "verge", "--role", "guardian", "--name", "V",
               "--resident", "res-A")[0] == 0  # fmt: skip
    code, out = run(data_dir, "add", "verge", "--role", "guardian", "--name", "V",
                    "--resident", "res-B")  # fmt: skip
    assert code == 2 and "exists" in out
    code, out = run(data_dir, "bind", "verge", "--resident", "res-B", "--resident", "res-C")
    assert code == 0, out
    code, out = run(data_dir, "bind", "verge")
    assert code == 2 and "at least one resident" in out
    code, out = run(data_dir, "bind", "nobody", "--resident", "res-A")
    assert code == 2 and "no account nobody" in out
    store = opened(data_dir)
    try:
        assert store.account_residents("verge") == ("res-B", "res-C")
    finally:
        store.close()
