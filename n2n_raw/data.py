"""Training data: random Bayer crops, packed, and a deterministic epoch sampler.

Randomness in the data never comes from global RNGs: the sampler yields ``(epoch, index)`` keys, and a
dataset draws its crop offset (and flips) from ``numpy.random.default_rng((seed, epoch, index))``. The
data stream is therefore a pure function of the seed, identical with any number of loader workers, and a
resumed run sees exactly the batches it would have seen.

Sources of Bayer mosaics (all in one unified CFA pattern, RGGB by default):

* a prepared-crops folder written by ``n2n-raw prepare-sidd``: ``crops.npy`` (N, S, S) float32, read
  memory-mapped, with ``crops.json`` (pattern, provenance);
* any folder of ``.npy`` or ``.mat`` mosaics (``--data-pattern`` names their CFA; they are unified by
  cropping).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from .bayer import bayer_aug, check_pattern, pack_bayer, unify_cfa
from .errors import DataError

PREPARED_ARRAY = "crops.npy"
PREPARED_INFO = "crops.json"


def item_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    return np.random.default_rng((int(seed), int(epoch), int(index)))


def derive_seed(*keys: int) -> int:
    """A 63-bit seed that is a pure function of ``keys`` (for per-step / per-epoch generators)."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1, np.uint64)[0] >> 1)


