"""The U-Net of the official Neighbor2Neighbor code (``arch_unet.py``, default options).

Laine et al. 2019's U-Net with transposed-convolution upsampling: width 48, five 2×2 max-poolings,
LeakyReLU 0.2 after every 3×3 convolution, a decoder of deconvolution → concatenation → two 3×3 convs,
the *network input* concatenated at the last skip, and a head of three 1×1 convolutions with a linear
output. No normalisation, no residual connection: the network predicts the clean image.
(``UNetConfig.residual`` adds an identity path, an option that is not part of the official network.)

Parameters: 1,260,868 for packed raw (4 → 4), 1,259,475 for RGB (3 → 3).

The official code builds its deconvolutions as ``ConvTranspose2d(c, c, 2, 2, 0, False)``: the 6th positional
argument is ``output_padding`` (= 0), not ``bias``, so they *do* have biases; so do ours.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

MULTIPLE = 32  # five poolings: the U-Net's input sides must be multiples of this


@dataclass
class UNetConfig:
    """Architecture options, stored in every checkpoint and used to rebuild the model."""

    in_channels: int = 4
    """Input channels: 4 for packed Bayer raw, 3 for RGB."""
    out_channels: int = 4
    """Output channels (equal to the input's for denoising)."""
    width: int = 48
    """Feature width of the encoder (the decoder uses twice this)."""
    negative_slope: float = 0.2
    """LeakyReLU slope (0.2 in Neighbor2Neighbor; Laine et al. used 0.1)."""
    init_scale: float = 0.1
    """Kaiming-normal initial weights are multiplied by this (official ×0.1)."""
    residual: bool = False
    """Identity path: output = input + U-Net(input). Not in the official network (off for the paper's recipe):
    with the ×0.1 initialisation the official network starts near zero and must first learn to reproduce the
    image, levels and colour included; with the identity path it starts as the identity and learns only the
    correction, so the signal's mean level is kept from the first step."""
    zero_output_init: bool = False
    """Start the linear output layer at zero (not in the official network). With ``residual`` the network then
    starts as the exact identity while every other layer keeps its Kaiming scale (``init_scale`` 1): the
    deep path carries signal from the first step, as in ReZero/Fixup-style residual networks."""
    keep_local_means: int = 0
    """With ``residual``: remove from the U-Net's correction its local means over ``keep_local_means``-pixel
    blocks (block averages, bilinearly interpolated back), so that the output keeps the input's local mean level
    and colour; 0 (the default, and the official network) leaves the correction free. Not in the official
    network. Why it is a prior and not a fix-up: the noise is zero-mean, so a B × B block mean of the input is
    the clean block mean within σ / B, and a denoiser that is right on average keeps it (E[E[x | y]] = E[x] =
    E[y]); what moves a dark photo's colour is a learned prior that does not fit the photo, and this removes
    that freedom. It is part of the network, in training as at inference, not a rescaling of its output."""

    def to_dict(self) -> dict:
        return asdict(self)


def _fused_op_available() -> bool:
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise")


FUSED_CPU_INFERENCE = _fused_op_available()
# oneDNN's bf16 convolution needs AVX-512 (BW, VL, DQ) or AVX-NE-CONVERT; on other CPUs (AVX2-only ones) the fused
# op refuses bf16 with a RuntimeError, while the plain modules fall back to ATen's own (slow) bf16 convolution.
FUSED_CPU_BF16 = FUSED_CPU_INFERENCE and bool(getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)())


def conv_leaky_relu(conv: nn.Conv2d, act: nn.LeakyReLU, x: torch.Tensor) -> torch.Tensor:
    """``act(conv(x))``; without autograd on the CPU, as one oneDNN convolution with the LeakyReLU fused in.

    Same arithmetic as the two modules (one rounding of the activated output instead of two in bf16), without
    a second pass over a full-resolution tensor: LeakyReLU alone was 14 % of a bf16 inference pass. The op is
    the one torch.compile's CPU backend emits, called directly, so inference needs no compile step. Under
    autocast it runs in the autocast dtype, as ``conv`` would. With autograd (a training step's g1 pass) the
    two modules run; the step's no-grad full-image pass is fused too.
    """
    if torch.is_grad_enabled() or x.device.type != "cpu" or not FUSED_CPU_INFERENCE or torch.compiler.is_compiling():
        return act(conv(x))  # training, CUDA, or a graph being traced (export, compile: they fuse on their own)
    dtype = torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else x.dtype
    if dtype != torch.float32 and not (dtype == torch.bfloat16 and FUSED_CPU_BF16):
        return act(conv(x))
    weight, bias = conv.weight.to(dtype), None if conv.bias is None else conv.bias.to(dtype)
    return torch.ops.mkldnn._convolution_pointwise(
        x.to(dtype), weight, bias, conv.padding, conv.stride, conv.dilation, conv.groups,
        "leaky_relu", [act.negative_slope], "",
    )  # fmt: skip


