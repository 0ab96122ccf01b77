"""n2n_raw: Neighbor2Neighbor (Huang et al., CVPR 2021) self-supervised denoising for SIDD raw-RGB and sRGB.

The method's pieces are small modules: :mod:`n2n_raw.bayer` (packing, CFA unification),
:mod:`n2n_raw.sampler` (the random neighbour sub-sampler), :mod:`n2n_raw.loss` (the loss),
:mod:`n2n_raw.schedules` (γ and learning rate), :mod:`n2n_raw.model` (the U-Net), :mod:`n2n_raw.train` (the
training loop).


Use a model from Python with :func:`load` (:mod:`n2n_raw.api`): ``n2n_raw.load("pretrained").denoise_file("photo.dng")``.
"""

__version__ = "0.1.0"


def load(checkpoint="pretrained", **options):
    """A :class:`n2n_raw.api.Denoiser` for ``"pretrained"``, ``"identity"`` or a checkpoint path."""
    from .api import load as _load

    return _load(checkpoint, **options)
