"""The signed, expiring reply token a relative answers with.

``{payload}.{mac}``, both base64url without padding: the payload is compact JSON
``{"a": alert id, "r": relative id, "e": expiry in Unix seconds}``, the mac an
HMAC-SHA256 of the payload text under the hub's secret. A token says nothing a
reader needs to keep secret (ids only); what it proves is that the hub issued it,
to that relative, for that alert, until then. Pure: the caller passes ``now``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from hub.relatives.model import RELATIVE_ID

MIN_SECRET = 16


@dataclass(frozen=True, slots=True)
class Claims:
    alert_id: str
    relative_id: str
    expires_at: datetime


class BadToken(ValueError):
    """Not a token this hub issued, or no longer valid; ``str()`` says which."""

    def __init__(self, reason: str, *, expired: bool = False) -> None:
        super().__init__(reason)
        self.expired = expired


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, payload.encode("ascii"), hashlib.sha256).digest())


def issue(secret: bytes, claims: Claims) -> str:
    if len(secret) < MIN_SECRET:
        raise ValueError(f"the reply secret must be at least {MIN_SECRET} bytes")
    body = {"a": claims.alert_id, "r": claims.relative_id, "e": int(claims.expires_at.timestamp())}
    payload = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
    return f"{payload}.{_mac(secret, payload)}"


def verify(secret: bytes, token: str, now: datetime) -> Claims:
    """The claims of a good token; :class:`BadToken` otherwise (``expired`` set when the
    signature is right but the time is up)."""
    payload, dot, mac = token.partition(".")
    if not dot or not payload or not mac or not payload.isascii() or not mac.isascii():
        raise BadToken("malformed token")
    if not hmac.compare_digest(_mac(secret, payload), mac):
        raise BadToken("bad signature")
    try:
        body = json.loads(_unb64(payload))
        alert_id, relative_id, expiry = body["a"], body["r"], body["e"]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise BadToken("malformed token") from exc
    if not (isinstance(alert_id, str) and alert_id and isinstance(relative_id, str)
            and RELATIVE_ID.fullmatch(relative_id) and isinstance(expiry, int)):  # fmt: skip
        raise BadToken("malformed token")
    expires_at = datetime.fromtimestamp(expiry, UTC)
    if now >= expires_at:
        raise BadToken("the token has expired", expired=True)
    return Claims(alert_id, relative_id, expires_at)
