"""Maze: walk from S to G on grid mazes whose observations are Maze-Hard question grids.

``MazeEnv`` (single) and ``MazeVectorEnv`` (natively batched, same transitions) over pools of
mazes from injected generators: random DFS/Prim mazes, random-obstacle mazes of Maze-Hard's
kind, the Maze-Hard CSV, or a fixed maze.
Registered ids (``envs/__init__.py``): ``trm_rl/Maze-v0``, ``trm_rl/Maze-{5x5,9x9,15x15,31x31}-v0``
and ``trm_rl/MazeHard-v0``.

Layout (the same file roles as ``envs.sudoku``): ``types`` (tokens, ``MazePuzzle``,
``MazeState``, ``MazePool``; reading puzzle text), ``config`` (``MazeConfig``), ``rules``
(validation, moves, shaping), ``solver`` (BFS, Maze-Hard labels, the batched oracle),
``generator`` (random, dataset, fixed; the dataset-writing
command), ``obstacles`` (Maze-Hard-like random walls by exact rejection), ``stats`` (statistics
that tell maze families apart), ``pool`` (``make_pool``, ``generate_pool``, ``build_pool``), ``io`` (CSV), ``render``,
``batch`` (the batched transition both envs step through), ``env`` and ``vector``.
"""

from envs.maze.config import MazeConfig
from envs.maze.env import MazeEnv
from envs.maze.generator import DatasetGenerator, FixedGenerator, RandomMazeGenerator
from envs.maze.io import read_maze_csv, write_maze_csv
from envs.maze.pool import build_pool, generate_pool, make_pool
from envs.maze.rules import neighbour_table, parse_puzzle, sample_legal_actions
from envs.maze.solver import (
    bfs,
    distance_maps,
    goal_distances,
    is_valid_shortest_path,
    label_answer,
    label_path,
    oracle_actions,
    shortest_path_length,
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
    MazePuzzle,
    MazeState,
    as_puzzle,
    to_string,
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
    "MazeConfig",
    "MazeEnv",
    "MazePool",
    "MazePuzzle",
    "MazeState",
    "MazeVectorEnv",
    "RandomMazeGenerator",
    "as_puzzle",
    "bfs",
    "build_pool",
    "distance_maps",
    "generate_pool",
    "goal_distances",
    "is_valid_shortest_path",
    "label_answer",
    "label_path",
    "make_pool",
    "neighbour_table",
    "oracle_actions",
    "parse_puzzle",
    "read_maze_csv",
    "sample_legal_actions",
    "shortest_path_length",
    "to_string",
    "write_maze_csv",
]
