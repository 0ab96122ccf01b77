"""The U-Net (n2n_raw.model): parameter counts, shapes, initialisation."""

from __future__ import annotations

import pytest
import torch

from n2n_raw import model as model_module
from n2n_raw.model import UNet, UNetConfig, count_parameters, smooth_block_means


@pytest.mark.parametrize("channels,expected", [(4, 1_260_868), (3, 1_259_475)])
def test_parameter_counts_match_the_official_network(channels, expected):
    assert count_parameters(UNet(UNetConfig(in_channels=channels, out_channels=channels))) == expected


def test_deconvolutions_have_biases():
    """Pitfall 2: the official ConvTranspose2d(c, c, 2, 2, 0, False) passes False as output_padding."""
    deconvs = [m for m in UNet().modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert len(deconvs) == 5 and all(m.bias is not None for m in deconvs)


@pytest.mark.parametrize("size", [(64, 64), (50, 70), (33, 8), (7, 5)])
def test_output_shape_equals_input_shape(size):
    net = UNet().eval()
    x = torch.rand(2, 4, *size)
    with torch.no_grad():
        assert net(x).shape == x.shape


def test_padding_is_only_bottom_right():
    """An input padded by the model must give, on its top-left part, the output of the padded input."""
    torch.manual_seed(0)
    net = UNet().eval()
    x = torch.rand(1, 4, 40, 48)
    padded = torch.nn.functional.pad(x, (0, 16, 0, 24), mode="reflect")
    with torch.no_grad():
        torch.testing.assert_close(net(x), net(padded)[..., :40, :48])


def test_initialisation_is_kaiming_times_a_tenth_with_zero_biases():
    torch.manual_seed(0)
    net = UNet()
    conv = net.enc_convs[0][0]  # 48→48, fan_in = 48·9
    expected_std = 0.1 * (2.0 / (48 * 9)) ** 0.5
    assert conv.weight.std().item() == pytest.approx(expected_std, rel=0.05)
    assert all(float(m.bias.detach().abs().max()) == 0.0 for m in net.modules() if isinstance(m, torch.nn.Conv2d))


def test_zero_output_init_makes_the_identity_path_network_start_as_the_exact_identity():
    torch.manual_seed(0)
    net = UNet(UNetConfig(residual=True, init_scale=1.0, zero_output_init=True)).eval()
    assert float(net.head[-1].weight.abs().max()) == 0.0
    assert float(net.enc_convs[0][0].weight.std()) == pytest.approx((2.0 / (48 * 9)) ** 0.5, rel=0.05)  # full Kaiming
    x = torch.rand(1, 4, 40, 48)
    with torch.no_grad():
        assert torch.equal(net(x), x)
        assert float(UNet(UNetConfig(init_scale=1.0, zero_output_init=True)).eval()(x).abs().max()) == 0.0


def test_smooth_block_means_by_hand():
    """Two 2×2 cells of means 2 and 6, interpolated bilinearly (cell centres hold the means, edges are held)."""
    y = torch.tensor([[1.0, 3.0, 5.0, 7.0], [1.0, 3.0, 5.0, 7.0]]).view(1, 1, 2, 4)
    expected = torch.tensor([[2.0, 3.0, 5.0, 6.0], [2.0, 3.0, 5.0, 6.0]]).view(1, 1, 2, 4)
    torch.testing.assert_close(smooth_block_means(y, 2), expected)
    c = torch.full((1, 2, 8, 8), 0.25)
    torch.testing.assert_close(smooth_block_means(c, 4), c)  # a constant is its own local mean


def test_keep_local_means_keeps_every_plane_mean_of_the_input():
    """With the option the correction's plane means are 0, whatever the weights (here full-scale random ones
    with a live output layer); without it the same network moves them."""
    torch.manual_seed(0)
    free = UNet(UNetConfig(residual=True, init_scale=1.0)).eval()
    kept = UNet(UNetConfig(residual=True, init_scale=1.0, keep_local_means=32)).eval()
    kept.load_state_dict(free.state_dict())
    x = torch.rand(1, 4, 64, 96, dtype=torch.float64)
    free.double(), kept.double()
    with torch.no_grad():
        moved = (free(x) - x).mean(dim=(2, 3)).abs().max().item()
        out = kept(x)
    assert moved > 1e-3
    torch.testing.assert_close(out.mean(dim=(2, 3)), x.mean(dim=(2, 3)), atol=1e-12, rtol=0)
    assert not torch.equal(out, x)  # the fine detail is still the network's


@pytest.mark.parametrize("config", [UNetConfig(keep_local_means=32), UNetConfig(residual=True, keep_local_means=3)])
def test_keep_local_means_needs_the_identity_path_and_a_divisor_of_32(config):
    with pytest.raises(ValueError, match="keep_local_means"):
        UNet(config)


def test_a_checkpoint_with_an_impossible_keep_local_means_is_one_line_naming_the_file(tmp_path, capsys):
    from n2n_raw.checkpoint import save_checkpoint
    from n2n_raw.cli import main

    config = UNetConfig(width=8)
    state = {"model": UNet(config).state_dict(), "model_config": {**config.to_dict(), "keep_local_means": 3},
             "step": 0, "epoch": 1, "batch_in_epoch": 0, "optimizer": {}, "train_config": {}}  # fmt: skip
    path = save_checkpoint(tmp_path / "checkpoints", state)
    args = ["export", str(path), "--out", str(tmp_path / "m.onnx")]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0] and "keep_local_means 3" in err[0]


