"""Maze-Hard-format CSV files: read (cached, re-read when the file changes) and write.

Each row is ``index,question,answer,source,path_len`` exactly as in the Maze-Hard benchmark:
``question`` the row-major grid (``#`` wall, space, ``S``, ``G``), ``answer`` the same grid
with ``o`` on the label path (:func:`envs.maze.solver.label_answer`), ``path_len`` the
shortest-path length in steps. ``python -m envs.maze.generator`` writes such files from our
generators.
"""

from __future__ import annotations

import csv
import functools
import importlib.resources
from collections.abc import Iterable
from pathlib import Path

from envs.maze.rules import parse_puzzle
from envs.maze.solver import label_answer, shortest_path_length
from envs.maze.types import MazePuzzle
from envs.utils import atomic_write, file_signature

MAZE_HARD = "maze-hard"
MAZE_HARD_FILE = "maze_hard_30x30_train.csv"
FIELDS = ("index", "question", "answer", "source", "path_len")


def resolve_dataset(dataset: str | Path) -> Path:
    """Path of a Maze-Hard-format CSV: ``"maze-hard"`` is the bundled file, anything else a path.

    :raises ValueError: when the file does not exist.
    """
    if str(dataset) == MAZE_HARD:
        ref = importlib.resources.files("envs") / "data" / MAZE_HARD_FILE
        return Path(str(ref))
    path = Path(dataset).expanduser()
    if not path.is_file():
        raise ValueError(
            f"maze dataset {str(path)!r} does not exist; pass 'maze-hard' or the path of a CSV "
            f"with header {','.join(FIELDS)}"
        )
    return path


def read_maze_csv(path: str | Path) -> tuple[MazePuzzle, ...]:
    """Read and validate every maze of a Maze-Hard-format CSV.

    Parsed files are cached per (path, modification time, size): reading a file again is free,
    and a file rewritten on disk is parsed again. Solvability is checked in batch when a pool is
    built (:func:`envs.maze.pool.make_pool`).

    :param path: CSV with header ``index,question,answer,source,path_len`` (at least
        ``question``); ``question`` is a row-major square grid string.
    :raises ValueError: naming the file and the line when the file is missing or malformed.
    """
    return _read_maze_csv(_signature(path))[0]


def maze_csv_lines(path: str | Path) -> tuple[int, ...]:
    """The file line of each maze :func:`read_maze_csv` returns (for error messages)."""
    return _read_maze_csv(_signature(path))[1]


def _signature(path: str | Path) -> tuple[str, int, int]:
    try:
        return file_signature(path)
    except OSError as e:
        raise ValueError(f"cannot read maze dataset {str(path)!r}: {e.strerror or e}") from None


@functools.lru_cache(maxsize=8)
def _read_maze_csv(
    signature: tuple[str, int, int],
) -> tuple[tuple[MazePuzzle, ...], tuple[int, ...]]:
    path = Path(signature[0])
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames is None or "question" not in reader.fieldnames:
                raise ValueError(
                    f"maze dataset {str(path)!r} has header {reader.fieldnames}; expected "
                    f"{','.join(FIELDS)} (at least a 'question' column)"
                )
            puzzles, lines = [], []
            for row in reader:
                line = reader.line_num  # the row's last line (a quoted field may span lines)
                try:
                    puzzles.append(parse_puzzle(row["question"] or "", check_solvable=False))
                except ValueError as e:
                    raise ValueError(f"maze dataset {str(path)!r}, line {line}: {e}") from None
                lines.append(line)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ValueError(f"cannot read maze dataset {str(path)!r}: {e}") from e
    if not puzzles:
        raise ValueError(f"maze dataset {str(path)!r} has no mazes")
    for puzzle, line in zip(puzzles, lines, strict=True):
        if puzzle.shape != puzzles[0].shape:
            (h, w), (h0, w0) = puzzle.shape, puzzles[0].shape
            raise ValueError(
                f"maze dataset {str(path)!r}, line {line}: a {h}x{w} maze, but the first maze "
                f"(line {lines[0]}) is {h0}x{w0}; a dataset never mixes grid shapes"
            )
    return tuple(puzzles), tuple(lines)


def write_maze_csv(puzzles: Iterable[MazePuzzle], path: str | Path, source: str) -> int:
    """Write mazes with their BFS labels as a Maze-Hard-format CSV (atomically).

    :param puzzles: the mazes.
    :param path: output file (replaced only once the whole file is written).
    :param source: value of the ``source`` column.
    :return: the number of rows written.
    """
    count = 0
    with atomic_write(path) as f:
        writer = csv.writer(f)
        writer.writerow(FIELDS)
        for count, puzzle in enumerate(puzzles, start=1):
            writer.writerow(
                [
                    count - 1,
                    puzzle.to_string(),
                    label_answer(puzzle),
                    source,
                    shortest_path_length(puzzle),
                ]
            )
    return count
