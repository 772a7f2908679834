"""Token ids, board geometry, the typed containers of the Sudoku environments and the text
and token forms of a board.

Shapes use ``N`` for the side of the board (4, 6 or 9), ``C = N * N`` for the number of cells,
``A = N ** 3`` for the number of actions and ``B`` for a batch of boards. :func:`parse_puzzle`
reads a board from a string or an array (the consistency of its givens is a rule:
:func:`envs.sudoku.rules.check_givens`); :func:`to_tokens` / :func:`from_tokens` convert digits
to the TRM token ids and back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Token ids of the official TRM Sudoku dataset: pad 0, blank 1, digit d -> d + 1.
PAD = 0
BLANK = 1
DIGIT_OFFSET = 1

#: Box shape (rows, cols) of each supported board size.
BOX_SHAPES: dict[int, tuple[int, int]] = {4: (2, 2), 6: (2, 3), 9: (3, 3)}
SIZES: tuple[int, ...] = tuple(BOX_SHAPES)
#: dtype of the per-episode counters of the batched transition (steps, step limit, blanks...);
#: ``max_steps`` of a :class:`~envs.sudoku.config.SudokuConfig` is at most its largest value.
COUNTER_DTYPE = np.int32

_BLANK_CHARS = ".0"
_DIGIT_CHARS = "123456789"  # ASCII only: str.isdigit() also accepts e.g. Arabic-Indic digits


def vocab_size(size: int) -> int:
    """Number of token ids for an ``size x size`` board: pad, blank and ``size`` digits."""
    return size + 2


def box_shape(size: int) -> tuple[int, int]:
    """Box shape (rows, cols) of an ``size x size`` board; raises ``ValueError`` for others."""
    if size not in BOX_SHAPES:
        raise ValueError(f"unsupported Sudoku size {size!r}; use one of {sorted(BOX_SHAPES)}")
    return BOX_SHAPES[size]


def parse_puzzle(puzzle: str | np.ndarray, size: int, *, what: str = "puzzle") -> np.ndarray:
    """Parse a puzzle given as a string or an array into an (N, N) uint8 board.

    A string has ``N * N`` characters in row-major order, digits ``1..N`` and ``.`` or ``0`` for
    blanks (whitespace is ignored). An array has shape (N, N) or (N * N,) with digits ``0..N``.

    :raises ValueError: on a wrong length or shape, a bad character or an out-of-range digit.
    """
    box_shape(size)
    cells = size * size
    if isinstance(puzzle, str):
        text = "".join(puzzle.split())
        if len(text) != cells:
            raise ValueError(
                f"{what} string has {len(text)} characters, expected {cells} for a "
                f"{size}x{size} board (row-major, '.' or '0' for blanks)"
            )
        digits = np.zeros(cells, dtype=np.uint8)
        for i, ch in enumerate(text):
            if ch in _BLANK_CHARS:
                continue
            if ch not in _DIGIT_CHARS[:size]:
                raise ValueError(
                    f"{what} string has bad character {ch!r} at position {i} (row {i // size + 1},"
                    f" column {i % size + 1}); use digits 1-{size} and '.' or '0' for blanks"
                )
            digits[i] = int(ch)
        return digits.reshape(size, size)
    if isinstance(puzzle, bytes | bytearray) or not hasattr(puzzle, "__len__"):
        raise ValueError(
            f"{what} must be a string or an array of digits, got {type(puzzle).__name__}"
        )
    arr = np.asarray(puzzle)
    if arr.shape not in ((size, size), (cells,)):
        raise ValueError(
            f"{what} array has shape {arr.shape}, expected ({size}, {size}) or ({cells},)"
        )
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{what} array has dtype {arr.dtype}; use integer digits 0-{size}")
    if not np.all(np.isfinite(arr)) or not np.array_equal(arr, np.round(arr)):
        raise ValueError(f"{what} array has non-integer entries; use integer digits 0-{size}")
    if arr.min() < 0 or arr.max() > size:
        bad = arr.ravel()[(arr.ravel() < 0) | (arr.ravel() > size)][0]
        raise ValueError(f"{what} array has digit {bad} out of range; use 0-{size} (0 = blank)")
    return arr.astype(np.uint8).reshape(size, size)


def to_tokens(boards: np.ndarray) -> np.ndarray:
    """Digits (0 = blank) -> TRM token ids (blank 1, digit d -> d + 1), uint8, same shape."""
    return (np.asarray(boards) + DIGIT_OFFSET).astype(np.uint8)


def from_tokens(tokens: np.ndarray) -> np.ndarray:
    """TRM token ids -> digits (0 = blank or pad), uint8, same shape."""
    tokens = np.asarray(tokens).astype(np.int16)
    return np.clip(tokens - DIGIT_OFFSET, 0, None).astype(np.uint8)


@dataclass(frozen=True)
class SudokuPuzzle:
    """A puzzle and its solution, as produced by the generators.

    :param puzzle: givens, 0 = blank.
    :param solution: the completed board.
    """

    puzzle: np.ndarray  # (N, N) uint8, digits 1..N, 0 = blank
    solution: np.ndarray  # (N, N) uint8, digits 1..N

    @property
    def size(self) -> int:
        return int(self.puzzle.shape[0])

    @property
    def num_givens(self) -> int:
        return int(np.count_nonzero(self.puzzle))


@dataclass(frozen=True)
class SudokuState:
    """A snapshot of one episode (``SudokuEnv.state`` returns a fresh copy)."""

    board: np.ndarray  # (N, N) uint8, digits on the board now, 0 = blank
    puzzle: np.ndarray  # (N, N) uint8, the givens of the episode, 0 = blank
    solution: np.ndarray  # (N, N) uint8, digits 1..N
    action_mask: np.ndarray  # (N ** 3,) bool, legal placements on ``board``
    step_count: int
    num_wrong: int  # placements so far that contradict ``solution``
    num_illegal: int  # masked actions taken so far (no-ops)
