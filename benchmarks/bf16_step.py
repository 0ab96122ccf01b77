"""bf16 against fp32 on one CPU: the same sRGB preset batch, the same pairs, activations, loss terms, gradients.

``python -m benchmarks.bf16_step [--steps N]`` builds the sRGB CPU preset's batch (4 crops of 128² of the
embedded training photos, gauss25 noise) and, for the official network (×0.1 initialisation, no identity path)
and the preset's identity-path network, runs one Neighbor2Neighbor step three ways on the same weights and the
same neighbour pairs: float64 (the reference), fp32, and bf16 autocast as ``--amp bf16`` trains. It prints
the relative error against float64 of the loss terms, of each top-level module's activations and of each
layer's gradient (‖g − g₆₄‖ / ‖g₆₄‖), so an op that goes wrong in one precision on this CPU shows by name.
(The loss itself is fp32 in all three: :class:`n2n_raw.loss.Neighbor2NeighborLoss` takes the network's output to
fp32, so the float64 run is float64 through the network and its backward pass, not in the loss.)

With ``--steps N`` it then trains the official network N steps at the old preset's lr 1e-3 (no warm-up, no
clip: where the colour collapse was reported) in fp32 and in bf16 from the same weights on the same batches
and pairs, and prints the loss and the colour part of the output's error (what is left of the error after
its mean over R, G, B is taken away) every N / 10 steps: a cumulative drift that no single step shows.
"""

from __future__ import annotations

import argparse
import copy

import numpy as np
import torch

from n2n_raw.device import Runtime
from n2n_raw.loss import Neighbor2NeighborLoss
from n2n_raw.model import UNet, UNetConfig
from n2n_raw.sampler import draw_neighbor_pairs
from n2n_raw.srgb.data import embedded_photos
from n2n_raw.srgb.noise import noise_model

from .common import machine


