"""Benchmarks of Plimsoll's event mechanics against published or installed baselines.

Run ``python -m bench.run [--quick] [--only NAME]`` from the repository root with
the local stack up (``make bench`` / ``make bench-quick``). Each benchmark writes
``bench/results/<name>.json``; see :mod:`bench.run` for the registry.
"""
