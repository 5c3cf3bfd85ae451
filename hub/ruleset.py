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
from collections.abc import Callable, Sequence
from datetime import datetime
from importlib import resources
from pathlib import Path

from devices.events import EventBase
from devices.registry import Placement
from rules.decisions import Decision
from rules.engine import Engine, State, adopt
from rules.loader import Problem, RulePack, RulesInvalid, parse_pack

log = logging.getLogger("trygg.rules")

DEFAULT_PACK = "default.yaml"


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

    def __init__(self, paths: Sequence[Path] = ()) -> None:
        self.paths = tuple(paths)
        self.engine = Engine(load_pack(self.paths))
        self.state: State = self.engine.initial_state()
        self.reloads = 0
        self.reload_failures = 0
        self._mtimes = self._stat()

    @property
    def pack(self) -> RulePack:
        return self.engine.pack

    def __call__(
        self, state: object, event: EventBase, now: datetime, placement: Placement | None
    ) -> tuple[State, list[Decision]]:
        self.state, decisions = self.engine.evaluate(self.state, event, now, placement)
        return self.state, decisions

    def tick(self, now: datetime) -> list[Decision]:
        self.state, decisions = self.engine.tick(self.state, now)
        return decisions

    def next_wake(self) -> datetime | None:
        return self.engine.next_wake(self.state)

    # --- reload ---------------------------------------------------------------------

    def reload(self) -> bool:
        """Load the files again; keep the running set (and log why) when they do not validate."""
        try:
            pack = load_pack(self.paths)
        except RulesInvalid as exc:
            self.reload_failures += 1
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
