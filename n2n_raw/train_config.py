"""The configuration of a training run: :class:`TrainConfig`, frozen and checked when it is made.

Defaults are the paper's raw recipe (docs/method.md §7): Adam lr 1e-4, batch 4, 256×256 Bayer crops packed
to 4×128×128, γ = 1 constant, 100 epochs, lr halved after epochs 19/39/59/79. γ = 1 and lr 1e-4 for raw are
*reported by secondary sources*; no released script trains raw Neighbor2Neighbor. ``track="srgb"`` fills
the options left unset with the official synthetic recipe (lr 3e-4, the γ ramp 0.02…2.0, 3 channels),
which produced the released weights.

The same object is stored in every checkpoint and in the run's ``config.json``
(:func:`n2n_raw.config.to_dict`), and comes back typed (:func:`n2n_raw.config.from_dict`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .bayer import PATTERNS
from .config import arg, check_choices
from .errors import N2NError
from .model import UNetConfig
from .schedules import GammaKind, GammaSchedule, LrKind, LrSchedule

Track = Literal["raw", "srgb"]
CfaPhase = Literal["unified", "random"]

TRACK_DEFAULTS = {
    # Raw: the paper's raw recipe as reported (lr 1e-4, γ = 1). The paper states one constant γ.
    "raw": {"lr": 1e-4, "gamma_schedule": "constant", "gamma": 1.0, "increase_ratio": 2.0},
    # sRGB: the official train.py (lr 3e-4, Λ = epoch/n_epoch·2), which produced the released weights.
    "srgb": {"lr": 3e-4, "gamma_schedule": "ramp", "gamma": 2.0, "increase_ratio": 2.0},
}
NOISE_PREFIXES = ("gauss", "poisson")


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs; stored in every checkpoint. Invalid values raise N2NError here."""

    track: Track = arg("raw", "raw: packed Bayer (4 channels); srgb: RGB with synthetic noise")
    data: str = arg(
        "",
        "raw: prepared crops (prepare-sidd) or a folder of .npy/.mat mosaics; srgb: prepared images (empty: embedded photos)",
    )
    data_pattern: str = arg("RGGB", "CFA of a plain mosaic folder (prepared crops record their own)")
    validation_dir: str = arg(
        "", "folder with the validation block files (raw) or Kodak/BSD300/Set14 folders (srgb); empty: none"
    )
    out: str = arg("runs/train", "run folder: checkpoints, metrics.jsonl, config.json")
    epochs: int = arg(100, "number of epochs")
    steps_per_epoch: int = arg(0, "batches per epoch; 0 = one pass over the training set")
    max_steps: int = arg(0, "stop after this many steps in total (0 = no limit)")
    batch_size: int = arg(4, "images per step (over all processes)")
    crop: int = arg(256, "training crop side in image pixels (raw: Bayer pixels, packed to crop/2)")
    augment: bool = arg(False, "Bayer-preserving flips/transposes of raw crops (the paper uses none)")
    residual: bool = arg(False, "identity path in the U-Net: output = input + network (not in the official network)")
    init_scale: float = arg(0.1, "Kaiming-normal initial weights × this (0.1: official)")
    zero_output_init: bool = arg(
        False,
        "start the U-Net's output layer at zero (with --residual: the exact identity; not in the official network)",
    )
    keep_local_means: int = arg(
        0,
        "with --residual: remove the U-Net correction's local means over blocks of this many packed pixels (a divisor of 32), so the output keeps the input's local level and colour (0: off, as the official network); with --init, a value other than 0 is set on the loaded model",
    )
    ema_decay: float = arg(
        0.0,
        "exponential moving average of the weights with this decay per step, validated and used for inference (0: off, as the official code)",
    )
    synthetic_noise: Literal["off", "sidd"] = arg(
        "off",
        "raw: off (train on noisy crops, the paper's setting) or sidd (clean crops from prepare-sidd --kind GT with SIDD-calibrated noise drawn afresh every step; sees clean images, not the strict self-supervised setting)",
    )
    colour_augment: bool = arg(
        False, "with --synthetic-noise: random exposure and R/B gains on the clean crops before the noise"
    )
    colour_range: Literal["narrow", "wide"] = arg(
        "narrow",
        "with --colour-augment: narrow (exposure 2^U(-2, 0.5), R/B gains 2^U(-1.5, 1)) or wide (gains 2^U(-3, 2), and half the crops very dark, 2^U(-8, -2))",
    )
    noise_range: Literal["sidd", "wide"] = arg(
        "sidd",
        "with --synthetic-noise: sidd (the published noise level functions) or wide (half the crops' noise scaled by 2^U(-6, 0), down to a base-ISO camera's; not in the official code)",
    )
    noise_below_black: Literal["clip", "keep", "mix"] = arg(
        "clip",
        "with --synthetic-noise: clip the noise at black as SIDD's files are, keep the values below black as a camera raw has them, or mix both per crop",
    )
    cfa_phase: CfaPhase = arg(
        "unified",
        "raw crops: unified (every crop in the data's pattern; inference unifies blocks by padding) or random (any Bayer phase: a pattern-agnostic model, run with native packing)",
    )
    lr: float | None = arg(None, "Adam learning rate (default: 1e-4 raw, 3e-4 srgb)")
    lr_schedule: LrKind = arg(
        "step", "step: × lr_decay after each milestone (official); cosine: cosine decay to 0 over the run, per step"
    )
    warmup_steps: int = arg(0, "linear learning-rate warm-up over the first steps (0: none, as the official code)")
    clip_grad_norm: float = arg(
        0.0, "clip the global gradient norm to this value (0: no clipping, as the official code)"
    )
    balance_crops: bool = arg(
        False,
        "weight each crop's loss by 1 / its own (detached) reconstruction loss, mean weight 1 per batch: the gradient of the mean log-loss, so dark crops count as much as bright ones, as in the per-block mean PSNR SIDD scores (off: plain MSE, as the official code)",
    )
    balance_planes: bool = arg(
        False,
        "as --balance-crops, but per CFA plane (channel) of each crop: a weak plane under coloured light counts as much as the bright ones (excludes --balance-crops)",
    )
    weight_decay: float = arg(0.0, "Adam weight decay")
    lr_milestones: tuple[int, ...] = arg(
        (19, 39, 59, 79),
        "step schedule: milestones of a 100-epoch run, scaled to --epochs by the official rule int((m+1)·epochs/100) − 1",
    )
    lr_decay: float = arg(0.5, "learning-rate factor at each milestone")
    gamma_schedule: GammaKind | None = arg(
        None, "constant (paper) or ramp (official code: epoch/epochs*increase_ratio)"
    )
    gamma: float | None = arg(None, "γ for the constant schedule (default: 1 raw, 2 srgb)")
    increase_ratio: float | None = arg(None, "final γ of the ramp schedule (official: 2)")
    noise: str = arg("gauss25", "srgb noise model: gauss25, gauss5_50, poisson30, poisson5_50")
    fixed_noise: bool = arg(False, "srgb: one fixed noisy copy per image instead of fresh noise every batch")
    seed: int = arg(0, "seed of every random choice (data order, crops, sampler, noise)")
    device: str = arg("auto", "auto (cuda if available), cpu, cuda, cuda:N")
    amp: Literal["auto", "bf16", "off"] = arg(
        "auto",
        "bf16 autocast: auto (on where bf16 is native and trains correctly: CUDA, CPUs with AMX), bf16, off; the output layer and loss stay fp32",
    )
    channels_last: Literal["auto", "on", "off"] = arg(
        "auto", "channels_last memory format: auto (on for CUDA and CPU), on, off"
    )
    compile: bool = arg(False, "wrap the model in torch.compile")
    num_workers: int = arg(2, "data-loader worker processes")
    log_every: int = arg(20, "steps between log lines")
    checkpoint_every: int = arg(0, "steps between checkpoints (0: at the end of every epoch)")
    validate_every: int = arg(1, "epochs between validations (0: never)")
    validation_limit: int = arg(0, "validate on at most this many blocks/images (0: all)")
    resume: str = arg("", "checkpoint to resume from, or 'auto' for <out>/checkpoints/latest.pt if present")
    tensorboard: bool = arg(
        False,
        "also log losses, γ, lr, step time and validation scores to TensorBoard under <out>/tensorboard (pip install -e '.[tensorboard]'); metrics.jsonl stays the record",
    )
    init: str = arg(
        "",
        "start from this checkpoint's weights (and architecture) with a fresh optimiser and schedule: fine-tuning; distinct from --resume",
    )
    holdout: int = arg(
        0,
        "hold out this many training crops and report the Neighbor2Neighbor loss on them at every validation: a score without clean images",
    )

    def __post_init__(self) -> None:
        check_choices(self)
        for name, value in TRACK_DEFAULTS[self.track].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)  # the track's default, filled once, here
        object.__setattr__(self, "lr_milestones", tuple(int(m) for m in self.lr_milestones))
        self._check_ranges()

    def _check_ranges(self) -> None:
        def need(ok: bool, flag: str, what: str) -> None:
            if not ok:
                raise N2NError(f"--{flag} {getattr(self, flag.replace('-', '_'))!r}: {what}")

        for name in ("epochs", "batch_size", "log_every"):
            need(getattr(self, name) >= 1, name.replace("_", "-"), "must be at least 1")
        for name in (
            "holdout",
            "steps_per_epoch",
            "max_steps",
            "warmup_steps",
            "num_workers",
            "checkpoint_every",
            "validate_every",
            "validation_limit",
        ):
            need(getattr(self, name) >= 0, name.replace("_", "-"), "must be 0 or more")
        multiple = 4 if self.track == "raw" else 2
        need(
            self.crop >= multiple and self.crop % multiple == 0,
            "crop",
            f"must be a positive multiple of {multiple} for the {self.track} track",
        )
        need(self.lr > 0, "lr", "must be positive")
        need(
            self.keep_local_means == 0 or (self.keep_local_means > 0 and 32 % self.keep_local_means == 0),
            "keep-local-means",
            "must be 0 or a divisor of 32",
        )
        need(
            self.keep_local_means == 0 or self.residual or bool(self.init),
            "keep-local-means",
            "needs --residual (the identity path)",
        )
        need(0 < self.lr_decay <= 1, "lr-decay", "must be in (0, 1]")
        need(not (self.balance_crops and self.balance_planes), "balance-planes", "excludes --balance-crops")
        need(self.weight_decay >= 0, "weight-decay", "must be 0 or more")
        need(self.clip_grad_norm >= 0, "clip-grad-norm", "must be 0 (off) or positive")
        need(0 <= self.ema_decay < 1, "ema-decay", "must be in [0, 1)")
        need(self.init_scale > 0, "init-scale", "must be positive")
        need(self.colour_range == "narrow" or self.colour_augment, "colour-range", "needs --colour-augment")
        need(not self.colour_augment or self.synthetic_noise != "off", "colour-augment", "needs --synthetic-noise sidd")
        need(self.noise_range == "sidd" or self.synthetic_noise != "off", "noise-range", "needs --synthetic-noise sidd")
        need(
            self.noise_below_black == "clip" or self.synthetic_noise != "off",
            "noise-below-black",
            "needs --synthetic-noise sidd",
        )
        need(self.gamma >= 0 and self.increase_ratio >= 0, "gamma", "γ and --increase-ratio must be 0 or more")
        need(all(m >= 0 for m in self.lr_milestones), "lr-milestones", "must be epochs ≥ 0 of a 100-epoch run")
        need(self.data_pattern.upper() in PATTERNS, "data-pattern", f"choose one of {', '.join(PATTERNS)}")
        need(self.noise.startswith(NOISE_PREFIXES), "noise", "choose gauss25, gauss5_50, poisson30 or poisson5_50")

    @property
    def channels(self) -> int:
        """Network input/output channels: 4 packed Bayer planes (raw) or RGB."""
        return 4 if self.track == "raw" else 3

    def model_config(self) -> UNetConfig:
        return UNetConfig(
            in_channels=self.channels,
            out_channels=self.channels,
            residual=self.residual,
            init_scale=self.init_scale,
            zero_output_init=self.zero_output_init,
            keep_local_means=self.keep_local_means,
        )

    def gamma_schedule_fn(self) -> GammaSchedule:
        return GammaSchedule(self.gamma_schedule, self.gamma, self.increase_ratio, self.epochs)

    def lr_schedule_fn(self, total_steps: int) -> LrSchedule:
        return LrSchedule(
            self.lr, self.epochs, self.lr_schedule, self.lr_milestones, self.lr_decay, self.warmup_steps, total_steps
        )
