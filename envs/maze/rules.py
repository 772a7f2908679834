"""Pure numpy rules of the Maze: parsing, tokens, moves, action masks and BFS distance maps.

Cells are addressed by flat index ``r * W + c``. The transition functions work on a leading
batch axis, so the single env (a batch of one) and the vector env share them and produce the
same transitions by construction.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from envs.maze.types import (
    CHAR_TO_TOKEN,
    GOAL,
    MOVES,
    OPEN,
    PAD,
    PATH,
    START,
    TOKEN_CHARS,
    WALL,
    MazePool,
    MazeState,
)

_ALLOWED = "".join(CHAR_TO_TOKEN)
# Lookup from byte value to token id (PAD marks a bad character).
_BYTE_TO_TOKEN = np.zeros(256, dtype=np.uint8)
for _char, _token in CHAR_TO_TOKEN.items():
    _BYTE_TO_TOKEN[ord(_char)] = _token


def _where(grid: np.ndarray, token: int) -> list[tuple[int, int]]:
    return [(int(r), int(c)) for r, c in zip(*np.nonzero(grid == token), strict=True)]


def parse_puzzle(
    puzzle: str | np.ndarray | Sequence | MazeState,
    shape: tuple[int, int] | None = None,
    check_solvable: bool = True,
) -> MazeState:
    """Validate a maze puzzle and return it as a :class:`MazeState`.

    :param puzzle: a string of ``H*W`` characters from ``"# SG"`` (``"o"`` path markers are read
        as open), an (H, W) array of such characters or of tokens 1..5, or a ``MazeState``.
    :param shape: the (H, W) the puzzle must have; ``None`` accepts any square string or any
        array shape.
    :param check_solvable: run a BFS to reject puzzles without an S->G path (:func:`make_pool`
        checks again in batch, so bulk readers may skip it).
    :return: the puzzle with path markers cleared.
    :raises ValueError: naming the problem: wrong length/shape, bad characters or tokens, missing
        or duplicate S/G, or no path from S to G.
    """
    if isinstance(puzzle, MazeState):
        grid = np.array(puzzle.grid)
    elif isinstance(puzzle, str):
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
    h, w = grid.shape
    if (
        check_solvable
        and bfs_flat((grid != WALL).ravel().tolist(), h, w, start[0] * w + start[1])[
            goal[0] * w + goal[1]
        ]
        < 0
    ):
        raise ValueError(f"maze puzzle is unsolvable: no path from S at {start} to G at {goal}")
    return MazeState(grid=grid, start=start, goal=goal)


def to_string(grid: np.ndarray) -> str:
    """Row-major string of a token grid in the Maze-Hard alphabet (``PAD`` shown as ``.``)."""
    return "".join(TOKEN_CHARS[t] for t in np.asarray(grid).ravel().tolist())


def bfs_flat(free: list[bool], h: int, w: int, source: int) -> list[int]:
    """Steps from ``source`` to every cell of one flat ``h*w`` grid (-1 where unreachable).

    Plain-Python BFS: faster than the batched numpy one for a single maze.
    """
    dist = [-1] * (h * w)
    dist[source] = 0
    queue = [source]
    for cur in queue:  # the list grows while we walk it: a FIFO queue without deque overhead
        d = dist[cur] + 1
        r, c = divmod(cur, w)
        for inside, nb in (
            (r > 0, cur - w),
            (c + 1 < w, cur + 1),
            (r + 1 < h, cur + w),
            (c > 0, cur - 1),
        ):
            if inside and free[nb] and dist[nb] < 0:
                dist[nb] = d
                queue.append(nb)
    return dist


def distance_maps(free: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Batched BFS: steps from each source to every cell through free cells.

    :param free: (P, H, W) bool, True where one may stand.
    :param sources: (P,) flat index of each source cell.
    :return: (P, H, W) int32 distances, -1 where unreachable.
    """
    free = np.asarray(free, dtype=bool)
    p, h, w = free.shape
    dist = np.full((p, h, w), -1, dtype=np.int32)
    frontier = np.zeros((p, h, w), dtype=bool)
    frontier.reshape(p, h * w)[np.arange(p), np.asarray(sources)] = True
    visited = frontier.copy()
    nxt = np.empty_like(frontier)
    d = 0
    while frontier.any():
        np.copyto(dist, d, where=frontier)
        nxt[:] = False
        nxt[:, 1:, :] |= frontier[:, :-1, :]
        nxt[:, :-1, :] |= frontier[:, 1:, :]
        nxt[:, :, 1:] |= frontier[:, :, :-1]
        nxt[:, :, :-1] |= frontier[:, :, 1:]
        nxt &= free
        nxt &= ~visited
        visited |= nxt
        frontier, nxt = nxt, frontier
        d += 1
    return dist


def make_pool(states: Sequence[MazeState]) -> MazePool:
    """Stack same-shaped mazes and precompute their free-cell and distance-to-goal tables."""
    if not states:
        raise ValueError("a maze pool needs at least one maze")
    shape = states[0].shape
    for s in states:
        if s.shape != shape:
            raise ValueError(f"all mazes of a pool must have one shape; got {shape} and {s.shape}")
    h, w = shape
    grids = np.stack([s.grid for s in states]).astype(np.uint8)
    start = np.array([r * w + c for r, c in (s.start for s in states)], dtype=np.int64)
    goal = np.array([r * w + c for r, c in (s.goal for s in states)], dtype=np.int64)
    free2d = (grids != WALL) & (grids != PAD)
    free = np.zeros((len(states), h * w + 1), dtype=bool)
    free[:, :-1] = free2d.reshape(len(states), -1)
    dist = distance_maps(free2d, goal).reshape(len(states), h * w)
    unsolvable = np.flatnonzero(dist[np.arange(len(states)), start] < 0)
    if len(unsolvable):
        raise ValueError(
            f"maze(s) at pool index {unsolvable[:10].tolist()} have no path from S to G"
        )
    return MazePool(grids=grids, free=free, dist=dist, start=start, goal=goal)


def neighbour_table(h: int, w: int) -> np.ndarray:
    """(H*W, 4) int64 flat index of the cell each action leads to; ``H*W`` when off the grid."""
    rows, cols = np.divmod(np.arange(h * w), w)
    r = rows[:, None] + MOVES[None, :, 0]
    c = cols[:, None] + MOVES[None, :, 1]
    inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
    return np.where(inside, r * w + c, h * w).astype(np.int64)


def move(
    free: np.ndarray, pos: np.ndarray, actions: np.ndarray, neighbours: np.ndarray
) -> np.ndarray:
    """Apply one move per row; a move into a wall or off the grid leaves the agent in place.

    :param free: (B, H*W + 1) bool free-cell table (sentinel column last, never free).
    :param pos: (B,) flat agent cells.
    :param actions: (B,) actions in ``0..3`` (up, right, down, left).
    :param neighbours: (H*W, 4) table from :func:`neighbour_table`.
    :return: (B,) new flat agent cells.
    """
    target = neighbours[pos, actions]
    legal = free[np.arange(len(pos)), target]
    return np.where(legal, target, pos)


def action_mask(free: np.ndarray, pos: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """(B, 4) bool: True for the moves that change the agent's cell."""
    return free[np.arange(len(pos))[:, None], neighbours[pos]]


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
