"""Maze training targets: the Maze-Hard path label, or a distance field decoded into a path.

``DataConfig.maze_target`` picks what a maze's label is:

- ``"path"`` (the Maze-Hard format): the question with ``o`` (PATH, 5) on one BFS shortest
  path (:func:`envs.maze.solver.label_answer`); vocabulary 6.
- ``"distance"``: every cell reachable from ``G`` holds ``DIST0 + d % 3`` (tokens 6, 7, 8), where
  ``d`` is its BFS distance to ``G`` (``S`` and ``G`` included; ``G`` is class 0); walls stay
  ``WALL`` and open cells cut off from ``G`` stay ``OPEN``; vocabulary 9
  (:func:`distance_labels`). The field is dense (every reachable cell is supervised) and has one
  right answer, where a maze with random walls has millions of shortest paths.

:func:`decode_paths` turns a (predicted) field back into a path answer by a greedy walk from
``S``: at a cell of class ``k`` step to the first neighbour, in :data:`WALK_ORDER`, of class
``(k - 1) % 3``. In a grid graph two neighbours' distances differ by exactly 1, so on the true
field that neighbour is one step closer to ``G`` and the walk is a shortest path. With the label
BFS's neighbour order it is exactly the Maze-Hard label path: that BFS keeps, for every cell, the
shortest path whose moves come first in that order, and the walk takes the first move that stays
on a shortest path. So a perfect field decodes to ``label_answer``. The walk is not a search: a
wrong field makes it stray or stop, and the decoded answer is then not a shortest path.
Distance fields transform like the grid under the dihedral augmentation (distances are kept by
any symmetry of the maze).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from envs.maze.solver import LABEL_ORDER, free_cells, goal_distances, label_answer
from envs.maze.types import GOAL, PATH, START, VOCAB_SIZE
from trm_rl.data.text import from_text

MazeTarget = Literal["path", "distance"]
MAZE_TARGETS: tuple[str, ...] = ("path", "distance")
#: Token of distance class 0 (``d % 3 == 0``); classes 1 and 2 are the next two tokens.
DIST0 = VOCAB_SIZE
DIST_TOKENS: tuple[int, int, int] = (DIST0, DIST0 + 1, DIST0 + 2)
#: Vocabulary of distance-field data: the maze tokens 0..5 and the three classes.
DISTANCE_VOCAB_SIZE = DIST0 + 3
#: Neighbour order of the greedy walk: the Maze-Hard label BFS's (down, left, right, up). ``G``
#: itself, when it is a neighbour, is always taken first.
WALK_ORDER: tuple[tuple[int, int], ...] = LABEL_ORDER


def target_vocab_size(target: str) -> int:
    """Token ids a maze of ``target`` labels uses: 6 for ``path``, 9 for ``distance``."""
    return DISTANCE_VOCAB_SIZE if target == "distance" else VOCAB_SIZE


def _flat(grids: np.ndarray, shape: tuple[int, int], name: str) -> np.ndarray:
    """``grids`` as (B, H * W); any leading shape whose trailing size is H * W."""
    grids = np.asarray(grids)
    cells = shape[0] * shape[1]
    if grids.dtype.kind not in "iu" or grids.size % cells or (grids.size == 0 and grids.ndim < 2):
        raise ValueError(
            f"{name} must be an integer token array of (B, H*W) or (B, H, W) grids for shape "
            f"{tuple(shape)}, got shape {grids.shape} dtype {grids.dtype}"
        )
    return grids.reshape(-1, cells)


def distance_labels(inputs: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Distance-field labels of maze questions (see the module docstring).

    :param inputs: (B, H * W) or (B, H, W) question tokens with exactly one ``G`` each.
    :param shape: (H, W).
    :return: labels of the same shape as ``inputs``, uint8: ``DIST0 + d % 3`` where ``G`` is
        ``d`` steps away, the question token (``WALL``, unreachable ``OPEN``) elsewhere.
    :raises ValueError: for a wrong shape or dtype, or a question without exactly one ``G``.
    """
    flat = _flat(inputs, shape, "maze questions")
    if len(flat) == 0:
        return np.asarray(inputs, dtype=np.uint8).copy()
    dist = goal_distances(flat.reshape(-1, *shape)).reshape(len(flat), -1)
    out = np.where(dist >= 0, DIST0 + dist % 3, flat).astype(np.uint8)
    return out.reshape(np.shape(inputs))


