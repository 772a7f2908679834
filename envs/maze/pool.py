"""Maze pools: the pre-generated mazes that resets draw from, cached in-process.

Generating mazes at every reset would dominate a batched env's cost, so each env builds a pool
once, deterministically from ``pool_seed``, and draws pool indices with its ``np_random``.

- :func:`make_pool` packs given mazes into a :class:`~envs.maze.types.MazePool` (with the
  free-cell and distance-to-goal tables the transition needs).
- :func:`generate_pool` draws ``count`` mazes from a generator, maze ``i`` from
  ``np.random.default_rng([seed, i])``.
- :func:`build_pool` is the pool of an env: from its :class:`~envs.maze.config.MazeConfig` (or
  an injected generator), cached, so a single env and a batched env with the same config
  generate their mazes once. A dataset's cache key includes the file's modification time, so a
  CSV rewritten on disk is read again.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np

from envs.maze.config import MazeConfig
from envs.maze.generator import (
    DatasetGenerator,
    FixedGenerator,
    RandomMazeGenerator,
    generate_mazes,
)
from envs.maze.solver import distance_maps, free_cells
from envs.maze.types import MazePool, MazePuzzle

#: A maze generator: a callable ``(np.random.Generator) -> MazePuzzle``.
Generator = Callable[[np.random.Generator], MazePuzzle]


def make_pool(puzzles: Sequence[MazePuzzle]) -> MazePool:
    """Stack same-shaped mazes and precompute their free-cell and distance-to-goal tables.

    :raises ValueError: for an empty list, mixed shapes or a maze without an S->G path.
    """
    if not puzzles:
        raise ValueError("a maze pool needs at least one maze")
    shape = puzzles[0].shape
    for p in puzzles:
        if not isinstance(p, MazePuzzle):
            raise ValueError(f"a maze pool holds MazePuzzle objects, got {type(p).__name__}")
        if p.shape != shape:
            raise ValueError(f"all mazes of a pool must have one shape; got {shape} and {p.shape}")
    h, w = shape
    grids = np.stack([p.grid for p in puzzles]).astype(np.uint8)
    start = np.array([r * w + c for r, c in (p.start for p in puzzles)], dtype=np.int64)
    goal = np.array([r * w + c for r, c in (p.goal for p in puzzles)], dtype=np.int64)
    free2d = free_cells(grids)
    free = np.zeros((len(puzzles), h * w + 1), dtype=bool)
    free[:, :-1] = free2d.reshape(len(puzzles), -1)
    dist = distance_maps(free2d, goal).reshape(len(puzzles), h * w)
    unsolvable = np.flatnonzero(dist[np.arange(len(puzzles)), start] < 0)
    if len(unsolvable):
        raise ValueError(
            f"maze(s) at pool index {unsolvable[:10].tolist()} have no path from S to G"
        )
    return MazePool(grids=grids, free=free, dist=dist, start=start, goal=goal)


def default_pool_size(shape: tuple[int, int]) -> int:
    """1000 mazes up to 15x15, fewer for larger grids (about 200 at 31x31) to keep builds fast."""
    return int(np.clip(225_000 // (shape[0] * shape[1]), 100, 1000))


def make_generator(config: MazeConfig) -> Generator:
    """The generator a config describes: the dataset's, else a :class:`RandomMazeGenerator`."""
    if config.dataset is not None:
        return DatasetGenerator(config.dataset)
    return RandomMazeGenerator(
        size=config.size,
        algorithm=config.algorithm,
        braid=config.braid,
        min_path_length=config.min_path_length,
        wall_density=config.wall_density,
    )


def generate_pool(generator: Generator, count: int, seed: int) -> MazePool:
    """A pool of ``count`` mazes; maze ``i`` from ``np.random.default_rng([seed, i])`` (so any
    prefix is the same whatever ``count``). ``python -m envs.maze.generator`` writes one."""
    return make_pool(generate_mazes(generator, count, seed))


def build_pool(config: MazeConfig, generator: Generator | None = None) -> MazePool:
    """The pool of an env, from the cache when the generator is one of the package's.

    :param config: the env's config (``dataset``, the generator fields, ``pool_size`` and
        ``pool_seed``).
    :param generator: an injected ``(np.random.Generator) -> MazePuzzle`` that replaces the
        config's generator fields.
    :return: the read-only pool; ``pool_size`` None means the whole dataset, one maze for a
        :class:`FixedGenerator`, else :func:`default_pool_size`.
    """
    gen = make_generator(config) if generator is None else generator
    if not callable(gen):
        raise ValueError(
            f"generator must be a callable (np.random.Generator) -> MazePuzzle, got "
            f"{type(gen).__name__}"
        )
    if isinstance(gen, RandomMazeGenerator | DatasetGenerator | FixedGenerator):
        return _cached_pool(gen, config.pool_size, config.pool_seed)
    return _build_pool(gen, config.pool_size, config.pool_seed)


@functools.lru_cache(maxsize=16)
def _cached_pool(generator: Generator, pool_size: int | None, pool_seed: int) -> MazePool:
    return _build_pool(generator, pool_size, pool_seed)


def _build_pool(generator: Generator, pool_size: int | None, pool_seed: int) -> MazePool:
    rng = np.random.default_rng(pool_seed)
    if isinstance(generator, DatasetGenerator):
        mazes = generator.puzzles
        if pool_size is not None and pool_size < len(mazes):
            keep = np.sort(rng.choice(len(mazes), size=pool_size, replace=False))
            mazes = tuple(mazes[i] for i in keep.tolist())
        return make_pool(mazes)  # read_maze_csv has checked every maze
    if isinstance(generator, FixedGenerator) and pool_size is None:
        return make_pool([generator.puzzle])  # type: ignore[list-item]
    if pool_size is None:
        shape = getattr(generator, "shape", None)
        pool_size = default_pool_size(shape) if shape is not None else 1000
    mazes = []
    for _ in range(pool_size):
        maze = generator(rng)
        if not isinstance(maze, MazePuzzle):
            raise ValueError(
                f"the maze generator returned {type(maze).__name__}; it must return a "
                "MazePuzzle (see envs.maze.rules.parse_puzzle)"
            )
        mazes.append(maze)
    return make_pool(mazes)
