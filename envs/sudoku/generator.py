"""Seeded Sudoku puzzle generators, puzzle pools and the pool-building command.

A generator is a callable ``(np.random.Generator) -> SudokuPuzzle`` injected into the env:

- :class:`RandomSudokuGenerator`: a random solution grid, then givens removed in random order
  while the solution stays unique, down to a target number of givens; optionally only puzzles
  that singles solve (``difficulty="easy"``) or that need guessing (``"hard"``), as measured by
  :func:`baselines.sudoku_solver.analyse`. Exact but slow for 9x9 (tens of puzzles/s).
- :class:`PoolGenerator`: draws from a fixed array of puzzles (fast; what the envs use).
- :class:`DatasetGenerator`: a pool read from a Sudoku-Extreme-format CSV
  (``puzzle,solution,source``; ``0`` or ``.`` blanks); ``"sudoku-extreme"`` = the bundled file.
- :class:`FixedGenerator`: always the same puzzle (tests).

The shipped pools ``envs/data/sudoku_{4x4,6x6,9x9}.npz`` were built with::

    python -m envs.sudoku.generator --size 4 --count 2000 --seed 0 --out envs/data/sudoku_4x4.npz
    python -m envs.sudoku.generator --size 6 --count 3000 --seed 0 --out envs/data/sudoku_6x6.npz
    python -m envs.sudoku.generator --size 9 --count 5000 --seed 0 --out envs/data/sudoku_9x9.npz

(givens ranges: :data:`DEFAULT_GIVENS`). ``--csv`` writes a Sudoku-Extreme-format CSV instead.
Puzzle ``i`` of a pool is drawn from ``np.random.default_rng([seed, i])``, so pools are
reproducible and any prefix is the same whatever ``--count``.
"""

from __future__ import annotations

import argparse
import csv
import time
import warnings
from functools import cache, cached_property, lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from baselines.sudoku_solver import SolveResult, analyse
from envs.sudoku.rules import box_shape, check_givens, is_solved, legal_mask, parse_puzzle
from envs.sudoku.types import SudokuPuzzle

#: Givens range (inclusive) of the shipped pool of each size.
DEFAULT_GIVENS: dict[int, tuple[int, int]] = {4: (4, 10), 6: (8, 24), 9: (22, 50)}
#: A filtered shipped pool smaller than this draws a warning.
MIN_POOL = 64
#: Size of a pool generated at construction when no shipped puzzle matches and ``pool_size``
#: is None.
GENERATED_POOL = 256
DIFFICULTIES = ("easy", "hard")
EXTREME = "sudoku-extreme"

Givens = int | tuple[int, int] | None


def _givens_range(givens: Givens, size: int) -> tuple[int, int]:
    if givens is None:
        return DEFAULT_GIVENS[size]
    lo, hi = (givens, givens) if isinstance(givens, int | np.integer) else tuple(givens)
    if not 0 <= lo <= hi <= size * size:
        raise ValueError(f"givens={givens!r} must be an int or (lo, hi) within 0..{size * size}")
    return int(lo), int(hi)


def _check_difficulty(difficulty: str | None) -> None:
    if difficulty is not None and difficulty not in DIFFICULTIES:
        raise ValueError(f"difficulty={difficulty!r}; use None, 'easy' or 'hard'")


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
        box_shape(size)
        _check_difficulty(difficulty)
        self.size = size
        self.givens = _givens_range(givens, size)
        self.difficulty = difficulty
        self.max_tries = max_tries

    def __call__(self, rng: np.random.Generator) -> SudokuPuzzle:
        return self.sample(rng)[0]

    def sample(self, rng: np.random.Generator) -> tuple[SudokuPuzzle, SolveResult]:
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

    def _accepts(self, stats: SolveResult) -> bool:
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


