"""Correlation ids for log lines: which event or alert the hub is handling right now.

The hub binds ids while it handles one event (``event_id``, ``site``,
``gateway``, ``kind``) or one alert (``alert_id``, ``rule``, ``unit``); every
log line emitted meanwhile, by any logger, carries them through
:class:`CorrelationFilter` (installed on the handler by ``trygg.logs``). The
ids live in a :class:`contextvars.ContextVar`, so a task started while an
event is handled (a notifier sending the alert it raised) keeps them, and
concurrent API requests never see each other's.

Only ids go here, never a resident's name or id: :func:`bind` refuses any
other key. Ids a log call passes in ``extra`` win over bound ones.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from types import MappingProxyType

KEYS = frozenset({"event_id", "alert_id", "site", "gateway", "kind", "unit", "rule"})
_EMPTY: Mapping[str, str] = MappingProxyType({})
_ids: ContextVar[Mapping[str, str]] = ContextVar("trygg_log_ids", default=_EMPTY)


def bind(**ids: str | None) -> Token[Mapping[str, str]]:
    """Add ids to the current context; undo with :func:`unbind` (hot path: no generator)."""
    unknown = ids.keys() - KEYS
    if unknown:
        raise ValueError(f"not a correlation id: {sorted(unknown)} (allowed: {sorted(KEYS)})")
    return _ids.set({**_ids.get(), **{k: v for k, v in ids.items() if v is not None}})


def unbind(token: Token[Mapping[str, str]]) -> None:
    _ids.reset(token)


@contextmanager
def correlate(**ids: str | None) -> Iterator[None]:
    token = bind(**ids)
    try:
        yield
    finally:
        unbind(token)


def current() -> Mapping[str, str]:
    return _ids.get()


class CorrelationFilter(logging.Filter):
    """Puts the bound ids on every record that passes (as if given in ``extra``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _ids.get().items():
            if key not in record.__dict__:
                record.__dict__[key] = value
        return True
