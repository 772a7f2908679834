"""Oracle policies: act optimally from one observation, using the classical solvers.

They give upper-bound curves for RL runs, sanity-check environments end to end, and drive
``trm-rl demo``. Both are single-grid views of the batched oracles that live beside the solvers
(:func:`envs.maze.solver.oracle_actions`, :func:`envs.sudoku.solver.oracle_actions`).
"""

from __future__ import annotations

import numpy as np

from envs.maze.rules import parse_puzzle
from envs.maze.solver import oracle_actions as maze_oracle_actions
from envs.sudoku.solver import oracle_actions as sudoku_oracle_actions


def maze_oracle_action(grid: np.ndarray) -> int:
    """A move along a shortest path to the goal, read from a Maze observation grid.

    :param grid: (H, W) token grid of a ``MazeEnv`` observation (the agent is the ``S`` cell).
    :return: an action in ``0..3`` (up, right, down, left) that lowers the BFS distance to the
        goal by one.
    :raises ValueError: for a grid that is not a maze puzzle, or if the goal is unreachable
        (never the case for env observations).
    """
    state = parse_puzzle(np.asarray(grid), check_solvable=False)
    return int(maze_oracle_actions(state.grid[None])[0])


def sudoku_oracle_action(grid: np.ndarray, solution: np.ndarray | None = None) -> int:
    """Place the solution's digit in the first blank cell of a Sudoku observation grid.

    :param grid: (N, N) token grid of a ``SudokuEnv`` observation (blank 1, digit d -> d + 1).
    :param solution: (N, N) digits; solved from ``grid`` when omitted (may be slow for hard
        9x9 boards and fails if earlier placements were wrong).
    :return: the action ``cell * N + digit - 1``.
    :raises ValueError: for a grid that is not (N, N), a board without a solution or without a
        blank cell.
    """
    tokens = np.asarray(grid)
    solutions = None if solution is None else np.asarray(solution).reshape(1, *tokens.shape)
    return int(sudoku_oracle_actions(tokens[None], solutions)[0])
