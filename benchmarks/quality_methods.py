"""The methods of the quality study: paired training crops, one training loop, one step per method, BM3D.

Every learned method trains the same :class:`n2n_raw.model.UNet` from the same initial weights (seeded), on
the same stream of crops (same captures, offsets and order for a given seed), with the same optimiser
(Adam), the product's learning-rate schedule (:class:`n2n_raw.schedules.LrSchedule`) and the product's
optimisation step (:func:`n2n_raw.steps.optimisation_step`). Only the
loss differs:

* ``n2c``: supervised, ``‖f(noisy_010) − clean‖²`` (the upper bound; the only method that reads GT);
* ``n2n``: Noise2Noise on the capture's two independent frames, ``‖f(noisy_010) − noisy_011‖²``;
* ``nb2nb_*``: Neighbor2Neighbor on ``noisy_010`` alone, through the shipped
  :class:`n2n_raw.loss.Neighbor2NeighborLoss` (random or fixed sampler, constant γ or the official ramp).

Every method trains in the study's base precision (``Budget.bf16``: bf16 autocast where it is native, as
``n2n-raw train --amp auto``), except the precision check, which trains γ = 1 in the other one.

Training crops come from ``SIDD_Medium_Raw/Data``: frames ``_010``/``_011`` and the GT of each capture, read
in MATLAB orientation by :mod:`n2n_raw.sidd`, unified to RGGB by cropping (as ``prepare-sidd`` does), cut
at the same even offset in all three and packed to 4 planes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from n2n_raw.bayer import pack_bayer, unify_cfa
from n2n_raw.data import derive_seed, even_offset, item_rng
from n2n_raw.device import Runtime
from n2n_raw.inference import InferenceSettings, denoise_blocks
from n2n_raw.loss import Neighbor2NeighborLoss
from n2n_raw.metrics import block_metrics
from n2n_raw.model import UNet
from n2n_raw.sampler import draw_neighbor_pairs, fixed_pairs
from n2n_raw.schedules import GammaSchedule, LrSchedule
from n2n_raw.steps import optimisation_step

TARGET_PATTERN = "RGGB"  # the pattern training crops are unified to (inference pads blocks to it)


@dataclass(frozen=True)
class Method:
    """One learned method: which loss, which γ schedule, which sampler, which precision."""

    label: str
    kind: str  # "n2c", "n2n" or "nb2nb"
    gamma: str = "constant"  # nb2nb only: "constant" or "ramp"
    gamma_value: float = 1.0
    fixed_sampler: bool = False
    bf16: bool | None = None  # None: the study's base precision (Budget.bf16); True/False force bf16 / fp32


LEARNED: dict[str, Method] = {
    "n2c": Method("N2C (supervised, noisy→clean)", "n2c"),
    "n2n": Method("Noise2Noise (_010→_011)", "n2n"),
    "nb2nb_g0": Method("Nb2Nb γ=0", "nb2nb", gamma_value=0.0),
    "nb2nb_g1": Method("Nb2Nb γ=1 (product default)", "nb2nb", gamma_value=1.0),
    "nb2nb_g2": Method("Nb2Nb γ=2", "nb2nb", gamma_value=2.0),
    "nb2nb_ramp": Method("Nb2Nb official ramp (γ→2)", "nb2nb", gamma="ramp", gamma_value=2.0),
    "nb2nb_fixed": Method("Nb2Nb γ=1, fixed sampler", "nb2nb", gamma_value=1.0, fixed_sampler=True),
    # The precision check: γ = 1 in the precision that is *not* the study's base (the other one is nb2nb_g1).
    "nb2nb_fp32": Method("Nb2Nb γ=1, fp32", "nb2nb", gamma_value=1.0, bf16=False),
    "nb2nb_bf16": Method("Nb2Nb γ=1, bf16 autocast", "nb2nb", gamma_value=1.0, bf16=True),
}
BASELINES = {"identity": "noisy input (identity)", "bm3d": "BM3D per CFA plane, known NLF (GAT)"}


# --------------------------------------------------------------------------------------------------------
# Data


@dataclass
class Capture:
    """One training capture, unified to RGGB: two noisy frames and the clean image, (H, W) float32 each."""

    name: str
    noisy: np.ndarray
    noisy2: np.ndarray
    clean: np.ndarray


def load_captures(medium_root: str) -> list[Capture]:
    """Every capture of ``medium_root`` that has NOISY _010, NOISY _011 and GT _010 (MATLAB orientation)."""
    from n2n_raw.sidd import companion, find_medium_images, image_cfa, read_image

    frames: dict[str, dict[str, object]] = {}
    for image in find_medium_images(medium_root, "NOISY", frames=("010", "011")):
        frames.setdefault(image.instance.name, {})[image.frame] = image
    captures = []
    for name, by_frame in sorted(frames.items()):
        first, second = by_frame.get("010"), by_frame.get("011")
        gt = companion(first, "GT") if first is not None else None
        if second is None or gt is None:
            continue  # Noise2Noise and N2C need both frames and GT; every method sees the same captures
        pattern = image_cfa(first)
        arrays = [unify_cfa(read_image(p), pattern, TARGET_PATTERN, mode="crop") for p in (first.path, second.path, gt)]
        captures.append(Capture(name, *(np.ascontiguousarray(a, dtype=np.float32) for a in arrays)))
    if not captures:
        raise RuntimeError(f"{medium_root}: no capture with NOISY _010, NOISY _011 and GT _010")
    return captures


def paired_batch(
    captures: Sequence[Capture], crop: int, batch_size: int, seed: int, step: int
) -> dict[str, torch.Tensor]:
    """Batch ``step`` of the crop stream: a pure function of (seed, step), identical for every method.

    Returns packed ``noisy``, ``noisy2`` and ``clean``, each (B, 4, crop/2, crop/2), cut at one even offset.
    """
    out: dict[str, list[np.ndarray]] = {"noisy": [], "noisy2": [], "clean": []}
    for k in range(batch_size):
        rng = item_rng(seed, step, k)
        cap = captures[int(rng.integers(len(captures)))]
        h, w = cap.noisy.shape
        y0, x0 = even_offset(rng, h, crop), even_offset(rng, w, crop)
        for key in out:
            out[key].append(pack_bayer(getattr(cap, key)[y0 : y0 + crop, x0 : x0 + crop]))
    return {key: torch.from_numpy(np.stack(v)) for key, v in out.items()}


@dataclass
class Blocks:
    """Scored blocks (K, H, W) with their CFA, image index and instance (phone, ISO) per block."""

    noisy: np.ndarray
    clean: np.ndarray
    patterns: list[str]
    instances: list
    image: np.ndarray
    block: np.ndarray


def load_blocks(blocks_dir: str, split: str, limit: int) -> Blocks:
    """``limit`` blocks of ``split`` spread evenly over the images (all when 0), with clean references."""
    from n2n_raw.evaluate import _flatten, spread  # the selection ``n2n-raw evaluate --limit`` uses
    from n2n_raw.sidd import load_block_set

    block_set = load_block_set(blocks_dir, split, require_clean=True)
    data = _flatten(block_set, spread(block_set.noisy.shape[0] * block_set.noisy.shape[1], limit))
    return Blocks(data["noisy"].astype(np.float32), data["clean"].astype(np.float32), data["patterns"],
                  data["instances"], data["image"], data["block"])  # fmt: skip


# --------------------------------------------------------------------------------------------------------
# Training


def step_loss(method: Method, model: torch.nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator,
              gamma: float, criterion: Neighbor2NeighborLoss) -> torch.Tensor:  # fmt: skip
    """The training loss of one batch for ``method`` (fp32 scalar)."""
    noisy = batch["noisy"]
    if method.kind == "n2c":
        return F.mse_loss(model(noisy).float(), batch["clean"])
    if method.kind == "n2n":
        return F.mse_loss(model(noisy).float(), batch["noisy2"])
    # The fixed sampler takes pair 0, (top-left → top-right), in every cell: the paper's ablation.
    pairs = fixed_pairs(noisy.shape, 0) if method.fixed_sampler else draw_neighbor_pairs(noisy.shape, generator)
    return criterion(model, noisy, pairs=pairs, gamma=gamma).total


@dataclass(frozen=True)
class Budget:
    """The training budget shared by every learned method."""

    steps: int
    batch_size: int
    crop: int
    lr: float
    epochs: int  # lr halvings and the γ ramp advance per "epoch" of steps/epochs steps
    curve_points: int
    lr_milestones: tuple[int, ...] = (19, 39, 59, 79)  # % of the epochs after which lr halves (TrainConfig's)
    bf16: bool = False  # the base precision of every method whose Method.bf16 is None

    def uses_bf16(self, method: Method) -> bool:
        return self.bf16 if method.bf16 is None else method.bf16


def train_method(
    method: Method,
    captures: Sequence[Capture],
    budget: Budget,
    seed: int,
    device: torch.device,
    validate: Callable[[torch.nn.Module], float] | None = None,
    log: Callable[[str], None] = print,
) -> tuple[torch.nn.Module, list[dict], float]:
    """Train ``method``; returns (model, validation curve [{step, psnr}], training seconds excluding validation)."""
    torch.manual_seed(seed)  # the initial weights: identical for every method of one seed
    model = UNet().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=budget.lr)
    schedule = LrSchedule(budget.lr, budget.epochs, milestones=budget.lr_milestones)  # the product's schedule
    runtime = Runtime(device, bf16=budget.uses_bf16(method))
    gammas = GammaSchedule(method.gamma, method.gamma_value, increase_ratio=method.gamma_value, n_epoch=budget.epochs)
    criterion = Neighbor2NeighborLoss()
    generator = torch.Generator(device=device)
    checkpoints = set(np.linspace(0, budget.steps, max(2, budget.curve_points)).round().astype(int).tolist())
    curve, seconds = [], 0.0
    for step in range(budget.steps + 1):
        if validate is not None and step in checkpoints:
            curve.append({"step": step, "psnr": validate(model)})
            model.train()
        if step == budget.steps:
            break
        tick = time.perf_counter()
        epoch = 1 + step * budget.epochs // budget.steps
        for group in optimizer.param_groups:
            group["lr"] = schedule(epoch, step)
        batch = {k: v.to(device) for k, v in paired_batch(captures, budget.crop, budget.batch_size, seed, step).items()}
        generator.manual_seed(derive_seed(seed, step))  # the same sampler draws for every random-sampler method
        gamma = gammas(epoch)
        loss = optimisation_step(
            lambda b=batch, g=gamma: step_loss(method, model, b, generator, g, criterion), model, optimizer, runtime
        )
        seconds += time.perf_counter() - tick
        if (step + 1) % max(1, budget.steps // 5) == 0:
            log(
                f"  step {step + 1}/{budget.steps} loss {loss.item():.3e} lr {schedule(epoch, step):.2e} ({seconds:.0f} s)"
            )
    model.eval()
    return model, curve, seconds


def denoise(model: torch.nn.Module, blocks: Blocks, device: torch.device) -> np.ndarray:
    """The product's inference (CFA unified to RGGB by padding, fp32, clamped) on every block."""
    settings = InferenceSettings(Runtime(device), batch_size=8, cfa_target=TARGET_PATTERN)
    return denoise_blocks(model, blocks.noisy, blocks.patterns, settings)


