"""The device registry's records (issue 8): what the store keeps beside a device and a gateway.

Pure data. A device's identity (id, site, gateway, model, serial) is
:class:`hub.store.base.Device` and where it is placed is
:class:`hub.store.base.PlacementRecord`; :class:`DeviceInfo` is the technical aid
service's part: life cycle state (:mod:`devices.lifecycle`), firmware, notes and
service dates. :class:`DeviceHistory` is one row of a device's history (who did
what, from which state to which, and where the device was afterwards).
:class:`GatewayRecord` is a gateway with its broker account: the password hash
only, never the password. :class:`GatewaySighting` is what the gateway's own
retained status says (software version, last status), kept in memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from devices.lifecycle import DeviceState, Location

# The ``devices.gateway`` of a device that is on no gateway (the column is NOT NULL).
NO_GATEWAY = ""
# A gateway id is a broker user name part and a topic level (hub.mqtt_acl): no '/', '+',
# '#' or ':'.
GATEWAY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """A device's registry fields. The default is what every device registered before the
    registry existed is: in service (the hub watched it, so it stays watched)."""

    state: DeviceState = DeviceState.IN_SERVICE
    firmware: str | None = None
    notes: str | None = None
    installed_at: datetime | None = None
    last_service_at: datetime | None = None
    service_due_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeviceHistory:
    """One change to a device. ``action`` is a life cycle action (``install``, ...) or one
    of ``register``, ``import``, ``update``; ``location`` is where the device was after."""

    device: str
    at: datetime
    actor: str
    action: str
    from_state: DeviceState | None = None
    to_state: DeviceState | None = None
    note: str | None = None
    location: Location | None = None


class GatewayState(StrEnum):
    REGISTERED = "registered"  # known, no broker account
    PROVISIONED = "provisioned"  # has a broker account
    REVOKED = "revoked"  # its account was removed
    # Only in API answers: a gateway the registry does not list but devices or a status name.
    UNREGISTERED = "unregistered"


@dataclass(frozen=True, slots=True)
class GatewayRecord:
    site: str
    id: str
    state: GatewayState = GatewayState.REGISTERED
    password_hash: str | None = None
    provisioned_at: datetime | None = None
    revoked_at: datetime | None = None
    notes: str | None = None

    @property
    def credentials_provisioned(self) -> bool:
        return self.state is GatewayState.PROVISIONED and self.password_hash is not None


@dataclass(frozen=True, slots=True)
class GatewaySighting:
    """The latest retained status of a gateway, as supervision read it."""

    online: bool
    at: datetime  # when the hub took the status
    software_version: str | None = None
