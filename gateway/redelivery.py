"""Exactly once for local MQTT messages redelivered after a crash (pure, no I/O).

The local broker redelivers every QoS 1 message the gateway had not acked when
it died, with the DUP flag set and the SAME packet id (Mosquitto keeps the
session and its ids; checked in ``tests/integration/test_gateway_redelivery.py``).
State messages convert to nothing new anyway (the device state is committed
with the events), but a momentary Zigbee ``action`` (a button press) would
become a second alarm with a new id.

So the writer commits, in the same transaction as the events, each local
message's packet id with a digest of its source, key and payload. A message
is a redelivery of a committed one, and is acked without being converted
again, only when ALL hold: the DUP flag is set, its packet id is recorded, and
the recorded digest is the same. A genuine new press never has DUP set, and a
packet id is reused by the broker only after the message that had it was
acked, so a fresh message with a reused id (DUP clear) replaces the record.
The table therefore holds at most one row per packet id (< 65,536), and rows
older than the local session's expiry are pruned: no redelivery can come after
it. Erring this way round matters: a missed press is far worse than a
duplicate one (the hub joins a duplicate to the open alert).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


def digest(source: str, key: str, payload: bytes) -> str:
    h = hashlib.blake2b(digest_size=12)
    for part in (source.encode(), key.encode(), payload):
        h.update(len(part).to_bytes(4, "big"))
        h.update(part)
    return h.hexdigest()


@dataclass
class Redelivery:
    """Packet id -> digest of the committed message that last had it."""

    committed: dict[int, str] = field(default_factory=dict)
    skipped: int = 0

    def is_redelivery(self, mid: int, dup: bool, message_digest: str) -> bool:
        if dup and self.committed.get(mid) == message_digest:
            self.skipped += 1
            return True
        return False

    def remember(self, records: list[tuple[int, str, float]]) -> None:
        """After the commit: ``records`` are (packet id, digest, committed at)."""
        for mid, message_digest, _ in records:
            self.committed[mid] = message_digest
