"""The gateway service: inputs -> pipeline -> outbox -> uplink, plus status and fallback.

Threads, each owning one thing:

- paho's local-broker thread and one thread per serial line put :class:`Item`
  on a bounded inbox (backpressure when full);
- the **writer** drains the inbox in batches: converts, checks consent,
  stamps each admitted reading (uuid7 id, per-gateway ``seq``, gateway ``ts``),
  commits the batch to the outbox in one transaction, and only then acks the
  sources and wakes the uplink. Config updates from the hub go through the
  same inbox, so the pipeline is touched by one thread only;
- the **uplink** sender (see uplink.py);
- the **ticker**: status heartbeat, clock-skew probe, fallback deadlines and
  per-device ``device.heartbeat`` events.
- the **feedback** thread: shows residents what the hub says about their alarm
  (gateway/feedback_outputs.py), and a local ``received`` when the hub is silent.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from importlib import metadata
from typing import Any
from zoneinfo import ZoneInfo

import uuid6

from devices.events import make_event
from devices.feedback import FeedbackInvalid, FeedbackState, parse_command
from devices.reading import Reading
from gateway import config as conf
from gateway.clock import SkewProbe
from gateway.config import DeviceConfig, GatewayConfig
from gateway.fallback import Fallback, Pending, is_cancel_key
from gateway.feedback import Shown, plan, shows_feedback
from gateway.feedback_outputs import FeedbackOutputs
from gateway.inputs import SESSION_EXPIRY_S, Item, LocalMqtt, SerialLine
from gateway.outbox import Outbox, Row
from gateway.outputs import LocalOutputs
from gateway.pipeline import Pipeline
from gateway.redelivery import Redelivery, digest
from gateway.uplink import Uplink

log = logging.getLogger("trygg.gateway")

INBOX = 5_000
BATCH = 500
STATUS_SCHEMA = 1  # the status payload's version: docs/gateway.md "The status contract"


def software_version() -> str:
    try:
        return metadata.version("trygg")
    except metadata.PackageNotFoundError:
        return "unknown"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Gateway:
    def __init__(self, cfg: GatewayConfig, clock: Any = utcnow) -> None:
        self.cfg = cfg
        self.clock = clock
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        self.hub_config = conf.load_cached(cfg)
        tz = (self.hub_config.timezone if self.hub_config and self.hub_config.timezone
              else cfg.timezone)
        self.pipeline = Pipeline(conf.merged_devices(cfg, self.hub_config),
                                 conf.merged_bases(cfg, self.hub_config), ZoneInfo(tz))
        self.outbox = Outbox(cfg.data_dir / "outbox.db", int(cfg.outbox_max_mb * 1024 * 1024),
                             cfg.outbox_warn_fraction)
        self.seq = self.outbox.next_seq()
        self.pipeline.restore(self.outbox.load_states())
        self.redelivery = Redelivery(self.outbox.load_inputs(
            clock().timestamp() - SESSION_EXPIRY_S))
        self.inbox: queue.Queue[Item] = queue.Queue(INBOX)
        self.fallback = Fallback(timedelta(seconds=cfg.fallback.after_s),
                                 frozenset(cfg.fallback.kinds))
        self.skew = SkewProbe()
        self.accepted = 0
        self._version = software_version()
        self._started_at = clock().isoformat()
        self._warned = False
        self._stop = threading.Event()
        self._fallback_lock = threading.Lock()
        self._last_device_beat: dict[str, datetime] = {}
        self.uplink = Uplink(cfg.uplink, cfg.uplink.client_id or f"gw-{cfg.site}-{cfg.gateway}",
                             cfg.events_topic, cfg.status_topic, self.outbox, {
                                 cfg.alerts_topic: self._on_alert,
                                 cfg.commands_topic: self._on_command,
                                 cfg.config_topic: self._on_config,
                                 cfg.time_reply_topic: self._on_time,
                             }, cfg.inflight)
        self.uplink.status_payload = self.status
        self.local = (LocalMqtt(cfg.local, f"gw-local-{cfg.site}-{cfg.gateway}", cfg.z2m_base,
                                cfg.owntracks_base, self.inbox) if cfg.local else None)
        self.serial = [SerialLine(d.serial_url, d.id, d.baudrate, self.inbox)
                       for d in self.pipeline.devices if d.serial_url]
        self.outputs = LocalOutputs(cfg.fallback, self.local)
        self.shown = Shown()
        self.feedback_rejected = 0
        self.feedback_out = FeedbackOutputs(self.local)
        self._threads = [threading.Thread(target=self._writer, name="writer", daemon=True),
                         threading.Thread(target=self._ticker, name="ticker", daemon=True)]

    # --- life cycle ------------------------------------------------------------------

    def start(self) -> None:
        self.feedback_out.start()
        for t in self._threads:
            t.start()
        self.uplink.start()
        if self.local:
            self.local.start()
        for line in self.serial:
            line.start()
        log.info("gateway started", extra={"site": self.cfg.site, "gateway": self.cfg.gateway,
                                           "queued": self.outbox.count, "next_seq": self.seq})

    def stop(self) -> None:
        for line in self.serial:
            line.stop()
        if self.local:
            self.local.stop()
        self._stop.set()
        for t in self._threads:
            t.join(timeout=10)
        self.uplink.publish_retained(self.cfg.status_topic, self.status(False))
        self.uplink.stop()
        self.feedback_out.stop()
        self.outbox.close()

    # --- the writer ----------------------------------------------------------------

    def _writer(self) -> None:
        while not self._stop.is_set():
            try:
                first = self.inbox.get(timeout=0.2)
            except queue.Empty:
                continue
            batch = [first]
            while len(batch) < BATCH:
                try:
                    batch.append(self.inbox.get_nowait())
                except queue.Empty:
                    break
            try:
                self.process(batch)
            except Exception:  # never let the writer die: the sources stay unacked
                log.exception("batch failed; its inputs stay unacknowledged")

    def process(self, batch: list[Item]) -> None:
        """Convert, filter, stamp and commit one batch; then ack its sources.

        A failing input is logged, counted and dead-lettered, never stops the loop.
        A failing commit (disk full, I/O error) is retried until it succeeds: the
        sources stay unacknowledged meanwhile, so nothing is lost and the inbox
        fills up and pushes back.
        """
        now = self.clock()
        rows: list[Row] = []
        dead: list[tuple[str, bytes, str]] = []
        inputs: list[tuple[int, str, float]] = []
        cancels: set[str] = set()  # ids of cancel-key presses in this batch
        for item in batch:
            if item.mid is not None:
                item_digest = digest(item.source, item.key, item.payload)
                if self.redelivery.is_redelivery(item.mid, item.dup, item_digest):
                    continue  # committed before a crash; only its ack was lost
                inputs.append((item.mid, item_digest, now.timestamp()))
            try:
                for device, reading in self._convert(item, now):
                    rows.append(self._stamp(self.seq + len(rows), device, reading, now))
                    if is_cancel_key(reading.kind, reading.data):
                        cancels.add(rows[-1].id)
            except Exception as exc:  # a bug or an unforeseen payload: keep it, go on
                log.exception("input failed; dead-lettered", extra={"source": item.source})
                self.pipeline.rejected["internal_error"] += 1
                dead.append((item.source, item.payload, repr(exc)[:500]))
        with self._fallback_lock:  # before the rows can leave: a fast confirmation is not missed
            for row in rows:
                if row.id in cancels:  # the cancel key is no alarm: it calls the press off
                    self.fallback.withdraw(row.device)
                else:
                    self.fallback.watch(row.id, row.device, row.kind, now)
        states = self.pipeline.take_dirty()
        delay = 0.1
        while True:
            try:
                # Durable before any ack (drops at the cap are counted), with the states.
                self.outbox.append(rows, states, dead, inputs)
                break
            except sqlite3.Error as exc:
                log.error("outbox write failed; retrying", extra={"error": str(exc)})
                if self._stop.wait(delay):
                    return  # shutting down: unacked sources will redeliver
                delay = min(delay * 2, 5.0)
        self.redelivery.remember(inputs)
        self.seq += len(rows)
        self.accepted += len(rows)
        for item in batch:
            if item.ack is not None:
                item.ack()
        if rows:
            self.uplink.wake()
        self._check_disk()

    def _convert(self, item: Item, now: datetime) -> list[tuple[DeviceConfig, Reading]]:
        p = self.pipeline
        if item.source == "z2m":
            return p.z2m(item.key, item.payload, now)
        if item.source == "z2m_availability":
            p.z2m_availability(item.key, item.payload)
            return []
        if item.source == "owntracks":
            return p.owntracks(item.key, item.payload, now)
        if item.source == "serial":
            return p.serial(item.key, item.payload.decode(errors="replace"), now)
        if item.source == "config":
            self._apply_config(item.payload)
            return []
        if item.source == "heartbeat":
            device = p.by_id.get(item.key)
            health = p.health.get(item.key)
            if device is None or health is None:
                return []
            data = {k: v for k, v in (("battery_pct", health.battery_pct),
                                      ("link_quality", health.link_quality)) if v is not None}
            return p.admit(device, [Reading("device.heartbeat", data)], now)
        raise ValueError(f"unknown item source {item.source!r}")

    def _stamp(self, seq: int, device: DeviceConfig, reading: Reading, now: datetime) -> Row:
        event_id = str(uuid6.uuid7())
        event = make_event(id=event_id, site=self.cfg.site, gateway=self.cfg.gateway,
                           device=device.id, kind=reading.kind, ts=reading.at or now, seq=seq,
                           data=reading.data)
        return Row(seq, event_id, reading.kind, event.to_json().encode(), device.id)

    def _check_disk(self) -> None:
        if self.outbox.warning and not self._warned:
            log.error("OUTBOX NEAR ITS DISK CAP: events will be dropped (alarms never) if the "
                      "uplink does not recover", extra={"bytes": self.outbox.bytes,
                                                        "cap": self.outbox.max_bytes})
        self._warned = self.outbox.warning

    # --- messages from the hub ----------------------------------------------------------

    def _on_alert(self, _: str, payload: bytes) -> None:
        try:
            ids = json.loads(payload).get("event_ids", [])
        except (ValueError, AttributeError):
            return
        if isinstance(ids, list):
            with self._fallback_lock:
                self.fallback.confirm([i for i in ids if isinstance(i, str)])

    def _on_command(self, _: str, payload: bytes) -> None:
        """Resident feedback from the hub (docs/resident-feedback.md)."""
        try:
            command = parse_command(payload)
        except FeedbackInvalid as exc:
            self.feedback_rejected += 1
            log.warning("feedback command rejected", extra={"reason": str(exc)[:300]})
            return
        # Any feedback says the hub has the alarm: the local fallback need not sound.
        with self._fallback_lock:
            self.fallback.confirm(list(command.event_ids))
        if not self.shown.take(command):
            return  # a duplicate, or behind what the device already shows
        self.feedback_out.submit(plan(
            command.state, command.device, self.pipeline.by_id, self.cfg.feedback,
            self.cfg.z2m_base, alert_id=command.alert_id,
            expected_minutes=command.expected_minutes))

    def _local_received(self, pending: Pending) -> None:
        """The hub did not answer: tell the resident locally that the alarm is heard."""
        if shows_feedback(pending.kind):
            self.feedback_out.submit(plan(
                FeedbackState.RECEIVED, pending.device, self.pipeline.by_id, self.cfg.feedback,
                self.cfg.z2m_base, source="gateway"))

    def _on_config(self, _: str, payload: bytes) -> None:
        self.inbox.put(Item("config", "", payload))

    def _apply_config(self, payload: bytes) -> None:
        try:
            hub = conf.parse_hub_config(payload)
        except conf.ConfigError as exc:
            log.error("hub config rejected; keeping the cached one", extra={"reason": str(exc)})
            return
        conf.save_cached(self.cfg, payload)
        self.hub_config = hub
        if hub.timezone:
            self.pipeline.tz = ZoneInfo(hub.timezone)
        self.pipeline.configure(conf.merged_devices(self.cfg, hub),
                                conf.merged_bases(self.cfg, hub))
        log.info("hub config applied", extra={"version": hub.version,
                                              "devices": len(self.pipeline.devices)})

    def _on_time(self, _: str, payload: bytes) -> None:
        self.skew.reply(payload, self.clock())

    # --- the ticker -------------------------------------------------------------------

    def _ticker(self) -> None:
        next_beat = self.clock()
        while not self._stop.wait(0.2):
            now = self.clock()
            with self._fallback_lock:
                due = self.fallback.due(now)
            for pending in due:
                log.error("hub did not confirm an alarm in time: sounding it locally",
                          extra={"kind": pending.kind, "device": pending.device,
                                 "event_id": pending.event_id})
                self._local_received(pending)
                self.outputs.sound(pending)
            if now >= next_beat:
                next_beat = now + timedelta(seconds=self.cfg.heartbeat_s)
                self.uplink.publish_retained(self.cfg.status_topic, self.status(True))
                self.uplink.publish(self.cfg.time_request_topic, self.skew.request(now))
                self._device_heartbeats(now)

    def _device_heartbeats(self, now: datetime) -> None:
        every = timedelta(seconds=self.cfg.device_heartbeat_s)
        for device_id, health in list(self.pipeline.health.items()):
            if health.last_seen is None:
                continue
            last = self._last_device_beat.get(device_id)
            if last is None:  # just seen: its own event says it is alive
                self._last_device_beat[device_id] = now
                continue
            if now - last >= every:
                self._last_device_beat[device_id] = now
                try:
                    self.inbox.put_nowait(Item("heartbeat", device_id, b""))
                except queue.Full:
                    self.outbox.dropped["device.heartbeat"] += 1  # low value: shed first

    def status(self, online: bool = True) -> bytes:
        p = self.pipeline
        return conf.dump({
            "schema": STATUS_SCHEMA,
            "online": online,
            "ts": self.clock().isoformat(),
            "site": self.cfg.site,
            "gateway": self.cfg.gateway,
            "software": {"name": "trygg-gateway", "version": self._version},
            "heartbeat_s": self.cfg.heartbeat_s,
            "started_at": self._started_at,
            "config_version": self.hub_config.version if self.hub_config else None,
            "next_seq": self.seq,
            "accepted": self.accepted,
            "outbox": {"queued": self.outbox.count, "bytes": self.outbox.bytes,
                       "cap_bytes": self.outbox.max_bytes, "warning": self.outbox.warning},
            "dropped": dict(self.outbox.dropped),
            "rejected": dict(p.rejected),
            "redelivered_skipped": self.redelivery.skipped,
            "consent_dropped": dict(p.consent_dropped),
            "unknown": sorted(p.unknown)[:50],
            "clock": self.skew.report(),
            "fallback": {"waiting": self.fallback.waiting, "sounded": self.fallback.sounded,
                         "confirmed": self.fallback.confirmed},
            "uplink": {"published": self.uplink.published},
            "feedback": {"ignored": self.shown.ignored, "rejected": self.feedback_rejected,
                         "done": self.feedback_out.done, "failed": self.feedback_out.failed,
                         "dropped": self.feedback_out.dropped},
            "devices": {k: v.as_json() for k, v in list(p.health.items())},
        })
