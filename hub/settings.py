"""Hub settings from the environment (prefix ``TRYGG_``), built in ``main()``, never at import.

Outside demo mode the hub refuses placeholder secrets and the demo accounts'
password: a municipality must never run on credentials printed in a README.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = frozenset(
    {"", "demo", "admin", "password", "changeme", "change-me", "secret", "trygg"}
)
DEMO_PASSWORD = "demo"


class HubSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRYGG_", extra="ignore")

    data_dir: Path = Path("data")
    http_host: str = "127.0.0.1"
    http_port: int = Field(8080, ge=1, le=65535)
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = Field(1883, ge=1, le=65535)
    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None
    mqtt_client_id: str = "trygg-hub"
    mqtt_protocol: int = Field(5, description="5 (MQTT 5) or 4 (MQTT 3.1.1)")
    mqtt_tls: bool = False
    mqtt_ca_file: Path | None = Field(None, description="CA of the broker's certificate (TLS)")
    mqtt_session_expiry_s: int = Field(
        7 * 24 * 3600, ge=0, description="how long the broker queues events while the hub is away"
    )
    admin_password: SecretStr | None = Field(
        None, description="creates the 'admin' account on first start if it does not exist"
    )
    token_ttl_hours: float = Field(12.0, gt=0, le=24 * 7)
    demo: bool = False
    # Rule files, loaded together (JSON list: TRYGG_RULES='["site.yaml"]'); empty: the default pack.
    rules: list[Path] = Field(default_factory=list)
    flood_limit: int = Field(
        20, ge=0, description="events in 10 s (by their own time) that make a device flooding; 0: off"
    )
    resident_cancel_window_s: float = Field(
        30.0, gt=0, le=600,
        description="a second press or the cancel key within this many seconds of the first "
        "event cancels the alert (a mark; a rule's resident_cancel.window overrides it)",
    )  # fmt: skip
    database_url: SecretStr | None = Field(
        None,
        description="PostgreSQL DSN (postgresql://user:pass@host:5432/db); unset: SQLite in data_dir",
    )
    database_schema: str = Field("public", pattern=r"^[a-z_][a-z0-9_]*$")

    @property
    def db_path(self) -> Path:
        return self.data_dir / "trygg.db"

    def production_problems(self) -> list[str]:
        """Why these settings must not run outside demo mode (empty when fine)."""
        problems = []
        admin = self.admin_password.get_secret_value() if self.admin_password else None
        if admin is not None and (admin.lower() in PLACEHOLDER_SECRETS or len(admin) < 12):
            problems.append("TRYGG_ADMIN_PASSWORD is a placeholder or shorter than 12 characters")
        if self.mqtt_password is not None and (
            self.mqtt_password.get_secret_value().lower() in PLACEHOLDER_SECRETS
        ):
            problems.append("TRYGG_MQTT_PASSWORD is a placeholder")
        return problems
