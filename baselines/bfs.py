"""BFS oracle for mazes: shortest paths, distance maps, Maze-Hard labels and answer checking.

Maze-Hard labels (``answer`` in the CSV) are the path a BFS from ``S`` finds when it expands
neighbours in the order down, left, right, up and keeps the first parent it records for each
cell; the cells strictly between ``S`` and ``G`` are marked ``o``. :func:`label_answer`
reproduces every label of the bundled training split. Many mazes have other shortest paths, so
score predictions both ways: ``answer == label_answer(question)`` ("exact", the paper's metric)
and :func:`is_valid_shortest_path` ("valid").

Grids are token grids (``envs.maze.types``: 1 wall, 2 open, 3 S, 4 G, 5 path) or Maze-Hard
strings; pad (0) and walls block.
"""

from __future__ import annotations

import numpy as np

from envs.maze.rules import distance_maps, parse_puzzle, to_string
from envs.maze.types import CHAR_TO_TOKEN, GOAL, OPEN, PATH, START, WALL, MazeState

#: Neighbour order of the Maze-Hard label BFS, as (row, column) steps: down, left, right, up.
LABEL_ORDER = ((1, 0), (0, -1), (0, 1), (-1, 0))


def _as_state(maze: str | np.ndarray | MazeState) -> MazeState:
    return maze if isinstance(maze, MazeState) else parse_puzzle(maze, check_solvable=False)


def bfs(
    maze: str | np.ndarray | MazeState,
    source: tuple[int, int] | None = None,
    order: tuple[tuple[int, int], ...] = LABEL_ORDER,
) -> tuple[np.ndarray, np.ndarray]:
    """Breadth-first search from ``source`` (default ``S``), first parent kept.

    :param maze: puzzle string, (H, W) token/char array or ``MazeState``.
    :param source: (row, column) to search from.
    :param order: the neighbour expansion order (it decides which parent a cell keeps).
    :return: ``dist`` (H, W) int32 steps from the source (-1 unreachable) and ``parent``
        (H, W) int64 flat index of each cell's BFS parent (-1 for the source and unreached).
    """
    state = _as_state(maze)
    h, w = state.shape
    # One wall column on the right and wall rows above/below: flat neighbours need no bounds
    # check (a left step from column 0 lands on the previous row's padding column).
    wp = w + 1
    free = np.zeros((h + 2, wp), dtype=bool)
    free[1:-1, :w] = state.grid != WALL
    free = free.ravel().tolist()
    steps = [dr * wp + dc for dr, dc in order]
    r0, c0 = source if source is not None else state.start
    src = (r0 + 1) * wp + c0
    dist = [-1] * len(free)
    parent = [-1] * len(free)
    dist[src] = 0
    queue = [src]
    for cur in queue:  # the list grows while we walk it: a FIFO queue
        d = dist[cur] + 1
        for s in steps:
            nb = cur + s
            if free[nb] and dist[nb] < 0:
                dist[nb] = d
                parent[nb] = cur
                queue.append(nb)
    dist_grid = np.array(dist, dtype=np.int32).reshape(h + 2, wp)[1:-1, :w]
    par = np.array(parent, dtype=np.int64)
    # Back from padded to plain flat indices.
    plain = np.where(par >= 0, (par // wp - 1) * w + par % wp, -1)
    return dist_grid, plain.reshape(h + 2, wp)[1:-1, :w]


def distance_map(maze: str | np.ndarray | MazeState, source: tuple[int, int]) -> np.ndarray:
    """(H, W) int32 BFS steps from ``source`` to every cell, -1 where unreachable."""
    return bfs(maze, source)[0]


def batch_distance_maps(grids: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """(P, H, W) int32 distances from one source per token grid, all grids at once (numpy).

    :param grids: (P, H, W) token grids.
    :param sources: (P,) flat source indices.
    """
    grids = np.asarray(grids)
    return distance_maps((grids != WALL) & (grids != 0), sources)


def label_path(maze: str | np.ndarray | MazeState) -> list[tuple[int, int]]:
    """The Maze-Hard label path: cells from ``S`` to ``G`` inclusive (empty if unsolvable)."""
    state = _as_state(maze)
    w = state.shape[1]
    dist, parent = bfs(state)
    if dist[state.goal] < 0:
        return []
    cells = [state.goal[0] * w + state.goal[1]]
    while cells[-1] != state.start[0] * w + state.start[1]:
        cells.append(int(parent.flat[cells[-1]]))
    return [divmod(c, w) for c in reversed(cells)]


def shortest_path_length(maze: str | np.ndarray | MazeState) -> int:
    """Steps of a shortest ``S`` -> ``G`` path, -1 if there is none."""
    state = _as_state(maze)
    return int(bfs(state)[0][state.goal])


def label_answer(maze: str | np.ndarray | MazeState) -> str:
    """The Maze-Hard ``answer`` string: the question with ``o`` on the label path's inner cells.

    :raises ValueError: when the maze has no path from ``S`` to ``G``.
    """
    state = _as_state(maze)
    path = label_path(state)
    if not path:
        raise ValueError(
            f"maze is unsolvable: no path from S at {state.start} to G at {state.goal}"
        )
    grid = np.array(state.grid)
    for cell in path[1:-1]:
        grid[cell] = PATH
    return to_string(grid)


def is_valid_shortest_path(
    question: str | np.ndarray | MazeState, answer: str | np.ndarray
) -> bool:
    """True when ``answer`` is ``question`` with ``o`` marking exactly the inner cells of some
    shortest ``S`` -> ``G`` path through open cells (any of them, not only the label's)."""
    state = _as_state(question)
    h, w = state.shape
    if isinstance(answer, str):
        if len(answer) != h * w or set(answer) - set(CHAR_TO_TOKEN):
            return False
        tokens = np.array([CHAR_TO_TOKEN[c] for c in answer], dtype=np.uint8).reshape(h, w)
    else:
        tokens = np.asarray(answer)
        if tokens.shape != (h, w):
            return False
    marks = tokens == PATH
    same = np.where(marks, True, tokens == state.grid)
    if not same.all() or np.any(marks & (state.grid != OPEN)):
        return False
    best = int(bfs(state)[0][state.goal])
    if best < 0 or int(marks.sum()) != best - 1:
        return False
    # The marked cells plus S and G are exactly best + 1 cells; G at distance `best` inside them
    # means they form one shortest path.
    on_path = marks | (state.grid == START) | (state.grid == GOAL)
    restricted = np.where(on_path, state.grid, WALL).astype(np.uint8)
    inner = MazeState(
        grid=np.where(restricted == PATH, OPEN, restricted), start=state.start, goal=state.goal
    )
    return int(bfs(inner)[0][state.goal]) == best
