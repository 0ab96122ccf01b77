"""SIGKILL a training run at random moments (inside steps, checkpoint writes and validations), resume it each
time, and require what an uninterrupted run gives: the same final weights, bit for bit, and a log with every
step and every validation exactly once. Real processes, real files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from n2n_raw.checkpoint import load_checkpoint
from tests.eval_fixtures import write_block_dir

ROOT = Path(__file__).resolve().parents[1]


def command(data, blocks, out):
    return [sys.executable, "-m", "n2n_raw", "train", "--data", str(data), "--validation-dir", str(blocks),
            "--out", str(out), "--crop", "64", "--batch-size", "2", "--num-workers", "0", "--log-every", "1",
            "--epochs", "3", "--steps-per-epoch", "4", "--checkpoint-every", "1", "--amp", "off",
            "--resume", "auto"]  # fmt: skip


def run(cmd, kill_after=None):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if kill_after is None:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()[-2000:]
        return True
    try:
        proc.wait(timeout=kill_after)
        return proc.returncode == 0  # finished before the kill
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return False


def test_sigkill_at_random_moments_then_resume_equals_an_uninterrupted_run(tmp_path):
    data, blocks = tmp_path / "mosaics", tmp_path / "blocks"
    data.mkdir()
    rng = np.random.default_rng(0)
    for k in range(4):
        np.save(data / f"m{k}.npy", rng.random((80, 96)).astype(np.float32))
    write_block_dir(blocks, n_blocks=2, size=64)
    start = time.perf_counter()
    run(command(data, blocks, tmp_path / "straight"))
    duration = time.perf_counter() - start

    killed = tmp_path / "killed"
    # Kills spread over the whole run on this machine (start-up included), whatever its speed.
    delays = np.random.default_rng(1).uniform(0.35, 0.95, size=12) * duration
    finished, kills = False, 0
    for delay in delays:
        finished = run(command(data, blocks, killed), kill_after=float(delay))
        if finished:
            break
        kills += 1
    if not finished:
        run(command(data, blocks, killed))
    assert kills >= 1, "no run was killed: the delays are too long for this machine"

    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "latest.pt")
    b = load_checkpoint(killed / "checkpoints" / "latest.pt")
    assert a["step"] == b["step"] == 12
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])

    def log(folder):
        return [json.loads(s) for s in (folder / "metrics.jsonl").read_text().splitlines()]

    straight, resumed = log(tmp_path / "straight"), log(killed)
    steps = [r["step"] for r in resumed if "loss" in r]
    assert steps == list(range(1, 13)), steps
    validations = [(r["step"], r["val_psnr"]) for r in resumed if "val_psnr" in r]
    assert validations == [(r["step"], r["val_psnr"]) for r in straight if "val_psnr" in r]
    assert not list(killed.rglob("*.tmp"))
