"""The relatives channel: a relative's message through the signed webhook (an SMS
gateway behind it), with retries, one audit entry per disclosure, and a reply link.

The POST is signed like the response centre's (``hub.channels.webhook``: the
``X-Trygg-Timestamp`` and ``X-Trygg-Signature`` headers) and carries:

    {"type": "relative_notify", "alert_id": "...", "sent_at": "...",
     "to": {"name": "Kari", "phone": "+4791234567", "address": null, "language": "nb"},
     "text": "Trygg: Den du er pårørende for har forlatt det avtalte området kl. 18:02. ...",
     "reply": {"url": "https://hub/relatives/?lang=nb#<token>",
               "post": "https://hub/api/v1/relatives/reply/<token>",
               "answers": ["handling", "cannot"], "expires_at": "..."}}

The gateway sends ``text`` with ``reply.url`` (a page with the two answers), or maps
a reply keyword to a POST of ``{"answer": "handling"}`` or ``{"answer": "cannot"}``
to ``reply.post``. No name of the resident, no address, no health details: the text
says what the alert is.
Each disclosure is written to the audit log (actor ``system``, action
``relative.notify``, the resident, the relative, the alert) before it leaves.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

import httpx

from hub.audit import AuditEntry
from hub.channels.base import ChannelDown, Message, MessageKind, with_retries
from hub.channels.webhook import SIGNATURE, TIMESTAMP, sign
from hub.relatives import token
from hub.relatives.book import RelativesBook
from hub.relatives.message import relative_text
from hub.relatives.model import relative_of
from hub.routing.engine import ANSWERS
from hub.routing.policy import RELATIVES_CHANNEL

log = logging.getLogger("trygg.relatives")


class RelativesChannel:
    name = RELATIVES_CHANNEL

    def __init__(
        self,
        url: str,
        secret: bytes,
        book: RelativesBook,
        *,
        audit: Callable[[AuditEntry], Awaitable[None]],
        deadline: Callable[[str], datetime | None] = lambda _: None,
        attempts: int = 4,
        first_delay: float = 0.5,
        timeout: float = 5.0,
    ) -> None:
        if len(secret) < 16:
            raise ValueError("the relatives webhook secret must be at least 16 bytes")
        self.url = url
        self._secret = secret
        self.book = book
        self._audit = audit
        self._deadline = deadline
        self._attempts = attempts
        self._first_delay = first_delay
        self._client = httpx.AsyncClient(timeout=timeout)

    def body(self, message: Message) -> dict[str, object]:
        """What the gateway gets; ChannelDown when the relative is no longer registered."""
        alert = message.alert
        relative_id = relative_of(message.recipient)
        relative = self.book.get(alert.resident_id or "", relative_id or "")
        if relative is None:
            raise ChannelDown("the relative is no longer registered")  # no id in the logs
        reply = self.book.reply
        base = reply.base_url.rstrip("/")
        expires = message.sent_at + reply.ttl
        signed = token.issue(reply.secret, token.Claims(alert.id, relative.id, expires))
        tz = self.book.hub.consent.zone_of(alert.site)
        text = relative_text(relative.language, alert.kind, alert.event_ts,
                             self._deadline(alert.id), tz)  # fmt: skip
        return {
            "type": "relative_notify",
            "alert_id": alert.id,
            "sent_at": message.sent_at.isoformat(),
            "to": {
                "name": relative.display_name,
                "phone": relative.phone,
                "address": relative.address,
                "language": relative.language,
            },
            "text": text,
            "reply": {
                "url": f"{base}/relatives/?lang={relative.language}#{signed}",
                "post": f"{base}/api/v1/relatives/reply/{signed}",
                "answers": list(ANSWERS),
                "expires_at": expires.isoformat(),
            },
        }

    async def deliver(self, message: Message) -> None:
        if message.kind is not MessageKind.NOTIFY:
            return  # relatives are told of an alert once; never withdrawn or re-told
        payload = self.body(message)
        alert = message.alert
        why = f"alert {alert.id} ({alert.kind}), escalation step {message.step}"
        entry = AuditEntry(message.sent_at, "system", "system", "relative.notify",
                           alert.resident_id, relative_of(message.recipient), why)  # fmt: skip
        try:
            await self._audit(entry)
        except Exception as exc:  # no log, no disclosure: the chain goes on to staff
            raise ChannelDown(f"disclosure not audited: {exc}") from exc
        raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()

        async def post() -> None:
            ts = str(int(time.time()))
            headers = {"Content-Type": "application/json", TIMESTAMP: ts,
                       SIGNATURE: sign(self._secret, ts, raw)}  # fmt: skip
            response = await self._client.post(self.url, content=raw, headers=headers)
            if response.status_code >= 300:
                raise ChannelDown(f"HTTP {response.status_code}")

        await with_retries(post, "relatives webhook", self._attempts, self._first_delay)

    async def close(self) -> None:
        await self._client.aclose()
