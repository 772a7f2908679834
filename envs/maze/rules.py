"""Pure rules of the Maze: puzzle parsing and validation, moves, shaping, action sampling.

Cells are addressed by flat index ``r * W + c``. The batched transition that both envs step
through is :mod:`envs.maze.batch`; the BFS lives in :mod:`envs.maze.solver`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from envs.maze.solver import bfs_flat, free_cells
from envs.maze.types import CHAR_TO_TOKEN, GOAL, MOVES, OPEN, PATH, START, WALL, MazePuzzle

_ALLOWED = "".join(CHAR_TO_TOKEN)
# Lookup from byte value to token id (PAD marks a bad character).
_BYTE_TO_TOKEN = np.zeros(256, dtype=np.uint8)
for _char, _token in CHAR_TO_TOKEN.items():
    _BYTE_TO_TOKEN[ord(_char)] = _token


def _where(grid: np.ndarray, token: int) -> list[tuple[int, int]]:
    return [(int(r), int(c)) for r, c in zip(*np.nonzero(grid == token), strict=True)]


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
    if isinstance(puzzle, MazePuzzle):
        # Well formed by construction; the shape and solvability still depend on the caller.
        if shape is not None and puzzle.shape != tuple(shape):
            raise ValueError(
                f"maze puzzle is {puzzle.shape[0]}x{puzzle.shape[1]}, expected "
                f"{shape[0]}x{shape[1]} (this env's grid)"
            )
        if check_solvable:
            _check_solvable(puzzle.grid, puzzle.start, puzzle.goal)
        return puzzle
    if isinstance(puzzle, str):
        n = len(puzzle)
        if shape is None:
            side = round(n**0.5)
            if side * side != n or n == 0:
                raise ValueError(
                    f"maze puzzle string has {n} characters, which is not a square grid; "
                    "pass H*W characters row-major or an (H, W) array"
                )
            shape = (side, side)
        if n != shape[0] * shape[1]:
            raise ValueError(
                f"maze puzzle string has {n} characters, expected {shape[0] * shape[1]} "
                f"for a {shape[0]}x{shape[1]} grid (row-major)"
            )
        bad = sorted(set(puzzle) - set(_ALLOWED))
        if bad:
            raise ValueError(
                f"maze puzzle has bad characters {bad}; allowed are {list(_ALLOWED)} "
                "(wall '#', open ' ', start 'S', goal 'G', path 'o')"
            )
        grid = _BYTE_TO_TOKEN[np.frombuffer(puzzle.encode("ascii"), dtype=np.uint8)]
        grid = grid.reshape(shape)
    else:
        arr = np.asarray(puzzle)
        if arr.ndim != 2 or (shape is not None and arr.shape != tuple(shape)):
            want = f"{shape[0]}x{shape[1]}" if shape is not None else "2-D (H, W)"
            raise ValueError(f"maze puzzle array has shape {arr.shape}, expected {want}")
        if arr.dtype.kind in "US":
            chars = arr.astype(str)
            bad = sorted(set(chars.ravel().tolist()) - set(_ALLOWED))
            if bad:
                raise ValueError(
                    f"maze puzzle has bad characters {bad}; allowed are {list(_ALLOWED)}"
                )
            return parse_puzzle("".join(chars.ravel().tolist()), arr.shape, check_solvable)
        if arr.dtype.kind not in "iu" or arr.size == 0:
            raise ValueError(f"maze puzzle array has dtype {arr.dtype}; use tokens 1..5 or chars")
        bad = sorted(set(np.unique(arr).tolist()) - {WALL, OPEN, START, GOAL, PATH})
        if bad:
            raise ValueError(
                f"maze puzzle has bad tokens {bad}; allowed are 1 '#', 2 ' ', 3 'S', 4 'G', 5 'o'"
            )
        grid = arr.astype(np.uint8)
    grid = np.where(grid == PATH, OPEN, grid).astype(np.uint8)
    found = {}
    for token, name in ((START, "start 'S'"), (GOAL, "goal 'G'")):
        cells = _where(grid, token)
        if len(cells) != 1:
            what = "no" if not cells else f"{len(cells)} ({', '.join(map(str, cells))})"
            raise ValueError(f"maze puzzle has {what} {name}; it needs exactly one")
        found[token] = cells[0]
    start, goal = found[START], found[GOAL]
    if check_solvable:
        _check_solvable(grid, start, goal)
    return MazePuzzle(grid=grid, start=start, goal=goal)


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
