"""Training: one readable loop for both tracks (packed raw and synthetic-noise sRGB).

The recipe is :class:`n2n_raw.train_config.TrainConfig`. A run is set up once (:func:`setup`: model,
optimiser, data, resume), then goes epoch by epoch (:func:`run_epoch`: the steps; :func:`end_of_epoch`:
validation and checkpoint). Run it with ``n2n-raw train …``, or ``torchrun --nproc_per_node N -m n2n_raw
train …`` for several processes (DistributedDataParallel; NCCL on GPUs, gloo on CPU; rank 0 alone writes
logs and checkpoints).

Guarantees: the run folder has one writer (:class:`n2n_raw.runlock.RunLock`); every file is written
atomically; a resumed run is bit-identical to an uninterrupted one on the CPU and its ``metrics.jsonl`` is cut
back to the checkpoint it resumed from; a loss that is not finite, or jumps far above its recent values,
stops the run before a checkpoint is written (:class:`DivergenceGuard`), so the last checkpoint stays good.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from . import checkpoint as ckpt
from .atomic import atomic_write_text, remove_stale_temporaries
from .config import from_dict, to_dict
from .data import EpochSampler, derive_seed
from .device import Runtime
from .distributed import DistributedContext
from .errors import CheckpointError, N2NError
from .loss import LossTerms, Neighbor2NeighborLoss
from .runlock import RunLock
from .schedules import GammaSchedule, LrSchedule
from .steps import DivergenceGuard, WeightAverage, make_optimizer, training_step
from .train_config import TrainConfig
from .train_data import initial_model, make_dataset, make_noise, make_validator, split_holdout, warn_small_subimages

log = logging.getLogger("n2n_raw.train")


@dataclass
class TrainingRun:
    """Everything a run holds while it trains; ``step``/``epoch``/``batch_in_epoch`` are its position."""

    config: TrainConfig
    dist: DistributedContext
    runtime: Runtime
    model: torch.nn.Module
    train_model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    dataset: Any
    data: ckpt.TrainingData
    sampler: EpochSampler
    total_steps: int
    gamma_at: GammaSchedule
    lr_at: LrSchedule
    validator: Callable[[torch.nn.Module], dict] | None
    add_noise: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None
    criterion: Neighbor2NeighborLoss = field(default_factory=Neighbor2NeighborLoss)
    guard: DivergenceGuard = field(default_factory=DivergenceGuard)
    ema: WeightAverage | None = None
    step: int = 0
    epoch: int = 1
    batch_in_epoch: int = 0
    last: dict = field(default_factory=dict)
    checkpoint_path: Path | None = None
    metrics: Any = None

    @property
    def out(self) -> Path:
        return Path(self.config.out)

    board: Any = None

    def log_record(self, record: dict) -> None:
        if self.metrics is not None:
            self.metrics.write(json.dumps(record) + "\n")
            self.metrics.flush()
        if self.board is not None:
            for key, value in record.items():
                if key not in ("step", "epoch") and isinstance(value, (int, float)) and math.isfinite(value):
                    group = "validation" if key.startswith("val_") else "train"
                    self.board.add_scalar(f"{group}/{key.removeprefix('val_')}", value, record["step"])
            self.board.flush()

    def save(self) -> None:
        """Checkpoint the current position (rank 0)."""
        if not self.dist.is_main:
            return
        state = ckpt.checkpoint_state(self.model, self.optimizer, self.config, self.data, self.model.config,
                                      self.step, self.epoch, self.batch_in_epoch)  # fmt: skip
        if self.ema is not None:
            state["ema_model"] = self.ema.model.state_dict()
        self.checkpoint_path = ckpt.save_checkpoint(self.out / "checkpoints", state)


def _checkpoint_to_resume(config: TrainConfig) -> Path | None:
    if not config.resume:
        return None
    if config.resume == "auto":
        p = Path(config.out) / "checkpoints" / "latest.pt"
        return p if p.is_file() else None
    return Path(config.resume)


def _restore(run: TrainingRun, path: Path) -> None:
    """Continue from a checkpoint: weights, optimiser, position in the data stream."""
    state = ckpt.load_checkpoint(path, map_location=run.runtime.device)
    stored = from_dict(TrainConfig, state["train_config"])
    if stored.track != run.config.track:
        raise CheckpointError(f"{path}: trained on track {stored.track}, not {run.config.track}")
    _load_weights(run.model, state, path)
    if run.ema is not None:
        run.ema.model.load_state_dict(state.get("ema_model", state["model"]))
    run.optimizer.load_state_dict(state["optimizer"])
    run.step, run.epoch, run.batch_in_epoch = state["step"], state["epoch"], state["batch_in_epoch"]
    if run.dist.is_main:
        log.info("resumed from %s at step %d (epoch %d, batch %d)", path, run.step, run.epoch, run.batch_in_epoch)


def _load_weights(model: torch.nn.Module, state: dict, path: Path) -> None:
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        first = next((s.strip() for s in str(exc).splitlines() if s.strip()), "")
        raise CheckpointError(f"{path}: weights do not fit this run's network ({first[:160]})") from None


def _trim_metrics(path: Path, step: int) -> None:
    """Drop the records of steps after ``step``: done after the checkpoint a run resumes from (or, for a run
    that starts afresh, e.g. killed before its first checkpoint, all of them), and redone now."""
    if not path.is_file():
        return
    kept = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line).get("step", 0) <= step]
    atomic_write_text(path, "".join(line + "\n" for line in kept))


def setup(config: TrainConfig, dist: DistributedContext) -> TrainingRun:
    """Model, optimiser, data and validation of a run, resumed or initialised as the configuration says."""
    if config.batch_size % dist.world_size:
        raise N2NError(f"--batch-size {config.batch_size} is not divisible by {dist.world_size} processes")
    runtime = Runtime.resolve(dist.device, config.amp, config.channels_last)
    torch.manual_seed(config.seed)  # the initial weights, identical on every rank
    model = runtime.prepare(initial_model(config))
    if runtime.device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed crop size: pick the fastest kernels once
    dataset, data = make_dataset(config)
    dataset, held_out = split_holdout(dataset, config.holdout)
    warn_small_subimages(config)
    local_batch = config.batch_size // dist.world_size
    sampler = EpochSampler(len(dataset), local_batch, config.seed, dist.rank, dist.world_size, config.steps_per_epoch)
    total_steps = config.epochs * sampler.num_batches
    total_steps = min(total_steps, config.max_steps) if config.max_steps else total_steps
    run = TrainingRun(
        config, dist, runtime, model, model, make_optimizer(model, config, runtime.device), dataset, data, sampler,
        total_steps, config.gamma_schedule_fn(), config.lr_schedule_fn(total_steps),
        make_validator(config, data, runtime, held_out) if dist.is_main else None, make_noise(config),
    )  # fmt: skip
    run.criterion = Neighbor2NeighborLoss(balance_crops=config.balance_crops, balance_planes=config.balance_planes)
    run.ema = WeightAverage(model, config.ema_decay) if config.ema_decay > 0 else None
    resume_path = _checkpoint_to_resume(config)
    if resume_path is not None:
        _restore(run, resume_path)
    if dist.is_main:  # the log holds this run's steps only: none after the point it starts from
        _trim_metrics(run.out / "metrics.jsonl", run.step)
    run.train_model = dist.wrap(model)
    if config.compile:
        run.train_model = torch.compile(run.train_model)
    return run


def _log_step(run: TrainingRun, terms: LossTerms, gamma: float, lr: float, seconds: float) -> None:
    """A log line (rank 0): the only host-device synchronisation of the loop."""
    loss = terms.total.item()
    run.guard.check(run.step, terms.unweighted.item())
    run.last = {"step": run.step, "epoch": run.epoch, "loss": loss, "reconstruction": terms.reconstruction.item(),
                "regularizer": terms.regularizer.item(), "gamma": gamma, "lr": lr,
                "ms_per_step": round(seconds * 1000 / run.config.log_every, 2)}  # fmt: skip
    run.log_record(run.last)


def run_epoch(run: TrainingRun, bar: tqdm) -> LossTerms | None:
    """The steps of one epoch from the current position; returns the last step's loss terms."""
    config, device = run.config, run.runtime.device
    gamma = run.gamma_at(run.epoch)  # γ is constant within an epoch, as in the official code
    run.sampler.set_epoch(run.epoch, run.batch_in_epoch)
    loader = torch.utils.data.DataLoader(run.dataset, batch_size=run.sampler.batch_size, sampler=run.sampler,
                                         num_workers=config.num_workers, pin_memory=device.type == "cuda",
                                         drop_last=True)  # fmt: skip
    generator, terms, tick = torch.Generator(device=device), None, time.perf_counter()
    for batch in loader:
        lr = run.lr_at(run.epoch, run.step)
        for group in run.optimizer.param_groups:
            group["lr"] = lr
        # The sampler's draws (and sRGB noise) are a function of (seed, rank, step).
        generator.manual_seed(derive_seed(config.seed, run.dist.rank, run.step))
        noisy = batch["noisy"] if "noisy" in batch else None
        if noisy is None:
            noisy = run.add_noise(batch["clean"].to(device, non_blocking=True), generator)
        noisy = run.runtime.layout(noisy.to(device, non_blocking=True))
        terms = training_step(
            run.train_model, run.criterion, run.optimizer, noisy, generator, gamma, run.runtime, config.clip_grad_norm
        )
        if run.ema is not None:
            run.ema.update(run.model, run.step)
        run.step += 1
        run.batch_in_epoch += 1
        bar.update(1)
        if run.dist.is_main and (run.step % config.log_every == 0 or run.step == run.total_steps):
            _log_step(run, terms, gamma, lr, time.perf_counter() - tick)
            bar.set_postfix(loss=f"{run.last['loss']:.3g}", gamma=gamma)
            tick = time.perf_counter()
        # A step checkpoint inside the epoch; the epoch's last step is saved after its validation.
        if (
            config.checkpoint_every
            and run.step % config.checkpoint_every == 0
            and run.batch_in_epoch < run.sampler.num_batches
        ):
            run.guard.check(run.step, terms.unweighted.item())
            run.save()
        if run.step >= run.total_steps:
            break
    return terms


