"""The uplink: outbox rows to the hub's broker, QoS 1, in order, deleted after PUBACK.

paho-mqtt in its own network thread, plus one sender thread that owns the
outbox cursor. A fresh client per connection (clean start): after any
disconnect the sender starts again from the oldest row still in the outbox,
so order is kept and nothing waits on a lost session; rows the broker had
but whose PUBACK was lost go again, and the hub drops them by event id.

The retained status topic carries a last will (``online: false``), so the
hub sees a dead gateway within 1.5 keepalives. TLS (``tls: true``, CA file,
optional client certificate) and the gateway's own username/password come
from the config.

paho calls ``on_publish`` holding its own message lock, so the callback only
appends the mid to a deque; the sender thread maps mids to rows (no lock
order between our code and paho's can deadlock).
"""

from __future__ import annotations

import collections
import json
import logging
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from gateway.config import BrokerConfig
from gateway.outbox import Outbox

log = logging.getLogger("trygg.gateway.uplink")

Handler = Callable[[str, bytes], None]


class Uplink:
    def __init__(self, cfg: BrokerConfig, client_id: str, events_topic: str, status_topic: str,
                 outbox: Outbox, subscriptions: dict[str, Handler], inflight: int = 200) -> None:
        self.cfg = cfg
        self.client_id = client_id
        self.events_topic = events_topic
        self.status_topic = status_topic
        self.outbox = outbox
        self.subscriptions = subscriptions
        self.inflight = inflight
        self.connected = threading.Event()
        self.published = 0  # rows PUBACKed and removed
        self.failed_acks = 0
        self._wake = threading.Condition()
        self._stop = threading.Event()
        self._acks: collections.deque[tuple[int, int, bool]] = collections.deque()
        self._generation = 0
        self._dirty = False
        self._refused = threading.Event()
        self._client: mqtt.Client | None = None
        self._thread = threading.Thread(target=self._run, name="uplink", daemon=True)
        self.status_payload: Callable[[bool], bytes] = lambda online: json.dumps(
            {"online": online}).encode()

    # --- control -----------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.wake()
        self._thread.join(timeout=10)

    def wake(self) -> None:
        with self._wake:
            self._dirty = True
            self._wake.notify()

    def publish_retained(self, topic: str, payload: bytes) -> None:
        client = self._client
        if client is not None and self.connected.is_set():
            client.publish(topic, payload, qos=1, retain=True)

    def publish(self, topic: str, payload: bytes) -> None:
        client = self._client
        if client is not None and self.connected.is_set():
            client.publish(topic, payload, qos=1)

    # --- one client per connection -------------------------------------------------

    def _make_client(self, generation: int) -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                             protocol=mqtt.MQTTv5)
        client.max_inflight_messages_set(self.inflight)
        client.max_queued_messages_set(0)
        if self.cfg.username:
            client.username_pw_set(self.cfg.username, self.cfg.secret())
        if self.cfg.tls:
            context = ssl.create_default_context(
                cafile=str(self.cfg.ca_file) if self.cfg.ca_file else None)
            if self.cfg.cert_file:
                context.load_cert_chain(self.cfg.cert_file, self.cfg.key_file)
            client.tls_set_context(context)
        client.will_set(self.status_topic, self.status_payload(False), qos=1, retain=True)

        def on_connect(c: mqtt.Client, _: Any, __: Any, rc: ReasonCode, ___: Any) -> None:
            if rc.is_failure:
                log.error("uplink refused", extra={"reason": str(rc)})
                self._refused.set()
                return
            for topic in self.subscriptions:
                c.subscribe(topic, qos=1)
            c.publish(self.status_topic, self.status_payload(True), qos=1, retain=True)
            self.connected.set()
            self.wake()

        def on_disconnect(c: mqtt.Client, _: Any, __: Any, rc: ReasonCode, ___: Any) -> None:
            self.connected.clear()
            self.wake()

        def on_publish(c: mqtt.Client, _: Any, mid: int, rc: ReasonCode, __: Any) -> None:
            self._acks.append((generation, mid, not rc.is_failure))
            self.wake()

        def on_message(c: mqtt.Client, _: Any, message: mqtt.MQTTMessage) -> None:
            handler = self.subscriptions.get(message.topic)
            if handler is not None:
                try:
                    handler(message.topic, bytes(message.payload))
                except Exception:  # a bad message must never stop the uplink
                    log.exception("handler failed", extra={"topic": message.topic})

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_publish = on_publish
        client.on_message = on_message
        return client

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            self._generation += 1
            client = self._make_client(self._generation)
            self._client = client
            self._refused.clear()
            try:
                client.connect(self.cfg.host, self.cfg.port, keepalive=self.cfg.keepalive_s)
            except (OSError, ssl.SSLError) as exc:
                log.warning("uplink connect failed", extra={"error": str(exc)})
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            client.loop_start()
            try:
                if self._await_connack(10):
                    backoff = 0.5
                    self._send(client, self._generation)
            except Exception:  # an outbox error must not end the uplink: reconnect, retry
                log.exception("uplink sender failed; reconnecting")
            finally:
                self.connected.clear()
                client.disconnect()
                client.loop_stop()
                self._client = None
            self._stop.wait(backoff)
            backoff = min(backoff * 2, 10.0)

    def _send(self, client: mqtt.Client, generation: int) -> None:
        """Keep ``inflight`` rows in flight, oldest first, until the connection ends."""
        in_flight: dict[int, int] = {}  # mid -> seq
        last_sent = -1
        while not self._stop.is_set() and self.connected.is_set():
            with self._wake:
                self._dirty = False
            done: list[int] = []
            while self._acks:
                gen, mid, ok = self._acks.popleft()
                seq = in_flight.pop(mid, None) if gen == generation else None
                if seq is None:
                    continue
                if ok:
                    done.append(seq)
                else:
                    self.failed_acks += 1
                    log.error("broker refused an event; reconnecting to retry")
                    return
            if done:
                self.outbox.remove(done)
                self.published += len(done)
            room = self.inflight - len(in_flight)
            rows = self.outbox.peek(last_sent, room) if room > 0 else []
            for row in rows:
                info = client.publish(self.events_topic, row.body, qos=1)
                if info.rc != mqtt.MQTT_ERR_SUCCESS:
                    return
                in_flight[info.mid] = row.seq
                last_sent = row.seq
            if not rows:
                with self._wake:
                    if not self._dirty:
                        self._wake.wait(0.5)

    def _await_connack(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.connected.wait(0.05):
            if self._stop.is_set() or self._refused.is_set() or time.monotonic() > deadline:
                return False
        return True

    def wait_connected(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.connected.wait(0.1):
                return True
        return False
