"""The batched episode state of the Sudoku envs and its transition.

``SudokuEnv`` (a batch of one) and ``SudokuVectorEnv`` both step through :func:`step_batch`, so
their transitions are the same code. It updates a :class:`SudokuBatch` in place, keeping the
legality mask incremental: a placement clears the cell's ``N`` entries and the digit's entry at
each of the cell's peers (same row, column or box).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.sudoku.rules import clear_table
from envs.sudoku.types import COUNTER_DTYPE, DIGIT_OFFSET
from envs.utils import check_actions


@dataclass
class SudokuBatch:
    """The mutable arrays of ``B`` running episodes, updated in place by ``rules.step_batch``.

    This is the one mutable type of the package; both ``SudokuEnv`` (``B = 1``) and
    ``SudokuVectorEnv`` hold one, so their transitions are the same code.
    """

    board: np.ndarray  # (B, C) uint8, digits 1..N, 0 = blank
    puzzle: np.ndarray  # (B, C) uint8, the givens of the episode
    solution: np.ndarray  # (B, C) uint8, digits 1..N
    mask: np.ndarray  # (B, A) bool, legal placements on ``board``
    num_legal: np.ndarray  # (B,) int32, mask.sum(1), kept incrementally
    num_blanks: np.ndarray  # (B,) int32
    num_wrong: np.ndarray  # (B,) int32
    num_illegal: np.ndarray  # (B,) int32
    steps: np.ndarray  # (B,) int32
    max_steps: np.ndarray  # (B,) int32, truncation limit of the episode

    @classmethod
    def empty(cls, batch: int, size: int) -> SudokuBatch:
        cells = size * size

        def counter() -> np.ndarray:
            return np.zeros(batch, dtype=COUNTER_DTYPE)

        return cls(
            board=np.zeros((batch, cells), dtype=np.uint8),
            puzzle=np.zeros((batch, cells), dtype=np.uint8),
            solution=np.zeros((batch, cells), dtype=np.uint8),
            mask=np.zeros((batch, cells * size), dtype=bool),
            num_legal=counter(),
            num_blanks=counter(),
            num_wrong=counter(),
            num_illegal=counter(),
            steps=counter(),
            max_steps=counter(),
        )


def load_puzzles(
    batch: SudokuBatch,
    rows: np.ndarray,
    puzzles: np.ndarray,
    solutions: np.ndarray,
    masks: np.ndarray,
    max_steps: int | None,
) -> None:
    """Start new episodes in ``rows`` of ``batch`` (in place).

    :param rows: (k,) row indices, or a (B,) bool selector.
    :param puzzles: (k, C) givens; ``solutions``: (k, C); ``masks``: (k, A) their legal masks.
    :param max_steps: truncation limit; ``None`` = twice the number of blanks.
    """
    blanks = np.count_nonzero(puzzles == 0, axis=1).astype(COUNTER_DTYPE)
    batch.board[rows] = puzzles
    batch.puzzle[rows] = puzzles
    batch.solution[rows] = solutions
    batch.mask[rows] = masks
    batch.num_legal[rows] = np.count_nonzero(masks, axis=1)
    batch.num_blanks[rows] = blanks
    batch.num_wrong[rows] = 0
    batch.num_illegal[rows] = 0
    batch.steps[rows] = 0
    batch.max_steps[rows] = 2 * blanks if max_steps is None else max_steps


def step_batch(
    batch: SudokuBatch, actions: np.ndarray, wrong_penalty: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Apply one action per board (in place) and score it.

    A legal action writes its digit and updates the mask; a masked (illegal) action changes
    nothing. Rewards: ``wrong_penalty`` for a placement that contradicts the solution and for
    an illegal action, ``+1`` for the placement that completes the board.

    :param actions: (B,) ints in ``[0, N ** 3)``.
    :return: ``rewards`` (B,) float32, ``terminated`` (B,) bool (solved or no legal move
        left), ``truncated`` (B,) bool (``steps >= max_steps``, not terminated), ``info``.
    """
    num_boards, num_actions = batch.mask.shape
    size = round(num_actions ** (1 / 3))
    actions = check_actions(actions, num_boards, num_actions)
    rows = np.arange(num_boards)
    legal = batch.mask[rows, actions]
    placed = np.flatnonzero(legal)
    cell, digit0 = np.divmod(actions[placed], size)
    digit = (digit0 + 1).astype(np.uint8)
    batch.board[placed, cell] = digit
    wrong = np.zeros(num_boards, dtype=bool)
    wrong[placed] = batch.solution[placed, cell] != digit

    # Clear the cell's N entries and the digit's entry at each peer of the cell.
    cleared = clear_table(size)[actions[placed]] + (placed * num_actions)[:, None]
    flat_mask = batch.mask.reshape(-1)  # a view: SudokuBatch arrays stay C-contiguous
    batch.num_legal[placed] -= np.count_nonzero(flat_mask[cleared], axis=1).astype(COUNTER_DTYPE)
    flat_mask[cleared] = False
    batch.num_blanks[placed] -= 1

    illegal = ~legal
    batch.num_wrong += wrong
    batch.num_illegal += illegal
    batch.steps += 1
    solved = legal & (batch.num_blanks == 0)
    dead_end = (batch.num_legal == 0) & (batch.num_blanks > 0)
    terminated = solved | dead_end
    truncated = (batch.steps >= batch.max_steps) & ~terminated
    rewards = (wrong | illegal) * np.float32(wrong_penalty) + solved.astype(np.float32)
    info = batch_info(batch, illegal=illegal, wrong=wrong, solved=solved, dead_end=dead_end)
    return rewards, terminated, truncated, info


def batch_info(
    batch: SudokuBatch,
    *,
    illegal: np.ndarray | None = None,
    wrong: np.ndarray | None = None,
    solved: np.ndarray | None = None,
    dead_end: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Fresh (B,) info arrays; the flags default to False (as after a reset)."""
    n = batch.steps.shape[0]

    def flag(x: np.ndarray | None) -> np.ndarray:
        return np.zeros(n, dtype=bool) if x is None else x.copy()

    return {
        "steps": batch.steps.copy(),
        "num_blanks": batch.num_blanks.copy(),
        "num_wrong": batch.num_wrong.copy(),
        "num_illegal": batch.num_illegal.copy(),
        "wrong_placement": flag(wrong),
        "illegal_action": flag(illegal),
        "is_success": flag(solved),
        "dead_end": flag(dead_end),
    }


def observe(batch: SudokuBatch) -> dict[str, np.ndarray]:
    """Fresh observation arrays: ``grid`` (B, N, N) uint8 tokens, ``action_mask`` (B, A) int8."""
    num_boards, cells = batch.board.shape
    size = round(cells**0.5)
    return {
        "grid": (batch.board + np.uint8(DIGIT_OFFSET)).reshape(num_boards, size, size),
        "action_mask": batch.mask.view(np.int8).copy(),
    }
