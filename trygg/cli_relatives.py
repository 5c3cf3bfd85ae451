"""``trygg relatives ...``: the relatives registry from the shell (on a hub's database).

A running hub reads the registry when it starts and after every API change; after a
change here, restart the hub or make the change through the API
(``/api/v1/residents/{id}/relatives``) instead. Every act is in the audit log, as
actor ``cli``.
"""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from hub.store.base import Store

relatives_app = typer.Typer(help="Relatives (pårørende) of residents.", no_args_is_help=True)
DataDir = Annotated[Path, typer.Option(help="the hub's data directory")]


def _open(data_dir: Path) -> Store:
    from hub.settings import HubSettings
    from trygg.runtime import open_store

    return open_store(HubSettings(data_dir=data_dir))


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _audit(store: Store, action: str, resident_id: str, target: str, why: str) -> None:
    from hub.audit import AuditEntry

    actor = f"cli:{getpass.getuser()}"
    entry = AuditEntry(datetime.now(UTC), actor, "admin", action, resident_id, target, why)
    store.append_audit([entry])


@relatives_app.command("list")
def list_relatives(
    resident: Annotated[str, typer.Argument(help="resident id")],
    data_dir: DataDir = Path("data"),
) -> None:
    """The resident's relatives as JSON lines."""
    from hub.relatives.model import relative_to_json

    store = _open(data_dir)
    try:
        if store.get_resident(resident) is None:
            raise _fail(f"no resident {resident}")
        found = store.list_relatives(resident)
        _audit(store, "relative.list", resident, "", "relatives registry (cli)")
    finally:
        store.close()
    for r in found:
        typer.echo(json.dumps(relative_to_json(r), ensure_ascii=False))


@relatives_app.command("add")
def add(
    resident: Annotated[str, typer.Argument(help="resident id")],
    relative_id: Annotated[str, typer.Argument(help="relative id, e.g. kari-datter")],
    name: Annotated[str, typer.Option(help="the relative's name")],
    relation: Annotated[str, typer.Option(help="e.g. datter, sønn, ektefelle")],
    phone: Annotated[str | None, typer.Option(help="e.g. +4791234567")] = None,
    address: Annotated[str | None, typer.Option(help="a channel address")] = None,
    language: Annotated[str, typer.Option(help="nb or en")] = "nb",
    notify: Annotated[bool, typer.Option(help="may be told at all")] = True,
    data_dir: DataDir = Path("data"),
) -> None:
    """Add or replace a relative. Allow them in a basis with ``trygg relatives allow``."""
    from hub.relatives.model import Relative

    try:
        relative = Relative(resident, relative_id, name, relation, phone, address, language,
                            notify)  # fmt: skip
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    store = _open(data_dir)
    try:
        if store.get_resident(resident) is None:
            raise _fail(f"no resident {resident}")
        store.save_relative(relative, datetime.now(UTC))
        _audit(store, "relative.set", resident, relative_id, "relatives registry (cli)")
    finally:
        store.close()
    typer.echo(f"relative {relative_id} of {resident} saved")


@relatives_app.command("remove")
def remove(
    resident: Annotated[str, typer.Argument(help="resident id")],
    relative_id: Annotated[str, typer.Argument(help="relative id")],
    data_dir: DataDir = Path("data"),
) -> None:
    store = _open(data_dir)
    try:
        if not store.delete_relative(resident, relative_id):
            raise _fail(f"no relative {relative_id} of {resident}")
        _audit(store, "relative.delete", resident, relative_id, "relatives registry (cli)")
    finally:
        store.close()
    typer.echo(f"relative {relative_id} of {resident} removed")


@relatives_app.command("allow")
def allow(
    basis_id: Annotated[str, typer.Argument(help="the legal basis of the measure")],
    relative_ids: Annotated[list[str] | None, typer.Argument(
        help="the relatives who may be told (none: nobody)")] = None,
    note: Annotated[str | None, typer.Option(help="why (in the basis history)")] = None,
    data_dir: DataDir = Path("data"),
) -> None:
    """Set who of the resident's relatives may be told of this basis's measure's alerts."""
    import dataclasses

    from hub.consent.records import BasisAction, BasisChange

    wanted = tuple(relative_ids or ())
    store = _open(data_dir)
    try:
        basis = store.get_basis(basis_id)
        if basis is None:
            raise _fail(f"no basis {basis_id}")
        if basis.withdrawn_at is not None:
            raise _fail(f"basis {basis_id} was withdrawn; record a new one")
        known = {r.id for r in store.list_relatives(basis.resident_id)}
        unknown = sorted(set(wanted) - known)
        if unknown:
            raise _fail(f"not registered as relatives of {basis.resident_id}: {', '.join(unknown)}")
        try:
            new = dataclasses.replace(basis, notify_relatives=wanted)
        except ValueError as exc:
            raise _fail(str(exc)) from exc
        now = datetime.now(UTC)
        actor = f"cli:{getpass.getuser()}"
        store.save_basis(new, BasisChange(basis_id, now, actor, BasisAction.RELATIVES, note))
        _audit(store, "basis.relatives", basis.resident_id, basis_id, note or "cli")
    finally:
        store.close()
    typer.echo(f"basis {basis_id}: may tell {', '.join(wanted) or 'nobody'}")


def register(app: typer.Typer) -> None:
    app.add_typer(relatives_app, name="relatives")
