"""Routing and escalation: who is told about an alert, by which channel, and when.

Pure: the roster, the policy and the escalation state take data and ``now``
and return data plus effects; the shell (``hub.channels.router``) delivers
the effects and wakes the core at the time it asks for (``next_wake``).
"""
