"""SIDD raw submissions: the CSV decodes back to the exact arrays (349,528 base64 characters per float32
256×256 block), the .mat re-reads with the right key/shape/dtype, wrong outputs (float64, wrong count, NaN,
out of range) are refused in plain words, an interrupted write leaves no file, an existing submission is not
overwritten without --force, and ``check-submission`` catches each problem in files made by hand."""

from __future__ import annotations

import base64
import csv
import json
import re

import numpy as np
import pytest
import scipy.io

from n2n_raw import submission_format
from n2n_raw.cli import main
from n2n_raw.submission_check import check_submission
from n2n_raw.submission_format import SubmissionError, decode_block, encode_block, write_submission
from tests.eval_fixtures import write_block_dir, write_tiny_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: a second thread only contends


def blocks_like(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).random(shape).astype(dtype)


def test_csv_and_mat_round_trip_exactly_with_sidd_block_size(tmp_path):
    reference = blocks_like((2, 3, 256, 256), seed=1)
    denoised = blocks_like((2, 3, 256, 256), seed=2)
    paths = write_submission(tmp_path, denoised, reference, seconds=2.0, method="test method")
    assert [p.name for p in paths] == ["SubmitRaw.csv", "SubmitRaw.mat"]
    with open(paths[0], newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["ID", "BLOCK"] and [r[0] for r in rows[1:]] == [str(k) for k in range(6)]
    for k, (_, text) in enumerate(rows[1:]):
        assert len(text) == 349_528
        i, j = divmod(k, 3)  # ID = (blocks per image)·i + j, image-major
        block = np.frombuffer(base64.b64decode(text), dtype=np.float32).reshape(256, 256)  # the official decoder
        assert np.array_equal(block, denoised[i, j])
    mat = scipy.io.loadmat(paths[1])
    assert mat["SubmitRaw"].dtype == np.float32 and mat["SubmitRaw"].shape == (2, 3, 256, 256)
    assert np.array_equal(mat["SubmitRaw"], denoised)
    assert mat["TimeMPRaw"].item() == pytest.approx(2.0 * 2**20 / denoised.size)
    assert mat["OptionalData"]["MethodName"].item().item() == "test method"
    assert "DenoisedBlocksRaw" not in mat


def test_encoding_is_c_order_whatever_the_memory_layout():
    block = np.asfortranarray(blocks_like((4, 6)))
    assert np.array_equal(decode_block(encode_block(block), np.float32, (4, 6)), block)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda r: r.astype(np.float64), "float64"),
        (lambda r: r[:, :2], "(4 blocks) but the noisy blocks have (2, 3, 8, 8) (6 blocks)"),
        (lambda r: np.where(np.arange(r.size).reshape(r.shape) == 7, np.nan, r).astype(np.float32), "NaN"),
        (lambda r: r + np.float32(0.5), "outside [0, 1]"),
    ],
)
def test_wrong_outputs_are_refused_before_anything_is_written(tmp_path, make, message):
    reference = blocks_like((2, 3, 8, 8))
    with pytest.raises(SubmissionError, match=re.escape(message)):
        write_submission(tmp_path, make(reference), reference)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_writes_leave_no_file(tmp_path, monkeypatch):
    reference = blocks_like((2, 3, 8, 8))
    calls = {"n": 0}
    real = submission_format.encode_block

    def failing(block):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # as if Ctrl-C arrived mid-file
        return real(block)

    monkeypatch.setattr(submission_format, "encode_block", failing)
    with pytest.raises(KeyboardInterrupt):
        write_submission(tmp_path, reference, reference, formats=("csv",))
    assert list(tmp_path.iterdir()) == []

    def half_mat(path, denoised, extra):
        with open(path, "wb") as fh:
            fh.write(b"MATLAB 5.0 MAT-file" + b"\0" * 100)
        raise OSError("disk full")

    monkeypatch.setattr(submission_format, "_write_mat", half_mat)
    with pytest.raises(OSError, match="disk full"):
        write_submission(tmp_path, reference, reference, formats=("mat",))
    assert list(tmp_path.iterdir()) == []


def test_existing_submission_needs_force(tmp_path):
    reference = blocks_like((1, 2, 8, 8))
    write_submission(tmp_path, reference, reference, formats=("csv",))
    with pytest.raises(SubmissionError, match="already exists; pass --force"):
        write_submission(tmp_path, reference, reference, formats=("csv",))
    write_submission(tmp_path, reference * 0.5, reference, formats=("csv",), force=True)
    assert check_submission(tmp_path / "SubmitRaw.csv", _noisy_file(tmp_path, reference)) == []


