"""Failed logins are rate-limited: per username and per client address, in a sliding window.

After ``max_failures`` failures within ``window`` the key is refused (HTTP 429,
``Retry-After``) until the oldest failure leaves the window; a success clears
the username's failures. Pure bookkeeping: the caller passes ``now``.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta


class LoginThrottle:
    def __init__(self, max_failures: int = 5, window: timedelta = timedelta(minutes=15)) -> None:
        self.max_failures = max_failures
        self.window = window
        self._failures: dict[str, deque[datetime]] = {}

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        q = self._failures.get(key)
        if q is None:
            return deque()
        while q and now - q[0] >= self.window:
            q.popleft()
        if not q:
            del self._failures[key]
        return q

    def retry_after(self, keys: tuple[str, ...], now: datetime) -> float | None:
        """Seconds to wait when any key is over the limit; None when a try is allowed."""
        waits = []
        for key in keys:
            q = self._recent(key, now)
            if len(q) >= self.max_failures:
                waits.append((q[0] + self.window - now).total_seconds())
        return max(waits) if waits else None

    def failed(self, keys: tuple[str, ...], now: datetime) -> None:
        for key in keys:
            q = self._failures.setdefault(key, deque())
            q.append(now)
            while len(q) > self.max_failures:
                q.popleft()

    def succeeded(self, username_key: str) -> None:
        self._failures.pop(username_key, None)

    def __len__(self) -> int:
        return len(self._failures)
