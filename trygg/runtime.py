"""Run a hub: the store, the MQTT ingest and the HTTP server in one event loop.

Shared by ``trygg hub`` and ``trygg demo``. Everything is opened here and
closed here, in reverse order, when ``stop`` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import uvicorn

from hub import routing_api
from hub.api import create_app
from hub.auth import TokenIssuer, hash_password, verify_password
from hub.channels.setup import start_routing
from hub.consent import republish as consent_republish
from hub.consent.jobs import run_jobs
from hub.errors import ConfigError
from hub.feedback_channel import ResidentFeedback
from hub.gateway_config import GatewaySync, run_gateway_sync
from hub.mqtt import BrokerSettings, MqttAlertPublisher, run_ingest
from hub.retention import RetentionSettings
from hub.ruleset import RuleSet
from hub.service import Hub, utcnow
from hub.settings import DEMO_PASSWORD, HubSettings
from hub.store.base import Account, Role, Store
from hub.store.postgres_open import maintain_daily
from hub.store.sqlite import SqliteStore
from hub.supervision.feed import start_supervision
from rules.flood import FloodGuard

log = logging.getLogger("trygg")


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: the CLI owns SIGINT/SIGTERM."""

    def capture_signals(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


@dataclass
class Running:
    hub: Hub
    server: uvicorn.Server
    tasks: list[asyncio.Task[None]]


def open_store(settings: HubSettings) -> Store:
    """PostgreSQL when TRYGG_DATABASE_URL is set, else SQLite in data_dir; migrated."""
    if settings.database_url is not None:
        from hub.store.postgres_open import open_postgres

        return open_postgres(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = SqliteStore(settings.db_path)
    version = store.migrate()
    log.info("store ready", extra={"path": str(settings.db_path), "schema_version": version})
    return store


def broker_settings(settings: HubSettings) -> BrokerSettings:
    return BrokerSettings(
        host=settings.mqtt_host,
        port=settings.mqtt_port,
        username=settings.mqtt_username,
        password=settings.mqtt_password.get_secret_value() if settings.mqtt_password else None,
        client_id=settings.mqtt_client_id,
        protocol=settings.mqtt_protocol,
        tls=settings.mqtt_tls,
        ca_file=str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None,
        session_expiry_s=settings.mqtt_session_expiry_s,
    )


def ensure_admin(store: Store, settings: HubSettings) -> None:
    if settings.admin_password is None or store.get_account("admin") is not None:
        return
    store.upsert_account(
        Account(
            username="admin",
            display_name="Administrator",
            role=Role.ADMIN,
            password_hash=hash_password(settings.admin_password.get_secret_value()),
        )
    )
    log.info("created the admin account")


def refuse_default_credentials(store: Store, settings: HubSettings) -> None:
    """Outside demo mode: no placeholder secrets and no account with the demo password."""
    problems = settings.production_problems()
    accounts = store.list_accounts()
    weak = [a.username for a in accounts if verify_password(a.password_hash, DEMO_PASSWORD)]
    if weak:
        problems.append(f"accounts with the demo password: {', '.join(sorted(weak))}")
    if not accounts and settings.admin_password is None:
        problems.append("no accounts: set TRYGG_ADMIN_PASSWORD to create the admin account")
    if problems:
        raise ConfigError("refusing to start outside demo mode: " + "; ".join(problems))


def gateway_sync(settings: HubSettings) -> GatewaySync:
    b = broker_settings(settings)
    return GatewaySync(b.host, b.port, f"{b.client_id}-sync", b.username, b.password,
                       b.protocol, b.tls)


@asynccontextmanager
async def running_hub(
    settings: HubSettings, store: Store, stop: asyncio.Event
) -> AsyncIterator[Running]:
    rules = RuleSet(settings.rules)  # raises RulesInvalid (file:line: reason) at start-up
    hub = Hub(store, rules=rules)
    hub.flood = FloodGuard(settings.flood_limit)
    await hub.start()

    def reload_rules() -> None:
        if rules.reload():
            hub.arm_rule_timer(force=True)

    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGHUP, reload_rules)
    publisher = MqttAlertPublisher(on_delivered=lambda alert: hub.delivered(alert, "mqtt"))
    hub.add_notifier(publisher)
    # Resident feedback goes out on the same link, right after the alert itself.
    feedback = ResidentFeedback(
        publisher.publish, lambda device: hub.registry.placement(device), hub.metrics.registry
    )
    hub.add_notifier(feedback)
    routing = await start_routing(
        hub,
        stop,
        mqtt_host=settings.mqtt_host,
        mqtt_port=settings.mqtt_port,
        client_id=f"{settings.mqtt_client_id}-notify",
        username=settings.mqtt_username,
        password=settings.mqtt_password.get_secret_value() if settings.mqtt_password else None,
    )
    tokens = TokenIssuer(ttl=timedelta(hours=settings.token_ttl_hours))
    app = create_app(hub, tokens, utcnow)
    routing_api.install(app, routing.router)
    app.state.feedback = feedback
    sync = gateway_sync(settings)
    consent_republish.install(app, consent_republish.publisher_for(sync, store, utcnow))
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    server = _Server(config)
    tasks = [
        asyncio.create_task(run_ingest(hub, broker_settings(settings), publisher, stop)),
        asyncio.create_task(server.serve()),
        asyncio.create_task(
            run_gateway_sync(sync, stop, lambda: hub.run_store(
                lambda: (store.list_devices(), store.list_bases(), store.site_zones())))
        ),
        asyncio.create_task(maintain_daily(hub, stop)),
        asyncio.create_task(run_jobs(hub, RetentionSettings(), utcnow, stop)),
        asyncio.create_task(rules.watch(stop, on_reload=lambda: hub.arm_rule_timer(force=True))),
    ]
    b = broker_settings(settings)
    tasks.append(start_supervision(hub, routing.router, stop, host=b.host, port=b.port,
                                   client_id=f"{b.client_id}-status", username=b.username,
                                   password=b.password, tls=b.tls, ca_file=b.ca_file))
    try:
        while not server.started:
            if tasks[1].done():
                tasks[1].result()
                raise ConfigError(
                    f"HTTP server did not start on {settings.http_host}:{settings.http_port}"
                )
            await asyncio.sleep(0.02)
        yield Running(hub, server, tasks)
    finally:
        stop.set()
        server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGHUP)
        await routing.stop()
        await hub.stop()
