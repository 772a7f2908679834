"""Sudoku files: Sudoku-Extreme-format CSVs and ``.npz`` pools, read (cached, re-read when the
file changes) and written atomically.

A CSV has the header ``puzzle,solution[,source]``: row-major digit strings, ``0`` or ``.``
blanks (``"sudoku-extreme"`` names the bundled 1k training subsample). An ``.npz`` pool holds
``puzzles`` and ``solutions`` (P, N, N) uint8 and optionally the solver's ``nodes`` and
``guesses`` per puzzle.
"""

from __future__ import annotations

import csv
import io
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from envs.sudoku.puzzles import SudokuPool
from envs.sudoku.rules import box_shape, parse_puzzle, puzzle_from_input
from envs.utils import atomic_write, atomic_write_file, file_signature, read_utf8

EXTREME = "sudoku-extreme"
EXTREME_FILE = "sudoku_extreme_train1k.csv"


def dataset_signature(path: str | Path) -> tuple:
    """Cache key of a dataset: the bundled name, or ``(path, mtime_ns, size)`` of a file.

    :raises ValueError: when the file cannot be read.
    """
    if str(path) == EXTREME:
        return (EXTREME,)
    try:
        return file_signature(path)
    except OSError as exc:
        raise ValueError(
            f"cannot read Sudoku dataset {str(path)!r}: {exc.strerror or exc}; pass "
            f"'{EXTREME}' or the path of a CSV with header puzzle,solution[,source]"
        ) from None


def read_sudoku_csv(
    path: str | Path, size: int, validate: bool | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Puzzles and solutions of a Sudoku-Extreme-format CSV, as (P, N, N) uint8 arrays.

    Parsed files are cached per (path, modification time, size), so a file rewritten on disk
    is read again.

    :param path: ``"sudoku-extreme"`` or a CSV path.
    :param size: board side of the rows.
    :param validate: check every row (givens consistent, a blank left, solution complete and
        matching the givens); default: every file but the bundled one.
    :raises ValueError: naming the file, the line (1-based), the problem and the fix: a missing,
        empty or non-UTF-8 file, no ``puzzle``/``solution`` columns, a row of the wrong length
        (e.g. a board of another size), bad characters, contradictory givens or a missing or
        wrong solution.
    """
    box_shape(size)
    signature = dataset_signature(path)
    validate = signature != (EXTREME,) if validate is None else bool(validate)
    puzzles, solutions = _read_sudoku_csv(signature, size, validate)
    return puzzles, solutions


@lru_cache(maxsize=8)
def _read_sudoku_csv(signature: tuple, size: int, validate: bool) -> tuple[np.ndarray, np.ndarray]:
    if signature == (EXTREME,):
        text = (resources.files("envs") / "data" / EXTREME_FILE).read_text(encoding="utf-8")
        name = EXTREME_FILE
    else:
        name = signature[0]
        text = read_utf8(name, "Sudoku dataset")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    puzzles, solutions = [], []
    try:
        fields = reader.fieldnames
        if fields is None or not {"puzzle", "solution"} <= set(fields):
            empty = " (the file is empty)" if fields is None else ""
            raise ValueError(
                f"Sudoku dataset {name!r} has header {fields}{empty}; expected columns "
                "'puzzle' and 'solution' (Sudoku-Extreme format: puzzle,solution,source): make "
                "the first line that header, then one puzzle per row"
            )
        for row in reader:
            line = reader.line_num  # the row's last line (a quoted field may span lines)
            try:
                puzzle = parse_puzzle(row["puzzle"] or "", size)
                solution = parse_puzzle(row["solution"] or "", size, what="solution")
                if validate:
                    puzzle_from_input(puzzle, solution, size)
            except ValueError as exc:
                raise ValueError(
                    f"Sudoku dataset {name!r}, line {line}: {exc}; fix or remove that row"
                ) from None
            puzzles.append(puzzle)
            solutions.append(solution)
    except csv.Error as exc:
        line = reader.line_num + 1  # counts the lines read whole: the error is on the next one
        raise ValueError(
            f"cannot read Sudoku dataset {name!r}, line {line}: {exc}; fix the CSV quoting "
            "of that row"
        ) from None
    if not puzzles:
        raise ValueError(
            f"Sudoku dataset {name!r} has no rows; add one puzzle,solution row per puzzle under "
            "the header"
        )
    out = np.stack(puzzles), np.stack(solutions)
    for a in out:
        a.setflags(write=False)
    return out


def write_sudoku_csv(pool: SudokuPool, path: str | Path, source: str) -> None:
    """Write ``pool`` as a Sudoku-Extreme-format CSV (``0`` blanks), atomically."""
    with atomic_write(path) as f:
        writer = csv.writer(f)
        writer.writerow(["puzzle", "solution", "source"])
        for puzzle, solution in zip(pool.puzzles, pool.solutions, strict=True):
            writer.writerow(
                ["".join(map(str, puzzle.ravel())), "".join(map(str, solution.ravel())), source]
            )


def save_pool(pool: SudokuPool, path: str | Path, **metadata: str) -> None:
    """Write ``pool`` (and string ``metadata``) as a compressed ``.npz``, atomically."""
    arrays = {"puzzles": pool.puzzles, "solutions": pool.solutions}
    if pool.nodes is not None and pool.guesses is not None:
        arrays.update(nodes=pool.nodes, guesses=pool.guesses)
    arrays.update({k: np.array(v) for k, v in metadata.items()})
    atomic_write_file(path, lambda tmp: np.savez_compressed(tmp, **arrays))


def load_pool(path: str | Path) -> SudokuPool:
    """Read a pool written by :func:`save_pool`.

    :raises ValueError: naming the file when it is missing or lacks the arrays.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            return SudokuPool(
                data["puzzles"],
                data["solutions"],
                data.get("nodes", None),
                data.get("guesses", None),
            )
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(
            f"cannot read Sudoku pool {str(path)!r}: {exc}; write pools with "
            "envs.sudoku.io.save_pool or `python -m envs.sudoku.generator`"
        ) from None