class ConvAct(nn.Sequential):
    """A 3×3 convolution and its LeakyReLU (children ``0`` and ``1``, as the official ``nn.Sequential``)."""

    def __init__(self, cin: int, cout: int, slope: float):
        super().__init__(nn.Conv2d(cin, cout, kernel_size=3, padding=1), nn.LeakyReLU(slope, inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return conv_leaky_relu(self[0], self[1], x)


class UpStage(nn.Module):
    """Deconvolution (×2), concatenation with a skip, then two 3×3 convolutions."""

    def __init__(self, cin: int, cskip: int, cout: int, slope: float, joins_input: bool = False):
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cin, kernel_size=2, stride=2, bias=True)
        self.conv_a = ConvAct(cin + cskip, cout, slope)
        self.conv_b = ConvAct(cout, cout, slope)
        self.joins_input = joins_input

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = torch.cat([self.up(x), skip], dim=1)
        if self.joins_input and not self.training and torch.is_autocast_enabled(x.device.type):
            # Inference under bf16 autocast: the convolution that reads the noisy input (the last skip) runs in
            # fp32. Rounding that input and the full-resolution features beside it to bf16 (2^-9) was most of
            # bf16's PSNR cost near 50 dB. Shipped model, cleanest demo phone (iPhone validation blocks, mean of
            # per-block PSNR): −0.033 dB all in bf16, −0.013 dB with only the 4 input channels of this
            # convolution in fp32, −0.001 dB with all of it in fp32, for 29 % of the FLOPs (benchmarks/README.md,
            # "bf16 inference"). Training keeps it in bf16 (the step's speed; convergence is measured in bf16).
            with torch.autocast(x.device.type, enabled=False):
                h = self.conv_a(x.to(self.conv_a[0].weight.dtype))
            return self.conv_b(h)
        return self.conv_b(self.conv_a(x))


class UNet(nn.Module):
    """Neighbor2Neighbor's U-Net. Accepts any H×W: pads bottom/right to a multiple of 32 and crops back."""

    multiple = MULTIPLE

    def __init__(self, config: UNetConfig | None = None):
        super().__init__()
        self.config = config = config or UNetConfig()
        k = config.keep_local_means
        if k and (not config.residual or k < 0 or MULTIPLE % k):
            raise ValueError(f"keep_local_means {k}: needs the identity path (residual) and a divisor of {MULTIPLE}")
        w, s = config.width, config.negative_slope
        # Encoder: conv0, then conv_k + pool for k = 1..5, then conv6 at 1/32.
        self.enc_conv0 = ConvAct(config.in_channels, w, s)
        self.enc_convs = nn.ModuleList([ConvAct(w, w, s) for _ in range(5)])
        self.pool = nn.MaxPool2d(2)
        self.enc_conv6 = ConvAct(w, w, s)
        # Decoder: up5 joins skip4 (w), up4..up2 join skip3..skip1 (w), up1 joins the input.
        self.up5 = UpStage(w, w, 2 * w, s)
        self.up4 = UpStage(2 * w, w, 2 * w, s)
        self.up3 = UpStage(2 * w, w, 2 * w, s)
        self.up2 = UpStage(2 * w, w, 2 * w, s)
        self.up1 = UpStage(2 * w, config.in_channels, 2 * w, s, joins_input=True)
        # Head: three 1×1 convolutions (Laine et al.'s "nin" layers), the last one linear.
        self.head = nn.Sequential(
            nn.Conv2d(2 * w, 2 * w, 1), nn.LeakyReLU(s, inplace=True),
            nn.Conv2d(2 * w, 2 * w, 1), nn.LeakyReLU(s, inplace=True),
            nn.Conv2d(2 * w, config.out_channels, 1),
        )  # fmt: skip
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Kaiming normal (fan_in, a = 0) × init_scale on every (de)convolution weight; zero biases (and a zero
        output layer with ``zero_output_init``)."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(m.weight, a=0, mode="fan_in")
                with torch.no_grad():
                    m.weight.mul_(self.config.init_scale)
                nn.init.zeros_(m.bias)
        if self.config.zero_output_init:
            nn.init.zeros_(self.head[-1].weight)

    def _forward_aligned(self, x: torch.Tensor) -> torch.Tensor:
        skips = [x]
        h = self.enc_conv0(x)
        for k, conv in enumerate(self.enc_convs):
            h = self.pool(conv(h))
            if k < 4:
                skips.append(h)  # skip1..skip4 at 1/2..1/16
        h = self.enc_conv6(h)  # 1/32
        h = self.up5(h, skips.pop())
        h = self.up4(h, skips.pop())
        h = self.up3(h, skips.pop())
        h = self.up2(h, skips.pop())
        h = self.up1(h, skips.pop())
        h = conv_leaky_relu(self.head[0], self.head[1], h)
        h = conv_leaky_relu(self.head[2], self.head[3], h)
        # The linear output layer runs in fp32 even under bf16 autocast: outputs are pixel values whose
        # errors of ~0.003 matter (raw PSNR ~50 dB), below bf16's resolution near 1.0 (2^-8).
        with torch.autocast(h.device.type, enabled=False):
            out = self.head[-1]
            y = out(h.to(out.weight.dtype))  # the parameters' dtype: fp32 (fp64 in some tests)
            if self.config.keep_local_means:
                y = y - smooth_block_means(y, self.config.keep_local_means)
            return y + x.to(y.dtype) if self.config.residual else y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = MULTIPLE
        ph, pw = (-h) % m, (-w) % m
        if not (ph or pw):
            return self._forward_aligned(x)
        # Reflect padding as the official validation does; replicate where the image is too small to reflect.
        mode = "reflect" if (ph < h and pw < w) else "replicate"
        out = self._forward_aligned(F.pad(x, (0, pw, 0, ph), mode=mode))
        return out[..., :h, :w]


def smooth_block_means(y: torch.Tensor, block: int) -> torch.Tensor:
    """The means of ``y`` over ``block`` × ``block`` cells, interpolated bilinearly back to ``y``'s size (cell
    centres hold the cell means; edges are held). Sides must be multiples of ``block``."""
    return F.interpolate(F.avg_pool2d(y, block), scale_factor=block, mode="bilinear", align_corners=False)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
