"""Training end to end through the real CLI: checkpoints, exact resume, clear errors, schedules."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from n2n_raw.checkpoint import TrainingData, load_checkpoint, load_model, read_checkpoint
from n2n_raw.cli import main
from n2n_raw.data import EpochSampler, RandomBayerCrops
from n2n_raw.train_config import TrainConfig


def run_train(mosaic_dir, out, *extra):
    args = ["train", "--data", str(mosaic_dir), "--out", str(out), "--crop", "64", "--batch-size", "2",
            "--num-workers", "0", "--log-every", "1", "--validate-every", "0", *extra]  # fmt: skip
    assert main(args) == 0


def weights(path):
    return load_checkpoint(path)["model"]


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_tiny_run_writes_checkpoint_metrics_and_config(mosaic_dir, tmp_path):
    run_train(mosaic_dir, tmp_path, "--epochs", "1", "--steps-per-epoch", "2")
    state = load_checkpoint(tmp_path / "checkpoints" / "latest.pt")
    assert state["step"] == 2 and state["model_config"]["in_channels"] == 4
    assert state["train_config"]["lr"] == 1e-4 and state["train_config"]["gamma"] == 1.0
    model, _ = load_model(tmp_path / "checkpoints" / "step_0000002.pt")
    assert model(torch.rand(1, 4, 32, 32)).shape == (1, 4, 32, 32)
    lines = [json.loads(s) for s in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [1, 2] and all(np.isfinite(r["loss"]) for r in lines)
    assert json.loads((tmp_path / "checkpoints" / "latest.json").read_text())["step"] == 2
    assert json.loads((tmp_path / "config.json").read_text())["crop"] == 64


def test_balance_crops_reaches_the_loss_and_is_recorded(mosaic_dir, tmp_path):
    common = ("--epochs", "1", "--steps-per-epoch", "2")
    run_train(mosaic_dir, tmp_path / "plain", *common)
    run_train(mosaic_dir, tmp_path / "balanced", *common, "--balance-crops")
    balanced = load_checkpoint(tmp_path / "balanced/checkpoints/latest.pt")
    assert balanced["train_config"]["balance_crops"] is True
    plain = weights(tmp_path / "plain/checkpoints/latest.pt")
    # same seed, same crops: only the loss weighting differs, and it changes the update
    assert any(not torch.equal(plain[k], balanced["model"][k]) for k in plain)
    run_train(mosaic_dir, tmp_path / "planes", *common, "--balance-planes")
    planes = load_checkpoint(tmp_path / "planes/checkpoints/latest.pt")
    assert planes["train_config"]["balance_planes"] is True and planes["train_config"]["balance_crops"] is False
    assert any(not torch.equal(planes["model"][k], balanced["model"][k]) for k in plain)


def test_init_with_keep_local_means_switches_it_on_and_records_it(mosaic_dir, tmp_path, capsys):
    common = ("--epochs", "1", "--steps-per-epoch", "1")
    run_train(mosaic_dir, tmp_path / "base", *common, "--residual", "--init-scale", "1", "--zero-output-init")
    run_train(mosaic_dir, tmp_path / "ft", *common, "--init", str(tmp_path / "base/checkpoints/latest.pt"),
              "--keep-local-means", "16")  # fmt: skip
    model, info = load_model(tmp_path / "ft/checkpoints/latest.pt")
    assert info.model_config.keep_local_means == 16 and info.model_config.residual
    x = torch.rand(1, 4, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x).mean(dim=(2, 3)), x.mean(dim=(2, 3)), atol=1e-6, rtol=0)
    run_train(mosaic_dir, tmp_path / "plain", *common)  # the official network: no identity path
    args = ["train", "--data", str(mosaic_dir), "--out", str(tmp_path / "bad"), "--crop", "64", "--num-workers", "0",
            "--init", str(tmp_path / "plain/checkpoints/latest.pt"), "--keep-local-means", "16"]  # fmt: skip
    assert main(args) == 2
    assert "--keep-local-means needs a model with the identity path" in capsys.readouterr().err


def test_resume_at_an_epoch_boundary_is_exact(mosaic_dir, tmp_path):
    common = ("--epochs", "2", "--steps-per-epoch", "2", "--augment")
    run_train(mosaic_dir, tmp_path / "straight", *common)
    run_train(mosaic_dir, tmp_path / "split", *common, "--max-steps", "2")
    assert load_checkpoint(tmp_path / "split" / "checkpoints" / "latest.pt")["step"] == 2
    run_train(mosaic_dir, tmp_path / "split", *common, "--resume", "auto")
    assert_same_weights(
        weights(tmp_path / "straight/checkpoints/latest.pt"), weights(tmp_path / "split/checkpoints/latest.pt")
    )


def test_resume_mid_epoch_is_exact(mosaic_dir, tmp_path):
    common = ("--epochs", "1", "--steps-per-epoch", "4")
    run_train(mosaic_dir, tmp_path / "straight", *common)
    run_train(mosaic_dir, tmp_path / "split", *common, "--max-steps", "2")
    state = load_checkpoint(tmp_path / "split" / "checkpoints" / "latest.pt")
    assert (state["epoch"], state["batch_in_epoch"]) == (1, 2)
    run_train(mosaic_dir, tmp_path / "split", *common, "--resume", str(tmp_path / "split/checkpoints/latest.pt"))
    final = load_checkpoint(tmp_path / "split" / "checkpoints" / "latest.pt")
    assert final["step"] == 4
    assert_same_weights(weights(tmp_path / "straight/checkpoints/latest.pt"), final["model"])


def test_missing_and_corrupt_checkpoints_give_one_line_errors(mosaic_dir, tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x80\x02not a checkpoint at all")
    for path in (tmp_path / "missing.pt", bad):
        code = main(
            ["train", "--data", str(mosaic_dir), "--out", str(tmp_path / "r"), "--resume", str(path), "--crop", "64"]
        )
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1 and str(path) in err, err


def test_truncated_checkpoint_is_refused(mosaic_dir, tmp_path):
    run_train(mosaic_dir, tmp_path, "--epochs", "1", "--steps-per-epoch", "1")
    good = (tmp_path / "checkpoints" / "latest.pt").read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good[: len(good) // 2])
    with pytest.raises(Exception, match="cut.pt"):
        load_checkpoint(cut)


def test_unknown_flag_is_an_error(mosaic_dir, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--data", str(mosaic_dir), "--learning-rate", "1"])
    assert exc.value.code == 2


def test_learning_rate_schedule_is_the_official_one():
    cfg = TrainConfig(track="srgb")
    assert cfg.lr == 3e-4 and cfg.gamma_schedule == "ramp"
    lr_at = cfg.lr_schedule_fn(total_steps=100)
    lrs = {e: lr_at(e, step=0) for e in (1, 19, 20, 39, 40, 60, 80, 100)}
    assert lrs == pytest.approx(
        {1: 3e-4, 19: 3e-4, 20: 1.5e-4, 39: 1.5e-4, 40: 7.5e-5, 60: 3.75e-5, 80: 1.875e-5, 100: 1.875e-5}
    )
    # Other lengths follow the official int(20·ratio) − 1 rule: 50 epochs halve after epochs 9, 19, 29, 39.
    half = TrainConfig(track="srgb", epochs=50).lr_schedule_fn(total_steps=50)
    assert [half(e, 0) for e in (9, 10, 19, 20, 40)] == pytest.approx([3e-4, 1.5e-4, 1.5e-4, 7.5e-5, 1.875e-5])
    raw = TrainConfig()
    assert (raw.lr, raw.gamma_schedule, raw.gamma) == (1e-4, "constant", 1.0)


def test_data_stream_is_deterministic_and_keeps_even_offsets():
    mosaic = np.tile(np.array([[0, 1], [1, 2]], np.float32), (40, 50))  # RGGB colour codes R=0, G=1, B=2
    ds = RandomBayerCrops([mosaic], crop=32, augment=True, seed=3)
    for key in [(e, 0) for e in range(1, 9)]:
        packed = ds[key]["noisy"].numpy()
        assert [np.unique(packed[c]).tolist() for c in range(4)] == [[0], [1], [1], [2]]
    assert torch.equal(ds[(5, 0)]["noisy"], ds[(5, 0)]["noisy"])
    s0 = EpochSampler(10, 2, seed=1, rank=0, world_size=2)
    s1 = EpochSampler(10, 2, seed=1, rank=1, world_size=2)
    a, b = [i for _, i in s0], [i for _, i in s1]
    assert len(a) == len(b) == 4 and not set(a) & set(b)


def test_random_phase_crops_show_every_bayer_phase_and_stay_whole_pixels():
    mosaic = np.tile(np.array([[0, 1], [1, 2]], np.float32), (40, 50))  # RGGB colour codes R=0, G=1, B=2
    ds = RandomBayerCrops([mosaic], crop=32, augment=True, seed=3, random_phase=True)
    phases = set()
    for key in [(e, 0) for e in range(1, 41)]:
        packed = ds[key]["noisy"].numpy()
        planes = [np.unique(packed[c]).tolist() for c in range(4)]
        assert all(len(p) == 1 for p in planes), planes  # each plane is still one colour
        phases.add(tuple(p[0] for p in planes))
    # RGGB, GRBG, GBRG and BGGR as colour codes of the planes (0,0), (0,1), (1,0), (1,1).
    assert phases == {(0, 1, 1, 2), (1, 0, 2, 1), (1, 2, 0, 1), (2, 1, 1, 0)}


def test_random_phase_training_is_recorded_and_selects_native_packing(mosaic_dir, tmp_path):
    from n2n_raw.inference import cfa_mode_for

    run_train(mosaic_dir, tmp_path / "run", "--epochs", "1", "--max-steps", "1", "--cfa-phase", "random")
    info = read_checkpoint(tmp_path / "run" / "checkpoints" / "latest.pt")
    assert info.train_config.cfa_phase == "random" and info.data.cfa_phase == "random"
    assert cfa_mode_for(info.data) == "native" and cfa_mode_for(TrainingData()) == "unify"


@pytest.mark.parametrize("flags, native", [
    ({"avx2", "fma"}, False), ({"avx512f", "avx512_bf16"}, True), ({"avx512f", "amx_bf16", "amx_tile"}, True),
    (set(), False)])  # fmt: skip
def test_amp_auto_is_bf16_only_where_the_cpu_runs_it_natively(monkeypatch, caplog, flags, native):
    import n2n_raw.device as device

    monkeypatch.setattr(device, "cpu_flags", lambda: flags)
    cpu = torch.device("cpu")
    assert device.native_bf16(cpu) is native
    assert device.use_bf16("auto", cpu) is native
    assert device.use_bf16("off", cpu) is False and device.use_bf16("bf16", cpu) is True
    # Training and inference alike: AVX-512 BF16 without AMX trains as well in bf16 (benchmarks/STABILITY.md).
    assert device.Runtime.resolve("cpu", "auto").bf16 is native
    from n2n_raw.inference import InferenceOptions

    assert InferenceOptions(device="cpu", amp="auto").resolve().runtime.bf16 is native
    # Forcing bf16 where it is emulated works, and says that it is slow.
    caplog.clear()
    with caplog.at_level("WARNING", logger="n2n_raw.device"):
        assert device.Runtime.resolve("cpu", "bf16").bf16
    assert ("emulated" in caplog.text) is not native
