"""Maze: walk from S to G on grid mazes whose observations are Maze-Hard question grids.

``MazeEnv`` (single) and ``MazeVectorEnv`` (natively batched, same transitions) over pools of
mazes from injected generators: random DFS/Prim mazes, the Maze-Hard CSV, or a fixed maze.
Registered ids (``envs/__init__.py``): ``trm_rl/Maze-v0``, ``trm_rl/Maze-{5x5,9x9,15x15,31x31}-v0``
and ``trm_rl/MazeHard-v0``.
"""

from envs.maze.env import MazeEnv
from envs.maze.generator import (
    DatasetGenerator,
    FixedGenerator,
    RandomMazeGenerator,
    read_maze_csv,
)
from envs.maze.pool import build_pool
from envs.maze.rules import (
    action_mask,
    distance_maps,
    make_pool,
    move,
    neighbour_table,
    parse_puzzle,
    sample_legal_actions,
    to_string,
)
from envs.maze.types import (
    ACTION_NAMES,
    DOWN,
    GOAL,
    LEFT,
    OPEN,
    PAD,
    PATH,
    RIGHT,
    START,
    UP,
    VOCAB_SIZE,
    WALL,
    MazePool,
    MazeState,
)
from envs.maze.vector import MazeVectorEnv

__all__ = [
    "ACTION_NAMES",
    "DOWN",
    "GOAL",
    "LEFT",
    "OPEN",
    "PAD",
    "PATH",
    "RIGHT",
    "START",
    "UP",
    "VOCAB_SIZE",
    "WALL",
    "DatasetGenerator",
    "FixedGenerator",
    "MazeEnv",
    "MazePool",
    "MazeState",
    "MazeVectorEnv",
    "RandomMazeGenerator",
    "action_mask",
    "build_pool",
    "distance_maps",
    "make_pool",
    "move",
    "neighbour_table",
    "parse_puzzle",
    "read_maze_csv",
    "sample_legal_actions",
    "to_string",
]
