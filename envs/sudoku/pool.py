"""Sudoku pools: the puzzles that resets draw from, shipped, read or generated, cached.

- :class:`SudokuPool`: puzzles, solutions and the solver statistics of each, with their
  initial legality masks precomputed (a reset is a row copy).
- :func:`generate_pool`: ``count`` puzzles of a generator, puzzle ``i`` from
  ``np.random.default_rng([seed, i])`` (reproducible; any prefix is the same whatever
  ``count``). ``python -m envs.sudoku.generator`` writes one.
- :func:`shipped_pool`: the pools shipped in ``envs/data/sudoku_{4x4,6x6,9x9}.npz``.
- :func:`build_pool`: the pool of an env, from its :class:`~envs.sudoku.config.SudokuConfig`,
  cached; a dataset's cache key includes the file's modification time, so a CSV rewritten on
  disk is read again.
"""

from __future__ import annotations

import time
import warnings
from functools import cache, cached_property, lru_cache
from importlib import resources
from typing import TYPE_CHECKING

import numpy as np

from envs.sudoku.config import DEFAULT_GIVENS, DIFFICULTIES, SudokuConfig, givens_range
from envs.sudoku.rules import box_shape, legal_mask
from envs.sudoku.types import SudokuPuzzle
from envs.utils import check_choice

if TYPE_CHECKING:
    from envs.sudoku.generator import RandomSudokuGenerator

#: A filtered shipped pool smaller than this draws a warning.
MIN_POOL = 64
#: Size of a pool generated at construction when no shipped puzzle matches and ``pool_size``
#: is None.
GENERATED_POOL = 256
Givens = int | tuple[int, int] | None

__all__ = [
    "DEFAULT_GIVENS",
    "GENERATED_POOL",
    "MIN_POOL",
    "SudokuPool",
    "build_pool",
    "generate_pool",
    "shipped_pool",
]


class SudokuPool:
    """A fixed array of puzzles that resets draw from uniformly; the fast path of both envs.

    Calling it draws one puzzle (so it is also a generator). Arrays are read-only.

    :param puzzles: (P, N, N) digits, 0 = blank.
    :param solutions: (P, N, N) digits.
    :param nodes: (P,) solver nodes of each puzzle's uniqueness check, if known.
    :param guesses: (P,) solver guesses (0 = singles suffice), if known.
    """

    def __init__(
        self,
        puzzles: np.ndarray,
        solutions: np.ndarray,
        nodes: np.ndarray | None = None,
        guesses: np.ndarray | None = None,
    ):
        self.puzzles = _frozen(np.asarray(puzzles, dtype=np.uint8))
        self.solutions = _frozen(np.asarray(solutions, dtype=np.uint8))
        if self.puzzles.ndim != 3 or self.puzzles.shape != self.solutions.shape:
            raise ValueError(
                f"pool puzzles {self.puzzles.shape} and solutions {self.solutions.shape} must "
                "both be (P, N, N)"
            )
        if len(self.puzzles) == 0:
            raise ValueError("empty puzzle pool; relax the givens/difficulty filter")
        box_shape(self.puzzles.shape[1])
        self.nodes = None if nodes is None else _frozen(np.asarray(nodes, dtype=np.int32))
        self.guesses = None if guesses is None else _frozen(np.asarray(guesses, dtype=np.int32))

    @property
    def size(self) -> int:
        return int(self.puzzles.shape[1])

    def __len__(self) -> int:
        return len(self.puzzles)

    @cached_property
    def masks(self) -> np.ndarray:
        """(P, N ** 3) bool initial legality masks, so a reset is a row copy."""
        return _frozen(legal_mask(self.puzzles))

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("masks", None)  # recomputed on demand: keeps pickles (subprocess envs) small
        return state

    def sample_indices(self, rng: np.random.Generator, count: int) -> np.ndarray:
        return rng.integers(0, len(self), size=count)

    def __call__(self, rng: np.random.Generator) -> SudokuPuzzle:
        i = int(self.sample_indices(rng, 1)[0])
        return SudokuPuzzle(self.puzzles[i].copy(), self.solutions[i].copy())

    def select(self, keep: np.ndarray) -> SudokuPool:
        """The sub-pool at ``keep`` (indices or a bool mask)."""
        pick = None if self.nodes is None else self.nodes[keep]
        guess = None if self.guesses is None else self.guesses[keep]
        return SudokuPool(self.puzzles[keep], self.solutions[keep], pick, guess)

    def filter(self, givens: Givens = None, difficulty: str | None = None) -> SudokuPool:
        """Puzzles whose givens lie in ``givens`` and whose solver difficulty matches.

        :raises ValueError: if none does.
        """
        keep = self.matches(givens, difficulty)
        if not keep.any():
            raise ValueError(
                f"no puzzle of this pool has givens={givens!r} and difficulty={difficulty!r}"
            )
        return self if keep.all() else self.select(keep)

    def matches(self, givens: Givens = None, difficulty: str | None = None) -> np.ndarray:
        """(P,) bool: which puzzles pass the givens/difficulty filter."""
        if difficulty is not None:
            check_choice("difficulty", difficulty, DIFFICULTIES)
        keep = np.ones(len(self), dtype=bool)
        if givens is not None:
            lo, hi = givens_range(givens, self.size)
            count = np.count_nonzero(self.puzzles.reshape(len(self), -1), axis=1)
            keep &= (count >= lo) & (count <= hi)
        if difficulty is not None:
            if self.guesses is None:
                raise ValueError("this pool has no solver statistics; difficulty needs them")
            keep &= (self.guesses == 0) if difficulty == "easy" else (self.guesses > 0)
        return keep


