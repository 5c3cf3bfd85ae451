"""The cyclic garbage collector, set for a hub that takes thousands of events a second.

Profiling ``trygg bench ingest --store postgres --backlog`` (py-spy, GIL holder)
showed the hub's time going to frames that merely allocate (binding log ids,
building rows): CPython's cyclic collector walking the heap. Every event
allocates some tens of container objects and the events waiting for their
commit survive the young collections, so full collections, which walk
everything the process holds (rule packs, registry, the API's routes and
models, imported modules), came every few thousand events. With the collector
off, a backlog run used 0.064 CPU s per 1,000 events against 0.110 with it on
(docs/benchmarks.md). Off is not an option: a reference cycle made anywhere
would never be freed.

:func:`tune`, called once the hub has started and before it takes events:

- ``gc.collect()`` then ``gc.freeze()``: what start-up built lives as long as
  the process; frozen, the collector no longer walks it on every full pass.
- thresholds :data:`THRESHOLDS`: a young pass every 10,000 allocations instead
  of 700, the older generations a little less often relative to it.

Pauses, measured with ``gc.callbacks`` in the bench's hub while it drained
60,000 events and then took 1,000 a second (load average 4-7, so wall times
include the process waiting for a core): CPython's thresholds with the freeze
spent 3.0 s in 2,043 passes, the longest 308 ms (a full pass over the events
in flight); 10,000/20/20 spent 0.9-1.6 s in 242 passes, the longest 98-157 ms;
50,000/20/20 0.7-1.4 s, the longest 82-256 ms. Fewer passes, less time in
them, and no longer pause than with the defaults; 10,000 keeps each young pass
small. Cyclic garbage is still collected, later; memory stays bounded by the
same queues.

Process-wide, so the entry points call it (``trygg hub``, the bench's hub
process), never a library object.
"""

from __future__ import annotations

import gc

THRESHOLDS = (10_000, 20, 20)


def tune() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