class PoolGenerator:
    """Draws puzzles uniformly from a fixed pool; the fast path of both envs.

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

    def select(self, keep: np.ndarray) -> PoolGenerator:
        """The sub-pool at ``keep`` (indices or a bool mask)."""
        pick = None if self.nodes is None else self.nodes[keep]
        guess = None if self.guesses is None else self.guesses[keep]
        return PoolGenerator(self.puzzles[keep], self.solutions[keep], pick, guess)

    def filter(self, givens: Givens = None, difficulty: str | None = None) -> PoolGenerator:
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
        _check_difficulty(difficulty)
        keep = np.ones(len(self), dtype=bool)
        if givens is not None:
            lo, hi = _givens_range(givens, self.size)
            count = np.count_nonzero(self.puzzles.reshape(len(self), -1), axis=1)
            keep &= (count >= lo) & (count <= hi)
        if difficulty is not None:
            if self.guesses is None:
                raise ValueError("this pool has no solver statistics; difficulty needs them")
            keep &= (self.guesses == 0) if difficulty == "easy" else (self.guesses > 0)
        return keep

    def save(self, path: str | Path, **metadata: str) -> None:
        arrays = {"puzzles": self.puzzles, "solutions": self.solutions}
        if self.nodes is not None and self.guesses is not None:
            arrays.update(nodes=self.nodes, guesses=self.guesses)
        np.savez_compressed(path, **arrays, **{k: np.array(v) for k, v in metadata.items()})

    @classmethod
    def load(cls, path: str | Path) -> PoolGenerator:
        with np.load(path, allow_pickle=False) as data:
            return cls(
                data["puzzles"],
                data["solutions"],
                data.get("nodes", None),
                data.get("guesses", None),
            )


class DatasetGenerator(PoolGenerator):
    """A pool read from a Sudoku-Extreme-format CSV (header ``puzzle,solution[,source]``).

    :param path: ``"sudoku-extreme"`` (the bundled 1k training subsample) or a CSV path.
    :param size: board side of the rows.
    :param validate: check every row (givens consistent, solution complete and matching the
        givens); the bundled file is trusted. Uniqueness is not checked (see the solver tests).
    :raises ValueError: naming the file and the problem (missing file, header, bad row).
    """

    def __init__(self, path: str | Path = EXTREME, size: int = 9, validate: bool | None = None):
        bundled = str(path) == EXTREME
        puzzles, solutions = _read_csv(
            path, size, validate=not bundled if validate is None else validate
        )
        super().__init__(puzzles, solutions)
        self.path = path


class FixedGenerator:
    """Always the same puzzle (for tests). The solution is solved for when not given."""

    def __init__(
        self, puzzle: str | np.ndarray, solution: str | np.ndarray | None = None, size: int = 9
    ):
        self.puzzle = puzzle_from_input(puzzle, solution, size)

    def __call__(self, rng: np.random.Generator) -> SudokuPuzzle:
        return SudokuPuzzle(self.puzzle.puzzle.copy(), self.puzzle.solution.copy())


def puzzle_from_input(
    puzzle: str | np.ndarray, solution: str | np.ndarray | None, size: int
) -> SudokuPuzzle:
    """Parse and check a user puzzle (and optional solution); solve it when none is given.

    :raises ValueError: wrong length/shape, bad characters, contradictory givens, no blank,
        no solution, more than one solution (pass ``solution`` to pick one), or a solution
        that is incomplete or disagrees with the givens.
    """
    board = parse_puzzle(puzzle, size)
    check_givens(board)
    if board.all():
        raise ValueError("puzzle has no blank cell; there is nothing to play")
    if solution is None:
        result = analyse(board, limit=2, size=size)
        if result.num_solutions == 0:
            raise ValueError("puzzle has no solution (its givens are consistent but unsolvable)")
        if result.num_solutions > 1:
            raise ValueError(
                "puzzle has more than one solution; pass options['solution'] to choose one"
            )
        return SudokuPuzzle(board, result.solution)
    sol = parse_puzzle(solution, size, what="solution")
    if not is_solved(sol[None])[0]:
        raise ValueError("solution is not a complete valid grid")
    if np.any((board != 0) & (board != sol)):
        r, c = np.argwhere((board != 0) & (board != sol))[0]
        raise ValueError(f"solution disagrees with the given at row {r + 1}, column {c + 1}")
    return SudokuPuzzle(board, sol)


def build_pool(
    generator: RandomSudokuGenerator, count: int, seed: int, progress: bool = False
) -> PoolGenerator:
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
    return PoolGenerator(np.stack(puzzles), np.stack(solutions), np.array(nodes), np.array(guesses))


def shipped_pool(size: int) -> PoolGenerator:
    """The pool shipped in ``envs/data/sudoku_{N}x{N}.npz`` (read on first use, cached)."""
    box_shape(size)
    return _shipped_pool(size)


@cache
def _shipped_pool(size: int) -> PoolGenerator:
    ref = resources.files("envs") / "data" / f"sudoku_{size}x{size}.npz"
    with resources.as_file(ref) as path:
        return PoolGenerator.load(path)


@lru_cache(maxsize=32)
def make_pool(
    size: int,
    dataset: str | None,
    givens: Givens,
    difficulty: str | None,
    pool_size: int | None,
    pool_seed: int,
) -> PoolGenerator:
    """The pool an env draws from (cached per process; arguments as in ``SudokuEnv``).

    Shipped pools (or the dataset) are filtered by ``givens``/``difficulty`` and subsampled to
    ``pool_size`` with ``pool_seed``. When no shipped puzzle matches, or fewer than
    ``pool_size`` do, a pool is generated here with a warning (about 60 9x9 puzzles/s).
    """
    if dataset is not None:
        if difficulty is not None:
            raise ValueError(
                "difficulty filters the generated pools; it is not available with dataset"
            )
        pool = _dataset_pool(str(dataset), size).filter(givens)
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
                f"difficulty={difficulty!r}; generating {wanted} now (slow for 9x9: about "
                "60 puzzles/s). Ship a pool with `python -m envs.sudoku.generator` instead.",
                stacklevel=3,
            )
            return build_pool(RandomSudokuGenerator(size, givens, difficulty), wanted, pool_seed)
        if available < MIN_POOL:
            warnings.warn(
                f"only {available} shipped {size}x{size} puzzles match givens={givens!r}, "
                f"difficulty={difficulty!r}; pass pool_size to generate a larger pool",
                stacklevel=3,
            )
        pool = shipped.filter(givens, difficulty)
    if pool_size is not None and pool_size < len(pool):
        pool = pool.select(
            np.sort(np.random.default_rng(pool_seed).permutation(len(pool))[:pool_size])
        )
    return pool


@lru_cache(maxsize=8)
def _dataset_pool(dataset: str, size: int) -> DatasetGenerator:
    return DatasetGenerator(dataset, size)


def _read_csv(path: str | Path, size: int, validate: bool) -> tuple[np.ndarray, np.ndarray]:
    if str(path) == EXTREME:
        ref = resources.files("envs") / "data" / "sudoku_extreme_train1k.csv"
        text, name = ref.read_text(), "sudoku_extreme_train1k.csv"
    else:
        name = str(path)
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise ValueError(
                f"cannot read Sudoku dataset {name!r}: {exc.strerror or exc}; pass "
                f"'{EXTREME}' or the path of a CSV with header puzzle,solution[,source]"
            ) from exc
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames is None or not {"puzzle", "solution"} <= set(reader.fieldnames):
        raise ValueError(
            f"Sudoku dataset {name!r} has header {reader.fieldnames}; expected columns "
            "'puzzle' and 'solution' (Sudoku-Extreme format: puzzle,solution,source)"
        )
    puzzles, solutions = [], []
    for line, row in enumerate(reader, start=2):
        try:
            puzzle = parse_puzzle(row["puzzle"] or "", size)
            solution = parse_puzzle(row["solution"] or "", size, what="solution")
            if validate:
                puzzle_from_input(puzzle, solution, size)
        except ValueError as exc:
            raise ValueError(f"Sudoku dataset {name!r}, line {line}: {exc}") from None
        puzzles.append(puzzle)
        solutions.append(solution)
    if not puzzles:
        raise ValueError(f"Sudoku dataset {name!r} has no rows")
    return np.stack(puzzles), np.stack(solutions)


def write_csv(pool: PoolGenerator, path: str | Path, source: str) -> None:
    """Write ``pool`` as a Sudoku-Extreme-format CSV (``0`` blanks)."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["puzzle", "solution", "source"])
        for puzzle, solution in zip(pool.puzzles, pool.solutions, strict=True):
            writer.writerow(
                ["".join(map(str, puzzle.ravel())), "".join(map(str, solution.ravel())), source]
            )


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
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
    generator = RandomSudokuGenerator(
        args.size, args.givens and tuple(args.givens), args.difficulty
    )
    start = time.perf_counter()
    pool = build_pool(generator, args.count, args.seed, progress=True)
    seconds = time.perf_counter() - start
    command = "python -m envs.sudoku.generator " + " ".join(
        f"--{k} {' '.join(map(str, v)) if isinstance(v, list | tuple) else v}"
        for k, v in vars(args).items()
        if v is not None and v is not False and k not in ("out", "csv")
    )
    if args.csv:
        write_csv(pool, args.out, source=f"trm-rl generator: {command}")
    else:
        lo, hi = generator.givens
        pool.save(args.out, command=command, givens_range=f"{lo}-{hi}")
    print(
        f"wrote {len(pool)} puzzles to {args.out} in {seconds:.0f} s ({len(pool) / seconds:.1f}/s)"
    )


if __name__ == "__main__":
    main()