def psnr_of(model: torch.nn.Module, blocks: Blocks, device: torch.device) -> float:
    """Mean block PSNR (no SSIM: the curve needs only PSNR, and SSIM costs more than the network on a CPU)."""
    return float(block_metrics(denoise(model, blocks, device), blocks.clean, with_ssim=False)["psnr"].mean())


# --------------------------------------------------------------------------------------------------------
# BM3D with SIDD's noise level functions


def nlf_for(blocks: Blocks, index: int) -> dict[str, tuple[float, float]]:
    """(beta1, beta2) per colour of block ``index``: the instance's packaged NLF, else fitted to the clean block.

    SIDD's table covers the Medium instances (the demo set's blocks are named after them); real benchmark
    instances have no row, so the noise variance is then regressed on the clean value (an oracle fit).
    """
    from n2n_raw.sidd import noise_level_functions

    instance = blocks.instances[index]
    table = noise_level_functions()
    if instance is not None and instance.name in table:
        return table[instance.name]
    noisy, clean, pattern = blocks.noisy[index], blocks.clean[index], blocks.patterns[index]
    from n2n_raw.isp import cfa_masks

    fits = {}
    for letter, sel in zip("RGB", cfa_masks(noisy.shape, pattern)):
        x, r2 = clean[sel].astype(np.float64), (noisy[sel] - clean[sel]).astype(np.float64) ** 2
        beta1, beta2 = np.polyfit(x, r2, 1)
        fits[letter.lower()] = (max(float(beta1), 1e-7), max(float(beta2), 0.0))
    return fits


