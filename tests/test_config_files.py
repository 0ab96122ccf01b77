"""--config FILE: a run's config.json repeats the run, flags override the file, unknown keys are refused."""

from __future__ import annotations

import json

import numpy as np

from n2n_raw.cli import main


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
