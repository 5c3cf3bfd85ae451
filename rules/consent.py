"""May this event be processed? The pure legal-basis check shared by gateway and hub.

Monitoring a person in their home is lawful only on a basis the municipality can
show, and only as far as that basis allows. A :class:`LegalBasis` names the
resident, the measure and the event kinds it covers, the basis in law, who
decided, the reference, when it is valid, the daily windows it allows, whether a
kapittel 9 decision has the Statsforvalter's approval, and its withdrawal.
:func:`check` answers, for one resident, one event kind and one instant, whether
some basis allows processing the event now, and why or why not.

Used in three places: the gateway drops an event before it leaves the home, the
hub drops it again on ingest, and so the rules never see it.

Kinds that need no basis (``check`` answers ``allowed`` with the reason shown):

| kinds                                                       | reason           | why |
|-------------------------------------------------------------|------------------|-----|
| ``device.heartbeat``, ``device.battery_low``, ``device.tamper`` | ``not_personal`` | the device's own state, not the person's |
| ``staff.alarm``, ``presence.staff_in``, ``presence.staff_out``  | ``not_personal`` | staff events: about staff at work, not the resident |
| ``smoke.detected``, ``water.leak``                          | ``not_personal`` | fire and water alarms protect the home and everyone in the building; they say nothing about the person's behaviour |
| ``alarm.button``                                            | ``own_call``     | the resident's own call for help: pressing it is the request; it must always be answered |
| any kind from a device placed for no resident (``resident_id`` None) | ``not_personal`` | common areas: nobody's home is monitored |

Every other kind (falls, doors, beds, motion, stove, GPS, geofence) watches a
person and needs a basis covering that kind, valid at the instant.

Per basis, in this order (the first that fails names the reason):
``withdrawn`` (``withdrawn_at <= at``: takes effect at once), ``not_yet_valid``
(``at < valid_from``), ``expired`` (``valid_to <= at``; ``valid_to`` is
exclusive), ``not_approved`` (a ``decision_hol_9`` without ``approved_at`` or
approved after ``at``), ``outside_window`` (none of its windows contains ``at``
on the wall clock of the site's zone; DST is handled by
:class:`devices.localtime.TimeWindow`). A passed ``review_at`` does not stop a
basis: it raises a notice (the hub's job), it does not drop a fall.

With several bases covering the kind, any one that allows is enough. When none
allows, the verdict names the refusing basis that came closest, ranked
``outside_window`` > ``not_yet_valid`` > ``not_approved`` > ``expired`` >
``withdrawn`` (ties: the lowest basis id), so the answer does not depend on
the order the bases were given in. No covering basis at all: ``no_basis``.

Pure: no I/O, no clock; callers pass the instant and the site's zone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from devices.events import KINDS
from devices.localtime import TimeWindow

__all__ = [
    "NO_BASIS_KINDS",
    "REASONS",
    "REFUSALS",
    "BasisKind",
    "LegalBasis",
    "Verdict",
    "basis_from_json",
    "basis_to_json",
    "best_verdict",
    "check",
    "check_basis",
    "index_bases",
]


class BasisKind(StrEnum):
    CONSENT = "consent"  # the resident's own consent (samtykke)
    DECISION_4_6A = "decision_4_6a"  # pbrl. § 4-6 a, no consent competence, does not resist
    DECISION_4A = "decision_4a"  # pbrl. kapittel 4A, the person resists
    DECISION_HOL_9 = "decision_hol_9"  # hol. kapittel 9; needs the Statsforvalter's approval


# Kinds that need no basis, with the reason ``check`` gives (see the module docstring).
NO_BASIS_KINDS: Mapping[str, str] = {
    "device.heartbeat": "not_personal",
    "device.battery_low": "not_personal",
    "device.tamper": "not_personal",
    "staff.alarm": "not_personal",
    "presence.staff_in": "not_personal",
    "presence.staff_out": "not_personal",
    "smoke.detected": "not_personal",
    "water.leak": "not_personal",
    "alarm.button": "own_call",
}

# Refusals, best first: the verdict names the refusing basis that came closest.
REFUSALS = ("outside_window", "not_yet_valid", "not_approved", "expired", "withdrawn")
REASONS: frozenset[str] = frozenset(
    {"allowed", "no_basis", "not_personal", "own_call", "unknown_kind", *REFUSALS}
)

_ROLE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz_")
_RELATIVE_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def _aware(name: str, value: Any, *, optional: bool) -> None:
    if value is None and optional:
        return
    if not isinstance(value, datetime):
        raise ValueError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must carry a UTC offset")


@dataclass(frozen=True, slots=True)
class LegalBasis:
    """One recorded basis for one measure on one resident. Invariants checked on creation."""

    id: str
    resident_id: str
    measure: str  # e.g. "exit_door", "gps", "night_supervision", "fall"
    kinds: frozenset[str]  # event kinds the measure covers, from devices.events.KINDS
    basis: BasisKind
    decided_by: str
    reference: str
    valid_from: datetime  # aware
    valid_to: datetime | None
    review_at: datetime | None
    windows: tuple[TimeWindow, ...] = ()  # empty: at any time of day
    approved_at: datetime | None = None  # Statsforvalter approval (decision_hol_9 only)
    withdrawn_at: datetime | None = None  # takes effect at once
    retention_days: int = 30
    visible_to: frozenset[str] = frozenset()  # roles
    relatives_consulted: tuple[str, ...] = ()
    # Added by the consent helper (defaults keep the agreed constructor valid):
    purpose: str = ""  # plain language: why this is monitored
    responsible_role: str = "leader"  # who gets the notices before expiry and review
    notice_days: int = 14  # how many days before expiry/review the notice goes out
    store_events: bool = True  # False: may be acted on (alerts) but raw events are not kept
    # Relatives (hub.relatives registry ids) who may be told of an alert this measure
    # raised, as a step of the escalation chain; empty: no relative is ever told.
    notify_relatives: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("id", "resident_id", "measure", "decided_by", "reference"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name} must be a non-empty string")
        if not isinstance(self.basis, BasisKind):
            raise ValueError(f"basis must be a BasisKind, got {self.basis!r}")
        if not isinstance(self.kinds, frozenset) or not self.kinds:
            raise ValueError("kinds must be a non-empty frozenset of event kinds")
        unknown = sorted(k for k in self.kinds if k not in KINDS)
        if unknown:
            raise ValueError(f"unknown event kinds: {', '.join(map(str, unknown))}")
        _aware("valid_from", self.valid_from, optional=False)
        for name in ("valid_to", "review_at", "approved_at", "withdrawn_at"):
            _aware(name, getattr(self, name), optional=True)
        if self.valid_to is not None and self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        if self.approved_at is not None and self.basis is not BasisKind.DECISION_HOL_9:
            raise ValueError("approved_at is for decision_hol_9 (Statsforvalter approval) only")
        if not all(isinstance(w, TimeWindow) for w in self.windows):
            raise ValueError("windows must be TimeWindow values")
        if isinstance(self.retention_days, bool) or not isinstance(self.retention_days, int):
            raise ValueError("retention_days must be an integer")
        if not 1 <= self.retention_days <= 3650:
            raise ValueError("retention_days must be between 1 and 3650")
        if isinstance(self.notice_days, bool) or not isinstance(self.notice_days, int):
            raise ValueError("notice_days must be an integer")
        if not 0 <= self.notice_days <= 365:
            raise ValueError("notice_days must be between 0 and 365")
        if not isinstance(self.notify_relatives, tuple) or not all(
            isinstance(r, str) and _RELATIVE_ID.fullmatch(r) for r in self.notify_relatives
        ):
            raise ValueError("notify_relatives must be relative ids ([a-z0-9_-], 1-64 characters)")
        if len(set(self.notify_relatives)) != len(self.notify_relatives):
            raise ValueError("notify_relatives names a relative twice")
        for role in (*self.visible_to, self.responsible_role):
            if not isinstance(role, str) or not role or not set(role) <= _ROLE_CHARS:
                raise ValueError(f"not a role name: {role!r}")

    def covers(self, resident_id: str, kind: str) -> bool:
        return self.resident_id == resident_id and kind in self.kinds


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    reason: str  # one of REASONS
    basis_id: str | None = None


def check_basis(basis: LegalBasis, at: datetime, tz: ZoneInfo) -> str:
    """Why one basis does or does not allow processing at ``at``: ``allowed`` or a refusal."""
    if basis.withdrawn_at is not None and basis.withdrawn_at <= at:
        return "withdrawn"
    if at < basis.valid_from:
        return "not_yet_valid"
    if basis.valid_to is not None and basis.valid_to <= at:
        return "expired"
    if basis.basis is BasisKind.DECISION_HOL_9 and (
        basis.approved_at is None or at < basis.approved_at
    ):
        return "not_approved"
    if basis.windows and not any(w.contains(at, tz) for w in basis.windows):
        return "outside_window"
    return "allowed"


def check(
    bases: Iterable[LegalBasis], resident_id: str | None, kind: str, at: datetime, tz: ZoneInfo
) -> Verdict:
    """May an event of ``kind`` about ``resident_id`` at ``at`` be processed? See module doc.

    ``bases`` may hold any bases (other residents', other kinds'): only those covering
    ``resident_id`` and ``kind`` count, so a caller can pass a pre-filtered slice
    (:func:`index_bases`) on a hot path. ``at`` must be aware (ValueError otherwise).
    """
    _aware("at", at, optional=False)
    if kind not in KINDS:
        return Verdict(False, "unknown_kind")
    free = NO_BASIS_KINDS.get(kind)
    if free is not None:
        return Verdict(True, free)
    if resident_id is None:
        return Verdict(True, "not_personal")
    return best_verdict((b for b in bases if b.covers(resident_id, kind)), at, tz)


def best_verdict(bases: Iterable[LegalBasis], at: datetime, tz: ZoneInfo) -> Verdict:
    """The verdict of the bases that apply: allowed by the smallest allowing id (so the
    verdict never depends on order), else the refusal that came closest, else ``no_basis``."""
    best: tuple[int, str] | None = None
    allowed: str | None = None
    for basis in bases:
        reason = check_basis(basis, at, tz)
        if reason == "allowed":
            if allowed is None or basis.id < allowed:
                allowed = basis.id
            continue
        rank = (REFUSALS.index(reason), basis.id)
        if best is None or rank < best:
            best = rank
    if allowed is not None:
        return Verdict(True, "allowed", allowed)
    if best is None:
        return Verdict(False, "no_basis")
    return Verdict(False, REFUSALS[best[0]], best[1])


def index_bases(bases: Iterable[LegalBasis]) -> dict[tuple[str, str], tuple[LegalBasis, ...]]:
    """``(resident_id, kind) -> bases``: one dict lookup per event instead of a scan."""
    out: dict[tuple[str, str], list[LegalBasis]] = {}
    for basis in bases:
        for kind in basis.kinds:
            out.setdefault((basis.resident_id, kind), []).append(basis)
    return {key: tuple(sorted(group, key=lambda b: b.id)) for key, group in out.items()}


# --- JSON, for syncing to gateways and for the API --------------------------------


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def basis_to_json(b: LegalBasis) -> dict[str, Any]:
    """A JSON-safe dict; instants in UTC, sets sorted, so equal bases give equal JSON."""
    return {
        "id": b.id,
        "resident_id": b.resident_id,
        "measure": b.measure,
        "kinds": sorted(b.kinds),
        "basis": b.basis.value,
        "decided_by": b.decided_by,
        "reference": b.reference,
        "valid_from": _iso(b.valid_from),
        "valid_to": _iso(b.valid_to),
        "review_at": _iso(b.review_at),
        "windows": [str(w) for w in b.windows],
        "approved_at": _iso(b.approved_at),
        "withdrawn_at": _iso(b.withdrawn_at),
        "retention_days": b.retention_days,
        "visible_to": sorted(b.visible_to),
        "relatives_consulted": list(b.relatives_consulted),
        "purpose": b.purpose,
        "responsible_role": b.responsible_role,
        "notice_days": b.notice_days,
        "store_events": b.store_events,
        "notify_relatives": list(b.notify_relatives),
    }


_REQUIRED = ("id", "resident_id", "measure", "kinds", "basis", "decided_by", "reference")
_KNOWN = frozenset(
    (*_REQUIRED, "valid_from", "valid_to", "review_at", "windows", "approved_at",
     "withdrawn_at", "retention_days", "visible_to", "relatives_consulted", "purpose",
     "responsible_role", "notice_days", "store_events", "notify_relatives")
)  # fmt: skip


def _instant(d: Mapping[str, Any], name: str, *, optional: bool = True) -> datetime | None:
    value = d.get(name)
    if value is None:
        if optional:
            return None
        raise ValueError(f"{name} is required")
    if not isinstance(value, str):
        raise ValueError(f"{name} must be an RFC 3339 string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{name} is not an RFC 3339 instant: {value!r}") from exc
    if parsed.tzinfo is None:
        raise ValueError(f"{name} must carry a UTC offset")
    return parsed


def _strings(d: Mapping[str, Any], name: str) -> list[str]:
    value = d.get(name, [])
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{name} must be a list of strings")
    return list(value)


def _windows(d: Mapping[str, Any]) -> tuple[TimeWindow, ...]:
    out = []
    for text in _strings(d, "windows"):
        try:
            out.append(TimeWindow.parse(text))
        except ValueError as exc:
            raise ValueError(f"windows: {exc}") from exc
    return tuple(out)


def _int(d: Mapping[str, Any], name: str, default: int) -> int:
    value = d.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer")
    return value


def basis_from_json(d: Mapping[str, Any]) -> LegalBasis:
    """The inverse of :func:`basis_to_json`; ValueError naming the first thing wrong."""
    if not isinstance(d, Mapping):
        raise ValueError("a basis must be a JSON object")
    unknown = sorted(set(d) - _KNOWN)
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(unknown)}")
    for name in _REQUIRED:
        if name not in d:
            raise ValueError(f"{name} is required")
    try:
        basis = BasisKind(d["basis"])
    except ValueError as exc:
        allowed = ", ".join(k.value for k in BasisKind)
        raise ValueError(f"basis must be one of {allowed}, got {d['basis']!r}") from exc
    store_events = d.get("store_events", True)
    if not isinstance(store_events, bool):
        raise ValueError("store_events must be true or false")
    text = {}
    for name in ("purpose", "responsible_role"):
        value = d.get(name, "" if name == "purpose" else "leader")
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a string")
        text[name] = value
    valid_from = _instant(d, "valid_from", optional=False)
    assert valid_from is not None
    return LegalBasis(
        id=d["id"],
        resident_id=d["resident_id"],
        measure=d["measure"],
        kinds=frozenset(_strings(d, "kinds")),
        basis=basis,
        decided_by=d["decided_by"],
        reference=d["reference"],
        valid_from=valid_from,
        valid_to=_instant(d, "valid_to"),
        review_at=_instant(d, "review_at"),
        windows=_windows(d),
        approved_at=_instant(d, "approved_at"),
        withdrawn_at=_instant(d, "withdrawn_at"),
        retention_days=_int(d, "retention_days", 30),
        visible_to=frozenset(_strings(d, "visible_to")),
        relatives_consulted=tuple(_strings(d, "relatives_consulted")),
        purpose=text["purpose"],
        responsible_role=text["responsible_role"],
        notice_days=_int(d, "notice_days", 14),
        store_events=store_events,
        notify_relatives=tuple(_strings(d, "notify_relatives")),
    )
