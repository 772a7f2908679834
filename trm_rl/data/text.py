"""Puzzles as text: token grids to and from strings, and files of puzzle strings.

- Sudoku: ``N * N`` characters row-major, digits ``1..N``, ``0`` or ``.`` for a blank
  (:func:`to_text` writes ``0``, as the Sudoku-Extreme-format CSVs of ``envs`` do).
- Maze: ``H * W`` characters row-major from ``"# SGo"`` (wall, open, start, goal, path).
- :func:`to_text` writes padding (token 0, which a model may predict) as ``.``.

These are tokenisers: they check characters and lengths, not whether a puzzle is solvable
(:func:`envs.sudoku.rules.puzzle_from_input` and :func:`envs.maze.rules.parse_puzzle` do).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from envs.maze.types import CHAR_TO_TOKEN, TOKEN_CHARS
from envs.sudoku.rules import parse_puzzle, to_tokens
from envs.sudoku.types import BOX_SHAPES
from envs.utils import check_choice

KINDS = ("sudoku", "maze")
_MAZE_CHARS = "".join(CHAR_TO_TOKEN)  # "# SGo", token ids 1..5
_SUDOKU_SIDES = {size * size: size for size in BOX_SHAPES}
_MAZE_LOOKUP = np.zeros(128, dtype=np.uint8)  # ASCII code -> maze token
for _char, _token in CHAR_TO_TOKEN.items():
    _MAZE_LOOKUP[ord(_char)] = _token


def to_text(kind: str, tokens: np.ndarray, grid_shape: tuple[int, int]) -> str:
    """One grid of tokens (a puzzle, a label or a model's prediction) as a string.

    Padding (token 0), which a model may predict, is written ``.``: a Sudoku reader takes it as
    a blank, a maze reader refuses it.

    :param kind: ``"sudoku"`` or ``"maze"``.
    :param tokens: (H * W,) or (H, W) token ids.
    :param grid_shape: (H, W) of the grid.
    :raises ValueError: for a wrong size or a token outside the vocabulary.
    """
    check_choice("kind", kind, KINDS)
    h, w = (int(v) for v in grid_shape)
    flat = np.asarray(tokens).reshape(-1)
    if flat.size != h * w:
        raise ValueError(f"{kind} tokens have {flat.size} entries, expected {h * w} for {h}x{w}")
    if kind == "sudoku":
        if h != w or h not in BOX_SHAPES:
            raise ValueError(f"Sudoku grid_shape must be (N, N) with N in 4, 6, 9; got {(h, w)}")
        alphabet = ".0" + "123456789"[:h]  # pad, blank, then token d + 1 -> digit d
    else:
        alphabet = TOKEN_CHARS  # ".# SGo": pad, wall, open, start, goal, path
    bad = np.flatnonzero((flat < 0) | (flat >= len(alphabet)))
    if len(bad):
        i = int(bad[0])
        raise ValueError(
            f"{kind} token {flat[i]} at position {i} is outside the vocabulary [0, "
            f"{len(alphabet) - 1}] of a {h}x{w} {kind}"
        )
    return "".join(alphabet[t] for t in flat.astype(np.int64).tolist())


def from_text(
    kind: str, text: str, grid_shape: tuple[int, int] | None = None
) -> tuple[np.ndarray, tuple[int, int]]:
    """One puzzle string as tokens, with its grid shape.

    :param kind: ``"sudoku"`` or ``"maze"``.
    :param text: the puzzle (a trailing line break is ignored; Sudoku also ignores whitespace).
    :param grid_shape: (H, W) the puzzle must have; None infers it from the length (Sudoku: 16,
        36 or 81 characters; Maze: a square number).
    :return: (H * W,) uint8 tokens and (H, W) (``grid_shape``, or the inferred shape).
    :raises ValueError: naming a wrong length or the first bad character.
    """
    check_choice("kind", kind, KINDS)
    if not isinstance(text, str):
        raise ValueError(f"{kind} puzzle must be a string, got {type(text).__name__}")
    if kind == "sudoku":
        cells = len("".join(text.split()))
        if grid_shape is None:
            if cells not in _SUDOKU_SIDES:
                raise ValueError(
                    f"Sudoku puzzle has {cells} characters; expected 16 (4x4), 36 (6x6) or 81 "
                    "(9x9), row-major with '0' or '.' for blanks"
                )
            size = _SUDOKU_SIDES[cells]
        else:
            h, w = (int(v) for v in grid_shape)
            if h != w or h not in BOX_SHAPES:
                raise ValueError(f"Sudoku grid_shape must be (N, N), N in 4, 6, 9; got {(h, w)}")
            size = h
        return to_tokens(parse_puzzle(text, size)).reshape(-1), (size, size)
    text = text.rstrip("\r\n")
    if grid_shape is None:
        side = round(len(text) ** 0.5)
        if side * side != len(text) or not text:
            raise ValueError(
                f"maze puzzle has {len(text)} characters, which is not a square grid; pass "
                "grid_shape or H*W characters row-major"
            )
        grid_shape = (side, side)
    h, w = (int(v) for v in grid_shape)
    if len(text) != h * w:
        raise ValueError(f"maze puzzle has {len(text)} characters, expected {h * w} for {h}x{w}")
    for i, char in enumerate(text):
        if char not in CHAR_TO_TOKEN:
            raise ValueError(
                f"maze puzzle has bad character {char!r} at position {i} (row {i // w + 1}, "
                f"column {i % w + 1}); use {list(_MAZE_CHARS)} (wall, open, start, goal, path)"
            )
    return _MAZE_LOOKUP[np.frombuffer(text.encode("ascii"), dtype=np.uint8)], (h, w)


def read_puzzle_file(path: str | Path) -> list[tuple[int, str]]:
    """The puzzle strings of a file, each with its 1-based line number.

    A file whose first line is a CSV header with a ``puzzle`` or ``question`` column is read as
    a CSV (that column); any other file holds one puzzle per line, blank lines skipped (Maze
    lines keep their spaces: they are open cells).

    :raises ValueError: naming the file when it is missing, unreadable, a CSV without such a
        column, or holds no puzzle.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read puzzle file {str(path)!r}: {exc}") from None
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    first = lines[start] if start < len(lines) else ""
    header = [field.strip() for field in next(csv.reader([first]), [])]
    column = next((c for c in ("puzzle", "question") if c in header), None)
    if column is None and "," in first:
        raise ValueError(
            f"puzzle file {str(path)!r} looks like a CSV (header {header}) but has no 'puzzle' or "
            "'question' column; name the puzzle column so, or write one puzzle per line"
        )
    puzzles: list[tuple[int, str]] = []
    if column is None:
        puzzles = [(i, line) for i, line in enumerate(lines, start=1) if line.strip()]
    else:
        reader = csv.reader(io.StringIO("\n".join(lines[start + 1 :])))
        where = header.index(column)
        try:
            for row in reader:
                value = row[where] if where < len(row) else ""
                if value.strip():
                    puzzles.append((start + 1 + reader.line_num, value))
        except csv.Error as exc:
            raise ValueError(f"cannot read puzzle file {str(path)!r}: {exc}") from None
    if not puzzles:
        raise ValueError(f"puzzle file {str(path)!r} holds no puzzle")
    return puzzles
