"""Small shared helpers: seeding and device selection."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def set_seed(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch (CPU and every CUDA device).

    :param seed: the seed.
    :param deterministic: also ask torch for deterministic kernels (slower; errors on ops that
        have no deterministic implementation).
    """
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - legacy global state, for code that still uses it
    torch.manual_seed(seed)  # seeds CUDA too
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else is passed to ``torch.device``.

    :param device: "auto", "cpu", "cuda", "cuda:1", ...
    """
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
