"""What a run guarantees beyond the recipe: one writer per run folder, a diverging loss stops before it is
saved, a resumed log has no duplicate steps, stale temporary files are cleared; and the recipe's options
(warm-up, cosine, clipping, identity path, weight average) do what they say. Real CLI runs on tiny data."""

from __future__ import annotations

import json
import math
import traceback

import pytest
import torch

from n2n_raw.checkpoint import load_checkpoint, load_model, read_checkpoint
from n2n_raw.cli import main
from n2n_raw.model import UNet, UNetConfig
from n2n_raw.runlock import RunLock
from n2n_raw.schedules import LrSchedule
from n2n_raw.steps import DivergenceGuard, TrainingDiverged
from n2n_raw.train_config import TrainConfig


def train_args(mosaic_dir, out, *extra):
    return ["train", "--data", str(mosaic_dir), "--out", str(out), "--crop", "64", "--batch-size", "2",
            "--num-workers", "0", "--log-every", "1", "--validate-every", "0", *extra]  # fmt: skip


def test_a_second_writer_is_refused_and_named(mosaic_dir, tmp_path, capsys):
    with RunLock(tmp_path):
        assert main(train_args(mosaic_dir, tmp_path, "--epochs", "1", "--steps-per-epoch", "1")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "in use by pid" in err[0] and str(tmp_path) in err[0]
    assert not (tmp_path / "checkpoints").exists()
    # The lock dies with its holder: the next run takes it.
    assert main(train_args(mosaic_dir, tmp_path, "--epochs", "1", "--steps-per-epoch", "1")) == 0


def test_divergence_stops_the_run_and_keeps_the_last_good_checkpoint(mosaic_dir, tmp_path, capsys):
    common = ("--epochs", "3", "--steps-per-epoch", "3")
    assert main(train_args(mosaic_dir, tmp_path, *common, "--max-steps", "3")) == 0
    good = load_checkpoint(tmp_path / "checkpoints" / "latest.pt")
    capsys.readouterr()
    # Resumed with an absurd learning rate, the loss explodes within the next epoch.
    assert main(train_args(mosaic_dir, tmp_path, *common, "--resume", "auto", "--lr", "100")) == 2
    assert "training diverged" in capsys.readouterr().err
    after = load_checkpoint(tmp_path / "checkpoints" / "latest.pt")
    assert after["step"] == good["step"] == 3
    assert all(torch.equal(after["model"][k], good["model"][k]) for k in good["model"])


def test_divergence_guard_rule():
    guard = DivergenceGuard()  # 20 × the median of the last 10 logged losses
    for k, loss in enumerate([0.01, 0.008, 0.009, 0.007, 0.02, 0.15]):  # a 17x rise is still allowed
        guard.check(k, loss)
    with pytest.raises(TrainingDiverged, match="jumped"):
        guard.check(6, 41.7)
    with pytest.raises(TrainingDiverged, match="nan"):
        DivergenceGuard().check(0, math.nan)


def test_resume_cuts_the_log_back_to_the_checkpoint_and_clears_stale_temporaries(mosaic_dir, tmp_path):
    common = ("--epochs", "2", "--steps-per-epoch", "3")
    assert main(train_args(mosaic_dir, tmp_path, *common, "--max-steps", "3")) == 0
    # As if the run had gone on to steps 4-5 and been killed before its next checkpoint.
    with open(tmp_path / "metrics.jsonl", "a") as fh:
        fh.write(json.dumps({"step": 4, "loss": 1.0}) + "\n" + json.dumps({"step": 5, "loss": 1.0}) + "\n")
    stale = tmp_path / "checkpoints" / ".latest.pt.abc123.tmp"
    stale.write_bytes(b"half a checkpoint")
    assert main(train_args(mosaic_dir, tmp_path, *common, "--resume", "auto")) == 0
    steps = [json.loads(s)["step"] for s in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6] and not stale.exists()


def test_warmup_then_step_or_cosine_schedule():
    step = LrSchedule(1e-3, epochs=8, kind="step", milestones=(62, 87), warmup_steps=4, total_steps=80)
    assert [step(1, s) for s in range(5)] == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3])
    assert [step(e, 40) for e in (4, 5, 6, 7)] == pytest.approx([1e-3, 5e-4, 5e-4, 2.5e-4])
    cos = LrSchedule(1e-3, epochs=8, kind="cosine", warmup_steps=10, total_steps=110)
    assert cos(1, 10) == pytest.approx(1e-3) and cos(5, 60) == pytest.approx(5e-4) and cos(8, 110) == pytest.approx(0.0)


