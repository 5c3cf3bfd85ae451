"""Demo resident and guardian accounts for the resident's own page (/resident/).

Demo mode only: they have the demo password, which ``trygg hub`` refuses outside demo
mode (``trygg.runtime.refuse_default_credentials``). Production accounts are made with
``trygg account add``.
"""

from __future__ import annotations

from hub.auth import hash_password
from hub.settings import DEMO_PASSWORD
from hub.store.base import Account, Role, Store
from simulators.scenario import Scenario


def seed_demo_resident_accounts(store: Store, scenario: Scenario) -> list[str]:
    """``beboer``: the scenario's first resident; ``verge``: guardian of the next two
    (or of the first, in a scenario with one resident). Returns the usernames."""
    residents = [r.id for r in scenario.residents]
    if not residents:
        return []
    hashed = hash_password(DEMO_PASSWORD)
    first = scenario.residents[0]
    accounts = [
        (Account("beboer", first.name, Role.RESIDENT, hashed), residents[:1]),
        (Account("verge", "Verge (demo)", Role.GUARDIAN, hashed), residents[1:3] or residents[:1]),
    ]
    for account, bound in accounts:
        store.upsert_account(account)
        store.bind_account_residents(account.username, bound)
    return [account.username for account, _ in accounts]
