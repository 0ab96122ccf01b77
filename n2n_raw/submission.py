"""``n2n-raw submit``: denoise SIDD's benchmark blocks and write the submission files.

The file formats and their all-or-nothing writing are in :mod:`n2n_raw.submission_format`. Every refusal
(existing files without ``--force``, unknown formats, integer blocks) comes before the network runs.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import atomic_write_text
from .config import add_arguments, arg, from_arguments
from .inference import InferenceOptions, denoise_blocks, load_network
from .submission_format import MAT_KEY, SubmissionError, decode_block, submission_targets, write_submission


@dataclass(frozen=True)
class SubmitConfig(InferenceOptions):
    """``n2n-raw submit`` options (network options are inherited from InferenceOptions)."""

    checkpoint: str = arg(
        "",
        "checkpoint to use (the model is rebuilt from its stored configuration); empty or 'pretrained': the model shipped with the package; 'identity': no denoising",
    )
    blocks_dir: str = arg(
        "", "folder holding BenchmarkNoisyBlocksRaw.mat; empty: the checkpoint's validation folder, else data/sidd-mini"
    )
    patterns: tuple[str, ...] = arg(
        (), "CFA of each block image, when the folder has neither blocks_info.json nor 40 images"
    )
    out: str = arg("submit", "folder for SubmitRaw.csv / SubmitRaw.mat")
    formats: tuple[str, ...] = arg(("csv", "mat"), "files to write: csv (Kaggle), mat (v5, SubmitRaw)")
    method_name: str = arg("Neighbor2Neighbor (n2n_raw)", "OptionalData.MethodName in SubmitRaw.mat")
    denoised_blocks_raw: bool = arg(
        False, "also store the array under DenoisedBlocksRaw in SubmitRaw.mat (doubles its size)"
    )
    force: bool = arg(False, "overwrite existing submission files")


def submit(config: SubmitConfig) -> dict:
    """Denoise the benchmark blocks, write and verify the files; on the demo set also score them."""
    from .evaluate import default_blocks_dir
    from .sidd import load_block_set

    submission_targets(config.out, tuple(config.formats), config.force)  # refuse before the expensive work
    model, settings, checkpoint = load_network(config.checkpoint, config)
    blocks_dir = default_blocks_dir(config.blocks_dir, checkpoint)
    block_set = load_block_set(blocks_dir, "benchmark", list(config.patterns) or None)
    noisy = block_set.noisy
    if noisy.dtype != np.float32:
        raise SubmissionError(
            f"{block_set.noisy_path}: blocks are {noisy.dtype}; SIDD's benchmark blocks are float32 in [0, 1]"
        )
    n_img, n_blk = noisy.shape[:2]
    patterns = [block_set.patterns[k // n_blk] for k in range(n_img * n_blk)]
    start = time.perf_counter()
    denoised = denoise_blocks(model, noisy.reshape(-1, *noisy.shape[2:]), patterns, settings, progress=True)
    seconds = time.perf_counter() - start
    denoised = denoised.reshape(noisy.shape).astype(noisy.dtype)  # exactly the input dtype (float32 for SIDD)
    paths = write_submission(
        config.out,
        denoised,
        noisy,
        tuple(config.formats),
        seconds,
        config.method_name,
        config.denoised_blocks_raw,
        config.force,
    )
    result = {"files": [str(p) for p in paths], "blocks": n_img * n_blk, "seconds": seconds,
              "time_mp_raw": seconds * 2**20 / noisy.size, "blocks_dir": str(blocks_dir)}  # fmt: skip
    if block_set.clean is not None:
        result["demo_score"] = score_files(paths, block_set.clean, noisy)
        atomic_write_text(Path(config.out) / "score_DEMO_ONLY.json", json.dumps(result, indent=1) + "\n")
    return result


def score_files(paths: list[Path], clean: np.ndarray, noisy: np.ndarray) -> dict:
    """Score what the written files *contain* (decoded again) against clean blocks: the end-to-end check."""
    import scipy.io

    from .metrics import block_metrics

    flat_clean = clean.reshape(-1, *clean.shape[2:]).astype(np.float32)
    scores = {
        "noisy_input": _mean_scores(block_metrics(noisy.reshape(flat_clean.shape).astype(np.float32), flat_clean))
    }
    for path in paths:
        if path.suffix == ".csv":
            blocks = np.empty(flat_clean.shape, noisy.dtype)
            with open(path, newline="") as fh:
                for row in itertools.islice(csv.reader(fh), 1, None):  # rows stream: the file is ~0.45 GB
                    blocks[int(row[0])] = decode_block(row[1], noisy.dtype, noisy.shape[2:])
        else:
            blocks = scipy.io.loadmat(path, variable_names=[MAT_KEY])[MAT_KEY].reshape(flat_clean.shape)
        scores[path.name] = _mean_scores(block_metrics(blocks.astype(np.float32), flat_clean))
    return scores


def _mean_scores(m: dict) -> dict:
    return {"psnr": float(m["psnr"].mean()), "ssim": float(m["ssim"].mean())}


def submit_arguments(parser: argparse.ArgumentParser) -> None:
    add_arguments(parser, SubmitConfig)


def submit_command(args: argparse.Namespace) -> int:
    result = submit(from_arguments(SubmitConfig, args))
    for path in result["files"]:
        print(f"written and verified: {path} ({Path(path).stat().st_size / 2**20:.1f} MiB)")
    print(
        f"{result['blocks']} blocks in {result['seconds']:.1f} s (TimeMPRaw {result['time_mp_raw']:.4f} s per 2^20 pixels)"
    )
    for name, s in result.get("demo_score", {}).items():
        print(f"demo benchmark score, {name}: PSNR {s['psnr']:.2f} dB, SSIM {s['ssim']:.4f}")
    return 0
