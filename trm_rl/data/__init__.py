"""Supervised datasets of the Tiny Recursive Model: (inputs, labels) token grids in the official
TRM vocabularies, built on the generators, pools, solvers and readers of ``envs``.

Quick start::

    from trm_rl.data import DataConfig, make_data

    data = make_data(DataConfig(name="sudoku-9x9", givens=(30, 35)))
    inputs, labels = data.split("val")             # [n, seq_len] uint8, fixed
    sampler = data.train_sampler(seed=0, rank=0, world_size=1)
    inputs, labels = sampler.sample(768)           # augmented, never a val/test puzzle
    state = sampler.state_dict()                   # JSON-serialisable; load_state_dict resumes

Tokens: Sudoku pad 0, blank 1, digit d -> d + 1 (vocab N + 2: 6, 8, 11); labels are the full
solution (givens supervised too, as upstream). Maze pad 0, ``#`` 1, open 2, ``S`` 3, ``G`` 4,
path ``o`` 5 (vocab 6); labels are the question with ``o`` on the Maze-Hard label path, or with
``maze_target="distance"`` each reachable cell's BFS distance to G modulo 3 as tokens 6..8
(vocab 9; :mod:`trm_rl.data.maze_targets` also decodes such a field into a path).

| name | puzzles | val / test (defaults 256 / 1024) | augment |
|---|---|---|---|
| ``sudoku-4x4`` | dug on the fly from 224 of the 288 solution grids | from 32 + 32 held-out grids | off |
| ``sudoku-6x6``, ``sudoku-9x9`` | shipped pools (3000, 5000), ``givens`` filter | 10% cap: 256 / 300 and 256 / 500 | on |
| ``sudoku-extreme`` | the bundled 1k Sudoku-Extreme file | 100 / 100 (10% cap), 800 train | on |
| ``maze-9x9`` ... ``maze-31x31``, ``maze-HxW`` | generated on the fly (``algorithm``, ``braid``, ``min_path_length``, ``wall_density``) | from held-out seeds | on |
| ``maze-hard`` | the bundled 1000 Maze-Hard mazes | 100 / 100, 800 train | on |
| a CSV path | Sudoku-Extreme, Hugging Face ``question,answer`` or Maze-Hard format | 10% cap each | on |

How held-out puzzles stay unseen is described in :mod:`trm_rl.data.build`. Files:
``config`` (``DataConfig``, names), ``build`` (``make_data``, split rules), ``maze_targets``
(distance-field labels and their decoding), ``dataset``
(``PuzzleData``, ``TrainSampler``), ``streams`` (training draws), ``sudoku_grids`` (the 4x4 grids,
batched digging), ``augment`` (symmetries), ``files`` (CSV kinds and readers), ``text`` (puzzle
strings and puzzle files). Nothing is read at import time.
"""

from trm_rl.data.build import make_data
from trm_rl.data.config import KNOWN_NAMES, DataConfig
from trm_rl.data.dataset import PuzzleData, TrainSampler
from trm_rl.data.text import from_text, read_puzzle_file, to_text

__all__ = [
    "KNOWN_NAMES",
    "DataConfig",
    "PuzzleData",
    "TrainSampler",
    "from_text",
    "make_data",
    "read_puzzle_file",
    "to_text",
]
