"""Oracle policies: act optimally from an observation, using the classical solvers.

They give upper-bound curves for RL runs, sanity-check environments end to end, and drive
``trm-rl demo``.
"""

from __future__ import annotations

import numpy as np

from envs.maze.rules import parse_puzzle
from envs.maze.solver import distance_map
from envs.maze.types import MOVES
from envs.sudoku.solver import solve


def maze_oracle_action(grid: np.ndarray) -> int:
    """A move along a shortest path to the goal, read from a Maze observation grid.

    :param grid: (H, W) token grid of a ``MazeEnv`` observation (the agent is the ``S`` cell).
    :return: an action in ``0..3`` (up, right, down, left) that lowers the BFS distance to the
        goal by one.
    :raises ValueError: if the goal is unreachable (never the case for env observations).
    """
    state = parse_puzzle(np.asarray(grid), check_solvable=False)
    dist = distance_map(state, state.goal)
    r, c = state.start
    if dist[r, c] <= 0:
        raise ValueError(f"no move leads closer to the goal from {state.start}")
    h, w = dist.shape
    for action, (dr, dc) in enumerate(MOVES.tolist()):
        nr, nc = r + dr, c + dc
        if 0 <= nr < h and 0 <= nc < w and dist[nr, nc] == dist[r, c] - 1:
            return action
    raise AssertionError("a BFS distance map always has a downhill neighbour")


def sudoku_oracle_action(grid: np.ndarray, solution: np.ndarray | None = None) -> int:
    """Place the solution's digit in the first blank cell of a Sudoku observation grid.

    :param grid: (N, N) token grid of a ``SudokuEnv`` observation (blank 1, digit d -> d + 1).
    :param solution: (N, N) digits; solved from ``grid`` when omitted (may be slow for hard
        9x9 boards and fails if earlier placements were wrong).
    :return: the action ``cell * N + digit - 1``.
    """
    tokens = np.asarray(grid)
    n = tokens.shape[0]
    board = np.where(tokens >= 2, tokens.astype(np.int64) - 1, 0)
    if solution is None:
        solution = solve(board)
        if solution is None:
            raise ValueError("the board has no solution (a wrong digit was placed earlier)")
    blanks = np.flatnonzero(board.ravel() == 0)
    if blanks.size == 0:
        raise ValueError("the board has no blank cell left")
    cell = int(blanks[0])
    return cell * n + int(np.asarray(solution).ravel()[cell]) - 1
