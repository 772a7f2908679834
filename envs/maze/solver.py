"""The Maze solver: one scalar BFS and one batched BFS, Maze-Hard labels and answer checking.

- :func:`bfs_flat` is the scalar BFS (plain Python lists: the fastest for one maze); it keeps
  the first parent it records for each cell, in a given neighbour order. Everything scalar here
  (:func:`bfs`, :func:`label_path`, :func:`label_answer`, the generator's S/G placement) uses it.
- :func:`distance_maps` is the batched BFS (numpy frontier sweeps over P mazes at once); pools
  and the env's distance tables use it.
- :func:`oracle_actions` is the optimal policy for a batch of observation grids: a move that
  lowers the BFS distance to the goal by one (:func:`goal_distances` from each grid's ``G``).

Maze-Hard labels (``answer`` in the CSV) are the path a BFS from ``S`` finds when it expands
neighbours in the order down, left, right, up (:data:`LABEL_ORDER`) and keeps the first parent
of each cell; the cells strictly between ``S`` and ``G`` are marked ``o``. :func:`label_answer`
reproduces every label of the bundled training split. Many mazes have other shortest paths, so
score predictions both ways: ``answer == label_answer(question)`` ("exact", the paper's metric)
and :func:`is_valid_shortest_path` ("valid").
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
    WALL,
    MazePuzzle,
    as_puzzle,
    to_string,
)

#: Neighbour order of the Maze-Hard label BFS, as (row, column) steps: down, left, right, up.
LABEL_ORDER: tuple[tuple[int, int], ...] = ((1, 0), (0, -1), (0, 1), (-1, 0))


def bfs_flat(
    free: Sequence[bool],
    h: int,
    w: int,
    source: int,
    order: Sequence[tuple[int, int]] = LABEL_ORDER,
    parents: bool = False,
) -> tuple[list[int], list[int] | None]:
    """Breadth-first search over one flat ``h * w`` grid.

    :param free: ``h * w`` flags, True where one may stand (row-major).
    :param h: rows.
    :param w: columns.
    :param source: flat index of the start cell.
    :param order: neighbour expansion order as (row, column) steps; it decides which parent a
        cell keeps, not the distances.
    :param parents: also return each cell's BFS parent.
    :return: ``dist`` (steps from ``source``, -1 where unreachable) and ``parent`` (flat index
        of the first parent recorded, -1 for the source and unreached cells; None unless
        ``parents``).
    """
    # A wall column on the right and wall rows above and below make every neighbour a plain
    # offset with no bounds check (a step left from column 0 lands on the previous row's
    # padding column); indices go back to the plain grid at the end.
    wp = w + 1
    padded = [False] * ((h + 2) * wp)
    for r in range(h):
        padded[(r + 1) * wp : (r + 1) * wp + w] = free[r * w : (r + 1) * w]
    steps = [dr * wp + dc for dr, dc in order]
    src = (source // w + 1) * wp + source % w
    dist = [-1] * len(padded)
    parent = [-1] * len(padded) if parents else None
    dist[src] = 0
    queue = [src]
    for cur in queue:  # the list grows while we walk it: a FIFO queue without deque overhead
        d = dist[cur] + 1
        for step in steps:
            nb = cur + step
            if padded[nb] and dist[nb] < 0:
                dist[nb] = d
                if parent is not None:
                    parent[nb] = cur
                queue.append(nb)
    rows = range(wp, (h + 1) * wp, wp)
    plain = [x for start in rows for x in dist[start : start + w]]
    if parent is None:
        return plain, None
    back = [(p // wp - 1) * w + p % wp if p >= 0 else -1 for p in parent]
    return plain, [x for start in rows for x in back[start : start + w]]


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


def free_cells(grids: np.ndarray) -> np.ndarray:
    """True where one may stand: every token but walls and padding (same shape as ``grids``)."""
    grids = np.asarray(grids)
    return (grids != WALL) & (grids != PAD)


def bfs(
    maze: str | np.ndarray | MazePuzzle,
    source: tuple[int, int] | None = None,
    order: Sequence[tuple[int, int]] = LABEL_ORDER,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`bfs_flat` on a puzzle, as grids.

    :param maze: puzzle string, (H, W) token/char array or :class:`MazePuzzle`.
    :param source: (row, column) to search from (default ``S``).
    :param order: the neighbour expansion order (it decides which parent a cell keeps).
    :return: ``dist`` (H, W) int32 steps from the source (-1 unreachable) and ``parent``
        (H, W) int64 flat index of each cell's BFS parent (-1 for the source and unreached).
    """
    puzzle = as_puzzle(maze)
    h, w = puzzle.shape
    r0, c0 = source if source is not None else puzzle.start
    dist, parent = bfs_flat(
        free_cells(puzzle.grid).ravel().tolist(), h, w, r0 * w + c0, order, parents=True
    )
    return (
        np.array(dist, dtype=np.int32).reshape(h, w),
        np.array(parent, dtype=np.int64).reshape(h, w),
    )


