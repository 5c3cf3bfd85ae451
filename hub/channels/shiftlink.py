"""Log on/off a shift from the handheld over MQTT.

The handheld publishes ``{"action": "logon", "units": ["unit-a"]}`` (units
optional: all of the account's) or ``{"action": "logoff"}`` on
``trygg/v1/{site}/staff/{staff_id}/shift``; the hub answers on
``.../shift/state`` (retained) with ``{"ok", "on_duty", "units", "at"}`` or
``{"ok": false, "reason"}``. The staff id in the topic is trusted: the broker's
ACL lets each handheld write only its own topics (``deploy/mosquitto``). The
same rules as ``POST /api/v1/shift/logon`` decide (``hub.routing.logon``).
"""

from __future__ import annotations

import logging
from typing import Any

from hub.channels.base import ChannelDown
from hub.channels.mqtt import MqttHandheldChannel, ShiftRequest
from hub.channels.router import Router
from hub.routing.logon import LogonRefused, shift_entry

log = logging.getLogger("trygg.routing")


async def apply_shift(router: Router, request: ShiftRequest) -> dict[str, Any]:
    """Record the log on/off and return the handheld's duty state (or the refusal)."""
    hub = router.hub
    account = await hub.run_store(hub.store.get_account, request.staff_id)
    now = router.now()
    try:
        entry = shift_entry(
            request.staff_id,
            str(account.role) if account else None,
            account.site if account else None,
            account.units if account else (),
            request.site,
            request.on,
            request.units,
            now,
        )
    except LogonRefused as exc:
        log.warning("shift log on/off refused: %s", exc.reason, extra={"site": request.site})
        return {"ok": False, "reason": exc.reason, "at": now.isoformat()}
    await hub.run_store(hub.store.log_shift, entry)
    await router.reload_roster()
    mine = router.on_duty(now).get(request.staff_id)
    log.info("shift %s from a handheld", "log-on" if request.on else "log-off")
    return {
        "ok": True,
        "on_duty": mine is not None,
        "units": sorted(mine.units) if mine else [],
        "at": now.isoformat(),
    }


async def answer_shift(
    router: Router, handhelds: MqttHandheldChannel, request: ShiftRequest
) -> None:
    state = await apply_shift(router, request)
    try:
        await handhelds.publish_state(request.site, request.staff_id, state)
    except ChannelDown as exc:
        log.error("shift state not sent: %s", exc, extra={"site": request.site})
