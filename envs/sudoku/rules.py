"""Sudoku rules as pure numpy functions, most on a leading batch axis: geometry tables,
validation of puzzles, legality, solved boards and actions.

Conventions: a board is an array of digits (``0`` = blank) of shape ``(N, N)`` or flattened
``(C,)`` with ``C = N * N`` cells in row-major order; a batch adds a leading axis ``B``. The
legality mask has ``A = N ** 3`` entries, one per action ``cell * N + (digit - 1)``. The batched
transition both envs step through is :mod:`envs.sudoku.batch`; the search is
:mod:`envs.sudoku.solver`. Reading a board (:func:`parse_puzzle`), :func:`box_shape` and the
token conversions (:func:`to_tokens`, :func:`from_tokens`) live in :mod:`envs.sudoku.types`,
below the solver, and are importable from here too.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from envs.sudoku.solver import analyse
from envs.sudoku.types import SudokuPuzzle, box_shape, from_tokens, parse_puzzle, to_tokens

__all__ = [
    "box_shape",
    "cell_units",
    "check_givens",
    "clear_table",
    "decode_action",
    "encode_action",
    "find_duplicates",
    "from_tokens",
    "is_solved",
    "legal_mask",
    "parse_puzzle",
    "peer_table",
    "puzzle_from_input",
    "sample_legal_actions",
    "to_tokens",
    "unit_name",
    "unit_table",
]


# --------------------------------------------------------------------------------------------
# Geometry
# --------------------------------------------------------------------------------------------
def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@cache
def unit_table(size: int) -> np.ndarray:
    """Cells of every unit: rows ``0..N-1``, columns ``N..2N-1``, boxes ``2N..3N-1``.

    :return: (3N, N) int64 cell indices (read-only).
    """
    br, bc = box_shape(size)
    cells = np.arange(size * size).reshape(size, size)
    boxes = [
        cells[r : r + br, c : c + bc].ravel()
        for r in range(0, size, br)
        for c in range(0, size, bc)
    ]
    return _readonly(np.concatenate([cells, cells.T, np.stack(boxes)]).astype(np.int64))


@cache
def cell_units(size: int) -> np.ndarray:
    """The (row, column, box) unit ids of every cell: (C, 3) int64 (read-only)."""
    units = unit_table(size)
    out = np.zeros((size * size, 3), dtype=np.int64)
    for u, cells in enumerate(units):
        out[cells, u // size] = u
    return _readonly(out)


@cache
def peer_table(size: int) -> np.ndarray:
    """Peers of every cell (same row, column or box, the cell excluded), sorted.

    :return: (C, P) int64 with ``P = 2(N-1) + (br-1)(bc-1)``: 20 for 9x9, 12 for 6x6, 7 for 4x4.
    """
    units = unit_table(size)
    rows = []
    for cell, ids in enumerate(cell_units(size)):
        peers = np.unique(units[ids].ravel())
        rows.append(peers[peers != cell])
    return _readonly(np.stack(rows))


@cache
def clear_table(size: int) -> np.ndarray:
    """Mask entries a placement makes illegal: the cell's N digits, then the digit at each peer.

    :return: (A, N + P) int64; row ``a`` lists entries of the (A,) mask cleared by action ``a``.
    """
    cell, digit0 = np.divmod(np.arange(size**3), size)
    own = cell[:, None] * size + np.arange(size)
    peers = peer_table(size)[cell] * size + digit0[:, None]
    return _readonly(np.concatenate([own, peers], axis=1))


def unit_name(size: int, unit: int) -> str:
    """Human name of unit ``unit`` of :func:`unit_table` (1-based), e.g. ``"box 3"``."""
    kind = ("row", "column", "box")[unit // size]
    return f"{kind} {unit % size + 1}"


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------
def find_duplicates(board: np.ndarray) -> list[str]:
    """Describe every digit that appears more than once in a row, column or box.

    :param board: (N, N) digits, 0 = blank.
    :return: messages such as ``"digit 5 twice in row 1 (cells r1c2, r1c7)"``; empty if none.
    """
    size = board.shape[0]
    flat = np.asarray(board).reshape(-1)
    problems = []
    for u, cells in enumerate(unit_table(size)):
        values = flat[cells]
        for digit in range(1, size + 1):
            where = cells[values == digit]
            if len(where) > 1:
                names = ", ".join(f"r{c // size + 1}c{c % size + 1}" for c in where)
                times = "twice" if len(where) == 2 else f"{len(where)} times"
                problems.append(f"digit {digit} {times} in {unit_name(size, u)} (cells {names})")
    return problems


def check_givens(board: np.ndarray, *, what: str = "puzzle") -> None:
    """Raise ``ValueError`` naming the first duplicate if ``board`` contradicts the rules."""
    problems = find_duplicates(board)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ValueError(f"{what} has contradictory givens: {problems[0]}{more}")


# --------------------------------------------------------------------------------------------
# Legality and solved boards
# --------------------------------------------------------------------------------------------
def legal_mask(boards: np.ndarray) -> np.ndarray:
    """Legal placements computed from scratch: cell empty and digit absent from its units.

    :param boards: (B, N, N) or (B, C) digits, 0 = blank.
    :return: (B, A) bool, entry ``cell * N + digit - 1``.
    """
    boards = np.asarray(boards)
    batch, size = boards.shape[0], _size_of(boards)
    flat = boards.reshape(batch, size * size)
    onehot = flat[..., None] == np.arange(1, size + 1, dtype=flat.dtype)  # (B, C, N)
    used = onehot[:, unit_table(size)].any(axis=2)  # (B, 3N, N): digit used in unit
    blocked = used[:, cell_units(size)].any(axis=2)  # (B, C, N)
    return (~blocked & (flat == 0)[..., None]).reshape(batch, size**3)


def is_solved(boards: np.ndarray) -> np.ndarray:
    """Whether each board is complete with every digit once per row, column and box.

    :param boards: (B, N, N) or (B, C) digits.
    :return: (B,) bool.
    """
    boards = np.asarray(boards)
    batch, size = boards.shape[0], _size_of(boards)
    units = boards.reshape(batch, size * size)[:, unit_table(size)]  # (B, 3N, N)
    return np.all(np.sort(units, axis=-1) == np.arange(1, size + 1), axis=(1, 2))


def _size_of(boards: np.ndarray) -> int:
    if boards.ndim == 3:
        return boards.shape[1]
    size = round(boards.shape[1] ** 0.5)
    if size * size != boards.shape[1]:
        raise ValueError(f"boards of shape {boards.shape} are not (B, N, N) or (B, N*N)")
    return size


# --------------------------------------------------------------------------------------------
# Actions
# --------------------------------------------------------------------------------------------
def encode_action(row, col, digit, size: int):
    """Action id of placing ``digit`` (1..N) at (row, col): ``(row * N + col) * N + digit - 1``.

    Works on ints and on numpy arrays alike.
    """
    return (row * size + col) * size + (digit - 1)


def decode_action(action, size: int):
    """Inverse of :func:`encode_action`: ``(row, col, digit)`` with digit in 1..N."""
    cell, digit0 = divmod(action, size)
    row, col = divmod(cell, size)
    return row, col, digit0 + 1


def sample_legal_actions(
    masks: np.ndarray, rng: np.random.Generator, tries: int = 16
) -> np.ndarray:
    """Draw one action per row uniformly among its legal entries.

    Rejection sampling: ``tries`` uniform candidates per row, the first legal one wins; rows
    with no hit fall back to an exact draw (the r-th legal entry). Rows without any legal
    entry get action 0.

    :param masks: (B, A) bool.
    :param rng: the random generator (e.g. ``env.np_random``).
    :return: (B,) int64 actions.
    """
    batch, num_actions = masks.shape
    rows = np.arange(batch)
    cand = rng.integers(0, num_actions, size=(batch, tries))
    hit = np.take_along_axis(masks, cand, axis=1)
    first = hit.argmax(axis=1)
    actions = cand[rows, first]
    miss = np.flatnonzero(~hit[rows, first])
    if len(miss):
        # Exact draw for the rest: the r-th legal entry of the row, r uniform in [0, count).
        legal = np.flatnonzero(masks[miss])  # row-major positions, row = position // A
        count = np.bincount(legal // num_actions, minlength=len(miss))
        start = np.cumsum(count) - count
        r = (rng.random(len(miss)) * count).astype(np.int64)
        pick = np.minimum(start + r, max(len(legal) - 1, 0))
        actions[miss] = np.where(count > 0, legal[pick] % num_actions if len(legal) else 0, 0)
    return actions


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
