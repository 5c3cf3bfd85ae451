"""The rule engine: ``evaluate(state, event, now, placement) -> (state, decisions)``.

Pure: no I/O, no clock. Time comes in as ``now`` (when the hub saw the event)
and ``event.ts`` (when it happened): windows and spans are measured on event
time, timers fire on ``now``. Timers are data: :meth:`Engine.next_wake` says
when the engine next needs a call (``tick``) and the shell sleeps until then;
nothing polls per resident.

Hot path: rules are indexed by kind, so an event touches only the rules that
name its kind; state is one small list per (rule, resident) that has one, plus a
heap of timers. The state object is updated in place and returned (the caller
must not share it between engines).

State per rule mode (see :class:`rules.model.Mode`):

- instant: ``[last_trigger, last_raise]``
- count:   ``[times..., last_raise]`` as ``[tuple, last_raise]``
- absent:  ``[start, deadline, anchor, raised, cleared_at, last_raise, placement, release]``
  (``release``: when a held alert is shown to staff, see ``Rule.hold_s``)
- expect:  ``[deadline, seen, anchor, last_raise, placement]``

An *anchor* is the event a timer's alert will be about, kept as a slim tuple
(:func:`anchor`), not the whole event object.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from devices.events import EVENT_CLASSES, EventBase
from devices.registry import Placement
from rules.decisions import Cancel, Decision, Raise, Release, Resolve, Suppressed
from rules.model import ActionKind, Mode, Rule, RulePack

STAFF_IN, STAFF_OUT = "presence.staff_in", "presence.staff_out"
NEVER = float("-inf")
# absent slot fields
START, DEADLINE, ANCHOR, RAISED, CLEARED, LAST, PLACE, RELEASE = range(8)


_LAST_RAISE = {Mode.INSTANT: 1, Mode.COUNT: 1, Mode.ABSENT: LAST, Mode.EXPECT: 3}


def slot_key(event: EventBase, p: Placement | None) -> str:
    """Rule state is kept per resident; a device nobody is placed with is its own key."""
    return (p.resident_id if p is not None else None) or event.device


Anchor = tuple[str, str, str, str, str, datetime, int, Any]


def anchor(e: EventBase) -> Anchor:
    """What a later alert needs of ``e`` (id, site, gateway, device, kind, ts, seq, data)."""
    return (e.id, e.site, e.gateway, e.device, e.kind, e.ts, e.seq, e.data)


def from_anchor(a: Anchor) -> EventBase:
    """The event again, without re-validating what was validated when it arrived."""
    return EVENT_CLASSES[a[4]].model_construct(
        id=a[0], site=a[1], gateway=a[2], device=a[3], kind=a[4], ts=a[5], seq=a[6], data=a[7]
    )


class State:
    """Everything the engine remembers; small by design (see ``trygg bench rules``)."""

    __slots__ = ("presence", "seq", "slots", "timers")

    def __init__(self) -> None:
        self.slots: dict[tuple[int, str], list[Any]] = {}
        self.timers: list[tuple[float, int, int, str]] = []  # (due, seq, rule, key)
        self.presence: dict[str, float] = {}  # apartment -> staff in since (event time)
        self.seq = 0


def _apartment(event: EventBase, p: Placement | None) -> str | None:
    if p is None or p.apartment is None:
        return None
    return f"{p.site}/{p.apartment}"


def _where(event: EventBase, p: Placement | None) -> str:
    if p is None:
        return f"unregistered device {event.device}"
    return p.apartment or p.room or p.unit or p.site


class Engine:
    """A compiled :class:`RulePack` and the functions that run it."""

    def __init__(self, pack: RulePack) -> None:
        self.pack = pack
        self._tz = pack.tz
        self._by_name = {r.name: r for r in pack.rules}
        self._expect_by_kind: dict[str, list[Rule]] = {}
        for r in pack.expect_rules:
            for k in r.kinds:
                self._expect_by_kind.setdefault(k, []).append(r)

    @staticmethod
    def initial_state() -> State:
        return State()

    # --- events ---------------------------------------------------------------------

    def evaluate(
        self, state: State, event: EventBase, now: datetime, placement: Placement | None = None
    ) -> tuple[State, list[Decision]]:
        out: list[Decision] = []
        pack = self.pack
        timers = state.timers
        if timers and timers[0][0] <= now.timestamp():
            self._fire(state, now.timestamp(), out)
        p = placement
        kind = event.kind
        ts = event.ts.timestamp()
        resident = p.resident_id if p is not None else None
        key = resident or event.device
        if kind in (STAFF_IN, STAFF_OUT):
            apt = _apartment(event, p)
            if apt is not None:
                if kind == STAFF_IN:
                    state.presence[apt] = ts
                else:
                    state.presence.pop(apt, None)
        clears = pack.clears_by_kind.get(kind)
        if clears:
            for rule in clears:
                self._clear(state, rule, key, event, p, ts, out)
        rules = pack.by_kind.get(kind)
        if rules:
            local_time = None  # the event's wall-clock time of day, computed once if needed
            for rule in rules:
                if rule.scoped and not rule.scope.matches(event, p):
                    continue
                params = rule.defaults
                if rule.overrides and resident is not None:
                    params = rule.overrides.get(resident, params)
                if not params.enabled:
                    continue
                if params.window is not None:
                    if local_time is None:
                        local_time = event.ts.astimezone(self._tz).time()
                    if not params.window.contains_time(local_time):
                        continue
                if params.zones and getattr(event.data, "zone", None) not in params.zones:
                    continue
                if not rule.when(event, p):
                    continue
                self._trigger(state, rule, params.within_s, params.count, key, event, p, ts, out)
        if kind in self._expect_by_kind:
            self._expect(state, key, resident, event, p, ts)
        return state, out

    def evaluate_many(
        self, state: State, events: Iterable[tuple[EventBase, Placement | None]], now: datetime
    ) -> tuple[State, list[Decision]]:
        out: list[Decision] = []
        for event, placement in events:
            state, decisions = self.evaluate(state, event, now, placement)
            out += decisions
        return state, out

    # --- timers ---------------------------------------------------------------------

    def tick(self, state: State, now: datetime) -> tuple[State, list[Decision]]:
        """Fire every timer due at ``now``."""
        out: list[Decision] = []
        self._fire(state, now.timestamp(), out)
        return state, out

    def next_wake(self, state: State) -> datetime | None:
        """When the engine next needs a :meth:`tick` (None: no timer pending)."""
        timers = state.timers
        while timers and not self._live(state, timers[0]):
            heapq.heappop(timers)
        return datetime.fromtimestamp(timers[0][0], UTC) if timers else None

    def _live(self, state: State, timer: tuple[float, int, int, str]) -> bool:
        slot = state.slots.get((timer[2], timer[3]))
        if slot is None:
            return False
        if self.pack.rules[timer[2]].mode is Mode.EXPECT:
            return bool(slot[0] == timer[0])
        if slot[RELEASE] == timer[0]:
            return True
        return slot[DEADLINE] == timer[0] and not slot[RAISED] and slot[CLEARED] is None

    def _push(self, state: State, due: float, rule: Rule, key: str) -> None:
        state.seq += 1
        heapq.heappush(state.timers, (due, state.seq, rule.index, key))

    def _fire(self, state: State, now_ts: float, out: list[Decision]) -> None:
        timers = state.timers
        while timers and timers[0][0] <= now_ts:
            due, _, index, key = heapq.heappop(timers)
            rule = self.pack.rules[index]
            slot = state.slots.get((index, key))
            if slot is None:
                continue
            if rule.mode is Mode.EXPECT:
                if slot[0] == due:
                    self._expect_due(state, rule, key, slot, due, out)
            elif slot[RELEASE] == due:
                slot[RELEASE] = None
                out.append(Release(rule.name, slot[ANCHOR][3]))
            elif slot[DEADLINE] == due and not slot[RAISED] and slot[CLEARED] is None:
                slot[RAISED] = True
                anchor = from_anchor(slot[ANCHOR])
                minutes = round(rule.params(key).within_s / 60)
                raised = self._raise(
                    state,
                    rule,
                    slot,
                    LAST,
                    anchor,
                    slot[PLACE],
                    due,
                    out,
                    minutes=minutes,
                    timer=True,
                )
                if raised and rule.hold_s:
                    slot[RELEASE] = due + rule.hold_s
                    self._push(state, slot[RELEASE], rule, key)
                if not rule.cancel_on_clear:
                    del state.slots[(index, key)]

    # --- modes ----------------------------------------------------------------------

    def _trigger(
        self, state: State, rule: Rule, within_s: float, count: int, key: str,
        event: EventBase, p: Placement | None, ts: float, out: list[Decision],
    ) -> None:  # fmt: skip
        mode = rule.mode
        slots = state.slots
        skey = (rule.index, key)
        slot = slots.get(skey)
        if mode is Mode.INSTANT:
            if slot is None:
                slot = slots[skey] = [NEVER, NEVER]
            elif rule.debounce_s and ts - slot[0] < rule.debounce_s:
                slot[0] = ts
                out.append(Suppressed(rule.name, event.device, "debounce"))
                return
            slot[0] = ts
            self._act(state, rule, slot, 1, event, p, ts, out)
        elif mode is Mode.COUNT:
            if slot is None:
                slot = slots[skey] = [(), NEVER]
            times = (*(t for t in slot[0] if ts - t < within_s), ts)
            if len(times) < count:
                slot[0] = times[-(count - 1) :] if count > 1 else ()
                return
            slot[0] = ()
            self._act(state, rule, slot, 1, event, p, ts, out, count=count)
        elif mode is Mode.ABSENT:
            if slot is not None and slot[RELEASE] is not None:
                return  # its alert is held and about to be shown: that alert covers this
            if slot is not None and slot[START] is not None and not slot[RAISED]:
                if slot[CLEARED] is None:
                    return  # already waiting: the first trigger sets the deadline
                if rule.debounce_s and ts - slot[CLEARED] < rule.debounce_s:
                    # Hysteresis: a clear shorter than the debounce did not count.
                    slot[CLEARED] = None
                    if slot[DEADLINE] <= ts:
                        slot[DEADLINE] = ts
                    self._push(state, slot[DEADLINE], rule, key)
                    return
            last = slot[LAST] if slot is not None else NEVER
            deadline = ts + within_s
            slots[skey] = [ts, deadline, anchor(event), False, None, last, p, None]
            self._push(state, deadline, rule, key)

    def _clear(
        self, state: State, rule: Rule, key: str, event: EventBase, p: Placement | None,
        ts: float, out: list[Decision],
    ) -> None:  # fmt: skip
        slot = state.slots.get((rule.index, key))
        if slot is None or slot[START] is None or rule.clear is None:
            return
        if not rule.clear(event, p) or ts < slot[START]:
            return
        if slot[RAISED]:
            out.append(Cancel(rule.name, slot[ANCHOR][3], f"{event.kind} at {event.ts:%H:%M:%S}"))
            if rule.cooldown_s:
                slot[START] = slot[ANCHOR] = slot[PLACE] = slot[RELEASE] = None
            else:
                del state.slots[(rule.index, key)]
            return
        if slot[CLEARED] is None:
            slot[CLEARED] = ts
            if not rule.debounce_s:
                del state.slots[(rule.index, key)]

    def _expect(
        self, state: State, key: str, resident: str | None, event: EventBase,
        p: Placement | None, ts: float,
    ) -> None:  # fmt: skip
        for rule in self._expect_by_kind.get(event.kind, ()):
            # Armed by the first expected event from this resident (it has such a sensor).
            skey = (rule.index, key)
            if skey not in state.slots and (rule.scope.everything or rule.scope.matches(event, p)):
                window = rule.params(resident).window
                assert window is not None
                due = window._flip(event.ts, window.end, self._tz).timestamp()
                state.slots[skey] = [due, False, anchor(event), NEVER, p]
                self._push(state, due, rule, key)
        for rule in self._expect_by_kind.get(event.kind, ()):
            slot = state.slots.get((rule.index, key))
            if slot is None or not rule.when(event, p):
                continue
            slot[2] = anchor(event)
            window = rule.params(resident).window
            if window is not None and window.contains(event.ts, self._tz):
                slot[1] = True

    def _expect_due(
        self, state: State, rule: Rule, key: str, slot: list[Any], due: float,
        out: list[Decision],
    ) -> None:  # fmt: skip
        params = rule.params(key)
        if not slot[1] and params.enabled:
            window = params.window
            assert window is not None
            self._raise(
                state,
                rule,
                slot,
                3,
                from_anchor(slot[2]),
                slot[4],
                due,
                out,
                window=str(window),
                timer=True,
            )
        window = params.window
        assert window is not None
        nxt = window._flip(datetime.fromtimestamp(due, UTC), window.end, self._tz).timestamp()
        slot[0], slot[1] = nxt, False
        self._push(state, nxt, rule, key)

    # --- actions --------------------------------------------------------------------

    def _act(
        self, state: State, rule: Rule, slot: list[Any], last: int, event: EventBase,
        p: Placement | None, ts: float, out: list[Decision], count: int = 1,
    ) -> None:  # fmt: skip
        if rule.action is not ActionKind.RAISE:
            # Only after the target rule raised for this resident, once per raise.
            target = self._by_name[rule.target]
            tslot = state.slots.get((target.index, slot_key(event, p)))
            raised = NEVER if tslot is None else tslot[_LAST_RAISE[target.mode]]
            if raised is None or raised <= slot[1]:
                return
            slot[1] = raised
            closing = Cancel if rule.action is ActionKind.CANCEL else Resolve
            out.append(closing(rule.target, event.device, f"{event.kind} ({rule.name})"))
        else:
            self._raise(state, rule, slot, last, event, p, ts, out, count=count)

    def _raise(
        self, state: State, rule: Rule, slot: list[Any], last: int, event: EventBase,
        p: Placement | None, ts: float, out: list[Decision], *,
        timer: bool = False, count: int = 1, minutes: int = 0, window: str = "",
    ) -> bool:  # fmt: skip
        apt = _apartment(event, p) if rule.suppress_with_staff else None
        if apt is not None:
            since = state.presence.get(apt)
            if since is not None and ts - since < self.pack.presence_max_s:
                out.append(Suppressed(rule.name, event.device, "staff present"))
                return False
        if rule.cooldown_s and ts - slot[last] < rule.cooldown_s:
            out.append(Suppressed(rule.name, event.device, "cool-down"))
            return False
        slot[last] = ts
        out.append(
            Raise(
                rule=rule.name,
                category=rule.category,
                priority=rule.priority,
                message=self._message(rule, event, p, count, minutes, window),
                merge_open=rule.merge_open,
                event=event if timer else None,
                hold=timer and rule.hold_s > 0,
            )
        )
        return True

    def _message(
        self, rule: Rule, e: EventBase, p: Placement | None, count: int, minutes: int, window: str
    ) -> str:
        data = e.data.model_dump() if hasattr(e.data, "model_dump") else {}
        where = _where(e, p) if p is not None or not data.get("location") else data["location"]
        fields = {k: ("" if v is None else v) for k, v in data.items()}
        fields.update(
            where=where,
            device=e.device,
            kind=e.kind,
            site=e.site,
            unit=(p.unit if p else None) or "",
            apartment=(p.apartment if p else None) or "",
            room=(p.room if p else None) or "",
            location=data.get("location") or where,
            count=count,
            minutes=minutes,
            window=window,
        )
        return rule.message.format_map(fields)


def adopt(state: State, old: RulePack, new: RulePack) -> State:
    """Carry ``state`` over to a reloaded pack: per-rule memory follows the rule's name
    (a stove already on for 10 minutes stays on); rules that are gone are forgotten."""
    index = {r.name: r.index for r in new.rules}
    moved = State()
    moved.presence = dict(state.presence)
    remap: dict[int, int] = {}
    for r in old.rules:
        target = index.get(r.name)
        if target is not None and new.rules[target].mode is r.mode:
            remap[r.index] = target
    for (i, key), slot in state.slots.items():
        if i in remap:
            moved.slots[(remap[i], key)] = slot
    for due, seq, i, key in state.timers:
        if i in remap:
            moved.timers.append((due, seq, remap[i], key))
    heapq.heapify(moved.timers)
    moved.seq = state.seq
    return moved
