"""OwnTracks messages as a phone or tracker sends them."""

from __future__ import annotations

import json

from devices import owntracks
from devices.reading import Reading


def message(reading: Reading) -> bytes:
    return json.dumps(owntracks.encode(reading)).encode()