def generate_pool(
    generator: RandomSudokuGenerator, count: int, seed: int, progress: bool = False
) -> SudokuPool:
    """``count`` puzzles; puzzle ``i`` from ``np.random.default_rng([seed, i])``."""
    puzzles, solutions, nodes, guesses = [], [], [], []
    start = time.perf_counter()
    for i in range(count):
        puzzle, stats = generator.sample(np.random.default_rng([seed, i]))
        puzzles.append(puzzle.puzzle)
        solutions.append(puzzle.solution)
        nodes.append(stats.nodes)
        guesses.append(stats.guesses)
        if progress and (i + 1) % max(1, count // 20) == 0:
            rate = (i + 1) / (time.perf_counter() - start)
            print(f"{i + 1}/{count} puzzles, {rate:.1f}/s", flush=True)
    return SudokuPool(np.stack(puzzles), np.stack(solutions), np.array(nodes), np.array(guesses))


def shipped_pool(size: int) -> SudokuPool:
    """The pool shipped in ``envs/data/sudoku_{N}x{N}.npz`` (read on first use, cached)."""
    box_shape(size)
    return _shipped_pool(size)


@cache
def _shipped_pool(size: int) -> SudokuPool:
    from envs.sudoku.io import load_pool

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
        from envs.sudoku.io import dataset_signature

        signature = dataset_signature(config.dataset)
    return _build_pool(config, signature)


@lru_cache(maxsize=32)
def _build_pool(config: SudokuConfig, signature: tuple | None) -> SudokuPool:
    size, dataset, givens = config.size, config.dataset, config.givens
    difficulty, pool_size, pool_seed = config.difficulty, config.pool_size, config.pool_seed
    if dataset is not None:
        from envs.sudoku.generator import DatasetGenerator

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
            from envs.sudoku.generator import RandomSudokuGenerator

            warnings.warn(
                f"the shipped {size}x{size} pool has {available} puzzles for givens={givens!r}, "
                f"difficulty={difficulty!r}; generating {wanted} now (slow for 9x9: about "
                "60 puzzles/s). Ship a pool with `python -m envs.sudoku.generator` instead.",
                stacklevel=4,
            )
            generator = RandomSudokuGenerator(size, givens, difficulty)
            return generate_pool(generator, wanted, pool_seed)
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


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a
