"""The paper's synthetic sRGB track (Huang et al., CVPR 2021, Table 1).

Same sampler, loss, U-Net (3 channels), training loop, checkpoints and CLI as the raw track; only the data
and the noise differ:

* :mod:`n2n_raw.srgb.noise` — ``gauss25``, ``gauss5_50``, ``poisson30``, ``poisson5_50`` (torch for
  training, NumPy for validation), never clipped;
* :mod:`n2n_raw.srgb.data` — ``prepare-images`` (a folder of clean images → one packed uint8 file) and the
  training set (one random 256² crop per image per epoch, no flips); real photos from scikit-image when no
  folder is given;
* :mod:`n2n_raw.srgb.protocol` — the official Kodak ×10 / BSD300 ×3 / Set14 ×20 evaluation (seed 101,
  square reflect padding, uint8 PSNR and Gaussian SSIM) and ``evaluate-srgb``;
* :mod:`n2n_raw.srgb.metrics` — PSNR and SSIM on uint8 images;
* :mod:`n2n_raw.srgb.official` — loading the released ``model_*_b4e100r02.pth`` weights.
"""

from __future__ import annotations
