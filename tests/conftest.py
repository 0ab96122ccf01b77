"""Shared fixtures: a ``device`` fixture that skips missing hardware, small thread counts for 2-core CI."""

from __future__ import annotations

import numpy as np
import pytest
import torch

torch.set_num_threads(2)


@pytest.fixture
def cuda_device():
    if not torch.cuda.is_available():
        pytest.skip("CUDA is not available")
    return torch.device("cuda")


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def device(request):
    """Run a test on the CPU and, under ``-m gpu`` on a CUDA machine, on the GPU."""
    if request.param == "cuda" and not torch.cuda.is_available():
        pytest.skip("CUDA is not available")
    return torch.device(request.param)


@pytest.fixture
def one_thread():
    """One intra-op thread for tests on tiny tensors: on 2 shared cores a second thread only spin-waits."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def mosaic_dir(tmp_path_factory):
    """Four random 96×130 float mosaics in a folder: plain training data for tiny runs."""
    folder = tmp_path_factory.mktemp("mosaics")
    rng = np.random.default_rng(0)
    for k in range(4):
        np.save(folder / f"m{k}.npy", rng.random((96, 130)).astype(np.float32))
    return folder