def distance_map(maze: str | np.ndarray | MazePuzzle, source: tuple[int, int]) -> np.ndarray:
    """(H, W) int32 BFS steps from ``source`` to every cell, -1 where unreachable."""
    return bfs(maze, source)[0]


def label_path(maze: str | np.ndarray | MazePuzzle) -> list[tuple[int, int]]:
    """The Maze-Hard label path: cells from ``S`` to ``G`` inclusive (empty if unsolvable)."""
    puzzle = as_puzzle(maze)
    w = puzzle.shape[1]
    dist, parent = bfs(puzzle)
    if dist[puzzle.goal] < 0:
        return []
    cells = [puzzle.goal[0] * w + puzzle.goal[1]]
    while cells[-1] != puzzle.start[0] * w + puzzle.start[1]:
        cells.append(int(parent.flat[cells[-1]]))
    return [divmod(c, w) for c in reversed(cells)]


def shortest_path_length(maze: str | np.ndarray | MazePuzzle) -> int:
    """Steps of a shortest ``S`` -> ``G`` path, -1 if there is none."""
    puzzle = as_puzzle(maze)
    return int(bfs(puzzle)[0][puzzle.goal])


def label_answer(maze: str | np.ndarray | MazePuzzle) -> str:
    """The Maze-Hard ``answer`` string: the question with ``o`` on the label path's inner cells.

    :raises ValueError: when the maze has no path from ``S`` to ``G``.
    """
    puzzle = as_puzzle(maze)
    path = label_path(puzzle)
    if not path:
        raise ValueError(
            f"maze is unsolvable: no path from S at {puzzle.start} to G at {puzzle.goal}"
        )
    grid = np.array(puzzle.grid)
    for cell in path[1:-1]:
        grid[cell] = PATH
    return to_string(grid)


def is_valid_shortest_path(
    question: str | np.ndarray | MazePuzzle, answer: str | np.ndarray
) -> bool:
    """True when ``answer`` is ``question`` with ``o`` marking exactly the inner cells of some
    shortest ``S`` -> ``G`` path through open cells (any of them, not only the label's)."""
    puzzle = as_puzzle(question)
    h, w = puzzle.shape
    if isinstance(answer, str):
        if len(answer) != h * w or set(answer) - set(CHAR_TO_TOKEN):
            return False
        tokens = np.array([CHAR_TO_TOKEN[c] for c in answer], dtype=np.uint8).reshape(h, w)
    else:
        tokens = np.asarray(answer)
        if tokens.shape != (h, w):
            return False
    marks = tokens == PATH
    same = np.where(marks, True, tokens == puzzle.grid)
    if not same.all() or np.any(marks & (puzzle.grid != OPEN)):
        return False
    best = shortest_path_length(puzzle)
    if best < 0 or int(marks.sum()) != best - 1:
        return False
    # The marked cells plus S and G are exactly best + 1 cells; G at distance `best` inside them
    # means they form one shortest path.
    on_path = marks | (puzzle.grid == START) | (puzzle.grid == GOAL)
    inner = np.where(on_path, np.where(marks, OPEN, puzzle.grid), WALL).astype(np.uint8)
    return (
        shortest_path_length(MazePuzzle(grid=inner, start=puzzle.start, goal=puzzle.goal)) == best
    )


