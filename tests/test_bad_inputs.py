"""Bad input gets one clear line naming the file, exit status 2, and leaves nothing half-done behind.

Each case runs the real CLI on real files (MAT, NPY, DNG, CSV, checkpoints) written here.
"""

from __future__ import annotations

import errno
import pickle

import numpy as np
import pytest
import scipy.io
import torch

from n2n_raw.cli import main
from n2n_raw.model import UNet, UNetConfig
from tests.eval_fixtures import write_block_dir, write_tiny_checkpoint
from tests.sidd_fixtures import mosaic_of, write_medium_instance
from tests.test_denoise_dng import write_test_dng


def one_line_error(capsys, *needles) -> str:
    err = capsys.readouterr().err.strip()
    lines = [s for s in err.splitlines() if s.startswith("n2n-raw: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert str(needle) in lines[0], (needle, lines[0])
    return lines[0]


def leftovers(folder):
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith((".tmp", ".partial.npy")))


@pytest.fixture
def ckpt(tmp_path):
    return str(write_tiny_checkpoint(tmp_path / "tiny"))


def mosaic_folder(tmp_path, array, name="m.npy"):
    folder = tmp_path / "mosaics"
    folder.mkdir(exist_ok=True)
    np.save(folder / name, array, allow_pickle=True)
    return folder


def train(folder, out, *extra):
    return main(["train", "--data", str(folder), "--out", str(out), "--crop", "64", "--batch-size", "1",
                 "--num-workers", "0", "--validate-every", "0", "--epochs", "1", "--steps-per-epoch", "1", *extra])  # fmt: skip


def test_odd_sized_and_integer_validation_blocks(tmp_path, ckpt, capsys):
    folder = tmp_path / "odd"
    write_block_dir(folder, size=32)
    odd = np.zeros((3, 2, 31, 32), np.float32)
    scipy.io.savemat(folder / "ValidationNoisyBlocksRaw.mat", {"ValidationNoisyBlocksRaw": odd})
    assert main(["evaluate", "--checkpoint", ckpt, "--blocks-dir", str(folder), "--out", str(tmp_path / "e")]) == 2
    one_line_error(capsys, "ValidationNoisyBlocksRaw.mat", "even sides")
    ints = (np.ones((3, 2, 32, 32)) * 20000).astype(np.uint16)
    scipy.io.savemat(folder / "ValidationNoisyBlocksRaw.mat", {"ValidationNoisyBlocksRaw": ints})
    assert main(["evaluate", "--checkpoint", ckpt, "--blocks-dir", str(folder), "--out", str(tmp_path / "e")]) == 2
    one_line_error(capsys, "ValidationNoisyBlocksRaw.mat", "uint16")
    assert not (tmp_path / "e").exists()


def test_pickled_nan_and_integer_mosaics_are_refused(tmp_path, capsys):
    cases = {
        "pickled": (np.array([{"a": 1}], dtype=object), "not a plain numeric .npy"),
        "nan": (np.full((96, 96), np.nan, np.float32), "NaN or infinite"),
        "uint16": (np.full((96, 96), 20000, np.uint16), "uint16"),
    }
    for name, (array, message) in cases.items():
        folder = tmp_path / name
        folder.mkdir()
        np.save(folder / "m.npy", array, allow_pickle=True)
        assert train(folder, tmp_path / f"run-{name}") == 2
        one_line_error(capsys, folder / "m.npy", message)


@pytest.mark.parametrize("flags, message", [(["--crop", "63"], "--crop 63"), (["--crop", "0"], "--crop 0"),
                                            (["--log-every", "0"], "--log-every 0"), (["--data-pattern", "XYZW"], "--data-pattern"),
                                            (["--steps-per-epoch", "-5"], "--steps-per-epoch -5"), (["--epochs", "0"], "--epochs 0"),
                                            (["--balance-crops", "--balance-planes"], "--balance-planes True: excludes --balance-crops"),
                                            (["--keep-local-means", "32"], "--keep-local-means 32: needs --residual"),
                                            (["--residual", "--keep-local-means", "12"], "--keep-local-means 12: must be 0 or a divisor of 32")])  # fmt: skip
def test_invalid_flags_are_one_line_errors_before_any_work(tmp_path, capsys, flags, message):
    folder = mosaic_folder(tmp_path, np.random.default_rng(0).random((96, 96), dtype=np.float32))
    assert train(folder, tmp_path / "run", *flags) == 2
    one_line_error(capsys, message)
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_flag_prefixes_are_not_guessed(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--data", str(tmp_path), "--epoch", "1"])
    assert exc.value.code == 2 and "unrecognized arguments: --epoch" in capsys.readouterr().err


def test_unwritable_output_and_full_disk_are_one_line(tmp_path, capsys, monkeypatch):
    folder = mosaic_folder(tmp_path, np.random.default_rng(0).random((96, 96), dtype=np.float32))
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert train(folder, blocker / "run") == 2
    one_line_error(capsys, blocker)

    def full_disk(obj, f, *args, **kwargs):
        with open(f, "wb") as fh:
            fh.write(b"\0" * 100)
        raise OSError(errno.ENOSPC, "No space left on device", str(f))

    monkeypatch.setattr(torch, "save", full_disk)
    out = tmp_path / "full"
    assert train(folder, out) == 2
    one_line_error(capsys, "No space left on device", out / "checkpoints")
    assert leftovers(out) == [] and not list((out / "checkpoints").glob("*.pt"))


def test_truncated_dng_and_bad_tile(tmp_path, ckpt, capsys):
    write_test_dng(tmp_path / "whole.dng", "RGGB", shape=(64, 96))
    data = (tmp_path / "whole.dng").read_bytes()
    (tmp_path / "cut.dng").write_bytes(data[: len(data) // 3])
    assert main(["denoise", str(tmp_path / "cut.dng"), "--checkpoint", ckpt]) == 2
    one_line_error(capsys, "cut.dng")
    assert main(["denoise", str(tmp_path / "whole.dng"), "--checkpoint", ckpt, "--tile", "0"]) == 2
    one_line_error(capsys, "--tile 0")
    assert not (tmp_path / "whole_denoised.dng").exists() and leftovers(tmp_path) == []


def test_checkpoints_that_must_not_load(tmp_path, capsys):
    folder = tmp_path / "blocks"
    write_block_dir(folder)
    other = UNet(UNetConfig(width=8))
    state = {"format": "n2n_raw.checkpoint/1", "model": other.state_dict(), "step": 1,
             "model_config": UNetConfig(width=16).to_dict(), "train_config": {}}  # fmt: skip
    torch.save(state, tmp_path / "other.pt")
    assert main(["evaluate", "--checkpoint", str(tmp_path / "other.pt"), "--blocks-dir", str(folder)]) == 2
    assert len(one_line_error(capsys, "other.pt", "weights do not fit")) < 400

    class Payload:
        def __reduce__(self):
            return (print, ("this ran",))

    with open(tmp_path / "evil.pt", "wb") as fh:
        pickle.dump({"format": "n2n_raw.checkpoint/1", "model": Payload()}, fh)
    assert main(["evaluate", "--checkpoint", str(tmp_path / "evil.pt"), "--blocks-dir", str(folder)]) == 2
    line = one_line_error(capsys, "evil.pt", "refused")
    assert "weights_only=False" not in line and "this ran" not in capsys.readouterr().out

    # Files of another kind are named as such, not as refused code: a text file, an empty one, a cut zip.
    (tmp_path / "notes.pt").write_text("garbage\n")
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "cut.pt").write_bytes((tmp_path / "other.pt").read_bytes()[:1000])
    for name, needle in (
        ("notes.pt", "not a PyTorch file: it starts with b'garb'"),
        ("empty.pt", "not a PyTorch file: an empty file"),
        ("cut.pt", "not a readable checkpoint"),
    ):
        assert main(["evaluate", "--checkpoint", str(tmp_path / name), "--blocks-dir", str(folder)]) == 2
        assert "refused" not in one_line_error(capsys, name, needle)


def test_unknown_phone_in_blocks_info_names_the_file(tmp_path, ckpt, capsys):
    folder = tmp_path / "blocks"
    write_block_dir(folder)
    (folder / "blocks_info.json").write_text('{"validation": ["0001_001_XX_00100_00060_3200_L", "a", "b"]}')
    assert main(["evaluate", "--checkpoint", ckpt, "--blocks-dir", str(folder)]) == 2
    one_line_error(capsys, "blocks_info.json", "XX")


def test_submission_refusals_come_before_the_network_and_leave_nothing(tmp_path, ckpt, capsys):
    folder = tmp_path / "blocks"
    write_block_dir(folder)
    noisy = scipy.io.loadmat(folder / "BenchmarkNoisyBlocksRaw.mat")["BenchmarkNoisyBlocksRaw"]
    scipy.io.savemat(folder / "BenchmarkNoisyBlocksRaw.mat", {"BenchmarkNoisyBlocksRaw": noisy.astype(np.float64)})
    out = tmp_path / "submit"
    assert main(["submit", "--checkpoint", ckpt, "--blocks-dir", str(folder), "--out", str(out)]) == 2
    one_line_error(capsys, "BenchmarkNoisyBlocksRaw.mat", "float64")
    assert not out.exists() or list(out.iterdir()) == []
    out.mkdir(exist_ok=True)
    (out / "SubmitRaw.csv").write_text("old")
    assert main(["submit", "--checkpoint", "missing.pt", "--blocks-dir", str(folder), "--out", str(out)]) == 2
    one_line_error(capsys, "SubmitRaw.csv", "already exists")  # refused before the checkpoint is even read


def test_binary_tail_in_a_csv_is_reported_not_raised(tmp_path, capsys):
    path = tmp_path / "SubmitRaw.csv"
    path.write_bytes(b"ID,BLOCK\n" + b"".join(b"%d,AAAA\n" % k for k in range(3000)) + bytes(range(128, 256)))
    assert main(["check-submission", str(path)]) == 1
    out = capsys.readouterr().out
    assert "not ASCII CSV text" in out and "NOT a valid SIDD raw submission" in out


def test_prepare_sidd_refuses_an_odd_image_before_writing(tmp_path, capsys):
    root = tmp_path / "SIDD_Medium_Raw"
    write_medium_instance(
        root / "Data", "0001_001_S6_00100_00060_3200_L", mosaic_of("GRBG", 64, 64), metadata_cfa="GRBG"
    )
    write_medium_instance(
        root / "Data", "0002_001_S6_00100_00060_3200_L", mosaic_of("GRBG", 64, 64)[:, :63], metadata_cfa="GRBG"
    )
    out = tmp_path / "prepared"
    assert (
        main(["prepare-sidd", "--sidd-root", str(root), "--out", str(out), "--crop-size", "32", "--stride", "32"]) == 2
    )
    one_line_error(capsys, "0002_NOISY_RAW_010.MAT", "even sides")
    assert not out.exists() or list(out.iterdir()) == []


def test_prepare_images_with_nothing_usable_writes_nothing(tmp_path, capsys):
    from PIL import Image

    src = tmp_path / "images"
    src.mkdir()
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(src / "small.png")
    out = tmp_path / "prepared"
    assert main(["prepare-images", "--input-dir", str(src), "--out", str(out)]) == 2
    one_line_error(capsys, src)
    assert not (out / "images.bin").exists() and leftovers(tmp_path) == []


def test_an_unknown_cfa_pattern_in_any_flag_is_one_line_naming_the_flag(tmp_path, capsys):
    blocks = ["--checkpoint", "identity", "--blocks-dir", str(tmp_path)]
    for flag, args in (("--pattern", ["prepare-sidd", "--sidd-root", str(tmp_path), "--pattern", "XYZW"]),
                       ("--pattern", ["prepare-raw", str(tmp_path), "--out", str(tmp_path / "o"), "--pattern", "XYZW"]),
                       ("--cfa-target", ["evaluate", *blocks, "--cfa-target", "XYZW"])):  # fmt: skip
        assert main(args) == 2
        one_line_error(capsys, f"{flag} XYZW: unknown CFA pattern 'XYZW'")
