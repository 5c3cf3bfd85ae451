"""Simulators: scripted scenarios and a player that sends them as gateways would.

Depends only on ``devices`` (an import-linter contract checks it), so a
simulated gateway speaks exactly the canonical events a real one does.

Errors::

    TryggError                  (devices.errors)
     └── SimulatorError
          ├── ScenarioError     a scenario file that does not load (file, line, reason)
          └── PlayerError       the broker could not be reached or kept
"""

from __future__ import annotations

from devices.errors import TryggError


class SimulatorError(TryggError):
    """Root of the simulators' errors."""
