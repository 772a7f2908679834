"""Token ids, board geometry and the typed containers of the Sudoku environments.

Shapes use ``N`` for the side of the board (4, 6 or 9), ``C = N * N`` for the number of cells,
``A = N ** 3`` for the number of actions and ``B`` for a batch of boards.
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


def vocab_size(size: int) -> int:
    """Number of token ids for an ``size x size`` board: pad, blank and ``size`` digits."""
    return size + 2


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
