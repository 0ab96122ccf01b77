"""The Neighbor2Neighbor loss and γ schedules (n2n_raw.loss) against the definition and the official step."""

from __future__ import annotations

import pytest
import torch

from n2n_raw.loss import Neighbor2NeighborLoss
from n2n_raw.model import UNet, UNetConfig
from n2n_raw.sampler import NeighborPairs, draw_neighbor_pairs, pairs_from_choices, subsample
from n2n_raw.schedules import GammaSchedule
from tests.reference_official import generate_mask_pair, official_choices, official_loss


def test_gamma_zero_is_plain_mse_of_the_subimages():
    net = torch.nn.Conv2d(4, 4, 3, padding=1)
    y = torch.rand(2, 4, 16, 16)
    pairs = draw_neighbor_pairs(y.shape, generator=torch.Generator().manual_seed(0))
    terms = Neighbor2NeighborLoss()(net, y, pairs, gamma=0.0)
    g1, g2 = subsample(y, pairs)
    expected = torch.nn.functional.mse_loss(net(g1), g2)
    torch.testing.assert_close(terms.total, expected, rtol=0, atol=0)
    torch.testing.assert_close(terms.reconstruction, expected, rtol=0, atol=0)


def test_identity_network_on_a_constant_image_gives_zero():
    y = torch.full((2, 4, 8, 8), 0.3)
    terms = Neighbor2NeighborLoss()(torch.nn.Identity(), y, generator=torch.Generator().manual_seed(0), gamma=2.0)
    assert terms.total.item() == 0.0 and terms.regularizer.item() == 0.0


def test_identity_network_regularizer_vanishes_on_any_image():
    """f = identity: f(g1 y) − g2 y equals g1 f(y) − g2 f(y), so the regulariser is exactly 0."""
    y = torch.rand(1, 3, 8, 8)
    terms = Neighbor2NeighborLoss()(torch.nn.Identity(), y, generator=torch.Generator().manual_seed(1), gamma=1.0)
    assert terms.regularizer.item() == 0.0
    assert terms.reconstruction.item() > 0.0


def test_full_image_pass_builds_no_graph():
    """Gradients flow only through f(g1(y)): the full pass's activations are recorded without autograd."""
    seen = []

    class Spy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(4, 4, 1)

        def forward(self, x):
            out = self.conv(x)
            seen.append((tuple(x.shape), out.requires_grad))
            return out

    y = torch.rand(1, 4, 8, 8)
    Neighbor2NeighborLoss()(Spy(), y, generator=torch.Generator().manual_seed(0), gamma=1.0).total.backward()
    assert sorted(seen) == [((1, 4, 4, 4), True), ((1, 4, 8, 8), False)]


@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_equals_the_official_step_loss_and_gradients(gamma):
    torch.manual_seed(0)
    net = UNet(UNetConfig(in_channels=4, out_channels=4)).double()
    y = torch.rand(2, 4, 64, 64, dtype=torch.float64)
    choices = official_choices(y.shape, generator=torch.Generator().manual_seed(5))
    m1, m2 = generate_mask_pair(y.shape, choices)
    ref_total, ref_rec, ref_reg = official_loss(net, y, m1, m2, lambda_=gamma)
    ref_total.backward()
    ref_grads = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()
    pairs = pairs_from_choices(choices.view(2, 32, 32))
    ours = Neighbor2NeighborLoss()(lambda t: net(t), y, pairs, gamma=gamma)
    ours.total.backward()
    torch.testing.assert_close(ours.total.double(), ref_total, rtol=1e-6, atol=0)
    torch.testing.assert_close(ours.reconstruction.double(), ref_rec, rtol=1e-6, atol=0)
    torch.testing.assert_close(gamma * ours.regularizer.double(), ref_reg, rtol=1e-6, atol=0)
    for p, g in zip(net.parameters(), ref_grads):
        torch.testing.assert_close(p.grad, g, rtol=1e-5, atol=1e-12)


def test_gamma_schedules():
    assert GammaSchedule("constant", gamma=1.0)(37) == 1.0
    ramp = GammaSchedule("ramp", increase_ratio=2.0, n_epoch=100)
    assert [ramp(e) for e in (1, 2, 50, 100)] == pytest.approx([0.02, 0.04, 1.0, 2.0])
    with pytest.raises(ValueError, match="linear"):
        GammaSchedule("linear")


def test_float32_loss_and_gradients_are_bit_identical_to_the_official_step():
    """In the precision training runs in, the loss value and every gradient equal the official step's exactly
    (the same draws; the official mask sampler and loss restated in tests/reference_official.py)."""
    torch.manual_seed(0)
    net = UNet(UNetConfig(in_channels=4, out_channels=4))
    y = torch.rand(2, 4, 64, 64)
    choices = official_choices(y.shape, generator=torch.Generator().manual_seed(5))
    m1, m2 = generate_mask_pair(y.shape, choices)
    ref_total, ref_rec, _ = official_loss(net, y, m1, m2, lambda_=2.0)
    ref_total.backward()
    ref_grads = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()
    ours = Neighbor2NeighborLoss()(net, y, pairs_from_choices(choices.view(2, 32, 32)), gamma=2.0)
    ours.total.backward()
    assert torch.equal(ours.total, ref_total) and torch.equal(ours.reconstruction, ref_rec)
    assert all(torch.equal(p.grad, g) for p, g in zip(net.parameters(), ref_grads))


