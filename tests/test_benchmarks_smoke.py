"""``make bench`` keeps working: every benchmark runs end to end with tiny sizes (``--quick``).

Only that each benchmark runs and reports a positive, finite ratio is checked; timings are never asserted
(they depend on the machine and its load). The benchmarks run in a subprocess, as ``make bench`` runs them.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ("flops", "sampler", "step", "memory", "inference", "loader")


@pytest.mark.slow
def test_every_benchmark_runs_in_quick_mode(tmp_path):
    command = [sys.executable, "-m", "benchmarks.run_all", "--quick", "--no-readme", "--results-dir", str(tmp_path)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| benchmark | ours | reference |" in done.stdout
    for name in BENCHMARKS:
        result = json.loads((tmp_path / f"{name}_quick.json").read_text())
        assert result["machine"]["torch"]
        for row in result["rows"]:
            assert math.isfinite(row["ratio"]) and row["ratio"] > 0, row
