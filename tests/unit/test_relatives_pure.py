"""The relatives registry's pure parts: the record, who may be told (exhaustively over the
basis's states), the message, and the signed reply token."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from itertools import product
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.localtime import TimeWindow
from hub.relatives import token
from hub.relatives.disclose import Reach, may_tell, reach
from hub.relatives.message import relative_text
from hub.relatives.model import Relative, relative_from_json, relative_of, relative_to_json
from rules.consent import BasisKind, LegalBasis, basis_from_json, basis_to_json

OSLO = ZoneInfo("Europe/Oslo")
AT = datetime(2026, 11, 23, 17, 2, tzinfo=UTC)  # 18:02 in Oslo
KARI = Relative("res-johs", "kari", "Kari", "datter", phone="+4791234567")
OLA = Relative("res-johs", "ola", "Ola", "sønn", address="sms:ola", language="en")
SECRET = b"0123456789abcdef-reply"


def gps(**overrides: object) -> LegalBasis:
    fields: dict[str, object] = dict(
        id="b-gps", resident_id="res-johs", measure="location",
        kinds=frozenset({"geofence.exit", "gps.position"}), basis=BasisKind.DECISION_4_6A,
        decided_by="leader", reference="REF-1", valid_from=AT - timedelta(days=10),
        valid_to=None, review_at=None, notify_relatives=("kari",),
    )  # fmt: skip
    fields.update(overrides)
    return LegalBasis(**fields)  # type: ignore[arg-type]


# --- the record ------------------------------------------------------------------------


def test_a_relative_round_trips_through_json() -> None:
    for r in (KARI, OLA):
        assert relative_from_json(relative_to_json(r)) == r


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": "Kari"}, "id must be"),
        ({"id": ""}, "id must be"),
        ({"display_name": " "}, "display_name"),
        ({"relation": ""}, "relation"),
        ({"phone": "12"}, "phone must be"),
        ({"phone": None, "address": None}, "phone number or a channel address"),
        ({"address": " "}, "address must be"),
        ({"language": "sv"}, "language must be one of nb, en"),
    ],
)
def test_a_bad_relative_is_refused_with_the_field(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(KARI, **change)  # type: ignore[arg-type]


def test_json_refuses_unknown_and_missing_fields() -> None:
    with pytest.raises(ValueError, match="unknown fields: email"):
        relative_from_json(relative_to_json(KARI) | {"email": "x"})
    with pytest.raises(ValueError, match="relation is required"):
        relative_from_json({"resident_id": "r", "id": "a", "display_name": "A"})
    with pytest.raises(ValueError, match="phone must be a string"):
        relative_from_json(relative_to_json(KARI) | {"phone": 4791234567})


def test_recipient_ids() -> None:
    assert KARI.recipient == "relative:kari"
    assert relative_of("relative:kari") == "kari"
    assert relative_of("kari") is None and relative_of("response_centre") is None


# --- the basis field -----------------------------------------------------------------


def test_notify_relatives_round_trips_and_defaults_to_nobody() -> None:
    b = gps(notify_relatives=("kari", "ola"))
    assert basis_from_json(basis_to_json(b)) == b
    old = basis_to_json(b)
    del old["notify_relatives"]
    assert basis_from_json(old).notify_relatives == ()


@pytest.mark.parametrize("bad", [("Kari",), ("kari", "kari"), ("",), ["kari"]])
def test_notify_relatives_must_be_distinct_relative_ids(bad: object) -> None:
    with pytest.raises(ValueError, match="notify_relatives"):
        gps(notify_relatives=bad)


# --- may this relative be told? --------------------------------------------------------

STATES = {
    "allowed": {},
    "withdrawn": {"withdrawn_at": AT},
    "not_yet_valid": {"valid_from": AT + timedelta(seconds=1)},
    "expired": {"valid_to": AT},
    "outside_window": {"windows": (TimeWindow.parse("22:00-07:00"),)},
    "not_approved": {"basis": BasisKind.DECISION_HOL_9},
}


@pytest.mark.parametrize(("state", "names", "covers"), list(product(STATES, (True, False),
                                                                       (True, False))))
def test_may_tell_every_state_of_one_basis(state: str, names: bool, covers: bool) -> None:
    basis = gps(**STATES[state], notify_relatives=("kari",) if names else ())
    kind = "geofence.exit" if covers else "door.opened"
    verdict = may_tell([basis], "res-johs", kind, "kari", AT, OSLO)
    if not (names and covers):
        assert (verdict.allowed, verdict.reason) == (False, "no_basis")
    else:
        assert verdict.allowed is (state == "allowed")
        assert verdict.reason == state
        assert verdict.basis_id == "b-gps"


def test_another_residents_basis_never_counts() -> None:
    verdict = may_tell([gps(resident_id="res-other")], "res-johs", "geofence.exit", "kari", AT, OSLO)
    assert verdict.reason == "no_basis"


def test_kinds_that_need_no_basis_to_process_still_need_one_to_tell_a_relative() -> None:
    assert may_tell([], "res-johs", "alarm.button", "kari", AT, OSLO).reason == "no_basis"
    button = gps(kinds=frozenset({"alarm.button"}))
    assert may_tell([button], "res-johs", "alarm.button", "kari", AT, OSLO).allowed


@given(st.permutations(list(STATES)))
def test_any_basis_in_force_allows_and_the_answer_ignores_order(order: list[str]) -> None:
    bases = [gps(id=f"b-{s}", **STATES[s]) for s in order]
    verdict = may_tell(bases, "res-johs", "geofence.exit", "kari", AT, OSLO)
    assert (verdict.allowed, verdict.basis_id) == (True, "b-allowed")
    refusing = [b for b in bases if b.id != "b-allowed"]
    closest = may_tell(refusing, "res-johs", "geofence.exit", "kari", AT, OSLO)
    assert (closest.allowed, closest.reason) == (False, "outside_window")


def test_reach_lists_who_may_be_told_and_says_why_nobody() -> None:
    both = gps(notify_relatives=("kari", "ola"))
    assert reach([OLA, KARI], [both], "res-johs", "geofence.exit", AT, OSLO) == Reach(
        ("relative:kari", "relative:ola"), ""
    )
    assert reach([KARI, OLA], [gps()], "res-johs", "geofence.exit", AT, OSLO).allowed == (
        "relative:kari",
    )
    quiet = dataclasses.replace(KARI, notify=False)
    assert reach([quiet], [both], "res-johs", "geofence.exit", AT, OSLO) == Reach(
        (), "no relative registered"
    )
    assert reach([], [both], "res-johs", "geofence.exit", AT, OSLO).why_not == (
        "no relative registered"
    )
    assert reach([KARI], [both], None, "geofence.exit", AT, OSLO).allowed == ()
    gone = gps(withdrawn_at=AT)
    assert reach([KARI], [gone], "res-johs", "geofence.exit", AT, OSLO) == Reach(
        (), "no basis (withdrawn)"
    )
    assert reach([KARI], [], "res-johs", "geofence.exit", AT, OSLO) == Reach((), "no basis")
    other = dataclasses.replace(KARI, resident_id="res-other")
    assert reach([other], [both], "res-johs", "geofence.exit", AT, OSLO).allowed == ()


# --- the message -----------------------------------------------------------------------


def test_the_message_says_what_when_and_that_home_care_is_next() -> None:
    nb = relative_text("nb", "geofence.exit", AT, AT + timedelta(minutes=10), OSLO)
    assert "har forlatt det avtalte området kl. 18:02" in nb
    assert "Hjemmetjenesten blir varslet kl. 18:12" in nb
    en = relative_text("en", "geofence.exit", AT, None, OSLO)
    assert "has left the agreed area at 18:02" in en and "Home care is being told now" in en
    assert "has raised an alert" in relative_text("en", "some.kind", AT, None, OSLO)


def test_the_message_carries_no_name_or_place() -> None:
    text = relative_text("nb", "door.opened", AT, None, OSLO)
    assert "Johs" not in text and "Storgata" not in text


# --- the reply token -------------------------------------------------------------------

CLAIMS = token.Claims("alert-1", "kari", AT + timedelta(hours=2))


def test_a_token_verifies_until_it_expires() -> None:
    t = token.issue(SECRET, CLAIMS)
    assert token.verify(SECRET, t, AT) == CLAIMS
    assert token.verify(SECRET, t, CLAIMS.expires_at - timedelta(seconds=1)) == CLAIMS
    with pytest.raises(token.BadToken, match="expired") as info:
        token.verify(SECRET, t, CLAIMS.expires_at)
    assert info.value.expired


def test_a_token_from_another_secret_or_changed_is_refused() -> None:
    t = token.issue(SECRET, CLAIMS)
    with pytest.raises(token.BadToken, match="bad signature"):
        token.verify(b"another-secret-of-16+", t, AT)
    other = token.issue(SECRET, dataclasses.replace(CLAIMS, relative_id="ola"))
    forged = other.split(".")[0] + "." + t.split(".")[1]
    with pytest.raises(token.BadToken, match="bad signature"):
        token.verify(SECRET, forged, AT)


@pytest.mark.parametrize("bad", ["", "abc", ".", "a.", ".b", "ä.b", "a.b.c"])
def test_malformed_tokens_are_refused(bad: str) -> None:
    with pytest.raises(token.BadToken):
        token.verify(SECRET, bad, AT)


@given(st.text(max_size=80))
def test_no_string_verifies_by_accident(text: str) -> None:
    with pytest.raises(token.BadToken):
        token.verify(SECRET, text, AT)


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        token.issue(b"short", CLAIMS)
