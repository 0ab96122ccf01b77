"""Training: one readable loop for both tracks (packed raw and synthetic-noise sRGB).

Defaults are the paper's raw recipe (method.md §7): Adam lr 1e-4, batch 4, 256×256 Bayer crops packed to
4×128×128, γ = 1 constant, 100 epochs, lr halved after epochs 19/39/59/79. ``--track srgb`` switches the
unset options to the official synthetic recipe (lr 3e-4, the γ ramp 0.02…2.0, 3 channels).

Run it with ``n2n-raw train …``, or ``torchrun --nproc_per_node N -m n2n_raw train …`` for several processes
(DistributedDataParallel; NCCL on GPUs, gloo on CPU; rank 0 alone writes logs and checkpoints).
"""
from __future__ import annotations

import json
import logging
import time
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import torch
from tqdm import tqdm

from . import checkpoint as ckpt
from .config import arg, from_dict, to_dict
from .data import EpochSampler, bayer_training_set, derive_seed
from .distributed import DistributedContext, native_bf16
from .errors import CheckpointError, N2NError
from .loss import GammaSchedule, LossTerms, Neighbor2NeighborLoss
from .model import UNet, UNetConfig

log = logging.getLogger("n2n_raw.train")

TRACK_DEFAULTS = {
    # Raw: the paper's raw recipe as reported (lr 1e-4, γ = 1). The paper states one constant γ.
    "raw": {"lr": 1e-4, "gamma_schedule": "constant", "gamma": 1.0, "increase_ratio": 2.0},
    # sRGB: the official train.py (lr 3e-4, Λ = epoch/n_epoch·2), which produced the released weights.
    "srgb": {"lr": 3e-4, "gamma_schedule": "ramp", "gamma": 2.0, "increase_ratio": 2.0},
}


@dataclass
class TrainConfig:
    """Everything a training run needs; stored in every checkpoint."""

    track: str = arg("raw", "raw: packed Bayer (4 channels); srgb: RGB with synthetic noise", ("raw", "srgb"))
    data: str = arg("", "raw: prepared crops (prepare-sidd) or a folder of .npy/.mat mosaics; srgb: prepared images (empty: embedded photos)")
    data_pattern: str = arg("RGGB", "CFA of a plain mosaic folder (prepared crops record their own)")
    validation_dir: str = arg("", "folder with the validation block files (raw) or Kodak/BSD300/Set14 folders (srgb); empty: none")
    out: str = arg("runs/train", "run folder: checkpoints, metrics.jsonl, config.json")
    epochs: int = arg(100, "number of epochs")
    steps_per_epoch: int = arg(0, "batches per epoch; 0 = one pass over the training set")
    max_steps: int = arg(0, "stop after this many steps in total (0 = no limit)")
    batch_size: int = arg(4, "images per step (over all processes)")
    crop: int = arg(256, "training crop side in image pixels (raw: Bayer pixels, packed to crop/2)")
    augment: bool = arg(False, "Bayer-preserving flips/transposes of raw crops (the paper uses none)")
    cfa_phase: str = arg("unified", "raw crops: unified (every crop RGGB; inference unifies blocks by padding) or random (any Bayer phase: a pattern-agnostic model, run with native packing)", ("unified", "random"))
    lr: float | None = arg(None, "Adam learning rate (default: 1e-4 raw, 3e-4 srgb)")
    weight_decay: float = arg(0.0, "Adam weight decay")
    lr_milestones: tuple[int, ...] = arg((19, 39, 59, 79), "epochs of a 100-epoch run after which lr is multiplied by lr_decay (scaled to --epochs)")
    lr_decay: float = arg(0.5, "learning-rate factor at each milestone")
    gamma_schedule: str | None = arg(None, "constant (paper) or ramp (official code: epoch/epochs*increase_ratio)", ("constant", "ramp"))
    gamma: float | None = arg(None, "γ for the constant schedule (default: 1 raw, 2 srgb)")
    increase_ratio: float | None = arg(None, "final γ of the ramp schedule (official: 2)")
    noise: str = arg("gauss25", "srgb noise model: gauss25, gauss5_50, poisson30, poisson5_50")
    fixed_noise: bool = arg(False, "srgb: one fixed noisy copy per image instead of fresh noise every batch")
    seed: int = arg(0, "seed of every random choice (data order, crops, sampler, noise)")
    device: str = arg("auto", "auto (cuda if available), cpu, cuda, cuda:N")
    amp: str = arg("auto", "bf16 autocast: auto (on where bf16 is native: CUDA, CPUs with AMX/AVX-512 BF16), bf16, off; the output layer and loss stay fp32", ("auto", "bf16", "off"))
    channels_last: str = arg("auto", "channels_last memory format: auto (on for CUDA and CPU, where it measured faster), on, off", ("auto", "on", "off"))
    compile: bool = arg(False, "wrap the model in torch.compile")
    num_workers: int = arg(2, "data-loader worker processes")
    log_every: int = arg(20, "steps between log lines")
    checkpoint_every: int = arg(0, "steps between checkpoints (0: at the end of every epoch)")
    validate_every: int = arg(1, "epochs between validations (0: never)")
    validation_limit: int = arg(0, "validate on at most this many blocks/images (0: all)")
    resume: str = arg("", "checkpoint to resume from, or 'auto' for <out>/checkpoints/latest.pt if present")

    def resolved(self) -> "TrainConfig":
        """Fill the track-dependent defaults left unset."""
        if self.track not in TRACK_DEFAULTS:
            raise N2NError(f"unknown track {self.track!r}; expected raw or srgb")
        fills = {k: v for k, v in TRACK_DEFAULTS[self.track].items() if getattr(self, k) is None}
        return replace(self, **fills)

    def gamma_at(self) -> GammaSchedule:
        return GammaSchedule(self.gamma_schedule, self.gamma, self.increase_ratio, self.epochs)

    def lr_at(self, epoch: int) -> float:
        """Learning rate of 1-based ``epoch``: × lr_decay after each milestone (19/39/59/79 of 100, scaled).

        At 100 epochs this is the official MultiStepLR: 3e-4 for epochs 1–19, 1.5e-4 for 20–39, … A
        milestone m counts once the fraction of training done before the epoch reaches m/100.
        """
        scale = self.epochs / 100.0
        passed = sum(1 for m in self.lr_milestones if epoch - 1 >= m * scale)
        return float(self.lr) * self.lr_decay**passed


