"""Sudoku environments (4x4, 6x6, 9x9): single (``SudokuEnv``) and batched (``SudokuVectorEnv``).

Layout: ``types.py`` (token ids, dataclasses), ``rules.py`` (pure numpy rules and the shared
batched transition), ``generator.py`` (seeded generators, pools, the pool-building command),
``render.py`` (ansi and rgb_array), ``env.py`` and ``vector.py``. Nothing is read at import
time; pools and datasets load on first use.
"""

from envs.sudoku.env import SudokuEnv
from envs.sudoku.generator import (
    DatasetGenerator,
    FixedGenerator,
    PoolGenerator,
    RandomSudokuGenerator,
)
from envs.sudoku.rules import decode_action, encode_action, sample_legal_actions
from envs.sudoku.types import SudokuPuzzle, SudokuState
from envs.sudoku.vector import SudokuVectorEnv

__all__ = [
    "DatasetGenerator",
    "FixedGenerator",
    "PoolGenerator",
    "RandomSudokuGenerator",
    "SudokuEnv",
    "SudokuPuzzle",
    "SudokuState",
    "SudokuVectorEnv",
    "decode_action",
    "encode_action",
    "sample_legal_actions",
]
