"""``SudokuPool``: a fixed array of puzzles with their solutions and solver statistics, and
:func:`generate_pool`, which fills one from a generator.

Resets draw from a pool (:func:`envs.sudoku.pool.build_pool` builds an env's); the files
(:mod:`envs.sudoku.io`) and the generators (:mod:`envs.sudoku.generator`) read, write and
subclass it, so it sits below all three.
"""

from __future__ import annotations

import time
from functools import cached_property
from typing import Protocol

import numpy as np

from envs.sudoku.config import DIFFICULTIES, givens_range
from envs.sudoku.rules import box_shape, legal_mask
from envs.sudoku.solver import SearchResult
from envs.sudoku.types import SudokuPuzzle
from envs.utils import check_choice

#: A givens filter: a number, an inclusive (lo, hi) range, or None (no filter).
Givens = int | tuple[int, int] | None

__all__ = ["Givens", "PuzzleSampler", "SudokuPool", "generate_pool"]


class PuzzleSampler(Protocol):
    """What :func:`generate_pool` needs of a generator: a puzzle with its solver statistics."""

    def sample(self, rng: np.random.Generator) -> tuple[SudokuPuzzle, SearchResult]:
        """One puzzle and the statistics of its uniqueness check."""
        ...


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
    generator: PuzzleSampler, count: int, seed: int, progress: bool = False
) -> SudokuPool:
    """``count`` puzzles of a generator, with their solver statistics; puzzle ``i`` from
    ``np.random.default_rng([seed, i])`` (reproducible; any prefix is the same whatever
    ``count``).

    :param generator: e.g. a :class:`~envs.sudoku.generator.RandomSudokuGenerator`.
    :param count: number of puzzles.
    :param seed: the pool seed.
    :param progress: print the rate every 5% of the puzzles.
    """
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


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a