def _balanced_reference(net, y, pairs, gamma, per_plane=False):
    """--balance-crops (or --balance-planes) written out: per crop (or per crop and plane) L = rec + γ·reg,
    weights 1/rec (detached) normalised to mean 1."""
    g1, g2 = subsample(y, pairs)
    with torch.no_grad():
        e1, e2 = subsample(net(y), pairs)
    units = [(i, c) for i in range(y.shape[0]) for c in range(y.shape[1])] if per_plane else range(y.shape[0])
    losses, weights = [], []
    for unit in units:
        i, c = unit if per_plane else (unit, slice(None))
        d = net(g1[i : i + 1])[:, c] - g2[i : i + 1, c]
        rec = d.square().mean()
        reg = (d - (e1[i : i + 1, c] - e2[i : i + 1, c])).square().mean()
        losses.append(rec + gamma * reg)
        weights.append(1.0 / rec.item())
    mean_weight = sum(weights) / len(weights)
    return sum(w / mean_weight * loss for w, loss in zip(weights, losses)) / len(losses)


@pytest.mark.parametrize("gamma", [0.0, 2.0])
def test_balanced_crops_equal_the_written_out_weighting_and_the_log_loss_gradient(gamma):
    torch.manual_seed(0)
    net = torch.nn.Conv2d(4, 4, 3, padding=1)
    # three crops at very different levels: plain MSE is dominated by the bright one
    y = torch.rand(3, 4, 16, 16) * torch.tensor([1.0, 0.1, 0.01]).view(3, 1, 1, 1)
    pairs = draw_neighbor_pairs(y.shape, generator=torch.Generator().manual_seed(1))
    terms = Neighbor2NeighborLoss(balance_crops=True)(net, y, pairs, gamma=gamma)
    torch.testing.assert_close(terms.total, _balanced_reference(net, y, pairs, gamma), rtol=1e-5, atol=0)
    # the logged terms stay the plain means
    plain = Neighbor2NeighborLoss()(net, y, pairs, gamma=gamma)
    torch.testing.assert_close(terms.reconstruction, plain.reconstruction, rtol=1e-6, atol=0)
    torch.testing.assert_close(terms.regularizer, plain.regularizer, rtol=1e-6, atol=0)
    if gamma == 0.0:  # the gradient is that of the mean log-loss, divided by the mean weight
        net.zero_grad()
        terms.total.backward()
        got = net.weight.grad.clone()
        net.zero_grad()
        g1, g2 = subsample(y, pairs)
        per_crop = (net(g1) - g2).square().flatten(1).mean(dim=1)
        (per_crop.log().mean() / (1.0 / per_crop.detach()).mean()).backward()
        torch.testing.assert_close(got, net.weight.grad, rtol=1e-4, atol=1e-12)


@pytest.mark.parametrize("gamma", [0.0, 2.0])
def test_balanced_planes_equal_the_written_out_weighting(gamma):
    torch.manual_seed(0)
    net = torch.nn.Conv2d(4, 4, 3, padding=1)
    # two crops, and inside each a plane at a tenth and a hundredth of the others (coloured light)
    levels = torch.tensor([[1.0, 0.1, 1.0, 0.01], [0.05, 0.5, 0.5, 0.005]]).view(2, 4, 1, 1)
    y = torch.rand(2, 4, 16, 16) * levels
    pairs = draw_neighbor_pairs(y.shape, generator=torch.Generator().manual_seed(1))
    terms = Neighbor2NeighborLoss(balance_planes=True)(net, y, pairs, gamma=gamma)
    torch.testing.assert_close(
        terms.total, _balanced_reference(net, y, pairs, gamma, per_plane=True), rtol=1e-5, atol=0
    )
    plain = Neighbor2NeighborLoss()(net, y, pairs, gamma=gamma)
    torch.testing.assert_close(terms.reconstruction, plain.reconstruction, rtol=1e-6, atol=0)
    # the divergence guard's value is the plain loss, whatever the weighting
    torch.testing.assert_close(terms.unweighted, plain.total, rtol=1e-6, atol=0)
    assert torch.equal(plain.unweighted, plain.total)
    # per plane is not per crop: the crop weighting gives another total on this batch
    crops = Neighbor2NeighborLoss(balance_crops=True)(net, y, pairs, gamma=gamma)
    assert not torch.allclose(crops.total, terms.total, rtol=1e-3)


def test_balancing_crops_and_planes_at_once_is_refused():
    with pytest.raises(ValueError, match="exclude each other"):
        Neighbor2NeighborLoss(balance_crops=True, balance_planes=True)


def test_balanced_crops_with_equal_crops_is_plain_mse():
    net = torch.nn.Conv2d(4, 4, 3, padding=1)
    y = torch.rand(1, 4, 16, 16).repeat(3, 1, 1, 1)
    one = draw_neighbor_pairs((1, 4, 16, 16), generator=torch.Generator().manual_seed(2))
    pairs = NeighborPairs(one.g1.repeat(3, 1, 1), one.g2.repeat(3, 1, 1))  # every weight is then 1
    balanced = Neighbor2NeighborLoss(balance_crops=True)(net, y, pairs, gamma=1.0)
    plain = Neighbor2NeighborLoss()(net, y, pairs, gamma=1.0)
    torch.testing.assert_close(balanced.total, plain.total, rtol=1e-6, atol=0)
