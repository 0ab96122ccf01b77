"""What a training run trains on and is scored with: the dataset of its track, the initial weights
(fresh or ``--init``), the held-out split and its score without clean images, and the validators.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import torch

from . import checkpoint as ckpt
from .data import bayer_training_set, derive_seed
from .device import Runtime
from .errors import CheckpointError, N2NError
from .loss import Neighbor2NeighborLoss
from .model import UNet
from .train_config import TrainConfig

log = logging.getLogger("n2n_raw.train")


def warn_small_subimages(config: TrainConfig) -> None:
    """Warn when the sub-images are smaller than 64²: the U-Net's 1/32 level is then 1×1 (or padding).

    The network then learns global (whole-crop) features at its bottleneck that do not carry over to larger
    images (benchmarks/README.md). The paper's 256² crops give 128² (sRGB) and 64² (packed raw) sub-images.
    """
    sub = config.crop // (4 if config.track == "raw" else 2)
    if sub < 64:
        log.warning("--crop %d gives %d² sub-images: the U-Net's 1/32 level is %s; models trained so generalise "
                    "poorly to larger images (use --crop %d or more)", config.crop, sub,
                    "1×1" if sub >= 32 else "padding", 256 if config.track == "raw" else 128)  # fmt: skip


def make_dataset(config: TrainConfig):
    """The training set of the track, and what inference must know of it."""
    if config.track == "raw":
        if not config.data:
            raise N2NError(
                "raw training needs --data (prepared crops or a folder of mosaics); `make train-sidd` prepares the demo set"
            )
        dataset = bayer_training_set(config.data, config.crop, config.augment, config.seed, config.data_pattern,
                                     config.cfa_phase == "random", config.synthetic_noise, config.colour_augment,
                                     config.noise_below_black, config.colour_range, config.noise_range)  # fmt: skip
        return dataset, ckpt.TrainingData(dataset.pattern, config.cfa_phase)
    from .srgb.data import srgb_training_set

    return srgb_training_set(config), ckpt.TrainingData()


def initial_model(config: TrainConfig) -> UNet:
    """A fresh U-Net, or with ``--init`` the weights and architecture of a trained one (fine-tuning)."""
    if not config.init:
        return UNet(config.model_config())
    model, _ = ckpt.load_model(resolve_checkpoint(config.init))
    if model.config.in_channels != config.channels:
        raise CheckpointError(
            f"{config.init}: a {model.config.in_channels}-channel model; the {config.track} track needs {config.channels}"
        )
    if config.keep_local_means:  # an architecture option without weights: fine-tuning may switch it on
        if not model.config.residual:
            raise CheckpointError(
                f"{config.init}: --keep-local-means needs a model with the identity path (--residual)"
            )
        model.config = replace(model.config, keep_local_means=config.keep_local_means)
    return model


def resolve_checkpoint(name: str) -> str:
    """A checkpoint path; ``pretrained`` is the model shipped with the package."""
    if name == "pretrained":
        from .pretrained import pretrained_path

        return str(pretrained_path())
    return name


class Items(torch.utils.data.Dataset):
    """The items ``indices`` of a dataset keyed by ``(epoch, index)``, renumbered 0…n−1."""

    def __init__(self, dataset, indices: list[int]):
        self.dataset, self.indices = dataset, indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, key):
        epoch, index = key if isinstance(key, tuple) else (0, key)
        return self.dataset[(epoch, self.indices[index])]


def split_holdout(dataset, holdout: int):
    """(training items, held-out items or None): the held-out items are spread evenly over the set."""
    if holdout <= 0:
        return dataset, None
    n = len(dataset)
    if holdout >= n:
        raise N2NError(f"--holdout {holdout}: the training set has only {n} items")
    held = sorted(set(np.linspace(0, n - 1, holdout).round().astype(int).tolist()))
    kept = [i for i in range(n) if i not in set(held)]
    return Items(dataset, kept), Items(dataset, held)


def holdout_score(held_out, runtime: Runtime, seed: int) -> Callable[[torch.nn.Module], dict]:
    """The Neighbor2Neighbor loss on held-out crops: a validation score that needs no clean image.

    With y = x + n (n zero-mean, independent from pixel to pixel), g2(y) = g2(x) + g2(n), and g2(n) is
    independent of f(g1(y)) (g1 and g2 never pick the same pixel), so

        E‖f(g1(y)) − g2(y)‖² = E‖f(g1(y)) − g2(x)‖² + E‖g2(n)‖²:

    the held-out reconstruction loss is the error against the clean neighbour plus the noise variance, which
    does not depend on the model. Lower is better, and the difference between two models is the difference
    of their errors against the clean neighbours. Crops, pairs and their order are fixed, so the values are
    comparable across epochs and runs on the same held-out crops.
    """
    crops = torch.stack([held_out[(0, k)]["noisy"] for k in range(len(held_out))])
    criterion = Neighbor2NeighborLoss()

    @torch.no_grad()  # a score: no graph to keep (and no-grad convolutions run fused on the CPU)
    def score(model: torch.nn.Module) -> dict:
        total, regulariser = 0.0, 0.0
        for start in range(0, len(crops), 4):
            x = runtime.layout(crops[start : start + 4].to(runtime.device))
            generator = torch.Generator(device=runtime.device).manual_seed(derive_seed(seed, start))
            terms = criterion(model, x, generator=generator, gamma=1.0)
            total += float(terms.reconstruction) * len(x)
            regulariser += float(terms.regularizer) * len(x)
        return {"holdout_loss": total / len(crops), "holdout_regularizer": regulariser / len(crops)}

    return score


def make_validator(
    config: TrainConfig, data: ckpt.TrainingData, runtime: Runtime, held_out=None
) -> Callable[[torch.nn.Module], dict] | None:
    """The per-epoch validation for the track (and the held-out score), or None when there is nothing to do.

    Raw blocks are fed to the network exactly as ``evaluate`` and ``submit`` feed them (same CFA target and
    phase). The sRGB track validates on the embedded scikit-image photos when no folder is given.
    """
    if config.validate_every <= 0:
        return None
    blocks = _block_validator(config, data, runtime)
    if held_out is None:
        return blocks
    score = holdout_score(held_out, replace(runtime, bf16=False), config.seed)
    if blocks is None:
        return score

    def both(model: torch.nn.Module) -> dict:
        return {**blocks(model), **score(model)}

    if hasattr(blocks, "sheet"):
        both.sheet = blocks.sheet
    return both


def _block_validator(
    config: TrainConfig, data: ckpt.TrainingData, runtime: Runtime
) -> Callable[[torch.nn.Module], dict] | None:
    if not config.validation_dir and config.track != "srgb":
        return None
    if config.track == "raw":
        from .evaluate import make_raw_validator
        from .inference import InferenceSettings

        settings = InferenceSettings.for_training(data, replace(runtime, bf16=False))
        return make_raw_validator(config.validation_dir, config.validation_limit, settings)
    from .srgb.protocol import make_srgb_validator

    validate = make_srgb_validator(
        config.validation_dir, limit=config.validation_limit, noise=config.noise, out_dir=config.out
    )
    return lambda model: validate(model, runtime.device)


def make_noise(config: TrainConfig) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None:
    if config.track != "srgb":
        return None
    from .srgb.noise import noise_model

    return noise_model(config.noise)
