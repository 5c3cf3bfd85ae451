"""The demo's resident and guardian accounts: bound as the page needs, and refused by
``trygg hub`` outside demo mode like every account with the demo password."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from hub.errors import ConfigError
from hub.settings import HubSettings
from hub.store.base import Role
from hub.store.memory import MemoryStore
from simulators.scenario import load_scenario
from trygg.runtime import refuse_default_credentials
from trygg.seed import seed_registry
from trygg.seed_residents import seed_demo_resident_accounts


def test_demo_resident_accounts_are_bound_and_refused_outside_demo_mode() -> None:
    store = MemoryStore()
    scenario = load_scenario("night-unit")
    seed_registry(store, scenario)
    assert seed_demo_resident_accounts(store, scenario) == ["beboer", "verge"]
    beboer, verge = store.get_account("beboer"), store.get_account("verge")
    assert beboer is not None and beboer.role is Role.RESIDENT
    assert beboer.display_name == scenario.residents[0].name
    assert verge is not None and verge.role is Role.GUARDIAN
    assert store.account_residents("beboer") == ("res-1",)
    assert store.account_residents("verge") == ("res-2", "res-3")
    settings = HubSettings(demo=False, admin_password=SecretStr("a proper admin secret"))
    with pytest.raises(ConfigError, match="demo password: beboer, verge"):
        refuse_default_credentials(store, settings)