def model_config_for(config: TrainConfig) -> UNetConfig:
    channels = 4 if config.track == "raw" else 3
    return UNetConfig(in_channels=channels, out_channels=channels)


def resolve_amp(value: str, device: torch.device) -> bool:
    """Whether bf16 autocast is on: ``bf16``, or ``auto`` where bf16 is native (CUDA; CPUs with AMX or
    AVX-512 BF16: :func:`n2n_raw.distributed.native_bf16`).

    On a CPU without native bf16 (AVX2 only) a bf16 step is emulated and 5–15× *slower* than fp32, so ``auto``
    stays fp32 there. On the AMX CPU of benchmarks/README.md the bf16 + channels_last step is 2.9× faster
    than the official-style fp32 step. Under autocast the network's output layer and the loss stay fp32 (see UNet and
    Neighbor2NeighborLoss); what bf16 costs in PSNR is measured by the quality study (benchmarks/QUALITY.md).
    """
    return value == "bf16" or (value == "auto" and native_bf16(device))


def resolve_channels_last(value: str, device: torch.device) -> bool:
    """Whether the model and batches use channels_last: ``on``, or ``auto`` on CUDA and CPU alike.

    On CUDA it is the layout of the tensor-core convolution kernels; on the CPU of benchmarks/README.md
    the same fp32 step measured 1.07–1.12× faster than NCHW (oneDNN's blocked kernels).
    """
    return value == "on" or (value == "auto" and device.type in ("cuda", "cpu"))


def make_optimizer(model: torch.nn.Module, config: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    """Adam; on CUDA the fused kernel (one launch for all parameters, no temporaries), on CPU torch's default.

    Same update rule as the official ``torch.optim.Adam(lr)``; only the implementation differs. (On CPU the
    multi-tensor ``foreach`` variant saves nothing measurable and allocates temporaries of the size of all
    parameters at once.)
    """
    fast = {"fused": True} if device.type == "cuda" else {}
    return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, **fast)


def training_step(
    model: torch.nn.Module, criterion: Neighbor2NeighborLoss, optimizer: torch.optim.Optimizer,
    noisy: torch.Tensor, generator: torch.Generator, gamma: float, use_amp: bool,
) -> LossTerms:
    """One optimisation step on a batch ``noisy`` (N, C, H, W) already on the device.

    Nothing here waits for the device: the returned loss terms are device tensors, read (``.item()``) only
    when a log line is written.
    """
    with torch.autocast(noisy.device.type, dtype=torch.bfloat16) if use_amp else nullcontext():
        terms = criterion(model, noisy, generator=generator, gamma=gamma)
    optimizer.zero_grad(set_to_none=True)
    terms.total.backward()
    optimizer.step()
    return terms


