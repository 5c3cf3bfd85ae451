"""Build and run routing for a hub: settings, channels, the router's tasks."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.audit import AuditEntry
from hub.channels.base import Channel
from hub.channels.mqtt import MqttHandheldChannel, Receipt, ShiftRequest
from hub.channels.router import Router
from hub.channels.shiftlink import answer_shift
from hub.channels.webhook import WebhookChannel
from hub.relatives import token
from hub.relatives.book import RelativesBook, ReplySettings
from hub.relatives.channel import RelativesChannel
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
    # The relatives step (hub.relatives): a signed webhook to an SMS gateway, the secret
    # reply tokens are signed with (default: the relatives webhook secret), how long a
    # reply link is good for, and the hub's address as relatives reach it.
    relatives_webhook_url: str | None = None
    relatives_webhook_secret: SecretStr | None = None
    relatives_reply_secret: SecretStr | None = None
    relatives_reply_ttl_s: int = 7200
    public_url: str = "http://127.0.0.1:8080"
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
    relatives: RelativesChannel | None = None

    async def stop(self) -> None:
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.webhook is not None:
            await self.webhook.close()
        if self.relatives is not None:
            await self.relatives.close()


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
    book = RelativesBook(hub, _reply_settings(settings))
    await book.reload()
    relatives = _relatives_channel(hub, book, settings, lambda a: router.relatives_deadline(a))
    if relatives is not None:
        channels.append(relatives)
    router = Router(hub, channels, policies=policies, relatives=book)
    await router.start()
    hub.add_notifier(router)
    hub.event_listeners.append(router.on_event)
    tasks = [
        asyncio.create_task(handhelds.run(stop), name="trygg-handhelds"),
        asyncio.create_task(router.run(stop), name="trygg-router"),
    ]
    return RunningRouting(router, tasks, webhook, relatives)


def _reply_settings(settings: RoutingSettings) -> ReplySettings:
    secret = settings.relatives_reply_secret or settings.relatives_webhook_secret
    value = secret.get_secret_value().encode() if secret else b""
    if len(value) < token.MIN_SECRET:
        # Without a configured secret, replies are signed with a fresh random key: links
        # stop working after a restart, but nobody can forge one.
        value = secrets.token_bytes(32)
    return ReplySettings(value, timedelta(seconds=settings.relatives_reply_ttl_s),
                         settings.public_url)  # fmt: skip


def _relatives_channel(
    hub: Hub,
    book: RelativesBook,
    settings: RoutingSettings,
    deadline: Callable[[str], datetime | None],
) -> RelativesChannel | None:
    if not (settings.relatives_webhook_url and settings.relatives_webhook_secret):
        log.warning("no relatives webhook configured (TRYGG_RELATIVES_WEBHOOK_URL): "
                    "relatives steps fail and go on to staff")  # fmt: skip
        return None

    async def audit(entry: AuditEntry) -> None:
        await hub.run_store(hub.store.append_audit, [entry])

    return RelativesChannel(
        settings.relatives_webhook_url,
        settings.relatives_webhook_secret.get_secret_value().encode(),
        book,
        audit=audit,
        deadline=deadline,
        attempts=settings.webhook_attempts,
    )
