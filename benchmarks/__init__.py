"""Speed and memory benchmarks of n2n_raw, side by side with reference implementations.

Run from the repository root: ``make bench`` (``python -m benchmarks.run_all``), or ``--quick`` for a smoke
run. Every benchmark runs our code and a reference in the same process, on the same data, alternating,
and reports medians and ratios; see ``benchmarks/README.md`` for the latest table.
"""
