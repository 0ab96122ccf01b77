"""A straightforward re-statement of the official sRGB validation and network (train.py, arch_unet.py).

Written the way the official ``train.py`` does it — the global ``np.random.seed(101)``, nested loops over
repeats and images, ``np.pad(..., 'reflect')`` to a square, ``np.clip(x·255 + 0.5, 0, 255).astype(uint8)``,
a float32 PSNR, and SSIM from an explicit 11×11 Gaussian window — so that ``n2n_raw.srgb`` can be checked
against it. ``cv2.filter2D`` is replaced by ``scipy.ndimage.correlate`` (the 5-pixel border, where the two
differ, is dropped by the "valid" crop). ``official_unet_forward`` runs ``arch_unet.UNet`` (no blind spot)
from a state dict with the official parameter names, layer by layer.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def official_valid_noise(x: np.ndarray, style: str, params: list[float]) -> np.ndarray:
    """``AugmentNoise.add_valid_noise``, drawing from the global NumPy RNG."""
    shape = x.shape
    if style == "gauss_fix":
        return np.array(x + np.random.normal(size=shape) * params[0], dtype=np.float32)
    if style == "gauss_range":
        std = np.random.uniform(low=params[0], high=params[1], size=(1, 1, 1))
        return np.array(x + np.random.normal(size=shape) * std, dtype=np.float32)
    if style == "poisson_fix":
        return np.array(np.random.poisson(params[0] * x) / params[0], dtype=np.float32)
    lam = np.random.uniform(low=params[0], high=params[1], size=(1, 1, 1))
    return np.array(np.random.poisson(lam * x) / lam, dtype=np.float32)


def gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    """``np.outer(k, k)`` of ``cv2.getGaussianKernel(11, 1.5)``: normalised exp(−x²/2σ²) at x = −5..5."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    k = np.exp(-(x**2) / (2 * sigma**2))
    k /= k.sum()
    return np.outer(k, k)


def official_ssim_channel(img1: np.ndarray, img2: np.ndarray) -> float:
    from scipy.ndimage import correlate

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    img1, img2 = img1.astype(np.float64), img2.astype(np.float64)
    window = gaussian_window()

    def filt(a):
        return correlate(a, window, mode="mirror")[5:-5, 5:-5]

    mu1, mu2 = filt(img1), filt(img2)
    s11 = filt(img1**2) - mu1**2
    s22 = filt(img2**2) - mu2**2
    s12 = filt(img1 * img2) - mu1 * mu2
    ssim_map = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1**2 + mu2**2 + c1) * (s11 + s22 + c2))
    return float(ssim_map.mean())


def official_ssim(target: np.ndarray, ref: np.ndarray) -> float:
    return float(np.mean([official_ssim_channel(target[:, :, i], ref[:, :, i]) for i in range(3)]))


def official_psnr(target: np.ndarray, ref: np.ndarray) -> float:
    diff = np.array(target, dtype=np.float32) - np.array(ref, dtype=np.float32)
    return float(10.0 * np.log10(255.0 * 255.0 / np.mean(np.square(diff))))


def official_validation(network, valid_dict: dict, repeats: dict, style: str, params: list[float]) -> dict:
    """The validation block of the official loop; ``valid_dict`` maps a set name to float32 images (0–255)."""
    state = np.random.get_state()
    np.random.seed(101)
    out = {}
    try:
        for valid_name, valid_images in valid_dict.items():
            psnr_result, ssim_result = [], []
            for _ in range(repeats[valid_name]):
                for im in valid_images:
                    origin255 = im.copy().astype(np.uint8)
                    im = np.array(im, dtype=np.float32) / 255.0
                    noisy_im = official_valid_noise(im, style, params).astype(np.float32)
                    H, W = noisy_im.shape[0], noisy_im.shape[1]
                    val_size = (max(H, W) + 31) // 32 * 32
                    noisy_im = np.pad(noisy_im, [[0, val_size - H], [0, val_size - W], [0, 0]], "reflect")
                    noisy_t = torch.from_numpy(noisy_im.transpose(2, 0, 1).copy())[None]
                    with torch.no_grad():
                        prediction = network(noisy_t)[:, :, :H, :W]
                    prediction = prediction.permute(0, 2, 3, 1).clamp(0, 1).numpy().squeeze()
                    pred255 = np.clip(prediction * 255.0 + 0.5, 0, 255).astype(np.uint8)
                    psnr_result.append(official_psnr(origin255.astype(np.float32), pred255.astype(np.float32)))
                    ssim_result.append(official_ssim(origin255.astype(np.float32), pred255.astype(np.float32)))
            out[valid_name] = (float(np.array(psnr_result).mean()), float(np.array(ssim_result).mean()))
    finally:
        np.random.set_state(state)
    return out


def official_unet_forward(sd: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """``arch_unet.UNet.forward`` with ``blindspot=False``, from official parameter names."""

    def conv(name, h, act=True):
        w = sd[f"{name}.weight"]
        h = F.conv2d(h, w, sd[f"{name}.bias"], padding=w.shape[-1] // 2)
        return F.leaky_relu(h, 0.2) if act else h

    def up(name, h, skip):
        h = F.conv_transpose2d(h, sd[f"{name}.deconv.weight"], sd[f"{name}.deconv.bias"], stride=2)
        return torch.cat([h, skip], dim=1)

    pool0 = x
    h = conv("enc_conv1", conv("enc_conv0", x))
    pool1 = h = F.max_pool2d(h, 2)
    pool2 = h = F.max_pool2d(conv("enc_conv2", h), 2)
    pool3 = h = F.max_pool2d(conv("enc_conv3", h), 2)
    pool4 = h = F.max_pool2d(conv("enc_conv4", h), 2)
    h = F.max_pool2d(conv("enc_conv5", h), 2)
    h = conv("enc_conv6", h)
    for k, skip in ((5, pool4), (4, pool3), (3, pool2), (2, pool1), (1, pool0)):
        h = up(f"up{k}", h, skip)
        h = conv(f"dec_conv{k}b", conv(f"dec_conv{k}a", h))
    h = conv("nin_b", conv("nin_a", h))
    return conv("nin_c", h, act=False)
