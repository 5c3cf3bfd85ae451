"""``trygg account ...``: hub accounts from the shell, for the admin.

``add`` creates an account of any role; a ``resident`` account is bound to exactly one
resident and a ``guardian`` (verge) account to one or more (``--resident``), and can then
read only those residents' own page (/resident/). ``bind`` changes whom a resident or
guardian account is bound to; ``list`` shows every account. Each binding is written to
the audit log under the resident it opens. A change takes effect at the next login.

The password is read from the terminal (twice), or one line from stdin with
``--password-stdin``; the demo password and passwords under 12 characters are refused.
"""

from __future__ import annotations

import getpass
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from hub.store.base import Role, Store

account_app = typer.Typer(help="Hub accounts (staff, residents, guardians).", no_args_is_help=True)
MIN_PASSWORD = 12  # as TRYGG_ADMIN_PASSWORD (hub.settings)
DataDir = Annotated[
    Path, typer.Option(help="the hub's data directory (TRYGG_DATABASE_URL: PostgreSQL)")
]
Residents = Annotated[
    list[str] | None,
    typer.Option("--resident", help="resident id (resident: one; guardian: one or more)"),
]


def register(app: typer.Typer) -> None:
    app.add_typer(account_app, name="account")


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(2)


def _store(data_dir: Path) -> Store:
    from hub.settings import HubSettings
    from trygg.runtime import open_store

    return open_store(HubSettings(data_dir=data_dir))


def _password(from_stdin: bool) -> str:
    from hub.settings import DEMO_PASSWORD

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_PASSWORD:
        raise _fail(f"the password must be at least {MIN_PASSWORD} characters")
    if password == DEMO_PASSWORD:
        raise _fail("the demo password is for `trygg demo` only")
    return password


def _check_binding(store: Store, role: Role, residents: tuple[str, ...]) -> None:
    from hub.access import binding_problem

    problem = binding_problem(role, residents)
    if problem is not None:
        raise _fail(problem)
    missing = [r for r in residents if store.get_resident(r) is None]
    if missing:
        raise _fail(f"no such resident: {', '.join(missing)}")


def _bind(store: Store, username: str, role: Role, residents: tuple[str, ...]) -> None:
    from hub.audit import AuditEntry

    store.bind_account_residents(username, residents)
    try:
        actor = f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        actor = "cli"
    now = datetime.now(UTC)
    store.append_audit(
        [
            AuditEntry(
                now,
                actor,
                "admin",
                "account.bind",
                r,
                username,
                f"{role} account may read the resident's own page",
            )
            for r in residents
        ]
    )


@account_app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="login name")],
    role: Annotated[
        str,
        typer.Option(
            help="admin, leader, nattevakt, staff, tekniker, auditor, resident or guardian"
        ),
    ],
    name: Annotated[str, typer.Option(help="display name (staff: residents see the first name)")],
    resident: Residents = None,
    site: Annotated[str | None, typer.Option(help="staff: the site they work on")] = None,
    unit: Annotated[list[str] | None, typer.Option(help="staff: a unit in scope")] = None,
    password_stdin: Annotated[bool, typer.Option(help="read the password from stdin")] = False,
    data_dir: DataDir = Path("data"),
) -> None:
    """Create an account; refuses one that exists."""
    from hub.auth import hash_password
    from hub.store.base import Account, Role

    try:
        chosen = Role(role)
    except ValueError:
        raise _fail(f"unknown role {role!r}: one of {', '.join(r.value for r in Role)}") from None
    residents = tuple(resident or ())
    store = _store(data_dir)
    try:
        if store.get_account(username) is not None:
            raise _fail(f"account {username} exists")
        _check_binding(store, chosen, residents)
        password = _password(password_stdin)
        store.upsert_account(
            Account(username, name, chosen, hash_password(password), site, tuple(unit or ()))
        )
        if residents:
            _bind(store, username, chosen, residents)
    finally:
        store.close()
    bound = f" for {', '.join(residents)}" if residents else ""
    typer.echo(f"account {username} ({chosen}){bound} created")


@account_app.command("bind")
def bind(
    username: Annotated[str, typer.Argument(help="a resident or guardian account")],
    resident: Residents = None,
    data_dir: DataDir = Path("data"),
) -> None:
    """Replace the residents a resident or guardian account may read."""
    residents = tuple(resident or ())
    store = _store(data_dir)
    try:
        account = store.get_account(username)
        if account is None:
            raise _fail(f"no account {username}")
        _check_binding(store, account.role, residents)
        _bind(store, username, account.role, residents)
    finally:
        store.close()
    typer.echo(f"account {username} now reads {', '.join(residents)}")


@account_app.command("list")
def list_accounts(data_dir: DataDir = Path("data")) -> None:
    """Every account: username, role, display name, and its scope."""
    store = _store(data_dir)
    try:
        for a in store.list_accounts():
            bound = store.account_residents(a.username)
            scope = (
                f"residents {','.join(bound)}" if bound
                else f"site {a.site or '*'} units {','.join(a.units) or '-'}"
            )  # fmt: skip
            typer.echo(f"{a.username}\t{a.role}\t{a.display_name}\t{scope}")
    finally:
        store.close()
