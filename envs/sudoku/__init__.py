"""Sudoku environments (4x4, 6x6, 9x9): single (``SudokuEnv``) and batched (``SudokuVectorEnv``).

Layout (the same file roles as ``envs.maze``): ``types`` (tokens, geometry, ``SudokuPuzzle``,
``SudokuState``; reading boards), ``config`` (``SudokuConfig``), ``rules`` (geometry tables,
validation, legality, actions), ``solver`` (exact search with statistics, the batched oracle),
``puzzles`` (``SudokuPool``, ``generate_pool``), ``generator`` (random, dataset, fixed; the
pool-building command), ``pool`` (``shipped_pool``, ``build_pool``; re-exports ``SudokuPool``
and ``generate_pool``), ``io`` (CSV and ``.npz``), ``render``, ``batch`` (the batched transition both
envs step through), ``env`` and ``vector``. Nothing is read at import time; pools and datasets
load on first use.
"""

from envs.sudoku.config import SudokuConfig
from envs.sudoku.env import SudokuEnv
from envs.sudoku.generator import DatasetGenerator, FixedGenerator, RandomSudokuGenerator
from envs.sudoku.io import load_pool, read_sudoku_csv, save_pool, write_sudoku_csv
from envs.sudoku.pool import SudokuPool, build_pool, generate_pool, shipped_pool
from envs.sudoku.rules import (
    decode_action,
    encode_action,
    parse_puzzle,
    puzzle_from_input,
    sample_legal_actions,
)
from envs.sudoku.solver import SearchResult, analyse, count_solutions, oracle_actions, solve
from envs.sudoku.types import SudokuPuzzle, SudokuState
from envs.sudoku.vector import SudokuVectorEnv

__all__ = [
    "DatasetGenerator",
    "FixedGenerator",
    "RandomSudokuGenerator",
    "SearchResult",
    "SudokuConfig",
    "SudokuEnv",
    "SudokuPool",
    "SudokuPuzzle",
    "SudokuState",
    "SudokuVectorEnv",
    "analyse",
    "build_pool",
    "count_solutions",
    "decode_action",
    "encode_action",
    "generate_pool",
    "load_pool",
    "oracle_actions",
    "parse_puzzle",
    "puzzle_from_input",
    "read_sudoku_csv",
    "sample_legal_actions",
    "save_pool",
    "shipped_pool",
    "solve",
    "write_sudoku_csv",
]
