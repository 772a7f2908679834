"""The 288 solution grids of 4x4 Sudoku, and unique-solution puzzles dug from them in batch.

4x4 Sudoku has so few solution grids that held-out data can be held out by grid: every puzzle
of a held-out grid is unseen in training, whatever its givens. The puzzles of a grid are dug as
:class:`envs.sudoku.generator.RandomSudokuGenerator` digs them (cells visited in a random order,
a given removed while the solution stays unique, down to a target drawn from the givens range;
a puzzle stuck above the range is dug again), but batched: a 4x4 puzzle has a unique solution
exactly when no other of the 288 grids agrees with its grid on the givens, which is one AND per
pair of grids over 16-bit cell masks instead of a search. ``tests/test_data.py`` checks the
grids and the puzzles against the search (:func:`envs.sudoku.solver.count_solutions`).
"""

from __future__ import annotations

import itertools
from functools import cache

import numpy as np

from envs.sudoku.rules import is_solved

CELLS = 16
_FULL = (1 << CELLS) - 1
#: Weight of each cell in a grid's code: base 4, cell 0 most significant (code order = row order).
_WEIGHTS = 4 ** np.arange(CELLS - 1, -1, -1, dtype=np.int64)


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@cache
def all_grids() -> np.ndarray:
    """Every 4x4 solution grid, in lexicographic order: (288, 16) uint8 digits 1..4 (read-only)."""
    rows = list(itertools.permutations(range(1, 5)))
    grids: list[tuple[tuple[int, ...], ...]] = []

    def extend(board: tuple[tuple[int, ...], ...]) -> None:
        if len(board) == 4:
            grids.append(board)
            return
        for row in rows:
            if any(row[c] == above[c] for above in board for c in range(4)):
                continue  # a column repeats
            if len(board) % 2 and (
                set(row[:2]) & set(board[-1][:2]) or set(row[2:]) & set(board[-1][2:])
            ):
                continue  # a 2x2 box repeats
            extend((*board, row))

    extend(())
    out = np.array(grids, dtype=np.uint8).reshape(-1, CELLS)
    if len(out) != 288 or not is_solved(out).all():
        raise RuntimeError(f"enumerated {len(out)} 4x4 grids, expected 288 valid ones")
    return _readonly(out)


@cache
def _grid_codes() -> np.ndarray:
    return _readonly(all_grids().astype(np.int64) @ _WEIGHTS)


@cache
def difference_masks() -> np.ndarray:
    """(288, 288) uint16: bit ``c`` of entry (g, h) is set where grids g and h differ at cell c.

    The diagonal is all ones, so "some bit of the givens mask is set in every entry of row g"
    is exactly "the givens of grid g have a unique solution".
    """
    grids = all_grids()
    differ = grids[:, None, :] != grids[None, :, :]  # (288, 288, 16)
    masks = (differ.astype(np.int64) << np.arange(CELLS)).sum(axis=2)
    np.fill_diagonal(masks, _FULL)
    return _readonly(masks.astype(np.uint16))


def grid_index(grids: np.ndarray) -> np.ndarray:
    """Index in :func:`all_grids` of each grid, -1 for a board that is not a solution grid.

    :param grids: (B, 16) or (B, 4, 4) digits.
    :return: (B,) int64.
    """
    codes = np.asarray(grids).reshape(-1, CELLS).astype(np.int64) @ _WEIGHTS
    table = _grid_codes()
    pos = np.minimum(np.searchsorted(table, codes), len(table) - 1)
    return np.where(table[pos] == codes, pos, -1)


def dig(
    rng: np.random.Generator, grid_ids: np.ndarray, givens: tuple[int, int], max_rounds: int = 200
) -> np.ndarray:
    """One unique-solution puzzle per grid, with a number of givens in ``givens``.

    :param rng: the random generator (targets and cell orders).
    :param grid_ids: (B,) indices into :func:`all_grids`.
    :param givens: inclusive (lo, hi) range; a target is drawn uniformly from it per puzzle.
    :param max_rounds: digs per puzzle before giving up.
    :return: (B, 16) uint8 digits, 0 = blank.
    :raises RuntimeError: when some puzzle stays above ``hi`` after ``max_rounds`` digs.
    """
    lo, hi = givens
    grid_ids = np.asarray(grid_ids, dtype=np.int64)
    masks = np.zeros(len(grid_ids), dtype=np.int64)
    todo = np.arange(len(grid_ids))
    for _ in range(max_rounds):
        if len(todo) == 0:
            break
        mask, count = _dig_masks(rng, grid_ids[todo], lo, hi)
        done = count <= hi
        masks[todo[done]] = mask[done]
        todo = todo[~done]
    else:
        if len(todo):
            raise RuntimeError(
                f"could not dig 4x4 puzzles down to {hi} givens in {max_rounds} tries; "
                f"widen givens={givens!r} (most 4x4 puzzles stop at 4-6 givens)"
            )
    keep = (masks[:, None] >> np.arange(CELLS)) & 1
    return (all_grids()[grid_ids] * keep).astype(np.uint8)


def _dig_masks(
    rng: np.random.Generator, grid_ids: np.ndarray, lo: int, hi: int
) -> tuple[np.ndarray, np.ndarray]:
    """One greedy dig per grid: (B,) givens bitmasks and (B,) givens counts."""
    batch = len(grid_ids)
    target = rng.integers(lo, hi + 1, size=batch)
    order = rng.permuted(np.tile(np.arange(CELLS), (batch, 1)), axis=1)
    differ = difference_masks()[grid_ids].astype(np.int64)  # (B, 288)
    mask = np.full(batch, _FULL, dtype=np.int64)
    count = np.full(batch, CELLS, dtype=np.int64)
    for k in range(CELLS):
        candidate = mask & ~(np.int64(1) << order[:, k])
        unique = np.all(differ & candidate[:, None], axis=1)
        take = unique & (count > target)
        mask = np.where(take, candidate, mask)
        count -= take
    return mask, count


def split_grids(seed: int, heldout: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded split of the 288 grid indices: (train, val, test), ``heldout`` each for val/test.

    :param seed: the data seed.
    :param heldout: grids held out for validation, and as many for test.
    """
    perm = np.random.default_rng([seed, 4, 4]).permutation(len(all_grids()))
    test, val, train = perm[:heldout], perm[heldout : 2 * heldout], perm[2 * heldout :]
    return np.sort(train), np.sort(val), np.sort(test)
