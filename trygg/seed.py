"""Put a scenario's site, residents, devices and (demo only) staff accounts into a store."""

from __future__ import annotations

from hub.auth import hash_password
from hub.settings import DEMO_PASSWORD
from hub.store.base import Account, Device, PlacementRecord, Resident, Role, Site, Store, Unit
from simulators.scenario import Scenario


def seed_registry(store: Store, scenario: Scenario) -> int:
    """Sites, units, residents, devices and placements. Returns the device count."""
    site = scenario.site.id
    store.upsert_site(Site(id=site, name=scenario.site.name, timezone=scenario.timezone))
    for unit in scenario.units:
        store.upsert_unit(Unit(id=unit.id, site=site, name=unit.name))
    for r in scenario.residents:
        store.upsert_resident(
            Resident(id=r.id, site=site, unit=r.unit, name=r.name, apartment=r.apartment)
        )
    for d in scenario.devices:
        store.upsert_device(Device(id=d.id, site=site, gateway=d.gateway, type=d.type))
        store.place(
            PlacementRecord(
                device=d.id,
                unit=d.unit,
                apartment=d.apartment,
                room=d.room,
                resident_id=d.resident,
                tags=tuple(d.tags),
            )
        )
    return len(scenario.devices)


def seed_demo_accounts(store: Store, scenario: Scenario) -> list[str]:
    """The scenario's staff with the demo password. Demo mode only: the hub
    refuses to start outside demo mode while any account has this password."""
    hashed = hash_password(DEMO_PASSWORD)
    names = []
    for s in scenario.staff:
        store.upsert_account(
            Account(
                username=s.username,
                display_name=s.display_name,
                role=Role(s.role),
                password_hash=hashed,
                site=scenario.site.id,
                units=tuple(s.units),
            )
        )
        names.append(s.username)
    return names