def path_labels(inputs: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The Maze-Hard path labels (:func:`envs.maze.solver.label_answer`) of maze questions.

    :param inputs: (B, H * W) question tokens of solvable mazes.
    :return: (B, H * W) uint8 answers: the question with ``PATH`` on the label path.
    :raises ValueError: for a malformed or unsolvable maze.
    """
    flat = _flat(inputs, shape, "maze questions")
    out = np.empty(flat.shape, dtype=np.uint8)
    for i, row in enumerate(flat):
        out[i] = from_text("maze", label_answer(row.reshape(shape)), shape)[0]
    return out


def _neighbours(shape: tuple[int, int]) -> np.ndarray:
    """(H * W, 4) flat index of each cell's neighbour in :data:`WALK_ORDER`, -1 off the grid."""
    h, w = shape
    r, c = np.divmod(np.arange(h * w), w)
    out = np.full((h * w, len(WALK_ORDER)), -1, dtype=np.int64)
    for j, (dr, dc) in enumerate(WALK_ORDER):
        nr, nc = r + dr, c + dc
        inside = (nr >= 0) & (nr < h) & (nc >= 0) & (nc < w)
        out[inside, j] = nr[inside] * w + nc[inside]
    return out


def decode_paths(questions: np.ndarray, fields: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Path answers of (predicted) distance fields, by the greedy walk from ``S``.

    From ``S``, each step goes to ``G`` when it is a neighbour, else to the first neighbour in
    :data:`WALK_ORDER` that is free in the question, not yet visited and of class ``(k - 1) % 3``
    where ``k`` is the current cell's class in ``fields``. The walk ends at ``G``, or when no
    neighbour qualifies (a cell without a class token has none), or after ``H * W`` steps. The
    visited cells but ``S`` and ``G`` are marked ``PATH`` on the question. A walk that stops
    early marks a partial path, never a shortest path (it never passed next to ``G``). Any token
    values are accepted: tokens outside 6..8 are simply no class.

    :param questions: (B, H * W) or (B, H, W) maze question tokens (one ``S`` and one ``G``; a
        grid without them is returned unchanged).
    :param fields: predicted tokens of the same shape.
    :param shape: (H, W).
    :return: answers shaped like ``questions``, uint8, in the Maze-Hard path format.
    :raises ValueError: for mismatched or non-grid shapes.
    """
    q = _flat(questions, shape, "maze questions")
    f = _flat(fields, shape, "predicted fields")
    if f.shape != q.shape:
        raise ValueError(
            f"fields {np.shape(fields)} must match questions {np.shape(questions)} in shape"
        )
    n, cells = q.shape
    f = f.astype(np.int64)
    klass = np.where((f >= DIST0) & (f < DIST0 + 3), f - DIST0, -1)  # (B, L), -1: no class
    free = free_cells(q)
    nbrs = _neighbours(shape)
    rows = np.arange(n)
    cur = np.argmax(q == START, axis=1)
    goal = np.argmax(q == GOAL, axis=1)
    has_start = (q == START).any(1)
    visited = np.zeros((n, cells), dtype=bool)
    visited[rows, cur] = has_start
    active = has_start & (q == GOAL).any(1) & (cur != goal)
    for _ in range(cells):
        idx = np.flatnonzero(active)
        if len(idx) == 0:
            break
        here = cur[idx]
        cand = nbrs[here]  # (m, 4)
        safe = np.maximum(cand, 0)
        ok = (cand >= 0) & free[idx[:, None], safe] & ~visited[idx[:, None], safe]
        to_goal = ok & (safe == goal[idx, None])
        want = (klass[idx, here] - 1) % 3  # (m,), meaningless where the class is -1
        downhill = ok & (klass[idx[:, None], safe] == want[:, None])
        downhill &= (klass[idx, here] >= 0)[:, None]
        pick = np.where(to_goal.any(1), to_goal.argmax(1), downhill.argmax(1))
        moved = to_goal.any(1) | downhill.any(1)
        active[idx[~moved]] = False
        go, nxt = idx[moved], safe[moved, pick[moved]]
        cur[go] = nxt
        visited[go, nxt] = True
        active[go] = nxt != goal[go]
    answers = q.astype(np.uint8)
    answers[visited & (q != START) & (q != GOAL)] = PATH
    return answers.reshape(np.shape(questions))


def answers_as_paths(
    target: str, questions: np.ndarray, answers: np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    """Maze answers in the path format: ``answers`` itself for the ``path`` target, decoded
    fields (:func:`decode_paths`) for ``distance``."""
    if target == "distance":
        return decode_paths(questions, answers, shape)
    return np.asarray(answers)


__all__ = [
    "DIST0",
    "DISTANCE_VOCAB_SIZE",
    "DIST_TOKENS",
    "MAZE_TARGETS",
    "WALK_ORDER",
    "MazeTarget",
    "answers_as_paths",
    "decode_paths",
    "distance_labels",
    "path_labels",
    "target_vocab_size",
]