def warn_small_subimages(config: TrainConfig) -> None:
    """Warn when the sub-images are smaller than 64²: the U-Net's 1/32 level is then 1×1 (or padding).

    The network then learns global (whole-crop) features at its bottleneck that do not carry over to larger
    images: a model trained on 64² sRGB crops (32² sub-images) scored 16.8 dB on 32² tiles of a photo but 9.9 dB
    on the whole photo. The paper's 256² crops give 128² (sRGB) and 64² (packed raw) sub-images.
    """
    sub = config.crop // (4 if config.track == "raw" else 2)
    if sub < 64:
        log.warning("--crop %d gives %d² sub-images: the U-Net's 1/32 level is %s; models trained so generalise "
                    "poorly to larger images (use --crop %d or more)", config.crop, sub,
                    "1×1" if sub >= 32 else "padding", 256 if config.track == "raw" else 128)  # fmt: skip


def make_dataset(config: TrainConfig):
    if config.track == "raw":
        if not config.data:
            raise N2NError("raw training needs --data (prepared crops or a folder of mosaics); `make train-sidd` prepares the demo set")
        return bayer_training_set(config.data, config.crop, config.augment, config.seed, config.data_pattern,
                                  random_phase=config.cfa_phase == "random")  # fmt: skip
    from .srgb.data import srgb_training_set

    return srgb_training_set(config)


def make_validator(config: TrainConfig) -> Callable[[torch.nn.Module, torch.device], dict] | None:
    """The per-epoch validation for the track, or None when no validation data are configured.

    The sRGB track validates on the embedded scikit-image photos when no folder is given.
    """
    if config.validate_every <= 0 or (not config.validation_dir and config.track != "srgb"):
        return None
    if config.track == "raw":
        from .evaluate import make_raw_validator

        from .inference import cfa_mode_for

        return make_raw_validator(config.validation_dir, config.validation_limit, cfa_mode_for(to_dict(config)))
    from .srgb.protocol import make_srgb_validator

    return make_srgb_validator(config.validation_dir, limit=config.validation_limit, noise=config.noise, out_dir=config.out)


def make_noise(config: TrainConfig) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None:
    if config.track != "srgb":
        return None
    from .srgb.noise import noise_model

    return noise_model(config.noise)


def _resume_path(config: TrainConfig) -> Path | None:
    if not config.resume:
        return None
    if config.resume == "auto":
        p = Path(config.out) / "checkpoints" / "latest.pt"
        return p if p.is_file() else None
    return Path(config.resume)


