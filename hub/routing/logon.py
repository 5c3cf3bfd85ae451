"""Logging on and off a shift, from the API or a handheld: who may, to which units.

Pure: the account's role, site and units and the request in, a ``ShiftLog``
out, or :class:`LogonRefused` with a reason the handheld or the caller is
shown. A log-on without units means the account's own units.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from devices.errors import TryggError
from hub.routing.roster import ShiftLog

ON_DUTY_ROLES = frozenset({"nattevakt", "staff", "leader"})


class LogonRefused(TryggError):
    """``why``: ``role``, ``site`` (not this account's site), ``no_units`` or ``units``
    (not the account's own), so the API can answer 403, 409 or 422."""

    def __init__(self, why: str, reason: str) -> None:
        super().__init__(reason)
        self.why = why
        self.reason = reason


def shift_entry(
    staff: str,
    role: str | None,
    account_site: str | None,
    account_units: Sequence[str],
    site: str,
    on: bool,
    units: Sequence[str] | None,
    now: datetime,
) -> ShiftLog:
    """The log entry for ``staff`` logging on (``on``) or off at ``site``; ``role`` None:
    no such account."""
    if role is None or role not in ON_DUTY_ROLES:
        raise LogonRefused("role", "this account cannot be on duty")
    if account_site is None:
        raise LogonRefused("site", "your account has no site to be on duty at")
    if account_site != site:
        raise LogonRefused("site", f"this account is not on site {site}")
    chosen = tuple(units if units is not None else account_units) if on else ()
    if on and not chosen:
        raise LogonRefused("no_units", "no units to log on to")
    if any(u not in account_units for u in chosen):
        raise LogonRefused("units", "you may log on only to your own units")
    return ShiftLog(staff, site, on, now, chosen)
