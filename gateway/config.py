"""The gateway's configuration: a local YAML file, merged with the config the hub syncs.

The file (``trygg gateway --config FILE``) says who the gateway is and how it
connects (uplink broker, TLS, credentials, local broker, serial ports, local
alarm outputs). Devices, placements (device -> resident id, which the consent
check needs and which never leaves the gateway in an event) and legal bases
come from the hub on ``trygg/v1/{site}/{gateway}/config`` (retained) and are
cached in ``data_dir/hub-config.json``, so a restart without the hub works.
Devices listed in the file are used too (a hub-synced device with the same id
wins), which is how a gateway runs before the hub knows it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from devices.feedback import FeedbackState

Ident = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConfigError(Exception):
    """The gateway's configuration cannot be used; the message says which field."""


class BrokerConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = 1883
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    client_id: str | None = None
    keepalive_s: int = 30

    def secret(self) -> str | None:
        if self.password_file is not None:
            return self.password_file.read_text().strip()
        return self.password.get_secret_value() if self.password else None


class DeviceConfig(_Strict):
    id: Ident
    protocol: Literal["z2m", "owntracks", "nmea", "stoveguard"]
    model: str | None = None  # z2m: the catalogue model (Zigbee2MQTT's definition.model)
    friendly_name: str | None = None  # z2m
    topic: str | None = None  # owntracks: owntracks/<user>/<device>
    serial_url: str | None = None  # nmea, stoveguard: /dev/ttyUSB0, socket://host:port, ...
    baudrate: int = 9600
    resident_id: str | None = None  # from the hub's placement; never sent in events
    door: Literal["entrance", "exit", "balcony", "inner", "window"] = "entrance"


class FallbackConfig(_Strict):
    after_s: float = 5.0
    mqtt_topic: str | None = None  # on the LOCAL broker: a siren or a handheld
    command: list[str] | None = None  # run with the alarm in env TRYGG_ALARM_* variables
    serial_url: str | None = None  # a relay: b"ON\n" written to the line
    kinds: list[str] = Field(default_factory=lambda: [
        "alarm.button", "staff.alarm", "fall.detected", "floor.person", "smoke.detected",
        "water.leak"])


class FeedbackConfig(_Strict):
    """How this home shows a resident that their alarm got through (docs/resident-feedback.md).

    Besides a device whose own catalogue model can show feedback, ``devices`` names
    another device that shows it for a source device (an alarm button has no light:
    the lamp or siren next to the bed shows its feedback). Kept in the gateway's own
    file: the devices the hub syncs replace those in the file, this map stays.
    """

    devices: dict[Ident, Ident] = Field(default_factory=dict)  # source device -> shown on
    mqtt_topic: str | None = None  # on the LOCAL broker: every feedback as JSON (a display)
    command: list[str] | None = None  # e.g. ["aplay", "-q"]: the state's sound file is appended
    sounds: dict[FeedbackState, Path] = Field(default_factory=dict)
    serial_url: str | None = None  # a relay or indicator on a serial line
    serial_lines: dict[FeedbackState, str] = Field(default_factory=lambda: {
        FeedbackState.RECEIVED: "ON", FeedbackState.CANCELLED: "OFF",
        FeedbackState.CLOSED: "OFF"})

    @model_validator(mode="after")
    def _sounds_need_a_player(self) -> FeedbackConfig:
        if self.sounds and not self.command:
            raise ValueError("sounds need a command to play them (e.g. [aplay, -q])")
        if any(source == shown for source, shown in self.devices.items()):
            raise ValueError("devices: a device cannot show its own feedback through itself")
        return self


class GatewayConfig(_Strict):
    site: Ident
    gateway: Ident
    data_dir: Path = Path("/var/lib/trygg-gateway")
    timezone: str = "Europe/Oslo"
    uplink: BrokerConfig = BrokerConfig()
    local: BrokerConfig | None = BrokerConfig()
    z2m_base: str = "zigbee2mqtt"
    owntracks_base: str = "owntracks"
    devices: list[DeviceConfig] = Field(default_factory=list)
    bases: list[dict[str, Any]] = Field(default_factory=list)  # rules.consent JSON
    fallback: FallbackConfig = FallbackConfig()
    feedback: FeedbackConfig = FeedbackConfig()
    heartbeat_s: float = 30.0
    device_heartbeat_s: float = 3600.0  # a device.heartbeat event per device, at most
    outbox_max_mb: float = 256.0
    outbox_warn_fraction: float = 0.8
    inflight: int = 200  # QoS 1 messages in flight on the uplink

    @property
    def events_topic(self) -> str:
        return f"trygg/v1/{self.site}/{self.gateway}/events"

    @property
    def status_topic(self) -> str:
        return f"trygg/v1/{self.site}/{self.gateway}/status"

    @property
    def config_topic(self) -> str:
        return f"trygg/v1/{self.site}/{self.gateway}/config"

    @property
    def time_request_topic(self) -> str:
        return f"trygg/v1/{self.site}/{self.gateway}/time/request"

    @property
    def time_reply_topic(self) -> str:
        return f"trygg/v1/{self.site}/{self.gateway}/time"

    @property
    def commands_topic(self) -> str:
        return f"trygg/v1/{self.site}/{self.gateway}/commands"

    @property
    def alerts_topic(self) -> str:
        return f"trygg/v1/{self.site}/alerts"


def load(path: Path) -> GatewayConfig:
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    try:
        return GatewayConfig.model_validate(raw or {})
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {loc}: {first['msg']}") from exc


class HubConfig(_Strict):
    """What the hub publishes on the config topic (see hub/gateway_config.py)."""

    version: int = 0
    hub_time: str | None = None
    timezone: str | None = None
    devices: list[DeviceConfig] = Field(default_factory=list)
    bases: list[dict[str, Any]] = Field(default_factory=list)


def parse_hub_config(raw: bytes) -> HubConfig:
    try:
        return HubConfig.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"hub config: {loc}: {first['msg']}") from exc


def cache_path(cfg: GatewayConfig) -> Path:
    return cfg.data_dir / "hub-config.json"


def load_cached(cfg: GatewayConfig) -> HubConfig | None:
    path = cache_path(cfg)
    if not path.exists():
        return None
    try:
        return parse_hub_config(path.read_bytes())
    except ConfigError:
        return None


def save_cached(cfg: GatewayConfig, raw: bytes) -> None:
    path = cache_path(cfg)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(raw)
    tmp.replace(path)  # atomic: a crash leaves the old or the new file, never half


def merged_devices(cfg: GatewayConfig, hub: HubConfig | None) -> list[DeviceConfig]:
    by_id = {d.id: d for d in cfg.devices}
    for d in hub.devices if hub else []:
        by_id[d.id] = d
    return list(by_id.values())


def merged_bases(cfg: GatewayConfig, hub: HubConfig | None) -> list[dict[str, Any]]:
    return [*cfg.bases, *(hub.bases if hub else [])]


def dump(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), default=str).encode()