def end_of_epoch(run: TrainingRun, terms: LossTerms | None) -> None:
    """Validation (rank 0, every ``validate_every`` epochs and at the end), then the checkpoint."""
    config, finished = run.config, run.step >= run.total_steps
    epoch_done = run.batch_in_epoch == run.sampler.num_batches
    if terms is not None and run.dist.is_main:
        run.guard.check(run.step, terms.unweighted.item())  # never checkpoint a diverged model
    if run.validator is not None and (epoch_done or finished) and (run.epoch % config.validate_every == 0 or finished):
        validated = run.ema.model if run.ema is not None else ckpt.unwrap(run.model)
        validated.eval()
        with torch.no_grad():
            result = run.validator(validated)
        run.model.train()
        record = {"step": run.step, "epoch": run.epoch, **{f"val_{k}": v for k, v in result.items()}}
        run.log_record(record)
        if run.board is not None and hasattr(run.validator, "sheet"):
            with torch.no_grad():
                run.board.add_image(
                    "validation/contact_sheet", run.validator.sheet(validated), run.step, dataformats="HWC"
                )
        run.last.update(record)
        tqdm.write(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()))
    if epoch_done:
        run.epoch, run.batch_in_epoch = run.epoch + 1, 0
    every = config.checkpoint_every
    if not every or finished or (epoch_done and run.step % every == 0):
        run.save()
    run.dist.barrier()


