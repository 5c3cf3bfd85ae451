"""The broker account/ACL generator, pure parts."""

from __future__ import annotations

import base64
import hashlib

import pytest

from hub.mqtt_acl import (
    AclError,
    GatewayId,
    acl_text,
    gateways_of,
    hash_password,
    parse_password_file,
    plan,
)

A = GatewayId("site-1", "gw-a")
B = GatewayId("site-2", "gw-b")


def test_hash_is_mosquittos_pbkdf2_sha512_format() -> None:
    hashed = hash_password("s3cret", salt=b"0123456789ab")
    _, kind, rounds, salt, digest = hashed.split("$")
    assert (kind, rounds) == ("7", "101")
    expected = hashlib.pbkdf2_hmac("sha512", b"s3cret", base64.b64decode(salt), 101)
    assert base64.b64decode(digest) == expected
    assert hash_password("s3cret") != hash_password("s3cret")  # salted


def test_gateways_are_distinct_and_sorted() -> None:
    pairs = [("site-2", "gw-b"), ("site-1", "gw-a"), ("site-2", "gw-b")]
    assert gateways_of(pairs) == [A, B]


@pytest.mark.parametrize("bad", ["a:b", "a/b", "a+", "#", "", " x"])
def test_ids_that_break_user_names_or_topics_are_refused(bad: str) -> None:
    with pytest.raises(AclError):
        gateways_of([(bad, "gw")])
    with pytest.raises(AclError):
        gateways_of([("site", bad)])


def test_acl_limits_each_gateway_to_its_own_prefix() -> None:
    text = acl_text([A, B])
    block_a = text.split("user site-1/gw-a\n")[1].split("\n\n")[0]
    assert block_a.splitlines() == [
        "topic write trygg/v1/site-1/gw-a/#",
        "topic read trygg/v1/site-1/gw-a/config",
        "topic read trygg/v1/site-1/gw-a/commands/#",
        "topic read trygg/v1/site-1/gw-a/notify/#",
        "topic read trygg/v1/site-1/gw-a/time",
        "topic read trygg/v1/site-1/alerts",
    ]
    assert "site-2" not in block_a
    assert "user trygg-hub\ntopic readwrite trygg/v1/#" in text
    assert "topic readwrite #" not in text


def test_handhelds_get_only_their_own_staff_topics() -> None:
    patterns = [line for line in acl_text([A]).splitlines() if line.startswith("pattern")]
    assert patterns == [
        "pattern read trygg/v1/+/staff/%u/notify",
        "pattern write trygg/v1/+/staff/%u/receipts",
        "pattern write trygg/v1/+/staff/%u/shift",
        "pattern read trygg/v1/+/staff/%u/shift/state",
    ]


def test_existing_accounts_keep_their_hash_and_removed_ones_go() -> None:
    first = plan([A, B], {}, new_secret=iter(["h", "a", "b"]).__next__)
    assert first.new_passwords == {"trygg-hub": "h", "site-1/gw-a": "a", "site-2/gw-b": "b"}
    existing = parse_password_file(first.password_file)
    second = plan([A], existing, new_secret=lambda: pytest.fail("no new account expected"))
    assert second.new_passwords == {}
    kept = parse_password_file(second.password_file)
    assert kept == {"trygg-hub": existing["trygg-hub"], "site-1/gw-a": existing["site-1/gw-a"]}


def test_the_hub_password_can_be_set() -> None:
    auth = plan([], {"trygg-hub": "$7$old"}, hub_password="new-hub-password")
    assert parse_password_file(auth.password_file)["trygg-hub"] != "$7$old"
    assert auth.new_passwords == {}


def test_a_broken_password_file_is_an_error() -> None:
    with pytest.raises(AclError, match="line 2"):
        parse_password_file("# comment\nno-colon-here\n")


def test_handheld_accounts_added_by_hand_are_kept() -> None:
    auth = plan([A], {"kari": "$7$kari", "site-9/gw-old": "$7$old"}, hub_password="hub-password-x")
    kept = parse_password_file(auth.password_file)
    assert kept["kari"] == "$7$kari"
    assert "site-9/gw-old" not in kept
