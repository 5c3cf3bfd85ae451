"""The composition root: the ``trygg`` command, the demo and the benchmarks."""
