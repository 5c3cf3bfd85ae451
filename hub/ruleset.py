"""The hub's rules shell: loads rule files, runs the engine, wakes its timers, hot-reloads.

The engine (:mod:`rules.engine`) is pure; this module does the I/O around it:
reading files, watching them for changes (and ``SIGHUP``, wired in
``trygg.runtime``), and logging why a new set was refused. A rule file that
does not validate never replaces a working set: the hub keeps the old rules
and says so in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from devices.events import EventBase
from devices.registry import Placement
from hub.store.base import AlertFilter, EventFilter, Store
from rules.decisions import Decision, Raise
from rules.engine import Engine, State, adopt
from rules.loader import Problem, RulePack, RulesInvalid, parse_pack
from rules.model import ResidentCancel

log = logging.getLogger("trygg.rules")

DEFAULT_PACK = "default.yaml"
# On start, rule state is rebuilt from the events of this span (bounded): a stove on,
# a door open, a bed exit in progress, the morning check armed.
REBUILD_SPAN = timedelta(hours=24)
REBUILD_MAX_EVENTS = 500_000
REBUILD_PAGE = 10_000
REBUILD_MAX_ALERTS = 100_000


def default_pack_text() -> tuple[str, str]:
    resource = resources.files("rules") / "packs" / DEFAULT_PACK
    return "rules/packs/default.yaml", resource.read_text(encoding="utf-8")


def read_files(paths: Sequence[Path]) -> list[tuple[str, str]]:
    """(source, text) of each file; an unreadable file is a :class:`RulesInvalid`."""
    out, problems = [], []
    for path in paths:
        try:
            out.append((str(path), path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(str(path), None, "", f"cannot read: {exc}"))
    if problems:
        raise RulesInvalid(problems)
    return out


def load_pack(paths: Sequence[Path]) -> RulePack:
    """The pack from ``paths``, or the shipped default pack when none are given."""
    return parse_pack(read_files(paths) if paths else [default_pack_text()])


class RuleSet:
    """The rules the hub runs: callable as the hub's ``RuleFn``, with timers and reload."""

    def __init__(
        self, paths: Sequence[Path] = (), *, files: Sequence[tuple[str, str]] = ()
    ) -> None:
        """From rule files (``paths``, reloadable) or from ``(source, text)`` pairs."""
        self.paths = tuple(paths)
        self._files = list(files)
        self.engine = Engine(self._load())
        self.state: State = self.engine.initial_state()
        self.reloads = 0
        self.reload_failures = 0
        self._mtimes = self._stat()
        # Source events of alerts raised before a restart: their timers do not raise again.
        self._raised_before: frozenset[str] = frozenset()
        self._reload_counter: Any = None

    def bind_metrics(self, metrics: Any) -> None:
        """Count reloads in ``metrics.rule_reloads`` (labels ok/failed); the hub calls this."""
        self._reload_counter = metrics.rule_reloads

    def _load(self) -> RulePack:
        return parse_pack(self._files) if self._files else load_pack(self.paths)

    @property
    def pack(self) -> RulePack:
        return self.engine.pack

    def resident_cancel(self, rule: str) -> ResidentCancel | None:
        """The cancel policy of the rule named ``rule`` (None: no such rule now)."""
        found = next((r for r in self.engine.pack.rules if r.name == rule), None)
        return found.resident_cancel if found is not None else None

    def __call__(
        self, state: object, event: EventBase, now: datetime, placement: Placement | None
    ) -> tuple[State, list[Decision]]:
        self.state, decisions = self.engine.evaluate(self.state, event, now, placement)
        return self.state, self._not_raised_before(decisions)

    def tick(self, now: datetime) -> list[Decision]:
        self.state, decisions = self.engine.tick(self.state, now)
        return self._not_raised_before(decisions)

    def _not_raised_before(self, decisions: list[Decision]) -> list[Decision]:
        if not self._raised_before or not decisions:
            return decisions
        return [
            d
            for d in decisions
            if not (isinstance(d, Raise) and d.event is not None and d.event.id in self._raised_before)
        ]

    # --- restart --------------------------------------------------------------------

    def rebuild(
        self,
        events: Iterable[tuple[EventBase, datetime]],
        placement_of: Callable[[str], Placement | None],
        raised_before: Iterable[str] = (),
    ) -> int:
        """Replay stored ``(event, received_at)`` (in arrival order) through a fresh state on
        a simulated clock, dropping every decision: the engine is where it would be had the
        hub never stopped. Timers still pending (or due while it was down) fire from now
        on, except those whose alert exists already (its source event is in ``raised_before``)."""
        engine = self.engine
        state = engine.initial_state()
        count = 0
        for event, received in events:
            while (wake := engine.next_wake(state)) is not None and wake <= received:
                state, _ = engine.tick(state, wake)
            state, _ = engine.evaluate(state, event, received, placement_of(event.device))
            count += 1
        self.state = state
        self._raised_before = frozenset(raised_before)
        return count

    def restore(
        self, store: Store, placement_of: Callable[[str], Placement | None], now: datetime
    ) -> int:
        """:meth:`rebuild` from ``store`` (the last :data:`REBUILD_SPAN`; runs in the store's
        thread before the hub takes events)."""
        since = now - REBUILD_SPAN
        rows = recent_events(store, since)
        known = [
            event_id
            for alert in store.list_alerts(AlertFilter(limit=REBUILD_MAX_ALERTS))
            if alert.raised_at >= since
            for event_id in alert.event_ids
        ]
        replayed = self.rebuild(rows, placement_of, known)
        log.info(
            "rule state rebuilt",
            extra={"events": replayed, "timers": len(self.state.timers), "since": since.isoformat()},
        )
        return replayed

    def next_wake(self) -> datetime | None:
        return self.engine.next_wake(self.state)

    # --- reload ---------------------------------------------------------------------

    def reload(self) -> bool:
        """Load the files again; keep the running set (and log why) when they do not validate."""
        try:
            pack = self._load()
        except RulesInvalid as exc:
            self.reload_failures += 1
            if self._reload_counter is not None:
                self._reload_counter.labels("failed").inc()
            self._mtimes = self._stat()
            log.error(
                "rule files not reloaded, keeping the running rules: %d problem(s)\n%s",
                len(exc.problems),
                exc,
                extra={"problems": len(exc.problems)},
            )
            return False
        self.state = adopt(self.state, self.engine.pack, pack)
        self.engine = Engine(pack)
        self.reloads += 1
        if self._reload_counter is not None:
            self._reload_counter.labels("ok").inc()
        self._mtimes = self._stat()
        log.info("rules reloaded", extra={"rules": len(pack.rules), "files": len(self.paths)})
        return True

    def changed(self) -> bool:
        return self._stat() != self._mtimes

    def _stat(self) -> tuple[tuple[int, int] | None, ...]:
        out: list[tuple[int, int] | None] = []
        for path in self.paths:
            try:
                st = path.stat()
                out.append((st.st_mtime_ns, st.st_size))
            except OSError:
                out.append(None)
        return tuple(out)

    async def watch(
        self,
        stop: asyncio.Event,
        interval: float = 1.0,
        on_reload: Callable[[], None] | None = None,
    ) -> None:
        """Reload when a file changes (checked every ``interval`` s; files only, not residents)."""
        if not self.paths:
            return
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
            if not stop.is_set() and self.changed() and self.reload() and on_reload is not None:
                on_reload()


def recent_events(store: Store, since: datetime) -> list[tuple[EventBase, datetime]]:
    """Stored events with ``ts >= since`` in arrival order (at most REBUILD_MAX_EVENTS,
    the newest ones when there are more)."""
    newest_first = []
    cursor: int | None = None
    while len(newest_first) < REBUILD_MAX_EVENTS:
        page = store.list_events(EventFilter(since=since, limit=REBUILD_PAGE, cursor=cursor))
        newest_first += page
        if len(page) < REBUILD_PAGE:
            break
        cursor = page[-1].position
    if len(newest_first) >= REBUILD_MAX_EVENTS:
        log.warning("rule state rebuilt from the newest %d events only", REBUILD_MAX_EVENTS)
    return [(row.event, row.received_at) for row in reversed(newest_first)]
