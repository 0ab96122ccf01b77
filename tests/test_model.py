"""The U-Net (n2n_raw.model): parameter counts, shapes, initialisation."""

from __future__ import annotations

import pytest
import torch

from n2n_raw.model import UNet, UNetConfig, count_parameters


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


def test_leaky_relu_slope_and_linear_output():
    net = UNet()
    slopes = {m.negative_slope for m in net.modules() if isinstance(m, torch.nn.LeakyReLU)}
    assert slopes == {0.2}
    assert isinstance(net.head[-1], torch.nn.Conv2d) and net.head[-1].kernel_size == (1, 1)