def train(config: TrainConfig, dist: DistributedContext | None = None) -> dict[str, Any]:
    """Train; returns a summary (final step, last metrics, checkpoint path)."""
    config = config.resolved()
    dist = dist or DistributedContext.from_environment(config.device)
    device = dist.device
    out = Path(config.out)
    if config.batch_size % dist.world_size:
        raise N2NError(f"--batch-size {config.batch_size} is not divisible by {dist.world_size} processes")
    local_batch = config.batch_size // dist.world_size

    # 1. Model, optimiser, loss.
    model_config = model_config_for(config)
    torch.manual_seed(config.seed)  # the initial weights, identical on every rank
    model = UNet(model_config).to(device)
    use_amp = resolve_amp(config.amp, device)
    channels_last = resolve_channels_last(config.channels_last, device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed crop size: pick the fastest kernels once
    optimizer = make_optimizer(model, config, device)
    criterion = Neighbor2NeighborLoss()
    schedule = config.gamma_at()

    # 2. Resume: weights, optimiser, and the position in the data stream.
    step, epoch, batch_in_epoch = 0, 1, 0
    resume_path = _resume_path(config)
    if resume_path is not None:
        state = ckpt.load_checkpoint(resume_path, map_location=device)
        stored = from_dict(TrainConfig, state["train_config"])
        if stored.track != config.track:
            raise CheckpointError(f"{resume_path}: trained on track {stored.track}, not {config.track}")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, epoch, batch_in_epoch = state["step"], state["epoch"], state["batch_in_epoch"]
        if dist.is_main:
            log.info("resumed from %s at step %d (epoch %d, batch %d)", resume_path, step, epoch, batch_in_epoch)
    train_model = dist.wrap(model)
    if config.compile:
        train_model = torch.compile(train_model)

    # 3. Data: a deterministic stream of (epoch, index) keys, split across ranks.
    dataset = make_dataset(config)
    warn_small_subimages(config)
    sampler = EpochSampler(len(dataset), local_batch, config.seed, dist.rank, dist.world_size, config.steps_per_epoch)
    loader_kwargs = dict(batch_size=local_batch, sampler=sampler, num_workers=config.num_workers,
                         pin_memory=device.type == "cuda", drop_last=True,
                         persistent_workers=False)  # fmt: skip
    add_noise = make_noise(config)
    validator = make_validator(config) if dist.is_main else None
    total_steps = config.epochs * sampler.num_batches
    if config.max_steps:
        total_steps = min(total_steps, config.max_steps)
    generator = torch.Generator(device=device)

    if dist.is_main:
        out.mkdir(parents=True, exist_ok=True)
        ckpt.atomic_write_text(out / "config.json", json.dumps(to_dict(config), indent=2))
        log.info("training %s on %s: %d items, %d batches/epoch, %d steps, amp=%s",
                 config.track, device, len(dataset), sampler.num_batches, total_steps, use_amp)  # fmt: skip
    metrics_file = open(out / "metrics.jsonl", "a") if dist.is_main else None
    bar = tqdm(total=total_steps, initial=step, disable=not dist.is_main, desc="train", unit="step")
    last: dict[str, Any] = {}
    checkpoint_path = None

    def save(next_epoch: int, next_batch: int) -> Path | None:
        if not dist.is_main:
            return None
        state = {
            "model": ckpt.unwrap(model).state_dict(), "optimizer": optimizer.state_dict(),
            "lr_schedule": {"lr": optimizer.param_groups[0]["lr"], "milestones": list(config.lr_milestones),
                            "decay": config.lr_decay, "epochs": config.epochs},
            "step": step, "epoch": next_epoch, "batch_in_epoch": next_batch,
            "model_config": model_config.to_dict(), "train_config": to_dict(config),
        }  # fmt: skip
        return ckpt.save_checkpoint(out / "checkpoints", state)

    try:
        while epoch <= config.epochs and step < total_steps:
            # 4. One epoch: lr and γ are constant within it, as in the official code.
            lr, gamma = config.lr_at(epoch), schedule(epoch)
            for group in optimizer.param_groups:
                group["lr"] = lr
            sampler.set_epoch(epoch, batch_in_epoch)
            tick = time.perf_counter()
            for batch in torch.utils.data.DataLoader(dataset, **loader_kwargs):
                # 5. Per-step generator: the sampler's draws (and sRGB noise) are a function of (seed, rank, step).
                generator.manual_seed(derive_seed(config.seed, dist.rank, step))
                if "noisy" in batch:
                    noisy = batch["noisy"].to(device, non_blocking=True)
                else:
                    noisy = add_noise(batch["clean"].to(device, non_blocking=True), generator)
                if channels_last:
                    noisy = noisy.contiguous(memory_format=torch.channels_last)
                terms = training_step(train_model, criterion, optimizer, noisy, generator, gamma, use_amp)
                step += 1
                batch_in_epoch += 1
                bar.update(1)
                # 6. Logging: the only host-device synchronisation of the loop.
                if dist.is_main and (step % config.log_every == 0 or step == total_steps):
                    ms = (time.perf_counter() - tick) * 1000 / config.log_every
                    last = {"step": step, "epoch": epoch, "loss": terms.total.item(),
                            "reconstruction": terms.reconstruction.item(), "regularizer": terms.regularizer.item(),
                            "gamma": gamma, "lr": lr, "ms_per_step": round(ms, 2)}  # fmt: skip
                    metrics_file.write(json.dumps(last) + "\n")
                    metrics_file.flush()
                    bar.set_postfix(loss=f"{last['loss']:.3g}", gamma=gamma)
                    tick = time.perf_counter()
                if config.checkpoint_every and step % config.checkpoint_every == 0:
                    done = batch_in_epoch == sampler.num_batches
                    checkpoint_path = save(epoch + 1 if done else epoch, 0 if done else batch_in_epoch) or checkpoint_path
                if step >= total_steps:
                    break
            epoch_done = batch_in_epoch == sampler.num_batches
            if epoch_done or step >= total_steps:
                # 7. End of epoch (or of the run): validation (rank 0) and checkpoint.
                if validator is not None and (epoch % config.validate_every == 0 or step >= total_steps):
                    model.eval()
                    with torch.no_grad():
                        result = validator(ckpt.unwrap(model), device)
                    model.train()
                    record = {"step": step, "epoch": epoch, **{f"val_{k}": v for k, v in result.items()}}
                    metrics_file.write(json.dumps(record) + "\n")
                    metrics_file.flush()
                    last.update(record)
                    tqdm.write(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()))
            if epoch_done:
                epoch, batch_in_epoch = epoch + 1, 0
            if not config.checkpoint_every or step >= total_steps:
                checkpoint_path = save(epoch, batch_in_epoch) or checkpoint_path
            dist.barrier()
    finally:
        bar.close()
        if metrics_file is not None:
            metrics_file.close()
    return {"step": step, "epoch": epoch, "metrics": last, "checkpoint": str(checkpoint_path) if checkpoint_path else None}