def even_offset(rng: np.random.Generator, size: int, crop: int) -> int:
    """A uniformly drawn *even* offset in [0, size − crop] (keeps the CFA phase, docs/method.md pitfall 7)."""
    if crop > size:
        raise DataError(f"crop {crop} is larger than the image side {size}")
    return 2 * int(rng.integers(0, (size - crop) // 2 + 1))


class RandomBayerCrops(Dataset):
    """Random ``crop × crop`` Bayer crops at even offsets, packed to (4, crop/2, crop/2).

    ``mosaics`` are 2-D arrays (NumPy or memory-mapped) all in CFA ``pattern``. With ``augment``, each
    crop is flipped/transposed by :func:`n2n_raw.bayer.bayer_aug`, which keeps the pattern. With
    ``random_phase``, each crop is then shifted by a random 0/1 row and column, so the network sees all four
    Bayer phases (pattern-agnostic training, as Blind2Unblind's odd offsets effectively do; inference then
    packs blocks in their own phase, ``--cfa-mode native``). Items are ``{"noisy": tensor}``; keys are
    ``(epoch, index)`` pairs from :class:`EpochSampler`.
    """

    def __init__(
        self,
        mosaics: Sequence[np.ndarray],
        crop: int = 256,
        pattern: str = "RGGB",
        augment: bool = False,
        seed: int = 0,
        random_phase: bool = False,
    ):
        if crop % 2:
            raise ValueError(f"crop size must be even, got {crop}")
        self.mosaics = mosaics
        self.crop = crop
        self.pattern = check_pattern(pattern)
        self.augment = augment
        self.seed = seed
        self.random_phase = random_phase
        for k, m in enumerate(mosaics):
            if m.ndim != 2 or min(m.shape) < crop:
                raise DataError(f"mosaic {k} has shape {tuple(m.shape)}; need 2-D and sides >= {crop}")

    def __len__(self) -> int:
        return len(self.mosaics)

    def __getitem__(self, key: tuple[int, int] | int) -> dict[str, torch.Tensor]:
        crop, _ = self.crop_at(key)
        return {"noisy": torch.from_numpy(pack_bayer(crop).copy())}

    def crop_at(self, key: tuple[int, int] | int) -> tuple[np.ndarray, np.random.Generator]:
        """The (crop, crop) mosaic of ``key`` and the item's generator, positioned after the crop's draws."""
        epoch, index = key if isinstance(key, tuple) else (0, key)
        rng = item_rng(self.seed, epoch, index)
        mosaic = self.mosaics[index]
        h, w = mosaic.shape
        flips = rng.integers(0, 2, size=3).astype(bool) if self.augment else np.zeros(3, bool)
        # A flip is re-unified by dropping 1 pixel at both ends, so an augmented crop starts 2 pixels larger.
        shift = rng.integers(0, 2, size=2) if self.random_phase else np.zeros(2, int)
        side = self.crop + (2 if flips.any() else 0) + (2 if shift.any() else 0)
        if side > min(h, w):
            flips[:], shift[:], side = False, 0, self.crop
        y0, x0 = even_offset(rng, h, side), even_offset(rng, w, side)
        crop = np.asarray(mosaic[y0 : y0 + side, x0 : x0 + side], dtype=np.float32)
        if flips.any():
            crop = bayer_aug(crop, self.pattern, flip_v=flips[0], flip_h=flips[1], transpose=flips[2])
        sy, sx = int(shift[0]), int(shift[1])  # 0 (all zero without random_phase) keeps the pattern
        return np.ascontiguousarray(crop[sy : sy + self.crop, sx : sx + self.crop]), rng


class SyntheticNoiseCrops(RandomBayerCrops):
    """Clean Bayer crops with SIDD-calibrated noise drawn afresh for every item (``--synthetic-noise sidd``).

    Each clean crop (``prepare-sidd --kind GT``) gets the noise of its own scene instance: variance
    ``beta1·x + beta2`` per colour from SIDD's published noise level functions, as scaled Poisson shot noise
    plus Gaussian read noise, quantised to 10 bits and clipped (:func:`n2n_raw.unprocess.add_sidd_noise`, the
    noise of the SIDD-mini demo set). This is *not* the strict single-noisy-image setting of the paper: it
    sees the clean image, through fresh noise at every epoch, as the official sRGB training does.

    ``colour_augment`` first multiplies the clean crop by a random exposure and random R and B gains relative
    to G. ``colour_range="narrow"``: exposure 2^U(−2, 0.5), gains 2^U(−1.5, 1). ``"wide"``: gains 2^U(−3, 2)
    (from a green light's B/G of 0.15 to a red light's R/G of 4), exposure 2^U(−2, 0.5) for half the items and
    2^U(−8, −2) for the others: very dark photos, where most of the signal is below the noise, are where a
    model that has not met them moves the level most.

    ``below_black`` is what the noise does below 0: ``clip`` as SIDD's files (and the demo set), ``keep`` as a
    camera raw with its black level subtracted, ``mix`` either, drawn per item, so one model serves both
    (a clipped input shows no negative values, an unclipped one does in its dark parts).

    ``noise_range="wide"`` multiplies both parameters of the noise level function by 2^U(−6, 0) for half the
    items (the other half keep SIDD's): SIDD's phones at ISO 800–3200 never show the noise of a base-ISO camera
    or of a bright, well-exposed photo (relative noise √(β1/x) of 2 % and less), and a model that never met it
    smooths such a photo's texture below its noisy input (``benchmarks/FIDELITY.md``). ``"sidd"`` draws nothing
    more, so its runs are unchanged.
    Draws come from the item's generator: a pure function of (seed, epoch, index).
    """

    def __init__(self, mosaics, nlfs: Sequence[dict[str, tuple[float, float]]], crop: int = 256, pattern: str = "RGGB",
                 augment: bool = False, seed: int = 0, colour_augment: bool = False, below_black: str = "clip",
                 colour_range: str = "narrow", noise_range: str = "sidd"):  # fmt: skip
        super().__init__(mosaics, crop, pattern, augment, seed, random_phase=False)
        if len(nlfs) != len(mosaics):
            raise ValueError(f"{len(mosaics)} clean crops but {len(nlfs)} noise level functions")
        if below_black not in ("clip", "keep", "mix"):
            raise ValueError(f"below_black: {below_black!r} is not clip, keep or mix")
        if colour_range not in ("narrow", "wide"):
            raise ValueError(f"colour_range: {colour_range!r} is not narrow or wide")
        if noise_range not in ("sidd", "wide"):
            raise ValueError(f"noise_range: {noise_range!r} is not sidd or wide")
        self.nlfs = list(nlfs)
        self.colour_augment = colour_augment
        self.below_black = below_black
        self.wide = colour_range == "wide"
        self.wide_noise = noise_range == "wide"

    def __getitem__(self, key: tuple[int, int] | int) -> dict[str, torch.Tensor]:
        from .unprocess import add_sidd_noise

        clean, rng = self.crop_at(key)
        index = key[1] if isinstance(key, tuple) else key
        if self.colour_augment:
            clean = clean.copy()  # the crop may be a view of the read-only memory-mapped array
            if self.wide:
                exposure = 2.0 ** (rng.uniform(-2.0, 0.5) if rng.random() < 0.5 else rng.uniform(-8.0, -2.0))
                gains = {"R": 2.0 ** rng.uniform(-3.0, 2.0), "G": 1.0, "B": 2.0 ** rng.uniform(-3.0, 2.0)}
            else:
                exposure = 2.0 ** rng.uniform(-2.0, 0.5)
                gains = {"R": 2.0 ** rng.uniform(-1.5, 1.0), "G": 1.0, "B": 2.0 ** rng.uniform(-1.5, 1.0)}
            for k, letter in enumerate(self.pattern):
                dy, dx = divmod(k, 2)
                clean[dy::2, dx::2] *= exposure * gains[letter]
        clip_black = self.below_black == "clip" or (self.below_black == "mix" and rng.random() < 0.5)
        nlf = self.nlfs[index]
        if self.wide_noise and rng.random() < 0.5:
            scale = 2.0 ** rng.uniform(-6.0, 0.0)
            nlf = {c: (beta1 * scale, beta2 * scale) for c, (beta1, beta2) in nlf.items()}
        noisy = add_sidd_noise(np.clip(clean, 0.0, 1.0), self.pattern, nlf, rng, clip_black=clip_black)
        return {"noisy": torch.from_numpy(pack_bayer(noisy).copy())}


class EpochSampler(Sampler):
    """Yields ``(epoch, index)`` keys: a seeded permutation per epoch, split across ranks, drop-last.

    ``num_batches`` fixes the number of batches per epoch (permutations are chained when it exceeds one
    pass); by default it is one pass over the data. ``start_batch`` skips batches already done (resume).
    """

    def __init__(
        self,
        dataset_size: int,
        batch_size: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        num_batches: int = 0,
    ):
        if dataset_size <= 0:
            raise DataError("the training data set is empty")
        self.n = dataset_size
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        per_rank = dataset_size // world_size
        self.num_batches = num_batches or per_rank // batch_size
        if self.num_batches <= 0:
            raise DataError(
                f"{dataset_size} training items cannot fill one batch of {batch_size} on each of {world_size} ranks"
            )
        self.epoch = 1
        self.start_batch = 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch, self.start_batch = epoch, start_batch

    def indices(self, epoch: int) -> list[int]:
        need = self.num_batches * self.batch_size * self.world_size
        chunks, k = [], 0
        while sum(len(c) for c in chunks) < need:
            g = torch.Generator().manual_seed(derive_seed(self.seed, epoch, k))
            chunks.append(torch.randperm(self.n, generator=g))
            k += 1
        order = torch.cat(chunks)[:need]
        return order[self.rank :: self.world_size].tolist()

    def __iter__(self) -> Iterator[tuple[int, int]]:
        mine = self.indices(self.epoch)[self.start_batch * self.batch_size :]
        return iter([(self.epoch, i) for i in mine])

    def __len__(self) -> int:
        return (self.num_batches - self.start_batch) * self.batch_size


def load_mosaic_folder(folder: str | os.PathLike, pattern: str, target: str = "RGGB") -> list[np.ndarray]:
    """All ``.npy``/``.mat`` mosaics of a folder, unified from ``pattern`` to ``target`` by cropping."""
    from .matfile import read_mat

    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".npy", ".mat"))
    if not files:
        raise DataError(f"{folder}: no .npy or .mat mosaics found")
    mosaics = []
    for p in files:
        try:
            arr = np.load(p, mmap_mode="r", allow_pickle=False) if p.suffix.lower() == ".npy" else read_mat(p)
        except ValueError as exc:  # pickled objects, a damaged header
            raise DataError(f"{p}: not a plain numeric .npy array ({str(exc).splitlines()[0][:120]})") from None
        if arr.ndim != 2 or min(arr.shape) < 2:
            raise DataError(f"{p}: expected a 2-D Bayer mosaic, got shape {arr.shape}")
        if not np.issubdtype(arr.dtype, np.floating):
            raise DataError(
                f"{p}: values are {arr.dtype}; mosaics must be floats in [0, 1] (black subtracted, scaled by white − black)"
            )
        if not np.isfinite(arr).all():
            raise DataError(f"{p}: {int((~np.isfinite(arr)).sum()):,} values are NaN or infinite")
        h, w = arr.shape
        arr = arr[: h - h % 2, : w - w % 2]
        mosaics.append(unify_cfa(arr, pattern, target, mode="crop"))
    return mosaics