def test_leaky_relu_slope_and_linear_output():
    net = UNet()
    slopes = {m.negative_slope for m in net.modules() if isinstance(m, torch.nn.LeakyReLU)}
    assert slopes == {0.2}
    assert isinstance(net.head[-1], torch.nn.Conv2d) and net.head[-1].kernel_size == (1, 1)


def _dtypes_seen(model: UNet, x: torch.Tensor) -> dict[str, torch.dtype]:
    """The dtype of the last decoder stage's two convolution blocks' outputs and of the output layer's."""
    seen: dict[str, torch.dtype] = {}
    watched = {"conv_a": model.up1.conv_a, "conv_b": model.up1.conv_b, "output": model.head[-1]}
    hooks = [m.register_forward_hook(lambda m, i, o, n=n: seen.__setitem__(n, o.dtype)) for n, m in watched.items()]
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        model(x)
    for h in hooks:
        h.remove()
    return seen


def test_under_bf16_autocast_inference_keeps_the_input_convolution_and_output_layer_fp32():
    torch.manual_seed(0)
    model, x = UNet(), torch.rand(1, 4, 32, 32)
    assert _dtypes_seen(model.eval(), x) == {"conv_a": torch.float32, "conv_b": torch.bfloat16, "output": torch.float32}
    # Training keeps the input convolution in bf16 (the step's speed); only the output layer is fp32.
    assert _dtypes_seen(model.train(), x) == {
        "conv_a": torch.bfloat16,
        "conv_b": torch.bfloat16,
        "output": torch.float32,
    }


def test_fp32_input_convolution_removes_most_of_bf16s_cost_against_the_clean_image():
    # The shipped model on a clean, smooth 50 dB-like block (noise σ = 0.003): how much bf16 raises the error
    # against the clean image, relative to an fp64 pass. With the input convolution in fp32 (eval mode) the
    # excess is several times smaller than with it in bf16 (train mode, same weights, no dropout or norms).
    from n2n_raw.checkpoint import load_model
    from n2n_raw.pretrained import pretrained_path

    model = load_model(pretrained_path())[0].double()
    ramp = torch.linspace(0.05, 0.4, 64, dtype=torch.float64)
    clean = ((ramp[None, :] + ramp[:, None]) / 2).expand(1, 4, 64, 64)
    noisy = clean + 0.003 * torch.randn(1, 4, 64, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        exact_mse = (model.eval()(noisy) - clean).pow(2).mean().item()
    model = model.float()

    def bf16_excess(training: bool) -> float:
        model.train(training)
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            y = model(noisy.float())
        return ((y.double() - clean).pow(2).mean().item() - exact_mse) / exact_mse

    in_eval, in_train = bf16_excess(training=False), bf16_excess(training=True)
    assert in_eval < 0.005  # under 0.02 dB
    assert in_eval < 0.4 * in_train


@pytest.mark.skipif(not model_module.FUSED_CPU_INFERENCE, reason="this torch build has no oneDNN fused convolution")
@pytest.mark.parametrize("bf16", [False, True])
def test_fused_convolution_and_leaky_relu_at_inference_equals_the_two_modules(monkeypatch, bf16):
    if bf16 and not model_module.FUSED_CPU_BF16:
        pytest.skip("this CPU has no oneDNN bf16 convolution (it needs AVX-512 or AVX-NE-CONVERT)")
    torch.manual_seed(0)
    model = UNet(UNetConfig(init_scale=1.0)).eval().to(memory_format=torch.channels_last)
    x = torch.rand(2, 4, 64, 96).contiguous(memory_format=torch.channels_last)
    activations = []
    for m in model.modules():
        if isinstance(m, torch.nn.LeakyReLU):
            m.register_forward_hook(lambda *_: activations.append(1))

    def run() -> torch.Tensor:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return model(x)

    fused = run()
    assert activations == []  # every LeakyReLU ran inside its convolution
    monkeypatch.setattr(model_module, "FUSED_CPU_INFERENCE", False)
    eager = run()
    assert len(activations) == 19
    # fp32: the same sums in another order; bf16: one rounding of the activated output instead of two.
    tolerance = 0.02 if bf16 else 1e-6
    assert (fused - eager).abs().max().item() <= tolerance * eager.abs().max().item()
    with torch.enable_grad():  # with autograd the two modules run (the fused op has no backward)
        model(x).sum().backward()
    assert len(activations) == 38


@pytest.mark.skipif(not model_module.FUSED_CPU_INFERENCE, reason="this torch build has no oneDNN fused convolution")
def test_bf16_inference_where_onednn_has_no_bf16_convolution_runs_the_two_modules(monkeypatch):
    """On an AVX2-only CPU oneDNN refuses a bf16 convolution; the plain modules (ATen's bf16 path) run instead."""
    torch.manual_seed(0)
    model = UNet(UNetConfig(init_scale=1.0)).eval()
    x = torch.rand(1, 4, 32, 32)
    activations = []
    for m in model.modules():
        if isinstance(m, torch.nn.LeakyReLU):
            m.register_forward_hook(lambda *_: activations.append(1))

    def run() -> torch.Tensor:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            return model(x)

    monkeypatch.setattr(model_module, "FUSED_CPU_BF16", False)
    fallback = run()
    assert len(activations) == 18  # no fused bf16 call was tried; the 19th, up1's fp32 input convolution, is fused
    monkeypatch.setattr(model_module, "FUSED_CPU_INFERENCE", False)
    assert torch.equal(fallback, run())
    monkeypatch.setattr(model_module, "FUSED_CPU_INFERENCE", True)
    activations.clear()
    with torch.no_grad():  # fp32 stays fused: only the bf16 path depends on the CPU
        model(x)
    assert activations == []
