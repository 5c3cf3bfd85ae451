"""Carry out resident feedback (gateway/feedback.py plans it) on a thread of its own.

Commands arrive on the uplink's network thread; a serial port that hangs or a
slow player must never hold that thread (the hub's next command, the fallback
confirmation) up, so actions are queued and done here. Each action is tried;
one failing never stops the others (a lamp that does not answer must not
silence the speaker).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable, Sequence

import serial

from gateway.feedback import Action, Notice, Play, RelayLine, Z2mSet
from gateway.inputs import LocalMqtt
from gateway.outputs import LocalOutputs

log = logging.getLogger("trygg.gateway.feedback")
QUEUE = 256  # planned feedbacks waiting; far more than a home ever has at once


class FeedbackOutputs:
    def __init__(self, local: LocalMqtt | None) -> None:
        self.local = local
        self.done = 0
        self.failed = 0
        self.dropped = 0
        self._queue: queue.Queue[Sequence[Action] | None] = queue.Queue(QUEUE)
        self._thread = threading.Thread(target=self._run, name="feedback", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=10)

    def submit(self, actions: Sequence[Action]) -> None:
        if not actions:
            return
        try:
            self._queue.put_nowait(actions)
        except queue.Full:
            self.dropped += 1
            log.error("feedback queue full: feedback dropped", extra={"actions": len(actions)})

    def _run(self) -> None:
        while (actions := self._queue.get()) is not None:
            self.carry_out(actions)

    def carry_out(self, actions: Sequence[Action]) -> None:
        for action in actions:
            self._try(action, self._do(action))

    def _do(self, action: Action) -> Callable[[], object]:
        if isinstance(action, Z2mSet | Notice):
            return lambda: self._publish(action.topic, action.payload)
        if isinstance(action, Play):
            env = dict(os.environ)
            return lambda: LocalOutputs._spawn(list(action.command), env)
        return lambda: self._relay(action)

    def _try(self, action: Action, do: Callable[[], object]) -> None:
        try:
            do()
            self.done += 1
        except Exception as exc:  # every output is tried even if one fails
            self.failed += 1
            log.error("feedback output failed",
                      extra={"output": type(action).__name__, "error": str(exc)})  # fmt: skip

    def _publish(self, topic: str, payload: bytes) -> None:
        if self.local is None:
            raise RuntimeError("no local broker configured")
        self.local.publish(topic, payload)

    @staticmethod
    def _relay(action: RelayLine) -> None:
        with serial.serial_for_url(action.url, timeout=1) as line:
            line.write(action.line)
            line.flush()
