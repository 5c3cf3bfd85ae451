"""The device registry model: what is installed where, and for whom.

Events carry only a device id. The hub resolves ``device -> Placement`` here to
find the unit, the apartment and the resident id; the resident's name never
travels with an event.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict, field_validator

from devices.tags import normalise_tags


class Placement(BaseModel):
    """Where a device is installed and whom it serves, as the rules see it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    device: str
    device_type: str
    site: str
    gateway: str
    unit: str | None = None
    apartment: str | None = None
    room: str | None = None
    resident_id: str | None = None
    # Free labels rules can scope on ("dementia", "night-watch"); never personal data.
    tags: tuple[str, ...] = ()

    @field_validator("tags")
    @classmethod
    def _valid_tags(cls, tags: tuple[str, ...]) -> tuple[str, ...]:
        return normalise_tags(tags)


class Registry(Protocol):
    """Looks a device up. ``None`` means the device is not registered."""

    def placement(self, device: str) -> Placement | None: ...


class MemoryRegistry:
    """A registry held in a dict: the hub's cache and the tests' fake."""

    def __init__(self, placements: dict[str, Placement] | None = None) -> None:
        self._placements = dict(placements or {})

    def placement(self, device: str) -> Placement | None:
        return self._placements.get(device)

    def put(self, placement: Placement) -> None:
        self._placements[placement.device] = placement

    def __len__(self) -> int:
        return len(self._placements)
