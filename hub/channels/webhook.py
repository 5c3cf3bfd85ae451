"""A webhook for a response centre (responssenter) or an SMS provider.

Each POST carries a JSON body and two headers:

- ``X-Trygg-Timestamp``: Unix seconds when the body was signed;
- ``X-Trygg-Signature``: ``sha256=`` + hex HMAC-SHA256 of
  ``{timestamp}.{body}`` under the shared secret.

A receiver recomputes the HMAC over the raw body bytes, compares it in
constant time, and refuses timestamps older than a few minutes (replay).
``verify`` below is the reference. Delivery is retried with doubling delays;
after the last attempt the router escalates.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx

from hub.channels.base import ChannelDown, Message, with_retries

SIGNATURE = "X-Trygg-Signature"
TIMESTAMP = "X-Trygg-Timestamp"
MAX_AGE_S = 300


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: bytes, timestamp: str, body: bytes, signature: str, now: float) -> bool:
    """The receiver's check: right signature and a fresh timestamp."""
    try:
        age = now - int(timestamp)
    except ValueError:
        return False
    if abs(age) > MAX_AGE_S:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookChannel:
    name = "webhook"

    def __init__(
        self,
        url: str,
        secret: bytes,
        *,
        attempts: int = 4,
        first_delay: float = 0.5,
        timeout: float = 5.0,
    ) -> None:
        if len(secret) < 16:
            raise ValueError("the webhook secret must be at least 16 bytes")
        self.url = url
        self._secret = secret
        self._attempts = attempts
        self._first_delay = first_delay
        self._client = httpx.AsyncClient(timeout=timeout)

    async def deliver(self, message: Message) -> None:
        body = json.dumps(message.body(), separators=(",", ":")).encode()

        async def post() -> None:
            ts = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                TIMESTAMP: ts,
                SIGNATURE: sign(self._secret, ts, body),
            }
            response = await self._client.post(self.url, content=body, headers=headers)
            if response.status_code >= 300:
                raise ChannelDown(f"HTTP {response.status_code}")

        await with_retries(post, "webhook", self._attempts, self._first_delay)

    async def close(self) -> None:
        await self._client.aclose()
