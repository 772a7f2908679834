"""Sudoku pools: the puzzles that resets draw from, shipped, read or generated, cached.

- :class:`SudokuPool`: puzzles, solutions and the solver statistics of each, with their
  initial legality masks precomputed (a reset is a row copy); defined in
  :mod:`envs.sudoku.puzzles`, importable from here.
- :func:`generate_pool`: ``count`` puzzles of a generator, puzzle ``i`` from
  ``np.random.default_rng([seed, i])`` (reproducible; any prefix is the same whatever
  ``count``). ``python -m envs.sudoku.generator`` writes one. Also from
  :mod:`envs.sudoku.puzzles`.
- :func:`shipped_pool`: the pools shipped in ``envs/data/sudoku_{4x4,6x6,9x9}.npz``.
- :func:`build_pool`: the pool of an env, from its :class:`~envs.sudoku.config.SudokuConfig`,
  cached; a dataset's cache key includes the file's modification time, so a CSV rewritten on
  disk is read again.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from envs.sudoku.config import DEFAULT_GIVENS, SudokuConfig
from envs.sudoku.generator import DatasetGenerator, RandomSudokuGenerator
from envs.sudoku.io import dataset_signature, load_pool, save_pool
from envs.sudoku.puzzles import Givens, SudokuPool, generate_pool
from envs.sudoku.rules import box_shape

#: A filtered shipped pool smaller than this draws a warning.
MIN_POOL = 64
#: Size of a pool generated at construction when no shipped puzzle matches and ``pool_size``
#: is None.
GENERATED_POOL = 256

__all__ = [
    "DEFAULT_GIVENS",
    "GENERATED_POOL",
    "MIN_POOL",
    "Givens",
    "SudokuPool",
    "build_pool",
    "generate_pool",
    "shipped_pool",
]


def shipped_pool(size: int) -> SudokuPool:
    """The pool shipped in ``envs/data/sudoku_{N}x{N}.npz`` (read on first use, cached)."""
    box_shape(size)
    return _shipped_pool(size)


@cache
def _shipped_pool(size: int) -> SudokuPool:
    ref = resources.files("envs") / "data" / f"sudoku_{size}x{size}.npz"
    with resources.as_file(ref) as path:
        return load_pool(path)


def build_pool(config: SudokuConfig) -> SudokuPool:
    """The pool an env draws from (cached per process).

    Shipped pools (or the dataset) are filtered by ``givens``/``difficulty`` and subsampled to
    ``pool_size`` with ``pool_seed``. When no shipped puzzle matches, or fewer than
    ``pool_size`` do, a pool is generated here with a warning (about 60 9x9 puzzles/s).
    """
    if not isinstance(config, SudokuConfig):
        raise ValueError(f"build_pool takes a SudokuConfig, got {type(config).__name__}")
    signature = None
    if config.dataset is not None:
        signature = dataset_signature(config.dataset)
    return _build_pool(config, signature)


#: Environment variable naming the folder where generated pools are kept between processes
#: (``off``: never kept). Default: ``$XDG_CACHE_HOME/trm-rl`` or ``~/.cache/trm-rl``.
CACHE_ENV = "TRM_RL_CACHE"
#: Part of every cached pool's key: bump it when the generator's output for a seed changes.
GENERATOR_REVISION = 1


def cache_dir() -> Path | None:
    """The folder generated pools are kept in (None when ``TRM_RL_CACHE=off``)."""
    value = os.environ.get(CACHE_ENV)
    if value is not None:
        return None if value.strip().lower() in ("off", "0", "") else Path(value)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "trm-rl"


def cached_pool(generator: RandomSudokuGenerator, count: int, seed: int) -> SudokuPool:
    """:func:`generate_pool` with its result kept in :func:`cache_dir`: a 9x9 pool of 6,000
    puzzles takes about 100 s to generate and milliseconds to load. The key is the generator's
    size, givens, difficulty, ``count``, ``seed`` and :data:`GENERATOR_REVISION`; an unreadable
    or mismatched file is generated again (and replaced, atomically)."""
    folder = cache_dir()
    key = (generator.size, tuple(generator.givens), generator.difficulty, count, seed,
           GENERATOR_REVISION)  # fmt: skip
    name = "sudoku-pool-" + hashlib.sha256(repr(key).encode()).hexdigest()[:16] + ".npz"
    path = None if folder is None else folder / name
    if path is not None and path.exists():
        try:
            pool = load_pool(path)
            if len(pool) == count and pool.puzzles.shape[1:] == (generator.size,) * 2:
                return pool
        except ValueError:
            pass  # a damaged file: generate it again
    pool = generate_pool(generator, count, seed)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            save_pool(pool, path, key=repr(key))
        except OSError as err:  # a read-only home: the pool is still returned
            warnings.warn(f"could not keep the generated pool in {path}: {err}", stacklevel=2)
    return pool


@lru_cache(maxsize=32)
def _build_pool(config: SudokuConfig, signature: tuple | None) -> SudokuPool:
    size, dataset, givens = config.size, config.dataset, config.givens
    difficulty, pool_size, pool_seed = config.difficulty, config.pool_size, config.pool_seed
    if dataset is not None:
        pool = DatasetGenerator(dataset, size).filter(givens)
        if pool_size is not None and pool_size > len(pool):
            raise ValueError(
                f"dataset {dataset!r} has only {len(pool)} puzzles (pool_size={pool_size})"
            )
    else:
        shipped = shipped_pool(size)
        available = int(shipped.matches(givens, difficulty).sum())
        wanted = GENERATED_POOL if pool_size is None else pool_size
        if available == 0 or (pool_size is not None and pool_size > available):
            warnings.warn(
                f"the shipped {size}x{size} pool has {available} puzzles for givens={givens!r}, "
                f"difficulty={difficulty!r}; using {wanted} generated ones (about 60 9x9 "
                f"puzzles/s the first time; kept in {cache_dir() or 'no cache'} for next time, "
                f"see {CACHE_ENV}). Ship a pool with `python -m envs.sudoku.generator` instead.",
                stacklevel=4,
            )
            generator = RandomSudokuGenerator(size, givens, difficulty)
            return cached_pool(generator, wanted, pool_seed)
        if available < MIN_POOL:
            warnings.warn(
                f"only {available} shipped {size}x{size} puzzles match givens={givens!r}, "
                f"difficulty={difficulty!r}; pass pool_size to generate a larger pool",
                stacklevel=4,
            )
        pool = shipped.filter(givens, difficulty)
    if pool_size is not None and pool_size < len(pool):
        pool = pool.select(
            np.sort(np.random.default_rng(pool_seed).permutation(len(pool))[:pool_size])
        )
    return pool
