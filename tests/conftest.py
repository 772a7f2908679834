"""Helpers shared by the test modules (import them: ``from conftest import rollout, same``)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


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