def test_invalid_configurations_are_refused_where_they_are_made():
    for bad in ({"crop": 63}, {"crop": 0}, {"log_every": 0}, {"epochs": 0}, {"steps_per_epoch": -5},
                {"data_pattern": "XYZW"}, {"track": "rgb"}, {"lr": -1.0}, {"ema_decay": 1.0}):  # fmt: skip
        with pytest.raises(Exception, match="--"):
            TrainConfig(**bad)


def test_identity_path_starts_as_the_identity():
    model = UNet(UNetConfig(residual=True))
    torch.nn.init.zeros_(model.head[-1].weight)
    x = torch.rand(1, 4, 32, 32)
    assert torch.equal(model(x), x)


def test_weight_average_is_validated_stored_and_used_for_inference(mosaic_dir, tmp_path):
    assert main(train_args(mosaic_dir, tmp_path, "--epochs", "1", "--steps-per-epoch", "3", "--ema-decay", "0.9",
                           "--residual", "--init-scale", "1", "--zero-output-init", "--clip-grad-norm", "1",
                           "--warmup-steps", "2")) == 0  # fmt: skip
    state = load_checkpoint(tmp_path / "checkpoints" / "latest.pt")
    assert "ema_model" in state and any(
        not torch.equal(state["ema_model"][k], state["model"][k]) for k in state["model"]
    )
    model, info = load_model(tmp_path / "checkpoints" / "latest.pt")
    assert info.model_config.residual and info.train_config.ema_decay == 0.9
    assert info.model_config.zero_output_init and info.model_config.init_scale == 1.0
    assert float(state["model"]["head.4.weight"].abs().max()) > 0  # the zero output layer trained from step 1
    assert all(torch.equal(v, state["ema_model"][k]) for k, v in model.state_dict().items())
    assert read_checkpoint(tmp_path / "checkpoints" / "latest.pt").train_config.clip_grad_norm == 1.0


def test_a_training_step_never_reads_a_value_back_to_the_host(monkeypatch):
    """The step queues work only: our code calls no .item(), .cpu(), .tolist() or float() of a tensor (which would
    make a CUDA step wait for the device). Counted on the CPU with the tensor methods patched; calls made by
    torch itself are not ours (CPU Adam reads its CPU step counter; CUDA uses the fused, device-side Adam)."""
    from n2n_raw.device import Runtime
    from n2n_raw.loss import Neighbor2NeighborLoss
    from n2n_raw.steps import WeightAverage, make_optimizer, training_step

    torch.manual_seed(0)
    model = UNet(UNetConfig(width=8))
    optimizer = make_optimizer(model, TrainConfig(), torch.device("cpu"))
    average = WeightAverage(model, 0.99)
    noisy = torch.rand(2, 4, 32, 32)
    generator = torch.Generator().manual_seed(0)
    calls = []
    for name in ("item", "cpu", "tolist", "numpy", "__float__", "__bool__", "__int__"):
        original = getattr(torch.Tensor, name)

        def spy(self, *args, _name=name, _original=original, **kwargs):
            caller = traceback.extract_stack()[-2].filename
            if "n2n_raw" in caller.replace("\\", "/").split("/")[-2:-1]:
                calls.append(f"{_name} in {caller}")
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, spy)
    runtime = Runtime(torch.device("cpu"))
    for step in range(2):
        training_step(model, Neighbor2NeighborLoss(), optimizer, noisy, generator, 1.0, runtime, clip_grad_norm=0.5)
        average.update(model, step)
    assert calls == []


def test_a_run_killed_before_its_first_checkpoint_restarts_with_a_clean_log(mosaic_dir, tmp_path):
    tmp_path.joinpath("metrics.jsonl").write_text(json.dumps({"step": 1, "loss": 9.0}) + "\n")  # the killed run's line
    assert main(train_args(mosaic_dir, tmp_path, "--epochs", "1", "--steps-per-epoch", "2", "--resume", "auto")) == 0
    steps = [json.loads(s)["step"] for s in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2]
