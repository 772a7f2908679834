"""Small shared helpers: seeding and device selection."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from envs.utils import check_bool, check_int


def set_seed(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch (CPU and every CUDA device).

    :param seed: the seed, in ``[0, 2**32 - 1]`` (the range NumPy's global seed accepts).
    :param deterministic: also ask torch for deterministic kernels (slower; errors on ops that
        have no deterministic implementation).
    :raises ValueError: for a seed that is not an int in range, or a non-bool ``deterministic``.
    """
    seed = check_int("seed", seed, low=0, high=2**32 - 1)
    deterministic = check_bool("deterministic", deterministic)
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - legacy global state, for code that still uses it
    torch.manual_seed(seed)  # seeds CUDA too
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else is passed to ``torch.device``.

    :param device: "auto", "cpu", "cuda", "cuda:1", ...
    :raises ValueError: for a string torch does not know as a device, or a CUDA device when
        CUDA is not available.
    """
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"unknown device {device!r}; use 'auto', 'cpu', 'cuda', 'cuda:<index>' or another "
            "torch device string such as 'mps'"
        ) from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device {device!r} needs CUDA, which is not available here; use 'auto' or 'cpu'"
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(
                f"device {device!r} does not exist: {torch.cuda.device_count()} CUDA device(s) "
                "visible; use 'cuda' or an index below that count"
            )
    return resolved


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Within the block, torch uses ``threads`` threads (None: unchanged); restored on exit."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
