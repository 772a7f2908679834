"""Supervised examples from CSV files: which game a file holds, and its (inputs, labels) tokens.

Accepted formats (the kind is told by the header and the first row's characters):

- Sudoku-Extreme, as ``envs`` writes it: ``puzzle,solution[,source]``, ``0`` or ``.`` blanks;
  ``"sudoku-extreme"`` names the bundled 1k file. Read by :func:`envs.sudoku.io.read_sudoku_csv`.
- Hugging Face Sudoku-Extreme: ``source,question,answer,rating`` (``question``/``answer`` are
  enough), ``.`` blanks.
- Maze-Hard: ``index,question,answer,source,path_len`` (at least ``question``); ``"maze-hard"``
  names the bundled 1000 mazes. Questions are read by :func:`envs.maze.io.read_maze_csv`.
  Labels come from the ``answer`` column, checked to be the question with ``o`` on one shortest
  S->G path (the bundled file is trusted); without that column, or for an empty answer, they are
  computed with the Maze-Hard BFS rule (:func:`envs.maze.solver.label_answer`).

Parsed files are cached per (path, modification time, size).
"""

from __future__ import annotations

import csv
from functools import lru_cache

import numpy as np

from envs.maze.io import read_maze_csv, resolve_dataset
from envs.maze.solver import distance_maps, label_answer
from envs.maze.types import GOAL, OPEN, PATH, START, WALL
from envs.sudoku.io import read_sudoku_csv
from envs.sudoku.rules import parse_puzzle, puzzle_from_input
from envs.utils import file_signature
from trm_rl.data.config import BUNDLED_FILES, Kind
from trm_rl.data.text import from_text

_SUDOKU_CHARS = set("0123456789.")
_MAZE_CHARS = set("# SGo")
_SIDES = {16: 4, 36: 6, 81: 9}
_FORMATS = (
    "expected a Sudoku-Extreme CSV (puzzle,solution[,source]), a Hugging Face Sudoku CSV "
    "(question,answer with '.' blanks) or a Maze-Hard CSV (index,question,answer,source,path_len)"
)


def signature(path: str) -> tuple:
    """Cache key of a data file: the bundled name itself, or ``(path, mtime_ns, size)``.

    :raises ValueError: naming the file when it cannot be read.
    """
    if path in BUNDLED_FILES:
        return (path,)
    try:
        return file_signature(path)
    except OSError as exc:
        raise ValueError(f"cannot read data file {path!r}: {exc.strerror or exc}") from None


def _head(path: str) -> tuple[list[str], list[str]]:
    """The header and the first data row of a CSV."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = [field.strip() for field in next(reader, [])]
            first = next(reader, [])
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"cannot read data file {path!r}: {exc}") from None
    return header, first


def sniff(path: str) -> tuple[Kind, int | None]:
    """The game of a data file and, for Sudoku, the board side.

    :raises ValueError: naming the file, its header or its first row, and the formats accepted.
    """
    if path in BUNDLED_FILES:
        return BUNDLED_FILES[path], (9 if path == "sudoku-extreme" else None)
    header, first = _head(path)
    column = "puzzle" if {"puzzle", "solution"} <= set(header) else None
    if column is None and "question" in header:
        column = "question"
    if column is None:
        raise ValueError(f"data file {path!r} has header {header}; {_FORMATS}")
    if not first:
        raise ValueError(f"data file {path!r} has a header but no rows")
    text = first[header.index(column)] if header.index(column) < len(first) else ""
    chars = set(text)
    if column == "puzzle" or (chars and chars <= _SUDOKU_CHARS):
        cells = len("".join(text.split()))
        if cells not in _SIDES:
            raise ValueError(
                f"data file {path!r}: the first {column} has {cells} cells; a Sudoku row has 16, "
                "36 or 81 characters"
            )
        if column == "question" and "answer" not in header:
            raise ValueError(f"Sudoku file {path!r} has no 'answer' column to learn from")
        return "sudoku", _SIDES[cells]
    if chars and chars <= _MAZE_CHARS:
        return "maze", None
    odd = sorted(chars - _MAZE_CHARS - _SUDOKU_CHARS) or sorted(chars)
    raise ValueError(
        f"data file {path!r}: the first question has characters {odd[:10]} that are neither "
        f"Sudoku digits ('0'-'9', '.') nor maze cells ('# SGo'); {_FORMATS}"
    )


def load_sudoku(path: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Puzzles and solutions of a Sudoku file: (P, N, N) uint8 digits each, 0 = blank.

    :raises ValueError: naming the file, the line and the problem.
    """
    if path in BUNDLED_FILES or "puzzle" in _head(path)[0]:
        return read_sudoku_csv(path, size)
    return _load_question_answer(signature(path), size)


