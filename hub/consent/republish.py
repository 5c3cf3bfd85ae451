"""Push a change of legal bases to the gateways at once.

When a basis is recorded, reviewed, renewed, approved or withdrawn, the gateway
that serves the resident's devices must filter with the new bases now, not at its
next restart: a withdrawal takes effect at once on both sides. The runtime
installs a ``publish`` callable (``install``), which runs on the store thread and
republishes the retained configs (``hub.gateway_config.publish_all``); the consent
routes call :func:`bases_changed` after every change. Without an installed hook
(tests, an API without a broker) nothing is published and nothing fails.

A failed publish is logged (without resident data) and does not undo the change:
the gateway also gets the new config at the hub's next start, and the hub's own
gate already enforces the change (defence in depth).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI, Request

from hub.gateway_config import GatewaySync, publish_all
from hub.store.base import Store

log = logging.getLogger("trygg.consent")

# publish(resident_id) -> number of gateway configs published
Publish = Callable[[str], int]


def install(app: FastAPI, publish: Publish) -> None:
    app.state.consent_republish = publish


def publisher_for(sync: GatewaySync, store: Store, clock: Callable[[], datetime]) -> Publish:
    """The hook the runtime installs: republish every gateway serving the resident's
    devices (all gateways' configs are cheap; only the affected ones are sent)."""
    def publish(resident_id: str) -> int:
        devices = store.list_devices()
        mine = {
            (v.device.site, v.device.gateway)
            for v in devices
            if v.placement is not None and v.placement.resident_id == resident_id
        }
        affected = [v for v in devices if (v.device.site, v.device.gateway) in mine]
        if not affected:
            return 0
        return publish_all(sync, affected, store.list_bases(), clock())

    return publish


async def bases_changed(request: Request, resident_id: str) -> int:
    publish: Publish | None = getattr(request.app.state, "consent_republish", None)
    if publish is None:
        return 0
    hub = request.app.state.hub
    try:
        count: int = await hub.run_store(publish, resident_id)
    except Exception:
        log.exception("republishing gateway configs after a basis change failed")
        return 0
    log.info("gateway configs republished after a basis change", extra={"gateways": count})
    return count
