"""Seeded, validity-preserving symmetries of training examples, drawn per row of a batch.

The same transform is applied to a row's inputs and labels, so a valid (puzzle, solution) or
(maze, shortest path) pair stays valid:

- Sudoku (:func:`augment_sudoku`): digits relabelled (blank and pad fixed), bands permuted and
  the rows inside each band, stacks permuted and the columns inside each stack, and a transpose
  with probability 1/2 when the boxes are square (4x4, 9x9; not 6x6, whose 2x3 boxes a
  transpose would turn into 3x2 ones). These are the official ``shuffle_sudoku`` symmetries.
- Maze (:func:`augment_maze`): one of the 8 dihedral transforms of a square grid (rotations by
  0/90/180/270 degrees, each optionally mirrored); a non-square grid gets one of the 4 that
  keep its shape. A transformed label path is still a shortest path, though not always the
  path the Maze-Hard BFS rule would pick on the transformed maze (as upstream).

Rows are ``[B, H * W]`` token arrays; outputs are new arrays.
"""

from __future__ import annotations

import numpy as np

from envs.sudoku.rules import box_shape
from envs.sudoku.types import DIGIT_OFFSET


def _permutations(rng: np.random.Generator, shape: tuple[int, ...], n: int) -> np.ndarray:
    """Independent random permutations of ``0..n-1`` along the last axis: ``shape + (n,)``."""
    return rng.permuted(np.broadcast_to(np.arange(n), (*shape, n)).copy(), axis=-1)


def _line_orders(rng: np.random.Generator, batch: int, size: int, group: int) -> np.ndarray:
    """(B, size) line orders that permute the groups of ``group`` lines and the lines inside
    each group (rows inside bands, or columns inside stacks)."""
    groups = _permutations(rng, (batch,), size // group)  # (B, G)
    inside = _permutations(rng, (batch, size // group), group)  # (B, G, group)
    return (groups[:, :, None] * group + inside).reshape(batch, size)


def augment_sudoku(
    rng: np.random.Generator, inputs: np.ndarray, labels: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Apply one random Sudoku symmetry per row to puzzles and solutions alike.

    :param rng: the random generator.
    :param inputs: (B, N * N) puzzle tokens (pad 0, blank 1, digit d -> d + 1).
    :param labels: (B, N * N) solution tokens.
    :param size: board side N (4, 6 or 9).
    :return: the transformed (inputs, labels), uint8.
    """
    br, bc = box_shape(size)
    batch = len(inputs)
    digits = _permutations(rng, (batch,), size) + 1 + DIGIT_OFFSET  # (B, N): new token per digit
    table = np.concatenate(
        [np.broadcast_to(np.arange(1 + DIGIT_OFFSET), (batch, 1 + DIGIT_OFFSET)), digits], axis=1
    ).astype(np.uint8)  # (B, vocab): pad and blank map to themselves
    rows = _line_orders(rng, batch, size, br)
    cols = _line_orders(rng, batch, size, bc)
    transpose = rng.random(batch) < 0.5 if br == bc else np.zeros(batch, dtype=bool)
    b = np.arange(batch)[:, None, None]

    def apply(tokens: np.ndarray) -> np.ndarray:
        relabelled = np.take_along_axis(table, tokens.astype(np.int64), axis=1)
        grid = relabelled.reshape(batch, size, size)[b, rows[:, :, None], cols[:, None, :]]
        grid = np.where(transpose[:, None, None], grid.transpose(0, 2, 1), grid)
        return grid.reshape(batch, size * size)

    return apply(inputs), apply(labels)


def dihedral(grids: np.ndarray, k: int) -> np.ndarray:
    """Dihedral transform ``k`` (0..7) of (B, H, W) grids: ``k % 4`` quarter turns, then a
    left-right mirror when ``k >= 4``."""
    out = np.rot90(grids, k % 4, axes=(1, 2))
    return out[:, :, ::-1] if k >= 4 else out


def augment_maze(
    rng: np.random.Generator, inputs: np.ndarray, labels: np.ndarray, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Apply one random dihedral transform per row to mazes and their paths alike.

    :param rng: the random generator.
    :param inputs: (B, H * W) maze tokens.
    :param labels: (B, H * W) answer tokens.
    :param shape: (H, W) of the grids.
    :return: the transformed (inputs, labels), uint8.
    """
    h, w = shape
    batch = len(inputs)
    # Rotations by 90/270 degrees (and their mirrors) swap H and W: only for square grids.
    choices = np.arange(8) if h == w else np.array([0, 2, 4, 6])
    ks = choices[rng.integers(0, len(choices), size=batch)]
    outputs = []
    for tokens in (inputs, labels):
        grids = np.asarray(tokens).reshape(batch, h, w)
        out = np.empty_like(grids)
        for k in np.unique(ks).tolist():
            rows = ks == k
            out[rows] = dihedral(grids[rows], k)
        outputs.append(out.reshape(batch, h * w))
    return outputs[0], outputs[1]