def preset_batch(batch: int = 4, crop: int = 128, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(clean, noisy) float32 (N, 3, crop, crop): random crops of the embedded training photos, gauss25 noise."""
    rng = np.random.default_rng(seed)
    photos = [p for _, p in embedded_photos("train") if min(p.shape[:2]) >= crop]
    crops = []
    for _ in range(batch):
        p = photos[rng.integers(len(photos))]
        y, x = rng.integers(p.shape[0] - crop + 1), rng.integers(p.shape[1] - crop + 1)
        crops.append(torch.from_numpy(p[y : y + crop, x : x + crop].astype(np.float32) / 255.0).permute(2, 0, 1))
    clean = torch.stack(crops)
    return clean, noise_model("gauss25")(clean, torch.Generator().manual_seed(seed))


def relative(a: torch.Tensor, reference: torch.Tensor) -> float:
    reference = reference.double()
    return float((a.double() - reference).norm() / reference.norm().clamp_min(1e-300))


def one_step(model: UNet, noisy: torch.Tensor, pairs, runtime: Runtime, dtype=torch.float32) -> dict:
    """Loss terms, top-level activations (on the full image) and per-layer gradients of one step."""
    model = copy.deepcopy(model).to(dtype)
    noisy = runtime.layout(noisy.to(dtype))
    acts: dict[str, torch.Tensor] = {}

    def keep(name: str):
        def hook(_module, _inputs, output) -> None:  # returns None: the output itself is left alone
            acts.setdefault(name, output.detach().float().clone())

        return hook

    hooks = [m.register_forward_hook(keep(n)) for n, m in model.named_children() if hasattr(m, "forward")]
    hooks += [m.register_forward_hook(keep(f"enc_convs.{i}")) for i, m in enumerate(model.enc_convs)]
    with torch.no_grad(), runtime.autocast():
        model(noisy)  # the full-image pass, hooked first: the activations compared are this one's
    for h in hooks:
        h.remove()
    with runtime.autocast():
        terms = Neighbor2NeighborLoss()(model, noisy, pairs=pairs, gamma=1.0)
    terms.total.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    return {"terms": {k: getattr(terms, k).item() for k in ("total", "reconstruction", "regularizer")},
            "acts": acts, "grads": grads}  # fmt: skip


def compare(config: UNetConfig, noisy: torch.Tensor, seed: int = 0) -> None:
    torch.manual_seed(seed)
    model = UNet(config)
    pairs = draw_neighbor_pairs(noisy.shape, generator=torch.Generator().manual_seed(seed))
    reference = one_step(model, noisy, pairs, Runtime(), torch.float64)
    runs = {"fp32": one_step(model, noisy, pairs, Runtime(channels_last=True)),
            "bf16": one_step(model, noisy, pairs, Runtime(bf16=True, channels_last=True))}  # fmt: skip
    print(f"\n## {'identity path' if config.residual else 'official network'}, init ×{config.init_scale:g}")
    print("loss terms (float64):", ", ".join(f"{k} {v:.6g}" for k, v in reference["terms"].items()))
    for name, run in runs.items():
        print(f"{name}: loss terms off by " + ", ".join(
            f"{k} {abs(v / reference['terms'][k] - 1):.2e}" for k, v in run["terms"].items()))  # fmt: skip
    print("\n| module (activations) | fp32 | bf16 |\n|---|---|---|")
    for n, ref in reference["acts"].items():
        print(f"| {n} | {relative(runs['fp32']['acts'][n], ref):.2e} | {relative(runs['bf16']['acts'][n], ref):.2e} |")
    rows = [(n, relative(runs["fp32"]["grads"][n], g), relative(runs["bf16"]["grads"][n], g), float(g.norm()))
            for n, g in reference["grads"].items()]  # fmt: skip
    total = relative(torch.cat([runs["bf16"]["grads"][n].flatten() for n in reference["grads"]]),
                     torch.cat([g.flatten() for g in reference["grads"].values()]))  # fmt: skip
    print(f"\nall gradients together, bf16 against float64: {total:.2e}")
    print("\n| layer (gradient), worst 8 in bf16 | ‖g₆₄‖ | fp32 | bf16 |\n|---|---|---|---|")
    for n, e32, e16, norm in sorted(rows, key=lambda r: -r[2])[:8]:
        print(f"| {n} | {norm:.2e} | {e32:.2e} | {e16:.2e} |")


def colour_error(model: UNet, clean: torch.Tensor, noisy: torch.Tensor) -> tuple[float, float]:
    """MSE of the output's grey part (error averaged over R, G, B) and of its colour part (the rest)."""
    with torch.no_grad():
        error = model(noisy).float() - clean
    grey = error.mean(dim=1, keepdim=True)
    return float(grey.square().mean()), float((error - grey).square().mean())


def trajectory(steps: int, seed: int = 0) -> None:
    torch.manual_seed(seed)
    start = UNet(UNetConfig(in_channels=3, out_channels=3))
    _, probe = preset_batch(seed=1000)
    clean_probe = preset_batch(seed=1000)[0]
    models = {"fp32": copy.deepcopy(start), "bf16": copy.deepcopy(start)}
    runtimes = {"fp32": Runtime(channels_last=True), "bf16": Runtime(bf16=True, channels_last=True)}
    optimizers = {k: torch.optim.Adam(m.parameters(), lr=1e-3) for k, m in models.items()}
    criterion = Neighbor2NeighborLoss()
    print(f"\n## the official network, {steps} steps at lr 1e-3 (no warm-up, no clip), the same batches and pairs")
    print("| step | loss fp32 | loss bf16 | colour MSE fp32 | colour MSE bf16 | grey MSE fp32 | grey MSE bf16 |")
    print("|---|---|---|---|---|---|---|")
    for step in range(1, steps + 1):
        _, noisy = preset_batch(seed=seed * 100_000 + step)
        pairs = draw_neighbor_pairs(noisy.shape, generator=torch.Generator().manual_seed(step))
        gamma = 2.0 * step / steps  # the official ramp's shape over this run
        losses = {}
        for k, model in models.items():
            rt = runtimes[k]
            with rt.autocast():
                terms = criterion(model, rt.layout(noisy), pairs=pairs, gamma=gamma)
            optimizers[k].zero_grad(set_to_none=True)
            terms.total.backward()
            optimizers[k].step()
            losses[k] = terms.reconstruction.item()
        if step % max(1, steps // 10) == 0 or step == steps:
            c = {k: colour_error(m, clean_probe, probe) for k, m in models.items()}
            print(f"| {step} | {losses['fp32']:.4g} | {losses['bf16']:.4g} | {c['fp32'][1]:.3e} | {c['bf16'][1]:.3e} "
                  f"| {c['fp32'][0]:.3e} | {c['bf16'][0]:.3e} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=0, help="also train the official network N steps both ways")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    m = machine()
    print(f"machine: {m}")
    _, noisy = preset_batch(seed=args.seed)
    compare(UNetConfig(in_channels=3, out_channels=3), noisy, args.seed)
    compare(UNetConfig(in_channels=3, out_channels=3, residual=True), noisy, args.seed)
    if args.steps:
        trajectory(args.steps, args.seed)


if __name__ == "__main__":
    main()
