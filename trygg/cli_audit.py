"""``trygg audit ...`` and ``trygg retention run``: the audit log and retention from the shell."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
retention_app = typer.Typer(help="Retention of events, GPS positions and alerts.")

DataDir = Annotated[Path, typer.Option(help="the hub's data directory")]


def _open(data_dir: Path):  # type: ignore[no-untyped-def]
    from hub.store.sqlite import SqliteStore

    db = data_dir / "trygg.db"
    if not db.exists():
        typer.echo(f"no hub database at {db}", err=True)
        raise typer.Exit(2)
    store = SqliteStore(db)
    store.migrate()
    return store


@audit_app.command("verify")
def audit_verify(
    data_dir: DataDir = Path("data"),
    expect_head: Annotated[
        str | None, typer.Option(help="SEQ:HASH written down earlier; must still be in the chain")
    ] = None,
) -> None:
    """Walk the chain; exit 1 and name every edited or deleted row if it is broken."""
    from hub.audit import Problem, verify

    store = _open(data_dir)
    try:
        records = list(store.iter_audit())
        head = store.audit_head()
    finally:
        store.close()
    problems = verify(records, head)
    if expect_head is not None:
        seq_text, _, digest = expect_head.partition(":")
        by_seq = {r.seq: r.hash for r in records}
        if not seq_text.isdigit() or by_seq.get(int(seq_text)) != digest:
            seq = int(seq_text) if seq_text.isdigit() else 0
            problems.append(Problem(seq, "edited", "does not match the head written down earlier"))
    for p in problems:
        typer.echo(f"row {p.seq}: {p.what}: {p.detail}")
    if problems:
        typer.echo(f"audit log BROKEN: {len(problems)} problem(s) in {len(records)} rows")
        raise typer.Exit(1)
    head_text = "empty" if head is None else f"{head[0]}:{head[1]}"
    typer.echo(f"audit log intact: {len(records)} rows, head {head_text}")


@audit_app.command("export")
def audit_export(
    resident_id: Annotated[str, typer.Argument(help="the resident whose access log to export")],
    data_dir: DataDir = Path("data"),
) -> None:
    """A resident's access log as JSON (GDPR art. 15): who read or changed what, when, why."""
    from hub.audit import AuditEntry
    from hub.audit_api import record_out

    store = _open(data_dir)
    try:
        records = store.audit_records(resident_id, 0, 10_000_000)
        store.append_audit(
            [
                AuditEntry(
                    datetime.now(UTC), "cli", "admin", "access_log.export", resident_id, None, None
                )
            ]
        )
    finally:
        store.close()
    json.dump(
        {"resident_id": resident_id, "entries": [record_out(r) for r in records]},
        sys.stdout,
        indent=2,
        ensure_ascii=False,
    )
    sys.stdout.write("\n")


@retention_app.command("run")
def retention_run(data_dir: DataDir = Path("data")) -> None:
    """One retention pass now (the hub also runs one every hour)."""
    from hub import retention

    store = _open(data_dir)
    try:
        result = retention.run(store, retention.RetentionSettings(), datetime.now(UTC))
    finally:
        store.close()
    typer.echo(
        f"deleted {result.events} events, {result.gps_positions} GPS positions,"
        f" {result.alerts} alerts"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
    app.add_typer(retention_app, name="retention")
