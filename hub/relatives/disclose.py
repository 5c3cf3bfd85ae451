"""May a relative be told of an alert? The pure check behind the chain's relatives step.

A relative is told only when all of these hold at the instant of the step:

- the registry has them for the alert's resident, with ``notify`` on;
- a legal basis of that resident covers the alert's kind (the measure that raised
  it), names the relative in ``notify_relatives``, and is in force at that instant:
  not withdrawn, valid, approved where kapittel 9 needs it, inside its windows
  (:func:`rules.consent.check_basis`, the same test as for processing the event).

Unlike processing (``rules.consent.check``), telling a relative is never free: an
``alarm.button`` or a smoke alarm needs no basis to be handled, but a relative hears
of it only when a basis says so. When nobody may be told, :class:`Reach` says why,
and the routing log shows the step as ``skipped: <why>``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from hub.relatives.model import Relative
from rules.consent import REFUSALS, LegalBasis, Verdict, best_verdict

NO_RELATIVE = "no relative registered"
NO_BASIS = "no basis"


@dataclass(frozen=True, slots=True)
class Reach:
    """Who of a resident's relatives may be told now (recipient ids), or why nobody."""

    allowed: tuple[str, ...] = ()
    why_not: str = NO_RELATIVE


def may_tell(
    bases: Iterable[LegalBasis],
    resident_id: str,
    kind: str,
    relative_id: str,
    at: datetime,
    tz: ZoneInfo,
) -> Verdict:
    """``Verdict(True, "allowed", basis)`` when a basis in force names the relative for
    ``kind``; else the closest refusal, or ``no_basis`` when no basis names them."""
    named = (b for b in bases if b.covers(resident_id, kind) and relative_id in b.notify_relatives)
    return best_verdict(named, at, tz)


def reach(
    relatives: Iterable[Relative],
    bases: Iterable[LegalBasis],
    resident_id: str | None,
    kind: str,
    at: datetime,
    tz: ZoneInfo,
) -> Reach:
    """The relatives of ``resident_id`` who may be told of an alert of ``kind`` at ``at``."""
    if resident_id is None:
        return Reach((), NO_RELATIVE)
    mine = sorted((r for r in relatives if r.resident_id == resident_id and r.notify),
                  key=lambda r: r.id)  # fmt: skip
    if not mine:
        return Reach((), NO_RELATIVE)
    held = tuple(bases)
    verdicts = [(r, may_tell(held, resident_id, kind, r.id, at, tz)) for r in mine]
    allowed = tuple(r.recipient for r, v in verdicts if v.allowed)
    if allowed:
        return Reach(allowed, "")
    refusals = sorted(
        (REFUSALS.index(v.reason), v.reason) for _, v in verdicts if v.reason in REFUSALS
    )
    return Reach((), f"{NO_BASIS} ({refusals[0][1]})" if refusals else NO_BASIS)
