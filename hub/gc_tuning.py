"""The cyclic garbage collector, set for a hub that takes thousands of events a second.

Profiling ``trygg bench ingest --store postgres --backlog`` (py-spy, GIL holder)
showed the hub's time going to frames that merely allocate (binding log ids,
building rows): CPython's cyclic collector, run with its default thresholds
(700, 10, 10), was walking the heap. Every event allocates some tens of
container objects, the events waiting for their commit survive the young
collections, and so full collections, which walk everything the process holds
(rule packs, registry, the API's routes and models), came every few thousand
events. With the collector off, the same run used 0.064 CPU s per 1,000 events
instead of 0.110 (docs/benchmarks.md). Off is not an option: a reference cycle
made anywhere would never be freed. Almost nothing on the ingest path makes
one; reference counting frees it.

:func:`tune`, called once the hub has started and before it takes events:

- ``gc.collect()`` then ``gc.freeze()``: what start-up built lives as long as
  the process; frozen, the collector no longer walks it on every full pass.
- thresholds :data:`THRESHOLDS`: a young collection every 50,000 allocations
  instead of 700 (a pass over at most that many young objects, a few ms), and
  the older generations as often as by default relative to it. Cyclic garbage
  is still collected, later; memory stays bounded by the same queues.

Process-wide, so the entry points call it (``trygg hub``, the bench's hub
process), never a library object.
"""

from __future__ import annotations

import gc

THRESHOLDS = (50_000, 20, 20)


def tune() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
