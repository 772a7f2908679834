"""Seeded Sudoku puzzle generators and the pool-building command.

A generator is a callable ``(np.random.Generator) -> SudokuPuzzle`` injected into the env:

- :class:`RandomSudokuGenerator`: a random solution grid, then givens removed in random order
  while the solution stays unique, down to a target number of givens; optionally only puzzles
  that singles solve (``difficulty="easy"``) or that need guessing (``"hard"``), as measured by
  :func:`envs.sudoku.solver.analyse`. Exact but slow for 9x9 (tens of puzzles/s).
- :class:`~envs.sudoku.puzzles.SudokuPool`: draws from a fixed array of puzzles (fast; what the
  envs use).
- :class:`DatasetGenerator`: a pool read from a Sudoku-Extreme-format CSV
  (``puzzle,solution,source``; ``0`` or ``.`` blanks); ``"sudoku-extreme"`` = the bundled file.
- :class:`FixedGenerator`: always the same puzzle (tests).

The shipped pools ``envs/data/sudoku_{4x4,6x6,9x9}.npz`` were built with::

    python -m envs.sudoku.generator --size 4 --count 2000 --seed 0 --out envs/data/sudoku_4x4.npz
    python -m envs.sudoku.generator --size 6 --count 3000 --seed 0 --out envs/data/sudoku_6x6.npz
    python -m envs.sudoku.generator --size 9 --count 5000 --seed 0 --out envs/data/sudoku_9x9.npz

(givens ranges: :data:`envs.sudoku.config.DEFAULT_GIVENS`). ``--csv`` writes a Sudoku-Extreme-format CSV instead.
Puzzle ``i`` of a pool is drawn from ``np.random.default_rng([seed, i])``, so pools are
reproducible and any prefix is the same whatever ``--count``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from envs.sudoku.config import DIFFICULTIES, SudokuConfig, givens_range
from envs.sudoku.io import EXTREME, read_sudoku_csv, save_pool, write_sudoku_csv
from envs.sudoku.puzzles import Givens, SudokuPool, generate_pool
from envs.sudoku.rules import box_shape, puzzle_from_input
from envs.sudoku.solver import SearchResult, analyse
from envs.sudoku.types import SudokuPuzzle
from envs.utils import check_int


def random_grid(size: int, rng: np.random.Generator) -> np.ndarray:
    """A random complete (N, N) uint8 grid: a randomised search on the empty board."""
    box_shape(size)
    return analyse(np.zeros((size, size), np.uint8), limit=1, rng=rng).solution


class RandomSudokuGenerator:
    """Random unique-solution puzzles with a givens target and a solver-measured difficulty.

    :param size: 4, 6 or 9.
    :param givens: number of givens, an int or an inclusive (lo, hi) range; a target is drawn
        uniformly from the range and givens are removed while the solution stays unique.
        None = :data:`DEFAULT_GIVENS`.
    :param difficulty: None (any), ``"easy"`` (naked/hidden singles solve it: 0 solver
        guesses) or ``"hard"`` (the solver must guess at least once).
    :param max_tries: attempts per puzzle before giving up with ``RuntimeError``.
    """

    def __init__(
        self,
        size: int = 9,
        givens: Givens = None,
        difficulty: str | None = None,
        max_tries: int = 200,
    ):
        config = SudokuConfig(size=size, givens=givens, difficulty=difficulty)
        self.size = config.size
        self.givens = givens_range(config.givens, config.size)
        self.difficulty = config.difficulty
        self.max_tries = check_int("max_tries", max_tries, low=1)

    def __call__(self, rng: np.random.Generator) -> SudokuPuzzle:
        return self.sample(rng)[0]

    def sample(self, rng: np.random.Generator) -> tuple[SudokuPuzzle, SearchResult]:
        """A puzzle and the solver statistics of its uniqueness check."""
        lo, hi = self.givens
        for _ in range(self.max_tries):
            solution = random_grid(self.size, rng)
            target = int(rng.integers(lo, hi + 1))
            puzzle = self._dig(solution, target, rng)
            stats = analyse(puzzle, limit=2, size=self.size)
            if not lo <= np.count_nonzero(puzzle) <= hi or not self._accepts(stats):
                continue
            return SudokuPuzzle(puzzle, solution), stats
        raise RuntimeError(
            f"no {self.size}x{self.size} puzzle with givens in {self.givens} and difficulty "
            f"{self.difficulty!r} after {self.max_tries} tries; widen the givens range or drop "
            "the difficulty (4x4 puzzles never need guessing)"
        )

    def _accepts(self, stats: SearchResult) -> bool:
        if self.difficulty == "easy":
            return stats.guesses == 0
        if self.difficulty == "hard":
            return stats.guesses > 0
        return True

    def _dig(self, solution: np.ndarray, target: int, rng: np.random.Generator) -> np.ndarray:
        puzzle = solution.copy().reshape(-1)
        givens = puzzle.size
        for cell in rng.permutation(puzzle.size):
            if givens <= target:
                break
            digit = puzzle[cell]
            puzzle[cell] = 0
            if analyse(puzzle, limit=2, size=self.size).num_solutions == 1:
                givens -= 1
            else:
                puzzle[cell] = digit
        return puzzle.reshape(self.size, self.size)


class DatasetGenerator(SudokuPool):
    """A pool read from a Sudoku-Extreme-format CSV (header ``puzzle,solution[,source]``).

    :param path: ``"sudoku-extreme"`` (the bundled 1k training subsample) or a CSV path.
    :param size: board side of the rows.
    :param validate: check every row (givens consistent, solution complete and matching the
        givens); the bundled file is trusted. Uniqueness is not checked (see the solver tests).
    :raises ValueError: naming the file and the problem (missing file, header, bad row).
    """

    def __init__(self, path: str | Path = EXTREME, size: int = 9, validate: bool | None = None):
        box_shape(size)
        puzzles, solutions = read_sudoku_csv(path, size, validate)
        super().__init__(puzzles, solutions)
        self.path = path


class FixedGenerator:
    """Always the same puzzle (for tests). The solution is solved for when not given.

    :raises ValueError: as :func:`envs.sudoku.rules.puzzle_from_input`.
    """

    def __init__(
        self, puzzle: str | np.ndarray, solution: str | np.ndarray | None = None, size: int = 9
    ):
        self.puzzle = puzzle_from_input(puzzle, solution, size)

    def __call__(self, rng: np.random.Generator) -> SudokuPuzzle:
        return SudokuPuzzle(self.puzzle.puzzle.copy(), self.puzzle.solution.copy())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m envs.sudoku.generator",
        description="Generate unique-solution Sudoku puzzles and write them as an .npz pool "
        "(or a Sudoku-Extreme-format CSV with --csv).",
    )
    parser.add_argument(
        "--size", type=int, default=9, choices=(4, 6, 9), help="board side (default: 9)"
    )
    parser.add_argument(
        "--count", type=int, default=1000, help="number of puzzles to generate (default: 1000)"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="pool seed; puzzle i uses np.random.default_rng([seed, i]) (default: 0)",
    )
    parser.add_argument(
        "--givens",
        type=int,
        nargs=2,
        metavar=("LO", "HI"),
        default=None,
        help="inclusive range of givens (default: 4x4 4-10, 6x6 8-24, 9x9 22-50)",
    )
    parser.add_argument(
        "--difficulty",
        choices=DIFFICULTIES,
        default=None,
        help="keep only puzzles that singles solve (easy) or that need guessing (hard)",
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="output file: an .npz pool (or a CSV with --csv)"
    )
    parser.add_argument(
        "--csv", action="store_true", help="write a Sudoku-Extreme-format CSV instead of .npz"
    )
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be >= 1")
    if args.seed < 0:
        parser.error("--seed must be >= 0")
    try:
        generator = RandomSudokuGenerator(
            args.size, args.givens and tuple(args.givens), args.difficulty
        )
    except ValueError as e:
        parser.error(str(e))
    start = time.perf_counter()
    pool = generate_pool(generator, args.count, args.seed, progress=True)
    seconds = time.perf_counter() - start
    command = "python -m envs.sudoku.generator " + " ".join(
        f"--{k} {' '.join(map(str, v)) if isinstance(v, list | tuple) else v}"
        for k, v in vars(args).items()
        if v is not None and v is not False and k not in ("out", "csv")
    )
    if args.csv:
        write_sudoku_csv(pool, args.out, source=f"trm-rl generator: {command}")
    else:
        lo, hi = generator.givens
        save_pool(pool, args.out, command=command, givens_range=f"{lo}-{hi}")
    print(
        f"wrote {len(pool)} puzzles to {args.out} in {seconds:.0f} s ({len(pool) / seconds:.1f}/s)"
    )


if __name__ == "__main__":
    main()
