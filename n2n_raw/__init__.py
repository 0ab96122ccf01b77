"""n2n_raw: Neighbor2Neighbor (Huang et al., CVPR 2021) self-supervised denoising for SIDD raw-RGB and sRGB.

The method's pieces are small modules: :mod:`n2n_raw.bayer` (packing, CFA unification),
:mod:`n2n_raw.sampler` (the random neighbour sub-sampler), :mod:`n2n_raw.loss` (the loss and γ schedules),
:mod:`n2n_raw.model` (the U-Net), :mod:`n2n_raw.train` (the training loop).
"""

__version__ = "0.1.0"
