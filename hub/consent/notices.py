"""Notices before a basis expires or is due for review (default 14 days before).

:func:`due` is pure: given the bases, the residents' sites and ``now``, the
notices that should exist. The job records each once (the store ignores a
repeat) and logs that a notice went out, without any resident data.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from hub.consent.records import Notice, NoticeKind
from hub.store.base import Store
from rules.consent import LegalBasis

log = logging.getLogger("trygg.consent")


def due(
    bases: Iterable[LegalBasis], sites: Mapping[str, str], now: datetime
) -> list[Notice]:
    out = []
    for b in bases:
        if b.withdrawn_at is not None and b.withdrawn_at <= now:
            continue
        ahead = timedelta(days=b.notice_days)
        for kind, when in ((NoticeKind.EXPIRY, b.valid_to), (NoticeKind.REVIEW, b.review_at)):
            if when is not None and when - ahead <= now:
                out.append(
                    Notice(b.id, kind, when, b.responsible_role, sites.get(b.resident_id), now)
                )
    return out


def send_due(store: Store, now: datetime) -> int:
    """Record the notices now due; return how many are new (on the store thread)."""
    bases = store.list_bases()
    sites = {}
    for resident_id in {b.resident_id for b in bases}:
        resident = store.get_resident(resident_id)
        if resident is not None:
            sites[resident_id] = resident.site
    new = 0
    for notice in due(bases, sites, now):
        if store.add_notice(notice):
            new += 1
            log.warning(
                "legal basis needs attention",
                extra={"notice": str(notice.kind), "role": notice.role, "site": notice.site},
            )
    return new