def load_prepared(folder: str | os.PathLike) -> tuple[np.ndarray, dict]:
    """The memory-mapped crops and their description from a ``prepare-sidd`` output folder."""
    folder = Path(folder)
    array_path, info_path = folder / PREPARED_ARRAY, folder / PREPARED_INFO
    if not array_path.is_file() or not info_path.is_file():
        raise DataError(f"{folder}: not a prepared-crops folder (needs {PREPARED_ARRAY} and {PREPARED_INFO})")
    try:
        info = json.loads(info_path.read_text())
        crops = np.load(array_path, mmap_mode="r")
    except (ValueError, OSError) as exc:
        raise DataError(f"{folder}: prepared crops are unreadable ({exc})") from None
    if crops.ndim != 3:
        raise DataError(f"{array_path}: expected (N, S, S) crops, got shape {crops.shape}")
    return crops, info


def bayer_training_set(
    path: str | os.PathLike,
    crop: int,
    augment: bool,
    seed: int,
    data_pattern: str = "RGGB",
    random_phase: bool = False,
    synthetic_noise: str = "off",
    colour_augment: bool = False,
    below_black: str = "clip",
    colour_range: str = "narrow",
    noise_range: str = "sidd",
) -> RandomBayerCrops:
    """The raw training set at ``path``: a prepared-crops folder, or a folder of mosaics.

    Noisy crops train as they are; clean crops (``prepare-sidd --kind GT``) only with ``synthetic_noise="sidd"``.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: training data not found")
    if not (path / PREPARED_ARRAY).exists():
        if synthetic_noise != "off":
            raise DataError(f"{path}: --synthetic-noise needs clean crops from `prepare-sidd --kind GT`")
        return RandomBayerCrops(load_mosaic_folder(path, data_pattern), crop, "RGGB", augment, seed, random_phase)
    crops, info = load_prepared(path)
    pattern, kind = info.get("pattern", "RGGB"), info.get("kind", "NOISY")
    if kind == "NOISY":
        if synthetic_noise != "off":
            raise DataError(f"{path}: holds noisy crops; --synthetic-noise needs clean ones (prepare-sidd --kind GT)")
        return RandomBayerCrops(crops, crop, pattern, augment, seed, random_phase)
    if synthetic_noise != "sidd":
        raise DataError(
            f"{path}: holds clean (GT) crops; train on them with --synthetic-noise sidd, or prepare NOISY crops"
        )
    if random_phase:
        raise DataError(
            "--cfa-phase random is not available with --synthetic-noise (the noise follows the unified CFA)"
        )
    from .sidd import noise_level_functions

    table = noise_level_functions()
    missing = sorted({c["instance"] for c in info["crops"] if c["instance"] not in table})
    if missing:
        raise DataError(f"{path}: no published noise level function for {', '.join(missing[:3])}")
    nlfs = [table[c["instance"]] for c in info["crops"]]
    return SyntheticNoiseCrops(
        crops, nlfs, crop, pattern, augment, seed, colour_augment, below_black, colour_range, noise_range
    )