def _one_cell_per_grid(flat: np.ndarray, token: int, name: str) -> np.ndarray:
    """(B,) flat index of the one ``token`` cell of each row of (B, H*W) grids.

    :raises ValueError: naming the grids of the batch that have none or several.
    """
    count = np.count_nonzero(flat == token, axis=1)
    bad = np.flatnonzero(count != 1)
    if len(bad):
        raise ValueError(
            f"maze observation grid(s) {bad[:10].tolist()} of the batch do not have exactly one "
            f"{name} cell (grid {bad[0]} has {count[bad[0]]}); pass observations of running "
            "episodes (the agent shows as 'S'; a grid without 'G' belongs to an ended episode)"
        )
    return (flat == token).argmax(axis=1)


def _check_grids(grids: np.ndarray) -> np.ndarray:
    grids = np.asarray(grids)
    if grids.ndim != 3 or grids.dtype.kind not in "iu" or grids.size == 0:
        raise ValueError(
            f"maze observation grids must be a non-empty (B, H, W) integer token array, got "
            f"shape {grids.shape} dtype {grids.dtype}; add a batch axis to a single grid "
            "(grid[None])"
        )
    return grids


def goal_distances(grids: np.ndarray) -> np.ndarray:
    """Batched BFS from the goal of each observation grid (:func:`distance_maps`).

    :param grids: (B, H, W) token grids with exactly one ``G`` each (e.g. ``obs["grid"]`` of a
        ``MazeVectorEnv``).
    :return: (B, H, W) int32 steps from each cell to the goal, -1 where unreachable or a wall.
    :raises ValueError: for a wrong shape or dtype, or a grid without exactly one ``G``.
    """
    grids = _check_grids(grids)
    b, h, w = grids.shape
    goal = _one_cell_per_grid(grids.reshape(b, h * w), GOAL, "goal 'G'")
    return distance_maps(free_cells(grids), goal)


def oracle_actions(grids: np.ndarray, dist: np.ndarray | None = None) -> np.ndarray:
    """Optimal moves for a batch of Maze observation grids: for each grid, the first action (in
    the order up, right, down, left) whose cell is one step closer to the goal than the agent's.
    Following it reaches the goal in the shortest-path number of steps.

    :param grids: (B, H, W) observation token grids; the agent is the one ``S`` cell.
    :param dist: (B, H, W) steps to the goal as :func:`goal_distances` returns them for these
        mazes (walls never change, so the maps of an episode's first grid serve the whole
        episode); computed from ``grids`` when None.
    :return: (B,) int64 actions in ``0..3``.
    :raises ValueError: for a wrong shape or dtype, a grid without exactly one ``S`` (or
        ``G`` when ``dist`` is None), or an agent from which no move leads closer to the goal
        (the goal is unreachable).
    """
    grids = _check_grids(grids)
    b, h, w = grids.shape
    agent = _one_cell_per_grid(grids.reshape(b, h * w), START, "agent 'S'")
    if dist is None:
        dist = goal_distances(grids)
    dist = np.asarray(dist)
    if dist.shape != grids.shape or dist.dtype.kind not in "iu":
        raise ValueError(
            f"dist must be a {grids.shape} integer array (goal_distances of the grids), got "
            f"shape {dist.shape} dtype {dist.dtype}"
        )
    rows = np.arange(b)
    here = dist.reshape(b, h * w)[rows, agent].astype(np.int64)  # (B,)
    r, c = np.divmod(agent, w)
    nr, nc = r[:, None] + MOVES[None, :, 0], c[:, None] + MOVES[None, :, 1]  # (B, 4)
    inside = (nr >= 0) & (nr < h) & (nc >= 0) & (nc < w)
    ahead = dist[rows[:, None], np.clip(nr, 0, h - 1), np.clip(nc, 0, w - 1)]  # (B, 4)
    downhill = inside & (ahead == (here - 1)[:, None]) & (here > 0)[:, None]
    stuck = np.flatnonzero(~downhill.any(axis=1))
    if len(stuck):
        i = int(stuck[0])
        raise ValueError(
            f"no move leads closer to the goal from {(int(r[i]), int(c[i]))} (grid(s) "
            f"{stuck[:10].tolist()} of the batch): the goal is unreachable there; pass grids "
            "of solvable mazes (every env observation is one)"
        )
    return downhill.argmax(axis=1).astype(np.int64)
