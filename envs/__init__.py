"""Gymnasium environments for recursive-reasoning research: Maze and Sudoku.

Importing this package registers every environment id in the ``trm_rl`` namespace; it loads no
data and imports neither torch nor Stable-Baselines3. ``gym.make("envs:trm_rl/Maze-9x9-v0")``
imports it on demand.

Each id has a single-env ``entry_point`` and a natively batched ``vector_entry_point``::

    env = gym.make("trm_rl/Sudoku-9x9-v0")
    venv = gym.make_vec("trm_rl/Sudoku-9x9-v0", num_envs=1024,
                        vectorization_mode="vector_entry_point")

Keyword arguments of ``gym.make``/``gym.make_vec`` are passed to the environment constructor,
e.g. ``gym.make("trm_rl/Maze-v0", size=21, braid=0.2, shaping=True)``. Step limits are the
``max_steps`` constructor argument (so the batched env applies the same limit), not
``max_episode_steps``.
"""

from __future__ import annotations

from gymnasium.envs.registration import register

_MAZE = "envs.maze.env:MazeEnv"
_MAZE_VEC = "envs.maze.vector:MazeVectorEnv"
_SUDOKU = "envs.sudoku.env:SudokuEnv"
_SUDOKU_VEC = "envs.sudoku.vector:SudokuVectorEnv"

#: Maze ids with the constructor kwargs they fix.
MAZE_IDS: dict[str, dict] = {
    # Maze: navigation from S to G on generated perfect (optionally braided) mazes; pass
    # algorithm="obstacles" for random-obstacle mazes of Maze-Hard's kind.
    "trm_rl/Maze-v0": {},
    "trm_rl/Maze-5x5-v0": {"size": 5},
    "trm_rl/Maze-7x7-v0": {"size": 7},
    "trm_rl/Maze-9x9-v0": {"size": 9},
    "trm_rl/Maze-15x15-v0": {"size": 15},
    "trm_rl/Maze-31x31-v0": {"size": 31},
    # Maze-Hard: the 1000 benchmark mazes (30x30, shortest path > 110) shipped with the package.
    "trm_rl/MazeHard-v0": {"dataset": "maze-hard"},
}
#: Sudoku ids with the constructor kwargs they fix.
SUDOKU_IDS: dict[str, dict] = {
    # Sudoku: fill the board; pools of unique-solution puzzles shipped with the package.
    "trm_rl/Sudoku-v0": {},
    "trm_rl/Sudoku-4x4-v0": {"size": 4},
    "trm_rl/Sudoku-6x6-v0": {"size": 6},
    "trm_rl/Sudoku-9x9-v0": {"size": 9},
    # Sudoku-Extreme: the 1k training subsample of the benchmark (17-35 givens).
    "trm_rl/SudokuExtreme-v0": {"dataset": "sudoku-extreme"},
}
#: Every registered id with the constructor kwargs it fixes.
ENV_IDS: dict[str, dict] = {**MAZE_IDS, **SUDOKU_IDS}
#: The game of every registered id.
GAMES: dict[str, str] = {
    **dict.fromkeys(MAZE_IDS, "maze"),
    **dict.fromkeys(SUDOKU_IDS, "sudoku"),
}

for _ids, _entry, _vector in ((MAZE_IDS, _MAZE, _MAZE_VEC), (SUDOKU_IDS, _SUDOKU, _SUDOKU_VEC)):
    for _id, _kwargs in _ids.items():
        register(id=_id, entry_point=_entry, vector_entry_point=_vector, kwargs=dict(_kwargs))

__all__ = ["ENV_IDS", "GAMES", "MAZE_IDS", "SUDOKU_IDS"]
