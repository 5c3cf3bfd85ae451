"""Who is asking: argon2 password hashes and opaque bearer tokens.

Tokens are random strings handed to the client once; the hub keeps only their
SHA-256 digest, so a memory dump or a log line of the token table gives no
usable token. They live in memory: a hub restart logs everyone out, which is
acceptable for a board that logs in again in a second. The clock is passed in
(``now``); only the FastAPI dependency at the bottom reads one, the app's
injected clock.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cache
from typing import Annotated, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, HTTPException, Query, Request
from fastapi.security import OAuth2PasswordBearer

from hub.access import Principal
from hub.store.base import Account, Role

__all__ = [
    "DEFAULT_TOKEN_TTL",
    "Principal",
    "TokenIssuer",
    "hash_password",
    "require",
    "unauthorized",
    "verify_password",
    "verify_unknown_user",
]

# A night shift (about ten hours) plus margin: nobody is logged out at 06:30.
DEFAULT_TOKEN_TTL = timedelta(hours=12)

_HASHER = PasswordHasher()


def hash_password(password: str, *, hasher: PasswordHasher | None = None) -> str:
    """An argon2id hash with its parameters and salt encoded in the string."""
    return (hasher or _HASHER).hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when the password matches; a malformed hash is a mismatch, not a crash."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def verify_unknown_user(password: str) -> bool:
    """Spend the same time as a real check, so timing does not reveal which usernames exist."""
    verify_password(_dummy_hash(), password)
    return False


@dataclass(frozen=True, slots=True)
class _Grant:
    principal: Principal
    expires_at: datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenIssuer:
    """Issues and resolves opaque bearer tokens, keeping only their digests."""

    def __init__(self, ttl: timedelta = DEFAULT_TOKEN_TTL) -> None:
        if ttl <= timedelta(0):
            raise ValueError("token lifetime must be positive")
        self.ttl = ttl
        self._grants: dict[str, _Grant] = {}

    def issue(
        self, account: Account, now: datetime, residents: Sequence[str] = ()
    ) -> tuple[str, datetime]:
        """``residents``: the residents a resident/guardian account is bound to."""
        self.purge(now)
        token = secrets.token_urlsafe(32)
        expires_at = now + self.ttl
        principal = Principal(
            username=account.username,
            role=account.role,
            site=account.site,
            units=tuple(account.units),
            expires_at=expires_at,
            residents=frozenset(residents),
        )
        self._grants[_digest(token)] = _Grant(principal, expires_at)
        return token, expires_at

    def resolve(self, token: str, now: datetime) -> Principal | None:
        """The principal behind a live token; ``None`` for unknown or expired tokens."""
        key = _digest(token)
        grant = self._grants.get(key)
        if grant is None:
            return None
        if now >= grant.expires_at:
            del self._grants[key]
            return None
        return grant.principal

    def revoke(self, token: str) -> bool:
        return self._grants.pop(_digest(token), None) is not None

    def revoke_user(self, username: str) -> int:
        """Log a user out everywhere (role changed, account closed)."""
        keys = [k for k, g in self._grants.items() if g.principal.username == username]
        for key in keys:
            del self._grants[key]
        return len(keys)

    def purge(self, now: datetime) -> int:
        """Forget expired grants so the table does not grow over weeks of shifts."""
        keys = [k for k, g in self._grants.items() if now >= g.expires_at]
        for key in keys:
            del self._grants[key]
        return len(keys)

    def __len__(self) -> int:
        return len(self._grants)


# --- the FastAPI dependency -------------------------------------------------------
# ``hub.api.create_app`` keeps the TokenIssuer and the clock on ``app.state`` as
# ``tokens`` and ``clock``; this is the only place a request's time is read.

_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def shift_scope(principal: Principal, duty: Mapping[str, Any]) -> Principal:
    """A nattevakt on shift sees only the units of that shift (within the account's).

    Off shift the account's units stay in force, so the board can still log them on.
    ``duty`` maps staff to their :class:`hub.routing.roster.OnDuty` now.
    """
    on = duty.get(principal.username)
    if on is None:
        return principal
    units = tuple(u for u in principal.units if u in on.units)
    return replace(principal, units=units)


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def _principal(request: Request, token: str | None, roles: frozenset[Role]) -> Principal:
    if not token:
        raise unauthorized("not authenticated")
    state = request.app.state
    principal: Principal | None = state.tokens.resolve(token, state.clock())
    if principal is None:
        raise unauthorized("invalid or expired token")
    if principal.role not in roles:
        raise HTTPException(403, f"role {principal.role} may not use this route")
    routing = getattr(state, "routing", None)  # hub.channels.router.Router
    if routing is not None and principal.role is Role.NATTEVAKT:
        principal = shift_scope(principal, routing.on_duty())
    glass = getattr(state, "break_glass", None)  # hub.consent.access.BreakGlass
    if glass is not None:
        opened: frozenset[str] = glass.open_for(principal.username, state.clock())
        if opened:
            principal = replace(principal, opened=opened)
    return principal


def require(*roles: Role, query_token: bool = False) -> Callable[..., Awaitable[Principal]]:
    """A dependency that yields the caller, or answers 401 (who?) / 403 (not you).

    ``query_token`` also accepts ``?access_token=``, for the SSE stream only:
    a browser's EventSource cannot set headers, and tokens in URLs end up in logs.
    """
    allowed = frozenset(roles)
    if not query_token:

        async def from_header(
            request: Request, token: Annotated[str | None, Depends(_bearer)]
        ) -> Principal:
            return _principal(request, token, allowed)

        from_header.trygg_roles = allowed  # type: ignore[attr-defined]
        return from_header

    async def from_header_or_query(
        request: Request,
        token: Annotated[str | None, Depends(_bearer)],
        access_token: Annotated[
            str | None, Query(description="for EventSource, which cannot set headers")
        ] = None,
    ) -> Principal:
        return _principal(request, token or access_token, allowed)

    # What the route needs, for the route-by-role test (tests/unit/test_route_roles.py).
    from_header_or_query.trygg_roles = allowed  # type: ignore[attr-defined]
    return from_header_or_query
