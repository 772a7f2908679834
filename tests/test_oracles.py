"""The batched oracles of ``envs/<game>/solver.py`` against the scalar BFS and the solver: every
maze move lowers the BFS distance by one and reaches the goal in the optimal number of steps;
every Sudoku placement is the solution's digit and fills the board in its number of blanks. The
single-grid wrappers of ``baselines.oracles`` agree with them."""

from __future__ import annotations

import numpy as np
import pytest

from baselines.oracles import maze_oracle_action, sudoku_oracle_action
from envs.maze import MazeVectorEnv
from envs.maze.solver import distance_map, goal_distances, shortest_path_length
from envs.maze.solver import oracle_actions as maze_oracle_actions
from envs.maze.types import GOAL, MOVES, START, as_puzzle
from envs.sudoku import SudokuVectorEnv, shipped_pool
from envs.sudoku.rules import is_solved, to_tokens
from envs.sudoku.solver import oracle_actions as sudoku_oracle_actions
from envs.sudoku.solver import solve

MAZES = [
    {"size": 5},
    {"size": 9, "algorithm": "prim"},
    {"size": 11, "braid": 0.5},
    {"size": (7, 13), "braid": 1.0, "algorithm": "prim"},
]
# 5x5: S top-left, G bottom-right, one corridor of 16 steps; the same maze walled off.
MAZE = "S    " "#### " "     " " ####" "    G"  # fmt: skip
WALLED = "S    " "#####" "     " " ####" "    G"  # fmt: skip
SUDOKU = "1.3.3..2.1.34..1"
SUDOKU_SOLUTION = "1234341221434321"
SUDOKU_UNSOLVABLE = "12........3...4."  # fmt: skip  (r1c3 can be neither 3 nor 4)


def digits(text: str) -> np.ndarray:
    return np.array([0 if c == "." else int(c) for c in text], dtype=np.uint8).reshape(4, 4)


# --------------------------------------------------------------------------------------- Maze
@pytest.mark.parametrize("kwargs", MAZES, ids=lambda k: "-".join(map(str, k.values())))
@pytest.mark.parametrize("seed", [0, 1])
def test_every_maze_oracle_move_lowers_the_scalar_bfs_distance(kwargs, seed) -> None:
    venv = MazeVectorEnv(16, pool_size=32, pool_seed=seed, **kwargs)
    obs, _ = venv.reset(seed=seed)
    for _ in range(6):  # a few steps in: the agent's trail must not confuse the oracle
        grids = obs["grid"]
        actions = maze_oracle_actions(grids)
        assert actions.shape == (16,) and actions.dtype == np.int64
        for grid, action in zip(grids, actions.tolist(), strict=True):
            (r, c), (gr, gc) = np.argwhere(grid == START)[0], np.argwhere(grid == GOAL)[0]
            dist = distance_map(as_puzzle(grid), (int(gr), int(gc)))  # the scalar BFS
            dr, dc = MOVES[action]
            assert dist[r + dr, c + dc] == dist[r, c] - 1
            assert action == maze_oracle_action(grid)
        assert np.array_equal(maze_oracle_actions(grids, goal_distances(grids)), actions)
        obs, *_ = venv.step(actions)


@pytest.mark.parametrize("kwargs", MAZES, ids=lambda k: "-".join(map(str, k.values())))
def test_following_the_maze_oracle_takes_the_shortest_path(kwargs) -> None:
    venv = MazeVectorEnv(8, pool_size=16, **kwargs)
    obs, info = venv.reset(seed=3)
    optimal = [shortest_path_length(as_puzzle(g)) for g in obs["grid"]]
    assert optimal == info["shortest_path_length"].tolist()
    done = np.zeros(8, dtype=bool)
    steps = np.zeros(8, dtype=np.int64)
    for _ in range(max(optimal)):
        obs, _, terminated, truncated, infos = venv.step(maze_oracle_actions(obs["grid"]))
        assert not truncated.any()
        new = terminated & ~done
        steps[new] = infos["final_info"]["steps"][new]
        done |= terminated
    assert done.all() and steps.tolist() == optimal


def test_goal_distances_are_the_scalar_bfs_from_the_goal() -> None:
    venv = MazeVectorEnv(6, size=9, braid=0.3, pool_size=12)
    grids = venv.reset(seed=0)[0]["grid"]
    for grid, dist in zip(grids, goal_distances(grids), strict=True):
        goal = tuple(int(x) for x in np.argwhere(grid == GOAL)[0])
        assert np.array_equal(dist, distance_map(as_puzzle(grid), goal))


