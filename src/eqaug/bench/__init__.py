"""Benchmarks: every measurement of speed, memory and equivariance error (``results/bench``, ``results/tables``).

Modules (one benchmark each, each with a ``main(argv)``; ``python -m eqaug.bench <name>``):

* :mod:`~eqaug.bench.models` (``models``) — latency, training throughput and memory of the named models;
* :mod:`~eqaug.bench.s2cnn_layers` (``s2cnn``) — speed, memory and equivariance error of the s2cnn layers;
* :mod:`~eqaug.bench.data` (``data``) — throughput of the spherical data generator;
* :mod:`~eqaug.bench.equivariance` (``equivariance``) — equivariance errors of layers and whole models;
* :mod:`~eqaug.bench.latency` (``latency``) — inference latency and throughput vs batch size (Tables 1–2);
* :mod:`~eqaug.bench.profiling` (``profile``) — per-layer, per-operator and per-stage time shares (Tables 6–7);
* :mod:`~eqaug.bench.scaling` (``scaling``) — time per sample against the bandwidth, with fitted exponents;
* :mod:`~eqaug.bench.gpu_check` (``gpu_check``, ``make gpu-check``) — the GPU path: tests, equivariance, latency,
  short training runs on a CUDA device (exits 0 with a message where there is none).

Shared by all: :mod:`~eqaug.bench.timing` (one way to time a callable: wall and process CPU time;
one quantile method, :func:`~eqaug.bench.timing.quartiles`) and :mod:`~eqaug.bench.io` (one JSON
writer; tables through :func:`eqaug.analysis.tables.write_table`).

The package sits above :mod:`eqaug.analysis` (it renders its tables with the analysis writers);
nothing here is imported when the package is, so that a benchmark process loads only what it measures.
"""
