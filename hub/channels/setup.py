"""Build and run routing for a hub: settings, channels, the router's tasks."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.channels.base import Channel
from hub.channels.mqtt import MqttHandheldChannel, Receipt, ShiftRequest
from hub.channels.router import Router
from hub.channels.shiftlink import answer_shift
from hub.channels.webhook import WebhookChannel
from hub.routing.config import RoutingInvalid, parse_routing
from hub.routing.policy import Policy
from hub.service import Hub
from rules.loader import Problem

log = logging.getLogger("trygg.routing")


class RoutingSettings(BaseSettings):
    """``TRYGG_WEBHOOK_URL`` and ``TRYGG_WEBHOOK_SECRET`` for the response centre;
    without them the response-centre step is logged as failed (and re-tried)."""

    model_config = SettingsConfigDict(env_prefix="TRYGG_", extra="ignore")

    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_attempts: int = 4
    # TRYGG_ROUTING: a routing policy file (deploy/routing.example.yaml); built-ins without.
    routing: Path | None = None


def check_routing(settings: RoutingSettings | None = None) -> None:
    """Load ``TRYGG_ROUTING`` once before the hub starts: :class:`RoutingInvalid` lists
    every problem, so ``trygg hub`` can print them and exit instead of half-starting."""
    settings = settings or RoutingSettings()
    if settings.routing:
        load_policies(settings.routing)


def load_policies(path: Path) -> tuple[Policy, ...]:
    """The policies of a routing file; :class:`RoutingInvalid` lists every problem, and
    an unreadable file is one problem too (a hub must not start on the wrong policy)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RoutingInvalid([Problem(str(path), None, "", f"cannot read: {exc}")]) from exc
    return parse_routing(text, str(path))


@dataclass
class RunningRouting:
    router: Router
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    webhook: WebhookChannel | None = None

    async def stop(self) -> None:
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.webhook is not None:
            await self.webhook.close()


async def start_routing(
    hub: Hub,
    stop: asyncio.Event,
    *,
    mqtt_host: str,
    mqtt_port: int,
    client_id: str,
    username: str | None = None,
    password: str | None = None,
    settings: RoutingSettings | None = None,
) -> RunningRouting:
    settings = settings or RoutingSettings()
    channels: list[Channel] = []

    def receipt(r: Receipt) -> None:
        router.receipt(r.site, r.staff_id, r.alert_id, r.status)

    def shift(request: ShiftRequest) -> None:
        router.spawn(answer_shift(router, handhelds, request))

    handhelds = MqttHandheldChannel(
        mqtt_host,
        mqtt_port,
        client_id,
        receipt,
        username=username,
        password=password,
        on_shift=shift,
    )
    channels.append(handhelds)
    webhook = None
    if settings.webhook_url and settings.webhook_secret:
        webhook = WebhookChannel(
            settings.webhook_url,
            settings.webhook_secret.get_secret_value().encode(),
            attempts=settings.webhook_attempts,
        )
        channels.append(webhook)
    else:
        log.warning("no response-centre webhook configured (TRYGG_WEBHOOK_URL)")
    policies = load_policies(settings.routing) if settings.routing else ()
    if settings.routing:
        log.info(
            "routing policy loaded",
            extra={"path": str(settings.routing), "policies": len(policies)},
        )
    router = Router(hub, channels, policies=policies)
    await router.start()
    hub.add_notifier(router)
    hub.event_listeners.append(router.on_event)
    tasks = [
        asyncio.create_task(handhelds.run(stop), name="trygg-handhelds"),
        asyncio.create_task(router.run(stop), name="trygg-router"),
    ]
    return RunningRouting(router, tasks, webhook)
