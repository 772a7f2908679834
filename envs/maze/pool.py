"""Pre-generated maze pools that resets sample from, cached in-process.

Generating mazes at every reset would dominate a batched env's cost, so each env builds a pool
once, deterministically from ``pool_seed``, and samples pool indices with its ``np_random``.
Pools of the package's generators (frozen, hashable dataclasses) are cached by
``(generator, pool_size, pool_seed)``: building a single env and a vector env with the same
arguments generates the mazes once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np

from envs.maze.generator import DatasetGenerator, FixedGenerator, RandomMazeGenerator
from envs.maze.rules import make_pool
from envs.maze.types import MazePool, MazeState

Generator = Callable[[np.random.Generator], MazeState]


def default_pool_size(shape: tuple[int, int]) -> int:
    """1000 mazes up to 15x15, fewer for larger grids (about 200 at 31x31) to keep builds fast."""
    return int(np.clip(225_000 // (shape[0] * shape[1]), 100, 1000))


def make_generator(
    size: int | Sequence[int] = 9,
    algorithm: str = "dfs",
    braid: float = 0.0,
    min_path_length: int = 0,
    dataset: str | None = None,
    generator: Generator | None = None,
) -> Generator:
    """The generator the env kwargs describe: ``generator`` if given, else the dataset's, else a
    :class:`RandomMazeGenerator`."""
    if generator is not None:
        return generator
    if dataset is not None:
        return DatasetGenerator(str(dataset))
    if not isinstance(size, (int, np.integer)):
        size = tuple(int(s) for s in size)
    return RandomMazeGenerator(
        size=size, algorithm=algorithm, braid=float(braid), min_path_length=int(min_path_length)
    )


def build_pool(generator: Generator, pool_size: int | None = None, pool_seed: int = 0) -> MazePool:
    """The pool of a generator, from the cache when the generator is one of the package's.

    :param generator: ``(np.random.Generator) -> MazeState``.
    :param pool_size: number of mazes; ``None`` means the whole dataset for a
        :class:`DatasetGenerator`, one maze for a :class:`FixedGenerator`, else
        :func:`default_pool_size`.
    :param pool_seed: seed of the pool builder (a dataset subset is also chosen with it).
    """
    if pool_size is not None and pool_size < 1:
        raise ValueError(f"pool_size must be a positive int or None, got {pool_size}")
    if isinstance(generator, (RandomMazeGenerator, DatasetGenerator, FixedGenerator)):
        return _cached_pool(generator, pool_size, int(pool_seed))
    return _build_pool(generator, pool_size, int(pool_seed))


@functools.lru_cache(maxsize=16)
def _cached_pool(generator: Generator, pool_size: int | None, pool_seed: int) -> MazePool:
    return _build_pool(generator, pool_size, pool_seed)


def _build_pool(generator: Generator, pool_size: int | None, pool_seed: int) -> MazePool:
    rng = np.random.default_rng(pool_seed)
    if isinstance(generator, DatasetGenerator):
        mazes = generator.mazes
        if pool_size is not None and pool_size < len(mazes):
            keep = np.sort(rng.choice(len(mazes), size=pool_size, replace=False))
            mazes = tuple(mazes[i] for i in keep.tolist())
        try:
            return make_pool(mazes)
        except ValueError as e:
            raise ValueError(f"maze dataset {generator.dataset!r}: {e}") from None
    if isinstance(generator, FixedGenerator) and pool_size is None:
        return make_pool([generator.puzzle])  # type: ignore[list-item]
    if pool_size is None:
        shape = getattr(generator, "shape", None)
        pool_size = default_pool_size(shape) if shape is not None else 1000
    return make_pool([generator(rng) for _ in range(pool_size)])