def _noisy_file(folder, noisy):
    path = folder / "BenchmarkNoisyBlocksRaw.mat"
    scipy.io.savemat(path, {"BenchmarkNoisyBlocksRaw": noisy})
    return path


def _write_csv(path, rows, header=("ID", "BLOCK")):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_check_submission_catches_each_csv_problem(tmp_path):
    noisy = blocks_like((2, 3, 8, 8))
    blocks = _noisy_file(tmp_path, noisy)
    good = [(k, encode_block(b * 0.5)) for k, b in enumerate(noisy.reshape(-1, 8, 8))]
    assert check_submission(_write_csv(tmp_path / "ok.csv", good), blocks) == []
    cases = {
        "float64": [(k, encode_block(b * 0.5)) for k, b in enumerate(noisy.reshape(-1, 8, 8).astype(np.float64))],
        "5 blocks, expected 6": good[:5],
        "NaN": good[:2] + [(2, encode_block(np.full((8, 8), np.nan, np.float32)))] + good[3:],
        "outside [0, 1]": good[:1] + [(1, encode_block(np.full((8, 8), 2.0, np.float32)))] + good[2:],
        "duplicated IDs 4": good[:5] + [(4, good[5][1])],
        "not in order": [good[1], good[0]] + good[2:],
        "not valid base64": good[:3] + [(3, "!" * len(good[3][1]))] + good[4:],
        "identical to the noisy input": good[:1] + [(1, encode_block(noisy[0, 1]))] + good[2:],
    }
    for expected, rows in cases.items():
        problems = check_submission(_write_csv(tmp_path / "bad.csv", rows), blocks)
        assert any(expected in p for p in problems), (expected, problems)
    problems = check_submission(_write_csv(tmp_path / "hdr.csv", good, header=("id", "block")), blocks)
    assert any("header ID,BLOCK" in p for p in problems)
    # Without --blocks, SIDD's 40 × 32 float32 blocks of 256 × 256 are assumed.
    assert any("expected 349,528 characters" in p for p in check_submission(tmp_path / "ok.csv"))


def test_check_submission_catches_each_mat_problem(tmp_path, capsys):
    noisy = blocks_like((2, 3, 8, 8))
    blocks = _noisy_file(tmp_path, noisy)
    path = tmp_path / "SubmitRaw.mat"
    cases = {
        "is float64, expected float32": {"SubmitRaw": noisy.astype(np.float64) * 0.5},
        "(1, 3, 8, 8) (3 blocks), expected (2, 3, 8, 8) (6 blocks)": {"SubmitRaw": noisy[:1] * 0.5},
        "NaN": {"SubmitRaw": np.full_like(noisy, np.nan)},
        "no variable SubmitRaw": {"Other": noisy},
        "equals the noisy input": {"SubmitRaw": noisy},
    }
    for expected, content in cases.items():
        scipy.io.savemat(path, content)
        problems = check_submission(path, blocks)
        assert any(expected in p for p in problems), (expected, problems)
        assert main(["check-submission", str(path), "--blocks", str(blocks)]) == 1
    assert "NOT a valid SIDD raw submission" in capsys.readouterr().out


def test_submit_cli_end_to_end_on_demo_style_blocks(tmp_path, capsys):
    folder = tmp_path / "blocks"
    write_block_dir(folder, n_blocks=2, size=32)
    ckpt = write_tiny_checkpoint(tmp_path / "run")
    out = tmp_path / "submit"
    args = ["submit", "--checkpoint", str(ckpt), "--blocks-dir", str(folder), "--out", str(out), "--device", "cpu"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "written and verified" in printed and "demo benchmark score, SubmitRaw.csv" in printed
    score = json.loads((out / "score_DEMO_ONLY.json").read_text())["demo_score"]
    assert score["SubmitRaw.csv"] == score["SubmitRaw.mat"]  # both files hold the same blocks
    assert np.isfinite(score["SubmitRaw.csv"]["psnr"])
    noisy_file = folder / "BenchmarkNoisyBlocksRaw.mat"
    assert main(["check-submission", str(out / "SubmitRaw.csv"), "--blocks", str(noisy_file)]) == 0
    assert main(["check-submission", str(out / "SubmitRaw.mat"), "--blocks", str(noisy_file)]) == 0
    assert main(args) == 2  # exists: refused without --force
    assert "pass --force" in capsys.readouterr().err


def test_written_files_get_the_usual_permissions_not_mkstemps_0600(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        reference = blocks_like((1, 2, 8, 8))
        paths = write_submission(tmp_path, reference, reference)
    finally:
        os.umask(old)
    assert [oct(p.stat().st_mode & 0o777) for p in paths] == ["0o644", "0o644"]
