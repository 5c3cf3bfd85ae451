"""Errors of the hub.

TryggError (devices.errors)
 ├── IllegalTransition     an alert command that its state does not allow (HTTP 409)
 ├── NotFound              an alert, device or account that does not exist (HTTP 404)
 ├── StoreError            the database failed; the message is retried, never dropped
 ├── SchemaTooNew          the database was migrated by a newer Trygg
 └── ConfigError           settings that must not be used (placeholder secrets, ...)
"""

from __future__ import annotations

from devices.errors import TryggError


class IllegalTransition(TryggError):
    def __init__(
        self, alert_id: str, state: str, command: str, held_by: str | None = None
    ) -> None:
        # Who holds the alert: a second accept is told who has it (a staff username).
        taken = f" (taken by {held_by})" if held_by else ""
        super().__init__(f"alert {alert_id} is {state}{taken}: cannot {command}")
        self.alert_id = alert_id
        self.state = state
        self.command = command
        self.held_by = held_by


class NotFound(TryggError):
    pass


class StoreError(TryggError):
    pass


class SchemaTooNew(StoreError):
    pass


class ConfigError(TryggError):
    pass
