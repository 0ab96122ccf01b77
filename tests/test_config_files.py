"""--config FILE: a run's config.json repeats the run, flags override the file, unknown keys are refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from n2n_raw.cli import COMMANDS, main


def test_config_json_repeats_a_run_and_flags_override_it(tmp_path, capsys):
    data = tmp_path / "mosaics"
    data.mkdir()
    for k in range(3):
        np.save(data / f"m{k}.npy", np.random.default_rng(k).random((80, 80)).astype(np.float32))
    first = tmp_path / "first"
    assert main(["train", "--data", str(data), "--out", str(first), "--crop", "64", "--batch-size", "1", "--epochs", "1",
                 "--steps-per-epoch", "2", "--num-workers", "0", "--validate-every", "0", "--lr", "3e-4",
                 "--lr-milestones", "5", "7"]) == 0  # fmt: skip
    stored = json.loads((first / "config.json").read_text())
    again = tmp_path / "again"
    assert main(["train", "--config", str(first / "config.json"), "--out", str(again)]) == 0
    repeated = json.loads((again / "config.json").read_text())
    assert {**repeated, "out": None} == {**stored, "out": None}
    third = tmp_path / "third"
    assert main(["train", "--config", str(first / "config.json"), "--out", str(third), "--lr", "1e-4"]) == 0
    assert json.loads((third / "config.json").read_text())["lr"] == 1e-4  # the flag wins

    toml = tmp_path / "eval.toml"
    toml.write_text('checkpoint = "identity"\nlimit = 2\nbogus_option = 1\n')
    capsys.readouterr()
    assert main(["evaluate", "--config", str(toml)]) == 2
    err = capsys.readouterr().err
    assert "eval.toml" in err and "bogus_option" in err and len(err.strip().splitlines()) == 1


def test_tensorboard_events_are_written_and_read_back(tmp_path, mosaic_dir):
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from tests.eval_fixtures import write_block_dir

    out, blocks = tmp_path / "run", tmp_path / "blocks"
    write_block_dir(blocks, size=64)
    assert main(["train", "--data", str(mosaic_dir), "--out", str(out), "--crop", "64", "--batch-size", "2", "--epochs", "1",
                 "--steps-per-epoch", "3", "--num-workers", "0", "--log-every", "1", "--holdout", "1",
                 "--validation-dir", str(blocks), "--tensorboard"]) == 0  # fmt: skip
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/loss", "train/gamma", "train/lr", "train/ms_per_step", "validation/holdout_loss"} <= tags
    assert [e.step for e in events.Scalars("train/loss")] == [1, 2, 3]
    logged = [json.loads(s)["loss"] for s in (out / "metrics.jsonl").read_text().splitlines() if '"loss"' in s]
    assert [e.value for e in events.Scalars("train/loss")] == pytest.approx(logged, rel=1e-6)
    assert {"validation/psnr", "validation/psnr_S6", "validation/psnr_GP", "validation/psnr_IP"} <= tags
    assert events.Tags()["images"] == ["validation/contact_sheet"]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_prints_its_help(command, capsys):
    # argparse %-formats help texts, so one literal '%' in a field's help once crashed `denoise --help`.
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: n2n-raw {command}") and "--config" in out
    if command == "denoise":
        assert "denoised at 100 %," in " ".join(out.split())
