"""Registry writes on the store thread: read the device, decide (``hub.registry.changes``),
check what needs the store (units, residents, consent), write, all in one function so
the device cannot change between the read and the write.

Errors, each with the reason for the caller: :class:`DeviceNotFound` (404),
:class:`~hub.registry.changes.BadRequest` (422),
:class:`~devices.lifecycle.IllegalDeviceTransition` and
:class:`~hub.consent.devices.PlacementRefused` (409), :class:`AlreadyRegistered` (409).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from hub.consent.devices import PlacementRefused, kinds_of, require_placement
from hub.registry import csvio
from hub.registry.changes import BadRequest, Registration, needs_consent, register
from hub.registry.ports import DeviceChange
from hub.store.base import DeviceView, Store


class DeviceNotFound(LookupError):
    pass


class AlreadyRegistered(ValueError):
    pass


class ConsentRefused(PlacementRefused):
    """Consent does not allow the device to serve this resident (HTTP 409)."""

    def __init__(self, resident_id: str, reason: str) -> None:
        super().__init__(reason)
        self.resident_id = resident_id


def known_model(model: str) -> bool:
    """A catalogue model (``WXKG11LM``) or a device type (``alarm_button``)."""
    return kinds_of(model) is not None


def find(store: Store, device_id: str) -> DeviceView | None:
    return next((v for v in store.list_devices() if v.device.id == device_id), None)


def check_place(store: Store, change: DeviceChange, now: datetime) -> None:
    """The unit is on the device's site, the resident lives there, and consent allows it."""
    d, p = change.device, change.placement
    if p is None:
        return
    units = {u.id: u.site for u in store.list_units()}
    if p.unit is not None and units.get(p.unit) != d.site:
        raise BadRequest(f"no unit {p.unit} on site {d.site}")
    if p.resident_id is not None:
        resident = store.get_resident(p.resident_id)
        if resident is None or resident.site != d.site:
            raise BadRequest(f"no resident {p.resident_id} on site {d.site}")
    resident_id = needs_consent(change)
    if resident_id is not None:
        try:
            require_placement(d.type, resident_id, store.list_bases(resident_id), now)
        except PlacementRefused as exc:
            raise ConsentRefused(resident_id, str(exc)) from exc


def change_device(
    store: Store,
    device_id: str,
    may_write: Callable[[DeviceView], bool],
    decide: Callable[[DeviceView], DeviceChange],
    now: datetime,
) -> tuple[DeviceView, DeviceChange]:
    view = find(store, device_id)
    if view is None or not may_write(view):
        raise DeviceNotFound(f"no device {device_id}")
    change = decide(view)
    check_place(store, change, now)
    store.write_devices([change])
    return view, change


def register_device(store: Store, new: Registration, actor: str, now: datetime) -> DeviceChange:
    if not known_model(new.model):
        raise BadRequest(f"unknown model {new.model!r}: not in the device catalogue")
    if new.site not in store.site_zones():
        raise BadRequest(f"unknown site {new.site!r}")
    if find(store, new.id) is not None:
        raise AlreadyRegistered(f"device {new.id} is already registered")
    change = register(new, actor, now)
    store.write_devices([change])
    return change


def known(store: Store, sites: frozenset[str] | None) -> csvio.Known:
    """What an import is checked against; ``sites`` None: every site may be written."""
    return csvio.Known(
        sites=frozenset(store.site_zones()),
        units={u.id: u.site for u in store.list_units()},
        devices={v.device.id: v for v in store.list_devices()},
        known_model=known_model,
        scope=sites,
    )


def import_devices(
    store: Store, text: str, sites: frozenset[str] | None, actor: str, now: datetime,
    dry_run: bool,
) -> csvio.Checked:  # fmt: skip
    """Check every row; write them all in one transaction unless ``dry_run`` or a problem."""
    checked = csvio.check(text, known(store, sites), actor, now)
    if not dry_run and not checked.problems and checked.changes:
        store.write_devices(checked.changes)
    return checked