def bm3d_plane(plane: np.ndarray, beta1: float, beta2: float) -> np.ndarray:
    """BM3D of one CFA plane with Poisson–Gaussian noise var = beta1·x + beta2.

    The generalized Anscombe transform makes the noise ≈ N(0, 1); BM3D runs with σ = 1; the closed-form
    approximation of the exact unbiased inverse (Mäkitalo & Foi, IEEE TIP 2013) maps back. Falls back to
    scikit-image's non-local means (same transform) when the ``bm3d`` package is missing.
    """
    z, s2 = plane.astype(np.float64) / beta1, beta2 / beta1**2  # photo-electron units
    d = 2.0 * np.sqrt(np.maximum(z + 0.375 + s2, 0.0))
    try:
        import bm3d

        d = np.asarray(bm3d.bm3d(d, sigma_psd=1.0), dtype=np.float64)
    except ImportError:
        from skimage.restoration import denoise_nl_means

        d = denoise_nl_means(d, h=0.8, sigma=1.0, patch_size=5, patch_distance=6, fast_mode=True)
    d = np.maximum(d, 1.0)  # the inverse's negative powers diverge near 0
    c = np.sqrt(1.5)
    x = 0.25 * d**2 + 0.25 * c / d - 1.375 / d**2 + 0.625 * c / d**3 - 0.125 - s2
    return (np.maximum(x, 0.0) * beta1).astype(np.float32)


def bm3d_blocks(blocks: Blocks, log: Callable[[str], None] = print) -> np.ndarray:
    """BM3D on every block, plane by plane in each block's own CFA phase; clamped to [0, 1]."""
    from n2n_raw.bayer import unpack_bayer

    out = np.empty_like(blocks.noisy)
    tick = time.perf_counter()
    for k in range(len(blocks.noisy)):
        nlf, pattern = nlf_for(blocks, k), blocks.patterns[k]
        planes = pack_bayer(blocks.noisy[k])  # (4, H/2, W/2) in the block's own phase: one colour per plane
        den = np.stack([bm3d_plane(p, *nlf[pattern[i].lower()]) for i, p in enumerate(planes)])
        out[k] = np.clip(unpack_bayer(den), 0.0, 1.0)
        if (k + 1) % max(1, len(out) // 4) == 0:
            log(f"  bm3d {k + 1}/{len(out)} blocks ({time.perf_counter() - tick:.0f} s)")
    return out
