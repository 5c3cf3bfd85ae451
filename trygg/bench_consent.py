"""Cost of the consent check on ingest, per event: ``python -m trygg.bench_consent``.

Figures are in docs/consent.md. One dict lookup and one check per event,
whatever the number of bases; this measures that claim with 10 000 of them.
"""

from __future__ import annotations

import timeit
from datetime import UTC, datetime, timedelta

import uuid6
from prometheus_client import CollectorRegistry

from devices.events import make_event
from devices.localtime import TimeWindow
from devices.registry import Placement
from hub.consent.gate import ConsentGate
from rules.consent import BasisKind, LegalBasis

T = datetime(2026, 11, 23, 1, tzinfo=UTC)
N = 100_000


def main(residents: int = 10_000) -> None:
    bases = [
        LegalBasis(
            id=f"b{i}", resident_id=f"r{i}", measure="exit_door",
            kinds=frozenset({"door.opened", "door.closed"}), basis=BasisKind.CONSENT,
            decided_by="x", reference="x", valid_from=T - timedelta(days=1), valid_to=None,
            review_at=None, windows=(TimeWindow.parse("22:00-07:00"),),
        )
        for i in range(residents)
    ]
    gate = ConsentGate(CollectorRegistry())
    gate.load(bases, {"s": "Europe/Oslo"})
    event = make_event(
        id=str(uuid6.uuid7()), site="s", gateway="g", device="d", kind="door.opened", ts=T, seq=1
    )
    for label, resident in (("allowed (inside its window)", "r5000"), ("dropped", "nobody")):
        placement = Placement(
            device="d", device_type="door_contact", site="s", gateway="g", resident_id=resident
        )
        seconds = timeit.timeit(lambda p=placement: gate.admit(event, p, T), number=N)
        print(f"{label}, {residents} bases: {seconds / N * 1e6:.2f} µs/event")


if __name__ == "__main__":
    main()
