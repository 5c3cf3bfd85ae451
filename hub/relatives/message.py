"""The text a relative gets: what happened and when, and that home care is told next.

Minimal on purpose: the alert's kind in plain words, the local time, when staff are
told, and how to answer. No name, no address, no health details beyond what the
alert itself is (the relative knows whom it is about; an SMS passes through a
provider). Pure: the caller passes the instants and the site's zone.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

# Alert kind -> what happened, per language. Anything else is "an alert".
_WHAT: dict[str, dict[str, str]] = {
    "geofence.exit": {
        "nb": "har forlatt det avtalte området",
        "en": "has left the agreed area",
    },
    "gps.position": {"nb": "er utenfor det avtalte området", "en": "is outside the agreed area"},
    "door.opened": {"nb": "har åpnet ytterdøren", "en": "has opened the front door"},
    "alarm.button": {"nb": "har trykket på trygghetsalarmen", "en": "has pressed the safety alarm"},
    "fall.detected": {"nb": "kan ha falt", "en": "may have fallen"},
    "stove.on": {"nb": "har latt komfyren stå på", "en": "has left the stove on"},
    "stove.cutoff": {"nb": "komfyrvakten har slått av komfyren", "en": "the stove guard cut the stove"},
    "bed.exit": {"nb": "har stått opp og ikke lagt seg igjen", "en": "got up and has not gone back to bed"},
}
_DEFAULT = {"nb": "har utløst et varsel", "en": "has raised an alert"}

_TEMPLATE = {
    "nb": (
        "Trygg: Den du er pårørende for {what} kl. {at}. {next} "
        "Svar om du tar deg av det eller ikke kan."
    ),
    "en": (
        "Trygg: The person you are a relative of {what} at {at}. {next} "
        "Please answer whether you are handling it or cannot."
    ),
}
_NEXT = {
    "nb": ("Hjemmetjenesten blir varslet kl. {staff}.", "Hjemmetjenesten blir varslet nå."),
    "en": ("Home care will be told at {staff}.", "Home care is being told now."),
}


def what_happened(kind: str, language: str) -> str:
    return _WHAT.get(kind, _DEFAULT)[language]


def relative_text(
    language: str, kind: str, happened_at: datetime, staff_at: datetime | None, tz: ZoneInfo
) -> str:
    """The message in ``language`` (nb or en); times on the site's wall clock."""
    at = happened_at.astimezone(tz).strftime("%H:%M")
    later, now = _NEXT[language]
    following = later.format(staff=staff_at.astimezone(tz).strftime("%H:%M")) if staff_at else now
    return _TEMPLATE[language].format(what=what_happened(kind, language), at=at, next=following)
