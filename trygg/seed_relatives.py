"""Demo relatives: Johs's daughter (fictional), told first when he leaves the agreed area.

``seed_demo_bases`` records them with the demo's bases, and names them on the basis of
the measure they may hear about (``demo_notify``). The relatives step itself runs
where a routing policy has one (``deploy/routing.example.yaml``: home care's
``geofence.exit`` chain). The phone number is fictional; the demo has no SMS gateway
unless ``TRYGG_RELATIVES_WEBHOOK_URL`` is set, and then the step fails over to staff.
"""

from __future__ import annotations

from datetime import datetime

from hub.relatives.model import Relative
from hub.store.base import Store
from simulators.scenario import Scenario

# resident id -> (relatives, the measures they may be told of)
DEMO_RELATIVES: dict[str, tuple[tuple[Relative, ...], frozenset[str]]] = {
    "res-johs": (
        (Relative("res-johs", "randi-datter", "Randi Pedersen", "datter", phone="+4790000000"),),
        frozenset({"location"}),
    ),
}


def demo_notify(resident_id: str, measure: str) -> tuple[str, ...]:
    """The demo relatives a basis for ``measure`` of ``resident_id`` names."""
    relatives, measures = DEMO_RELATIVES.get(resident_id, ((), frozenset()))
    return tuple(r.id for r in relatives) if measure in measures else ()


def seed_demo_relatives(store: Store, scenario: Scenario, now: datetime) -> int:
    count = 0
    for resident in scenario.residents:
        for relative in DEMO_RELATIVES.get(resident.id, ((), frozenset()))[0]:
            store.save_relative(relative, now)
            count += 1
    return count
