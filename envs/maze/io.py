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
import io
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from envs.maze.solver import distance_maps, free_cells, label_answer, shortest_path_length
from envs.maze.types import MazePuzzle, as_puzzle
from envs.utils import atomic_write, file_signature, read_utf8

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
    and a file rewritten on disk is parsed again. Every maze is checked (characters, one ``S``
    and one ``G``, one grid shape per file) and, except in the bundled file, solvable (a
    batched BFS).

    :param path: CSV with header ``index,question,answer,source,path_len`` (at least
        ``question``); ``question`` is a row-major square grid string.
    :raises ValueError: naming the file, the line (1-based) and the fix when the file is
        missing, empty, not UTF-8, without a ``question`` column, or has a malformed,
        differently shaped or unsolvable maze.
    """
    return _read_maze_csv(_signature(path))[0]


def maze_csv_lines(path: str | Path) -> tuple[int, ...]:
    """The file line of each maze :func:`read_maze_csv` returns (for error messages)."""
    return _read_maze_csv(_signature(path))[1]


def _signature(path: str | Path) -> tuple[str, int, int]:
    try:
        return file_signature(path)
    except OSError as e:
        raise ValueError(
            f"cannot read maze dataset {str(path)!r}: {e.strerror or e}; pass 'maze-hard' or "
            "the path of an existing CSV"
        ) from None


@functools.lru_cache(maxsize=8)
def _read_maze_csv(
    signature: tuple[str, int, int],
) -> tuple[tuple[MazePuzzle, ...], tuple[int, ...]]:
    path = Path(signature[0])
    name = str(path)
    reader = csv.DictReader(io.StringIO(read_utf8(path, "maze dataset"), newline=""))
    puzzles, lines = [], []
    try:
        fields = reader.fieldnames
        if fields is None or "question" not in fields:
            empty = " (the file is empty)" if fields is None else ""
            raise ValueError(
                f"maze dataset {name!r} has header {fields}{empty}; expected "
                f"{','.join(FIELDS)} (at least a 'question' column): make the first line "
                "that header, then one maze per row"
            )
        for row in reader:
            line = reader.line_num  # the row's last line (a quoted field may span lines)
            try:
                puzzles.append(as_puzzle(row["question"] or ""))
            except ValueError as e:
                raise ValueError(
                    f"maze dataset {name!r}, line {line}: {e}; fix or remove that row"
                ) from None
            lines.append(line)
    except csv.Error as e:
        line = reader.line_num + 1  # counts the lines read whole: the error is on the next one
        raise ValueError(
            f"cannot read maze dataset {name!r}, line {line}: {e}; fix the CSV quoting of that row"
        ) from None
    if not puzzles:
        raise ValueError(
            f"maze dataset {name!r} has no mazes; add one row per maze under the header "
            f"{','.join(FIELDS)}"
        )
    for puzzle, line in zip(puzzles, lines, strict=True):
        if puzzle.shape != puzzles[0].shape:
            (h, w), (h0, w0) = puzzle.shape, puzzles[0].shape
            raise ValueError(
                f"maze dataset {name!r}, line {line}: a {h}x{w} maze, but the first maze "
                f"(line {lines[0]}) is {h0}x{w0}; a dataset never mixes grid shapes: keep one "
                "grid size per file"
            )
    if path != resolve_dataset(MAZE_HARD).resolve():  # the bundled file is solvable
        _check_solvable(puzzles, lines, name)
    return tuple(puzzles), tuple(lines)


def _check_solvable(puzzles: list[MazePuzzle], lines: list[int], name: str) -> None:
    """Raise naming the line(s) of the mazes without an S->G path (one batched BFS)."""
    h, w = puzzles[0].shape
    grids = np.stack([p.grid for p in puzzles])
    start = np.array([r * w + c for r, c in (p.start for p in puzzles)], dtype=np.int64)
    goal = np.array([r * w + c for r, c in (p.goal for p in puzzles)], dtype=np.int64)
    dist = distance_maps(free_cells(grids), goal).reshape(len(puzzles), h * w)
    bad = np.flatnonzero(dist[np.arange(len(puzzles)), start] < 0).tolist()
    if bad:
        where = (
            f"line {lines[bad[0]]}" if len(bad) == 1 else f"lines {[lines[i] for i in bad[:10]]}"
        )
        raise ValueError(
            f"maze dataset {name!r}, {where}: no path from S to G; fix or remove the row(s)"
        )


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
