"""The supervision shell: feeds the pure :class:`~hub.supervision.core.Supervisor`
and turns its findings into technical alerts.

- Signs of life: every valid event the hub takes (an event listener on the
  hub: the device and its gateway are alive) and every gateway status message
  (``trygg/v1/+/+/status``, read by a small MQTT client of its own: the
  gateway is alive while ``online`` is true; per-device ``last_seen``).
- One asyncio timer sleeps until the supervisor's ``next_wake`` (no polling).
- Offline -> a technical alert (``supervision.offline``) raised through the
  hub (stored, on the board, on ``trygg/v1/{site}/alerts``), and the tekniker
  on duty is told on the handheld channel; for a safety-critical device or a
  gateway that carries one, the night staff of those units are told too, at
  once when it is night or when the night begins while the outage lasts.
  Devices behind an offline gateway raise nothing of their own: the gateway's
  alert covers them.
- Recovered -> the alert is cancelled (or resolved as ``device_fault`` when
  someone had taken it) with the outage in the note; the people told get a
  withdraw; the outage is counted in ``trygg_supervision_outage_seconds``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from devices.events import EventBase
from devices.registry import Placement
from hub.alerts import SYSTEM, Alert, AlertState, Command, Outcome, Transition
from hub.errors import IllegalTransition, NotFound
from hub.registry.records import GatewaySighting
from hub.store.base import DeviceView, Role
from hub.supervision import pages
from hub.supervision.attention import Subject, concerns_of
from hub.supervision.core import Offline, Recovered, Supervisor, gateway_key
from hub.supervision.policy import (
    GATEWAY,
    Windows,
    device_class,
    is_night,
    next_night,
    safety_critical,
)
from hub.supervision.status import GatewayStatus
from rules.decisions import Category, Priority

if TYPE_CHECKING:
    from hub.channels.router import Router
    from hub.service import Hub

log = logging.getLogger("trygg.supervision")

RULE = "supervision.offline"
# After a hub start, things silent since before it get this long to show up
# (retained statuses arrive at once; a hub restart is not a device outage).
START_GRACE = timedelta(minutes=2)
MAX_SLEEP_S = 60.0  # wake at least this often, so a clock jump is noticed


@dataclass(slots=True)
class _Meta:
    site: str
    gateway: str
    cls: str
    placement: Placement | None = None
    devices: set[str] = field(default_factory=set)  # a gateway's devices
    last: datetime | None = None  # a gateway's newest device report in the store


@dataclass(slots=True)
class _Outage:
    alert_id: str
    told: list[str]
    night_told: bool


class SupervisionMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.watched = Gauge("trygg_supervision_watched", "Devices and gateways supervised",
                             ["what"], registry=r)
        self.offline = Counter("trygg_supervision_offline_total",
                               "Devices and gateways that went silent past their window",
                               ["what"], registry=r)
        self.outage = Histogram("trygg_supervision_outage_seconds", "Outage length on recovery",
                                ["what"], registry=r,
                                buckets=(60, 300, 900, 3600, 4 * 3600, 12 * 3600, 48 * 3600))
        self.delay = Histogram("trygg_supervision_detection_delay_seconds",
                               "From a window's end to the offline alert", registry=r,
                               buckets=(0.1, 0.5, 1, 2, 5, 10, 30))
        self.status_rejected = Counter("trygg_supervision_status_rejected_total",
                                       "Gateway status messages refused", registry=r)


class SupervisionService:
    def __init__(self, hub: Hub, *, router: Router | None = None,
                 windows: Windows | None = None,
                 clock: Callable[[], datetime] | None = None,
                 metrics: SupervisionMetrics | None = None) -> None:
        self.hub = hub
        self.router = router
        self.windows = windows or Windows()
        self.supervisor = Supervisor()
        self.metrics = metrics or SupervisionMetrics(hub.metrics.registry)
        self._clock = clock or hub._clock
        self._meta: dict[str, _Meta] = {}
        self._roles: dict[str, Role] = {}
        self._zones: dict[str, str] = {}
        self._outages: dict[str, _Outage] = {}
        # site -> offline keys, devices and gateways apart (for the gauges, O(1) to export)
        self._down: dict[str, set[str]] = {}
        self._down_gw: dict[str, set[str]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # --- life cycle ---------------------------------------------------------------------

    async def start(self) -> None:
        await self.reload()
        for alert in self.hub.open_alerts():  # outages open before a restart stay open
            if alert.rule == RULE:
                key = alert.device if alert.kind != "gateway.offline" else gateway_key(
                    alert.site, alert.device)
                self._outages[key] = _Outage(alert.id, [], False)
                self.supervisor.assume_offline(key, alert.event_ts)
                self._mark(key, alert.site, True)
        self.hub.event_listeners.append(self.on_event)
        self.hub.registry_listeners.append(self.reload)  # a device's state or place changed
        self.arm()

    async def reload(self) -> None:
        """Read the registry, the accounts and the sites' zones again (after changes).
        Only devices ``installed`` or ``in_service`` (devices.lifecycle) are watched."""
        store = self.hub.store

        def read() -> tuple[list[DeviceView], dict[str, Role], dict[str, str]]:
            roles = {a.username: a.role for a in store.list_accounts()}
            return store.list_devices(), roles, store.site_zones()

        views, self._roles, self._zones = await self.hub.run_store(read)
        now = self._clock()
        fresh: dict[str, _Meta] = {}
        for view in views:
            if not view.info.state.supervised:
                continue  # on the shelf, in repair or retired: silent by design
            d = view.device
            gw = gateway_key(d.site, d.gateway)
            gmeta = fresh.setdefault(gw, _Meta(d.site, d.gateway, GATEWAY))
            gmeta.devices.add(d.id)
            fresh[d.id] = _Meta(d.site, d.gateway, device_class(d.type),
                                self.hub.registry.placement(d.id))
            self._watch(d.id, self.windows.for_type(d.type).window, view.last_seen, now)
            if view.last_seen is not None and (gmeta.last is None or view.last_seen > gmeta.last):
                gmeta.last = view.last_seen
        gw_window = self.windows.for_class(GATEWAY).window
        for key, meta in fresh.items():
            if meta.cls == GATEWAY:
                self._watch(key, gw_window, meta.last, now)
        for key in set(self._meta) - set(fresh):
            self.supervisor.forget(key)
        self._meta = fresh
        for downs in (self._down, self._down_gw):
            for down in downs.values():
                down &= fresh.keys()
        for meta in fresh.values():
            self._down.setdefault(meta.site, set())
            self._down_gw.setdefault(meta.site, set())
        for site in self._down:
            self._export(site)
        self.metrics.watched.labels("gateway").set(sum(m.cls == GATEWAY for m in fresh.values()))
        self.metrics.watched.labels("device").set(sum(m.cls != GATEWAY for m in fresh.values()))
        if self._timer is not None:
            self.arm()

    def _export(self, site: str) -> None:
        """``trygg_devices_offline`` and ``trygg_gateways_offline`` of a site (hub/metrics.py)."""
        m = self.hub.metrics
        m.devices_offline.labels(site).set(len(self._down.get(site, ())))
        m.gateways_offline.labels(site).set(len(self._down_gw.get(site, ())))

    def _mark(self, key: str, site: str, down: bool) -> None:
        sets = self._down_gw if key.startswith("gw:") else self._down
        keys = sets.setdefault(site, set())
        if down:
            keys.add(key)
        else:
            keys.discard(key)
        self._export(site)

    def _watch(self, key: str, window: timedelta, last_seen: datetime | None,
               now: datetime) -> None:
        floor = now - window + min(START_GRACE, window)
        self.supervisor.watch(key, window, max(last_seen or floor, floor))

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.on_event in self.hub.event_listeners:
            self.hub.event_listeners.remove(self.on_event)
        if self.reload in self.hub.registry_listeners:
            self.hub.registry_listeners.remove(self.reload)

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # --- signs of life ----------------------------------------------------------------------

    def on_event(self, event: EventBase, placement: Placement | None) -> None:
        now = self._clock()
        at = min(event.ts, now)  # a gateway clock ahead of ours must not extend a window
        self._seen(gateway_key(event.site, event.gateway), now)
        self._seen(event.device, at)
        sup = self.supervisor
        if event.kind == "device.heartbeat":
            sup.battery(event.device, getattr(event.data, "battery_pct", None), False, at)
        elif event.kind == "device.battery_low":
            sup.battery(event.device, getattr(event.data, "battery_pct", None), True, at)
        elif event.kind == "device.tamper":
            sup.tampered(event.device, at)

    def on_status(self, status: GatewayStatus) -> None:
        now = self._clock()
        version = status.software.version if status.software else None
        self.hub.gateway_sightings.record(
            status.site, status.gateway, GatewaySighting(status.online, now, version))
        if status.online:
            self._seen(gateway_key(status.site, status.gateway), now)
        for device, health in status.devices.items():
            meta = self._meta.get(device)
            if meta is None or (meta.site, meta.gateway) != (status.site, status.gateway):
                continue  # a gateway speaks only for its own devices
            if health.last_seen is not None:
                self._seen(device, min(health.last_seen, now))

    def _seen(self, key: str, at: datetime) -> None:
        back = self.supervisor.seen(key, at)
        if back is not None:
            self._recovered(back)

    # --- the timer ------------------------------------------------------------------------------

    def arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        now = self._clock()
        wakes = [w for w in (self.supervisor.next_wake(), self._next_night(now)) if w]
        delay = min([MAX_SLEEP_S, *((w - now).total_seconds() for w in wakes)])
        self._timer = asyncio.get_running_loop().call_later(max(0.0, delay), self.tick)

    def tick(self) -> None:
        """Act on everything due by now and sleep again (the timer calls this)."""
        self._timer = None
        now = self._clock()
        for offline in self.supervisor.due(now):
            try:
                self._offline(offline, now)
            except Exception:
                log.exception("offline alert failed", extra={"device": offline.key})
        try:
            self._night_notices(now)
        except Exception:
            log.exception("night notices failed")
        self.arm()

    # --- findings -> alerts ---------------------------------------------------------------

    def _offline(self, found: Offline, now: datetime) -> None:
        meta = self._meta.get(found.key)
        if meta is None:
            return
        self._mark(found.key, meta.site, True)
        if found.key in self._outages:
            return
        is_gw = meta.cls == GATEWAY
        what = "gateway" if is_gw else "device"
        self.metrics.offline.labels(what).inc()
        self.metrics.delay.observe(max(0.0, (now - found.deadline).total_seconds()))
        if not is_gw and gateway_key(meta.site, meta.gateway) in self._outages:
            log.info("device silent behind an offline gateway", extra={"device": found.key})
            return
        alert = self.hub.raise_alert(lambda alert_id, at: self._alert(found, meta, at, alert_id))
        told = self._tell(alert, meta, now, night_only=False)
        self._outages[found.key] = _Outage(alert.id, told, self._night_at(meta, now))
        log.warning("%s offline", what, extra={"alert_id": alert.id, "site": meta.site,
                                               "device": alert.device})

    def _alert(self, found: Offline, meta: _Meta, now: datetime,
               alert_id: str) -> tuple[Alert, Transition]:
        is_gw = meta.cls == GATEWAY
        p = meta.placement
        critical = self._critical(meta)
        silent = f"silent since {found.last_seen:%Y-%m-%d %H:%M:%S} UTC"
        name = f"Gateway {meta.gateway}" if is_gw else f"Device {found.key} ({meta.cls})"
        alert = Alert(
            id=alert_id, site=meta.site,
            unit=None if is_gw or p is None else p.unit,
            apartment=None if is_gw or p is None else p.apartment,
            resident_id=None if is_gw or p is None else p.resident_id,
            device=meta.gateway if is_gw else found.key,
            kind="gateway.offline" if is_gw else "device.offline",
            category=Category.TECHNICAL,
            priority=Priority.HIGH if critical else Priority.MEDIUM,
            rule=RULE,
            message=f"{name} offline: {silent}" + (" (safety-critical)" if critical else ""),
            state=AlertState.RAISED, raised_at=now, updated_at=now, event_ts=found.deadline,
            event_ids=(),
        )
        record = Transition(alert_id=alert.id, from_state=None, to_state=AlertState.RAISED,
                            at=now, actor=SYSTEM, note=f"supervision: {silent}")
        return alert, record

    def _critical_units(self, meta: _Meta) -> list[str]:
        """The units where this outage leaves a safety-critical device without a voice."""
        if meta.cls != GATEWAY:
            p = meta.placement
            return [p.unit] if p is not None and p.unit and safety_critical(p) else []
        units = set()
        for device in meta.devices:
            p = self.hub.registry.placement(device)
            if p is not None and p.unit and safety_critical(p):
                units.add(p.unit)
        return sorted(units)

    def _critical(self, meta: _Meta) -> bool:
        return bool(self._critical_units(meta))

    def _night_at(self, meta: _Meta, now: datetime) -> bool:
        return is_night(now, self._zones.get(meta.site, "Europe/Oslo"))

    def _tell(self, alert: Alert, meta: _Meta, now: datetime, *, night_only: bool) -> list[str]:
        if self.router is None:
            return []
        duty = self.router.on_duty(now)
        people: list[str] = []
        if not night_only:
            people += pages.tekniker_on_duty(duty, self._roles, meta.site)
            if not people:
                log.warning("no tekniker on duty: the alert waits on the technical list",
                            extra={"alert_id": alert.id, "site": meta.site})
        units = self._critical_units(meta)
        if units and self._night_at(meta, now):
            people += pages.night_staff(duty, self._roles, meta.site, units)
        people = list(dict.fromkeys(people))
        if people:
            reason = "tonight's safety net has a hole" if units else "device supervision"
            self.router.inform(alert, people, reason)
        return people

    def _next_night(self, now: datetime) -> datetime | None:
        waiting = [self._meta[k] for k, o in self._outages.items()
                   if not o.night_told and k in self._meta and self._critical(self._meta[k])]
        nights = [next_night(now, self._zones.get(m.site, "Europe/Oslo")) for m in waiting]
        return min(nights, default=None)

    def _night_notices(self, now: datetime) -> None:
        for key, outage in self._outages.items():
            meta = self._meta.get(key)
            if outage.night_told or meta is None or not self._night_at(meta, now):
                continue
            if not self._critical(meta):
                continue
            alert = next((a for a in self.hub.open_alerts() if a.id == outage.alert_id), None)
            if alert is not None:
                outage.told += self._tell(alert, meta, now, night_only=True)
            outage.night_told = True

    def _recovered(self, back: Recovered) -> None:
        meta = self._meta.get(back.key)
        what = "gateway" if meta is not None and meta.cls == GATEWAY else "device"
        self.metrics.outage.labels(what).observe(back.outage.total_seconds())
        if meta is not None:
            self._mark(back.key, meta.site, False)
        outage = self._outages.pop(back.key, None)
        log.info("%s back after %.0f s", what, back.outage.total_seconds(),
                 extra={"device": back.key, "alert_id": outage.alert_id if outage else None})
        if outage is not None:
            note = (f"recovered: outage {back.offline_since:%Y-%m-%d %H:%M:%S} - "
                    f"{back.back_at:%H:%M:%S} UTC ({back.outage.total_seconds():.0f} s)")
            self._spawn(self._close(outage, note))

    async def _close(self, outage: _Outage, note: str) -> None:
        alert = next((a for a in self.hub.open_alerts() if a.id == outage.alert_id), None)
        if alert is None:
            return
        taken = alert.state in (AlertState.ACCEPTED, AlertState.ON_SITE)
        try:
            if taken:
                closed = await self.hub.command(alert.id, Command.RESOLVE, SYSTEM,
                                                outcome=Outcome.DEVICE_FAULT, note=note)
            else:
                closed = await self.hub.command(alert.id, Command.CANCEL, SYSTEM, note=note)
        except (IllegalTransition, NotFound) as exc:
            log.info("outage alert not closed: %s", exc, extra={"alert_id": alert.id})
            return
        if self.router is not None and outage.told:
            self.router.withdraw(closed, outage.told, "recovered")

    # --- what the attention list reads (hub.attention_api) -----------------------------------

    def subjects(self) -> list[Subject]:
        """Every device and gateway with something wrong now, as supervision knows it."""
        now, out = self._clock(), []
        for key, meta in self._meta.items():
            state = self.supervisor.state(key)
            concerns = concerns_of(state, now)
            if not concerns or state is None:
                continue
            is_gw = meta.cls == GATEWAY
            p = meta.placement
            places = [self.hub.registry.placement(d) for d in meta.devices] if is_gw else [p]
            units = sorted({q.unit for q in places if q is not None and q.unit})
            behind = not is_gw and gateway_key(meta.site, meta.gateway) in self._outages
            out.append(Subject(
                kind="gateway" if is_gw else "device", site=meta.site, gateway=meta.gateway,
                device=None if is_gw else key, device_class=meta.cls,
                unit=None if is_gw or p is None else p.unit, units=tuple(units),
                critical=self._critical(meta), concerns=concerns, last_seen=state.last_seen,
                behind_offline_gateway=behind))
        return out

    def night(self, site: str) -> bool:
        """Is it night at ``site`` now (the safety net matters most then)?"""
        return is_night(self._clock(), self._zones.get(site, "Europe/Oslo"))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
