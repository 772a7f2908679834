"""Pure rules of the Maze: puzzle validation, moves, shaping, action sampling.

Cells are addressed by flat index ``r * W + c``. Reading a puzzle's text is
:func:`envs.maze.types.as_puzzle`; :func:`parse_puzzle` adds the solvability check, with the BFS
of :mod:`envs.maze.solver`. The batched transition that both envs step through is
:mod:`envs.maze.batch`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from envs.maze.solver import bfs_flat, free_cells
from envs.maze.types import MOVES, MazePuzzle, as_puzzle


def parse_puzzle(
    puzzle: str | np.ndarray | Sequence | MazePuzzle,
    shape: tuple[int, int] | None = None,
    check_solvable: bool = True,
) -> MazePuzzle:
    """Validate a maze puzzle and return it as a :class:`MazePuzzle`.

    :param puzzle: a string of ``H*W`` characters from ``"# SG"`` (``"o"`` path markers are read
        as open), an (H, W) array of such characters or of tokens 1..5, or a ``MazePuzzle``.
    :param shape: the (H, W) the puzzle must have; ``None`` accepts any square string or any
        array shape.
    :param check_solvable: run a BFS to reject puzzles without an S->G path (:func:`make_pool`
        checks again in batch, so bulk readers may skip it).
    :return: the puzzle with path markers cleared.
    :raises ValueError: naming the problem: wrong length/shape, bad characters or tokens, missing
        or duplicate S/G, or no path from S to G.
    """
    maze = as_puzzle(puzzle, shape)
    if check_solvable:
        _check_solvable(maze.grid, maze.start, maze.goal)
    return maze


def _check_solvable(grid: np.ndarray, start: tuple[int, int], goal: tuple[int, int]) -> None:
    h, w = grid.shape
    dist, _ = bfs_flat(free_cells(grid).ravel().tolist(), h, w, start[0] * w + start[1])
    if dist[goal[0] * w + goal[1]] < 0:
        raise ValueError(f"maze puzzle is unsolvable: no path from S at {start} to G at {goal}")


def longest_shortest_path(shape: tuple[int, int]) -> int:
    """Upper bound on any S->G shortest path of a generated maze of ``shape``.

    Lattice cells sit on even coordinates, so a perfect maze has ``n`` lattice cells and
    ``n - 1`` passages open: ``2n - 1`` cells, and a path through all of them has ``2n - 2``
    steps. Braiding adds passages, which only shortens paths.
    """
    n = ((shape[0] - 1) // 2 + 1) * ((shape[1] - 1) // 2 + 1)
    return 2 * n - 2


def neighbour_table(h: int, w: int) -> np.ndarray:
    """(H*W, 4) int64 flat index of the cell each action leads to; ``H*W`` when off the grid."""
    rows, cols = np.divmod(np.arange(h * w), w)
    r = rows[:, None] + MOVES[None, :, 0]
    c = cols[:, None] + MOVES[None, :, 1]
    inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
    return np.where(inside, r * w + c, h * w).astype(np.int64)


def potential(dist: np.ndarray, scale: float) -> np.ndarray:
    """Shaping potential ``phi = -scale * distance_to_goal`` (0 at the goal)."""
    return -scale * dist.astype(np.float64)


def sample_legal_actions(masks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw one uniformly random legal action per row of a (B, 4) mask (0 where none is legal).

    Vectorised: one uniform draw per row and a cumulative-count search, no Python loop.
    """
    counts = np.cumsum(masks, axis=1, dtype=np.int64)
    k = (rng.random(len(masks)) * counts[:, -1]).astype(np.int64)
    return np.argmax(counts > k[:, None], axis=1)
