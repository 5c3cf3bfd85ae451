"""The registry's routers in the order they must be mounted: the writes first, so
``/devices/export`` and ``/devices/import`` are matched before ``/devices/{id}``."""

from __future__ import annotations

from hub.registry import api, gateway_api, write_api

ROUTERS = (write_api.router, gateway_api.router, api.router)