def open_tensorboard(out: Path):
    """A TensorBoard writer under ``<out>/tensorboard``, or a one-line error saying how to install it."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise N2NError("--tensorboard needs the tensorboard package: pip install -e '.[tensorboard]'") from None
    return SummaryWriter(log_dir=str(out / "tensorboard"))


def train(config: TrainConfig, dist: DistributedContext | None = None) -> dict[str, Any]:
    """Train; returns a summary (final step, last metrics, checkpoint path)."""
    dist = dist or DistributedContext.from_environment(config.device)
    out = Path(config.out)
    with RunLock(out, enabled=dist.is_main):
        if dist.is_main:
            remove_stale_temporaries(out)
            remove_stale_temporaries(out / "checkpoints")
        run = setup(config, dist)
        if dist.is_main:
            atomic_write_text(out / "config.json", json.dumps(to_dict(config), indent=2))
            log.info("training %s on %s: %d items, %d batches/epoch, %d steps",
                     config.track, run.runtime.describe(), len(run.dataset), run.sampler.num_batches, run.total_steps)  # fmt: skip
        bar = tqdm(total=run.total_steps, initial=run.step, disable=not dist.is_main, desc="train", unit="step")
        run.metrics = open(out / "metrics.jsonl", "a") if dist.is_main else None
        run.board = open_tensorboard(out) if dist.is_main and config.tensorboard else None
        try:
            while run.epoch <= config.epochs and run.step < run.total_steps:
                end_of_epoch(run, run_epoch(run, bar))
        finally:
            bar.close()
            if run.metrics is not None:
                run.metrics.close()
            if run.board is not None:
                run.board.close()
        if dist.is_main and (out / "metrics.jsonl").is_file():
            from .curves import plot_curves

            plot_curves(out / "metrics.jsonl", out / "curves.png")
    path = run.checkpoint_path
    return {"step": run.step, "epoch": run.epoch, "metrics": run.last, "checkpoint": str(path) if path else None}
