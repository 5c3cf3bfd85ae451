"""A relative (pårørende) of a resident, as the registry keeps it.

A relative is told of an alert only when the resident's basis for the measure that
raised it names them (``LegalBasis.notify_relatives``, checked by
:mod:`hub.relatives.disclose`) and ``notify`` is on here (the relative agreed to be
contacted). The record holds what delivery needs and nothing more: a name to greet
them by, the relation, a phone number and/or a channel address, and a language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LANGUAGES = ("nb", "en")
RELATIVE_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_PHONE = re.compile(r"\+?[0-9]{8,15}")
RECIPIENT_PREFIX = "relative:"  # a relative's recipient id in the routing log


@dataclass(frozen=True, slots=True)
class Relative:
    resident_id: str
    id: str  # unique per resident; what a basis names in notify_relatives
    display_name: str
    relation: str  # e.g. "datter", "sønn", "ektefelle"
    phone: str | None = None  # E.164 or national digits, e.g. "+4791234567"
    address: str | None = None  # a channel address (the SMS gateway's or an app's)
    language: str = "nb"
    notify: bool = True  # False: registered, but never told (e.g. asked not to be)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not RELATIVE_ID.fullmatch(self.id):
            raise ValueError(f"id must be [a-z0-9_-], 1-64 characters, got {self.id!r}")
        for name in ("resident_id", "display_name", "relation"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip() or len(value) > 200:
                raise ValueError(f"{name} must be a non-empty string (at most 200 characters)")
        if self.phone is not None and not _PHONE.fullmatch(self.phone):
            raise ValueError(f"phone must be 8-15 digits, optionally after '+', got {self.phone!r}")
        if self.address is not None and (not self.address.strip() or len(self.address) > 300):
            raise ValueError("address must be a non-empty string (at most 300 characters)")
        if self.phone is None and self.address is None:
            raise ValueError("a relative needs a phone number or a channel address")
        if self.language not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, got {self.language!r}")
        if not isinstance(self.notify, bool):
            raise ValueError("notify must be true or false")

    @property
    def recipient(self) -> str:
        return recipient_of(self.id)


def recipient_of(relative_id: str) -> str:
    return RECIPIENT_PREFIX + relative_id


def relative_of(recipient: str) -> str | None:
    """The relative id of a routing-log recipient; None for staff and the response centre."""
    if recipient.startswith(RECIPIENT_PREFIX):
        return recipient[len(RECIPIENT_PREFIX) :]
    return None


_FIELDS = ("display_name", "relation", "phone", "address", "language", "notify")


def relative_to_json(r: Relative) -> dict[str, Any]:
    return {"resident_id": r.resident_id, "id": r.id} | {f: getattr(r, f) for f in _FIELDS}


def relative_from_json(d: Mapping[str, Any]) -> Relative:
    """ValueError naming the first thing wrong (unknown fields included)."""
    if not isinstance(d, Mapping):
        raise ValueError("a relative must be a JSON object")
    unknown = sorted(set(d) - {"resident_id", "id", *_FIELDS})
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(unknown)}")
    for name in ("resident_id", "id", "display_name", "relation"):
        if name not in d:
            raise ValueError(f"{name} is required")
    for name in ("phone", "address"):
        if d.get(name) is not None and not isinstance(d[name], str):
            raise ValueError(f"{name} must be a string")
    return Relative(
        resident_id=d["resident_id"],
        id=d["id"],
        display_name=d["display_name"],
        relation=d["relation"],
        phone=d.get("phone"),
        address=d.get("address"),
        language=d.get("language", "nb"),
        notify=d.get("notify", True),
    )
