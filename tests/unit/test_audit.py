"""The audit chain: any edited, deleted, reordered or cut-off row is found; the CLI exits 1."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from hub.audit import AuditEntry, AuditRecord, link, verify
from hub.store.sqlite import SqliteStore
from trygg.cli import app

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def chain(n: int) -> list[AuditRecord]:
    out: list[AuditRecord] = []
    prev = None
    for i in range(n):
        entry = AuditEntry(T0 + timedelta(seconds=i), f"user{i % 3}", "nattevakt", "alert.read",
                           f"res-{i % 2}", f"alert-{i}", None)  # fmt: skip
        prev = link(prev, entry)
        out.append(prev)
    return out


def head(records: list[AuditRecord]) -> tuple[int, str] | None:
    return (records[-1].seq, records[-1].hash) if records else None


def test_intact_chain_verifies() -> None:
    records = chain(10)
    assert verify(records, head(records)) == []
    assert verify([], None) == []


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (lambda rs: [*rs[:3], dataclasses.replace(rs[3], entry=dataclasses.replace(
            rs[3].entry, actor="someone-else")), *rs[4:]], [(4, "edited")]),
        (lambda rs: rs[:3] + rs[4:], [(4, "deleted")]),
        (lambda rs: rs[:9], [(10, "truncated")]),
        (lambda rs: [*rs[:5], rs[6], rs[5], *rs[7:]], None),
    ],
    ids=["edited", "deleted", "cut off", "swapped"],
)  # fmt: skip
def test_tampering_is_found(tamper, expected) -> None:  # type: ignore[no-untyped-def]
    records = chain(10)
    problems = verify(tamper(records), head(records))
    assert problems
    if expected is not None:
        assert [(p.seq, p.what) for p in problems] == expected


@given(st.integers(1, 30), st.data())
def test_any_single_edit_is_found(n: int, data: st.DataObject) -> None:
    records = chain(n)
    i = data.draw(st.integers(0, n - 1))
    field = data.draw(st.sampled_from(["actor", "action", "resident_id", "target", "reason"]))
    edited = dataclasses.replace(records[i].entry, **{field: "x"})
    tampered = [*records[:i], dataclasses.replace(records[i], entry=edited), *records[i + 1 :]]
    assert any(p.seq == i + 1 for p in verify(tampered, head(records)))


def _seeded(data_dir: Path, n: int = 6) -> Path:
    store = SqliteStore(data_dir / "trygg.db")
    store.migrate()
    store.append_audit([r.entry for r in chain(n)])
    store.close()
    return data_dir / "trygg.db"


def test_cli_verify_intact_then_tampered(tmp_path: Path) -> None:
    db = _seeded(tmp_path)
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify", "--data-dir", str(tmp_path)])
    assert ok.exit_code == 0, ok.output
    assert "intact: 6 rows" in ok.output
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("UPDATE audit_log SET reason = 'nothing to see' WHERE seq = 3")
    conn.commit()
    conn.close()
    bad = runner.invoke(app, ["audit", "verify", "--data-dir", str(tmp_path)])
    assert bad.exit_code == 1
    assert "row 3: edited" in bad.output


def test_cli_verify_finds_a_deleted_row(tmp_path: Path) -> None:
    db = _seeded(tmp_path)
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER audit_log_no_delete")
    conn.execute("DELETE FROM audit_log WHERE seq = 2")
    conn.commit()
    conn.close()
    bad = CliRunner().invoke(app, ["audit", "verify", "--data-dir", str(tmp_path)])
    assert bad.exit_code == 1
    assert "row 2: deleted" in bad.output


def test_cli_verify_finds_a_cut_off_tail_against_a_written_down_head(tmp_path: Path) -> None:
    db = _seeded(tmp_path)
    store = SqliteStore(db)
    written_down = store.audit_head()
    store.close()
    assert written_down is not None
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER audit_log_no_delete")
    conn.execute("DELETE FROM audit_log WHERE seq >= 5")
    conn.execute("UPDATE audit_head SET seq = 4, hash = (SELECT hash FROM audit_log WHERE seq = 4)")
    conn.commit()
    conn.close()
    runner = CliRunner()
    # Cut off cleanly, head rewritten too: only the head written down elsewhere shows it.
    assert runner.invoke(app, ["audit", "verify", "--data-dir", str(tmp_path)]).exit_code == 0
    expect = f"{written_down[0]}:{written_down[1]}"
    bad = runner.invoke(
        app, ["audit", "verify", "--data-dir", str(tmp_path), "--expect-head", expect]
    )
    assert bad.exit_code == 1


def test_cli_verify_without_a_database(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["audit", "verify", "--data-dir", str(tmp_path / "none")])
    assert result.exit_code == 2
