"""Latency benchmarks of SR pipelines per stage and end to end (``zoo bench``).

Light to import: torch and the backends load inside the functions that need them.

* :mod:`zoo.bench.machine` - machine description, load check, peak FLOP/s of the device;
* :mod:`zoo.bench.timing` - warm-up + timed runs (CUDA-synchronised), peak memory;
* :mod:`zoo.bench.flops` - FLOPs of one call (FlopCounterMode + attention by hand);
* :mod:`zoo.bench.runner` - the benchmark itself and its JSON report;
* :mod:`zoo.bench.baseline` - the seed code's K=1000 eager run against zoo's default;
* :mod:`zoo.bench.quality` - PSNR against sampler steps on the bundled held-out images;
* :mod:`zoo.bench.markdown` - the report as markdown.
"""

SCHEMA = "zoo.bench/1"