def test_maze_oracle_refuses_grids_it_cannot_act_on() -> None:
    grid = as_puzzle(MAZE).grid
    with pytest.raises(ValueError, match=r"\(B, H, W\).*grid\[None\]"):
        maze_oracle_actions(grid)
    no_agent = grid.copy()
    no_agent[0, 0] = 2
    with pytest.raises(ValueError, match=r"grid\(s\) \[1\] of the batch .*agent 'S'"):
        maze_oracle_actions(np.stack([grid, no_agent]))
    walled = as_puzzle(WALLED).grid
    with pytest.raises(ValueError, match=r"no move leads closer to the goal from \(0, 0\)"):
        maze_oracle_actions(walled[None])
    with pytest.raises(ValueError, match="no move leads closer to the goal from"):
        maze_oracle_action(walled)
    with pytest.raises(ValueError, match=r"dist must be a \(1, 5, 5\) integer array"):
        maze_oracle_actions(grid[None], np.zeros((1, 4, 4), dtype=np.int32))
    with pytest.raises(ValueError, match="maze puzzle has no goal 'G'"):
        maze_oracle_action(np.where(grid == GOAL, 2, grid))


# ------------------------------------------------------------------------------------- Sudoku
def pool_boards(size: int, count: int, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``count`` shipped puzzles of ``size`` and their solutions, from index ``start``."""
    pool = shipped_pool(size).select(np.arange(start, start + count))
    return pool.puzzles, pool.solutions


@pytest.mark.parametrize("size", [4, 6, 9])
def test_following_the_sudoku_oracle_fills_every_board_in_its_blanks(size) -> None:
    puzzles, solutions = pool_boards(size, 8)
    venv = SudokuVectorEnv(8, size=size)
    obs, info = venv.reset(seed=size, options={"puzzles": puzzles, "solutions": solutions})
    solutions = solutions.copy()
    blanks = info["num_blanks"].copy()
    done = np.zeros(8, dtype=bool)
    for _ in range(int(blanks.max())):
        actions = sudoku_oracle_actions(obs["grid"], solutions)
        assert venv.action_masks()[np.arange(8), actions].all()  # every placement is legal
        obs, _, terminated, truncated, infos = venv.step(actions)
        assert not truncated.any()
        new = terminated & ~done
        if new.any():
            final = infos["final_info"]
            assert final["is_success"][new].all() and (final["num_wrong"][new] == 0).all()
            assert (final["steps"][new] == blanks[new]).all()
        done |= terminated
        solutions[terminated] = 0  # restarted on a pool puzzle: the oracle solves it itself
    assert done.all()


@pytest.mark.parametrize("size", [4, 6, 9])
def test_sudoku_oracle_solves_boards_whose_solution_is_not_given(size) -> None:
    puzzles, solutions = pool_boards(size, 6, start=10)
    grids = to_tokens(puzzles)
    given = solutions.copy()
    given[::2] = 0  # rows of zeros: solved by the oracle
    expected = sudoku_oracle_actions(grids, solutions)
    assert np.array_equal(sudoku_oracle_actions(grids, given), expected)
    assert np.array_equal(sudoku_oracle_actions(grids), expected)  # unique solutions
    for puzzle, solution, action in zip(puzzles, solutions, expected.tolist(), strict=True):
        grid = to_tokens(puzzle)
        assert sudoku_oracle_action(grid, solution) == action == sudoku_oracle_action(grid)
        assert np.array_equal(solve(puzzle), solution)
        cell, digit0 = divmod(action, size)
        assert puzzle.flat[cell] == 0 and solution.flat[cell] == digit0 + 1
        assert cell == np.flatnonzero(puzzle.ravel() == 0)[0]  # the first blank cell


def test_sudoku_oracle_run_without_solutions_solves_the_board() -> None:
    board = digits(SUDOKU)
    grid = to_tokens(board)
    for _ in range(int((board == 0).sum())):
        cell, digit0 = divmod(int(sudoku_oracle_actions(grid[None])[0]), 4)
        board.flat[cell] = digit0 + 1
        grid = to_tokens(board)
    assert is_solved(board[None])[0] and np.array_equal(board, digits(SUDOKU_SOLUTION))


def test_sudoku_oracle_refuses_boards_it_cannot_act_on() -> None:
    grid = to_tokens(digits(SUDOKU))
    with pytest.raises(ValueError, match=r"\(B, N, N\).*grid\[None\]"):
        sudoku_oracle_actions(grid)
    with pytest.raises(ValueError, match=r"the board has no solution .*grid 1 of the batch"):
        sudoku_oracle_actions(np.stack([grid, to_tokens(digits(SUDOKU_UNSOLVABLE))]))
    with pytest.raises(ValueError, match="the board has no solution"):
        sudoku_oracle_action(to_tokens(digits(SUDOKU_UNSOLVABLE)))
    full = to_tokens(digits(SUDOKU_SOLUTION))
    with pytest.raises(ValueError, match="the board has no blank cell left"):
        sudoku_oracle_action(full, digits(SUDOKU_SOLUTION))
    partial = digits(SUDOKU_SOLUTION)
    partial[0, 0] = 0
    with pytest.raises(ValueError, match=r"solutions row\(s\) \[0\] are not complete boards"):
        sudoku_oracle_actions(grid[None], partial[None])
    with pytest.raises(ValueError, match=r"solutions must be a \(1, 4, 4\) integer array"):
        sudoku_oracle_actions(grid[None], digits(SUDOKU_SOLUTION))
