"""The channel port and the message every channel carries.

A message says where and what, never who: no resident id or name travels to
a handheld, a response centre or an SMS provider (the apartment and the
unit are enough to go and help).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from devices.errors import TryggError
from hub.alerts import Alert


class ChannelDown(TryggError):
    """The channel could not deliver after its retries; the router escalates."""


class MessageKind(StrEnum):
    NOTIFY = "notify"  # take this alert
    WITHDRAW = "withdraw"  # no longer needed: taken by someone else or closed
    TOLD = "told"  # your accept came second: someone else has it
    NOBODY_ON_DUTY = "nobody_on_duty"  # a unit has nobody on duty


@dataclass(frozen=True, slots=True)
class Message:
    kind: MessageKind
    recipient: str  # a username, or "response_centre"
    site: str
    alert: Alert
    sent_at: datetime
    step: int | None = None
    reason: str | None = None
    by: str | None = None  # who took the alert (withdraw, told)

    def body(self) -> dict[str, Any]:
        a = self.alert
        return {
            "type": str(self.kind),
            "recipient": self.recipient,
            "site": self.site,
            "sent_at": self.sent_at.isoformat(),
            "step": self.step,
            "reason": self.reason,
            "by": self.by,
            "alert": {
                "id": a.id,
                "unit": a.unit,
                "apartment": a.apartment,
                "device": a.device,
                "kind": a.kind,
                "category": str(a.category),
                "priority": str(a.priority),
                "message": a.message,
                "state": str(a.state),
                "raised_at": a.raised_at.isoformat(),
                "event_ts": a.event_ts.isoformat(),
                "accepted_by": a.accepted_by,
                # A mark: still open, at the lowered priority above.
                "cancelled_by_resident": a.cancelled_by_resident,
            },
        }


class Channel(Protocol):
    name: str

    async def deliver(self, message: Message) -> None:
        """Return once the channel has the message; raise :class:`ChannelDown` when it
        could not be delivered after the channel's own retries."""
        ...


async def with_retries(
    attempt: Callable[[], Awaitable[None]],
    what: str,
    attempts: int,
    first_delay: float,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Try ``attempts`` times with doubling delays; ChannelDown with the last reason."""
    delay = first_delay
    last: Exception | None = None
    for n in range(attempts):
        try:
            await attempt()
            return
        except Exception as exc:  # any failure of the transport is a failed attempt
            last = exc
            if n + 1 < attempts:
                await sleep(delay)
                delay *= 2
    raise ChannelDown(f"{what}: {attempts} attempts failed: {last}") from last