@lru_cache(maxsize=8)
def _load_question_answer(key: tuple, size: int) -> tuple[np.ndarray, np.ndarray]:
    path = key[0]
    puzzles, solutions = [], []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            for line, row in enumerate(csv.DictReader(f), start=2):
                try:
                    checked = puzzle_from_input(
                        parse_puzzle(row["question"] or "", size),
                        parse_puzzle(row["answer"] or "", size, what="answer"),
                        size,
                    )
                except ValueError as exc:
                    raise ValueError(f"Sudoku file {path!r}, line {line}: {exc}") from None
                puzzles.append(checked.puzzle)
                solutions.append(checked.solution)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"cannot read Sudoku file {path!r}: {exc}") from None
    if not puzzles:
        raise ValueError(f"Sudoku file {path!r} has no rows")
    return np.stack(puzzles), np.stack(solutions)


def load_maze(path: str) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """Questions and answers of a Maze-Hard-format file.

    :return: inputs and labels, (P, H * W) uint8 tokens each, and (H, W).
    :raises ValueError: naming the file, the line and the problem.
    """
    return _load_maze(signature(path), path in BUNDLED_FILES)


@lru_cache(maxsize=8)
def _load_maze(key: tuple, bundled: bool) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    file = resolve_dataset(key[0])
    puzzles = read_maze_csv(file)
    shape = puzzles[0].shape
    inputs = np.stack([p.grid.reshape(-1) for p in puzzles])
    with open(file, newline="", encoding="utf-8") as f:
        answers = [row.get("answer") or "" for row in csv.DictReader(f)]
    labels = np.empty_like(inputs)
    for i, (puzzle, answer) in enumerate(zip(puzzles, answers, strict=True)):
        try:
            labels[i] = from_text(
                "maze", answer if answer.strip() else label_answer(puzzle), shape
            )[0]
        except ValueError as exc:
            raise ValueError(f"maze file {str(file)!r}, line {i + 2}, answer: {exc}") from None
    if not bundled:
        bad = ~valid_answers(inputs, labels, shape)
        if bad.any():
            line = int(np.flatnonzero(bad)[0]) + 2
            raise ValueError(
                f"maze file {str(file)!r}, line {line}: the answer is not the question with 'o' "
                f"on one shortest S->G path ({int(bad.sum())} such rows); fix the answers or "
                "drop the answer column (labels are then computed by the Maze-Hard BFS rule)"
            )
    for a in (inputs, labels):
        a.setflags(write=False)
    return inputs, labels, shape


def valid_answers(inputs: np.ndarray, labels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Batched :func:`envs.maze.solver.is_valid_shortest_path`: whether each label is its input
    with ``o`` on exactly the inner cells of some shortest S->G path through open cells.

    :param inputs: (P, H * W) question tokens.
    :param labels: (P, H * W) answer tokens.
    :param shape: (H, W).
    :return: (P,) bool.
    """
    count = len(inputs)
    marks = labels == PATH
    same = np.where(marks, inputs == OPEN, labels == inputs).all(axis=1)
    start = np.argmax(inputs == START, axis=1)
    goal = np.argmax(inputs == GOAL, axis=1)
    rows = np.arange(count)
    free = (inputs != WALL).reshape(count, *shape)
    best = distance_maps(free, start).reshape(count, -1)[rows, goal]
    on_path = (marks | (inputs == START) | (inputs == GOAL)).reshape(count, *shape)
    along = distance_maps(on_path, start).reshape(count, -1)[rows, goal]
    return same & (best >= 0) & (marks.sum(axis=1) == best - 1) & (along == best)
