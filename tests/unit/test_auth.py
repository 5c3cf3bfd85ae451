from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher

from hub.auth import (
    DEFAULT_TOKEN_TTL,
    Principal,
    TokenIssuer,
    hash_password,
    verify_password,
    verify_unknown_user,
)
from hub.store.base import Account, Role

# Cheap parameters: the tests check behaviour, not the cost of a guess.
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
NOW = datetime(2024, 11, 23, 22, 0, tzinfo=UTC)


def account(username: str = "kari", role: Role = Role.NATTEVAKT) -> Account:
    return Account(
        username=username,
        display_name=username.title(),
        role=role,
        password_hash=hash_password("hemmelig", hasher=FAST),
        site="solsiden",
        units=("u1", "u2"),
    )


def test_password_round_trip() -> None:
    hashed = hash_password("hemmelig", hasher=FAST)
    assert hashed.startswith("$argon2id$")
    assert "hemmelig" not in hashed
    assert verify_password(hashed, "hemmelig")
    assert not verify_password(hashed, "Hemmelig")


def test_default_hasher_round_trip() -> None:
    hashed = hash_password("x")
    assert verify_password(hashed, "x")


@pytest.mark.parametrize("bad", ["", "not-a-hash", "$argon2id$v=19$garbage"])
def test_malformed_hash_is_a_mismatch(bad: str) -> None:
    assert verify_password(bad, "anything") is False


def test_unknown_user_never_verifies() -> None:
    assert verify_unknown_user("hemmelig") is False


def test_issue_and_resolve() -> None:
    tokens = TokenIssuer()
    token, expires_at = tokens.issue(account(), NOW)
    assert expires_at == NOW + DEFAULT_TOKEN_TTL
    assert len(token) >= 40
    assert tokens.resolve(token, NOW + timedelta(hours=1)) == Principal(
        username="kari",
        role=Role.NATTEVAKT,
        site="solsiden",
        units=("u1", "u2"),
        expires_at=expires_at,
    )


def test_tokens_are_unique_and_stored_only_as_digests() -> None:
    tokens = TokenIssuer()
    issued = {tokens.issue(account(), NOW)[0] for _ in range(50)}
    assert len(issued) == 50
    held = repr(vars(tokens))
    assert not any(t in held for t in issued)


@pytest.mark.parametrize(
    ("offset", "valid"),
    [
        (timedelta(0), True),
        (DEFAULT_TOKEN_TTL - timedelta(seconds=1), True),
        (DEFAULT_TOKEN_TTL, False),
        (DEFAULT_TOKEN_TTL + timedelta(days=1), False),
    ],
)
def test_expiry(offset: timedelta, valid: bool) -> None:
    tokens = TokenIssuer()
    token, _ = tokens.issue(account(), NOW)
    assert (tokens.resolve(token, NOW + offset) is not None) is valid


def test_expired_token_is_forgotten() -> None:
    tokens = TokenIssuer(ttl=timedelta(minutes=5))
    token, _ = tokens.issue(account(), NOW)
    assert tokens.resolve(token, NOW + timedelta(minutes=6)) is None
    assert len(tokens) == 0
    # Turning the clock back does not revive it.
    assert tokens.resolve(token, NOW) is None


def test_unknown_token() -> None:
    assert TokenIssuer().resolve("nope", NOW) is None


def test_issue_purges_expired_grants() -> None:
    tokens = TokenIssuer(ttl=timedelta(hours=1))
    tokens.issue(account("a"), NOW)
    tokens.issue(account("b"), NOW + timedelta(hours=2))
    assert len(tokens) == 1


def test_revoke_and_revoke_user() -> None:
    tokens = TokenIssuer()
    one, _ = tokens.issue(account("kari"), NOW)
    two, _ = tokens.issue(account("kari"), NOW)
    other, _ = tokens.issue(account("ola"), NOW)
    assert tokens.revoke(one)
    assert not tokens.revoke(one)
    assert tokens.resolve(one, NOW) is None
    assert tokens.revoke_user("kari") == 1
    assert tokens.resolve(two, NOW) is None
    assert tokens.resolve(other, NOW) is not None


def test_ttl_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        TokenIssuer(ttl=timedelta(0))


def test_a_nattevakt_on_shift_sees_only_the_units_of_the_shift() -> None:
    from hub.access import Principal
    from hub.auth import shift_scope
    from hub.routing.roster import OnDuty

    kari = Principal("kari", Role.NATTEVAKT, "site-1", ("unit-a", "unit-b"))
    duty = {"kari": OnDuty("kari", "site-1", frozenset({"unit-b", "unit-c"}))}
    assert shift_scope(kari, duty).units == ("unit-b",)  # never beyond the account's units
    assert shift_scope(kari, {}).units == ("unit-a", "unit-b")  # off shift: the account's
