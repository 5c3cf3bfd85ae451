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
``gc.collect()`` then ``gc.freeze()``. What start-up built lives as long as the
process; frozen, the collector no longer walks it on every full pass, so a full
pass costs what the events in flight hold, not what the whole process holds.

The thresholds stay CPython's. Raising the young generation's (tried: 50,000
and 10,000) cut CPU a little more but lengthens each young pass, and a pass
holds the GIL: the hub's GC log showed young passes of up to 80-135 ms at
50,000 on the loaded bench machine, a pause an alarm would wait behind.

Process-wide, so the entry points call it (``trygg hub``, the bench's hub
process), never a library object.
"""

from __future__ import annotations

import gc


def tune() -> None:
    gc.collect()
    gc.freeze()
