"""Helpers shared by the test modules (import them: ``from conftest import rollout, same``)."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

# Generated Sudoku pools are kept between processes (envs.sudoku.pool.cached_pool); tests keep
# theirs in a temporary folder, never in the user's cache.
os.environ.setdefault("TRM_RL_CACHE", tempfile.mkdtemp(prefix="trm-rl-test-cache-"))


def rollout(env: gym.Env, seed: int, steps: int, legal_only: bool = True) -> list[tuple]:
    """A seeded random rollout with resets: ``[(obs, info), (obs, r, term, trunc, info), ...]``.

    :param env: a single env exposing ``action_masks()`` (through ``env.unwrapped``).
    :param seed: seeds the first reset and the action draws.
    :param steps: number of ``step`` calls.
    :param legal_only: draw among the legal actions of the mask (else among all actions).
    """
    obs, info = env.reset(seed=seed)
    trace: list[tuple] = [(obs, info)]
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        if legal_only:
            legal = np.flatnonzero(env.unwrapped.action_masks())
            action = int(rng.choice(legal)) if legal.size else 0
        else:
            action = int(rng.integers(env.action_space.n))
        step = env.step(action)
        trace.append(step)
        if step[2] or step[3]:
            trace.append(env.reset())
    return trace


def same(a: Any, b: Any) -> bool:
    """Deep equality of nested dicts, tuples and lists of arrays and scalars."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, tuple | list):
        return (
            isinstance(b, tuple | list)
            and len(a) == len(b)
            and all(same(x, y) for x, y in zip(a, b, strict=True))
        )
    return bool(np.array_equal(a, b))


def tiny_config(**changes: Any):
    """A tiny attention TRM (hidden 32, 2 layers, H3/L2, exact widths) for fast model tests;
    keyword arguments override fields."""
    from trm_rl.model import TRMConfig

    base = dict(
        vocab_size=6, seq_len=16, hidden_size=32, num_heads=4, num_layers=2, H_cycles=3,
        L_cycles=2, mixer="attention", pos_encodings="rope", puzzle_emb_len=2,
        puzzle_emb_ndim=32, num_puzzle_identifiers=3, halt_max_steps=4,
        halt_exploration_prob=0.0, swiglu_multiple=1,
    )  # fmt: skip
    return TRMConfig(**{**base, **changes})


def make_batch(cfg: Any, size: int = 4, seed: int = 0, low: int = 1) -> dict[str, Any]:
    """A seeded random batch for ``cfg``: tokens and labels in ``[low, vocab_size)``."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    shape = (size, cfg.seq_len)
    return {
        "inputs": torch.randint(low, cfg.vocab_size, shape, generator=gen),
        "labels": torch.randint(low, cfg.vocab_size, shape, generator=gen),
        "puzzle_identifiers": torch.randint(0, cfg.num_puzzle_identifiers, (size,), generator=gen),
    }


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models run fastest on one thread (and do not fight over a shared 2-core box).

    Use it per module: ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
