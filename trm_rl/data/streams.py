"""Training streams: seeded draws of unaugmented (inputs, labels) token rows from one source.

A stream is any object with ``draw(rng, count) -> (inputs, labels)``, both ``[count, H * W]``
uint8; :class:`~trm_rl.data.dataset.PuzzleData` augments the draws and removes held-out ones.

- :class:`PoolStream`: uniform draws, with replacement, from fixed training rows (the shipped
  Sudoku pools and CSV files).
- :class:`SudokuGridStream`: 4x4 puzzles dug on the fly from the training solution grids.
- :class:`MazeStream`: fresh random mazes, labelled with the Maze-Hard BFS rule (or, for the
  ``distance`` target, with their distance fields: :mod:`trm_rl.data.maze_targets`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from envs.maze.generator import RandomMazeGenerator
from envs.maze.solver import label_answer
from envs.maze.types import MazePuzzle
from envs.sudoku.rules import to_tokens
from envs.utils import check_choice
from trm_rl.data.maze_targets import MAZE_TARGETS, distance_labels
from trm_rl.data.sudoku_grids import all_grids, dig
from trm_rl.data.text import from_text


class PoolStream:
    """Uniform draws with replacement from fixed training rows.

    :param inputs: (P, L) uint8 tokens.
    :param labels: (P, L) uint8 tokens.
    """

    def __init__(self, inputs: np.ndarray, labels: np.ndarray):
        self.inputs = inputs
        self.labels = labels

    def __len__(self) -> int:
        return len(self.inputs)

    def draw(self, rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
        rows = rng.integers(0, len(self.inputs), size=count)
        return self.inputs[rows], self.labels[rows]


class SudokuGridStream:
    """4x4 puzzles dug from grids drawn uniformly among the training grids.

    :param grid_ids: indices into :func:`~trm_rl.data.sudoku_grids.all_grids`.
    :param givens: inclusive (lo, hi) range of givens.
    """

    def __init__(self, grid_ids: np.ndarray, givens: tuple[int, int]):
        self.grid_ids = np.asarray(grid_ids, dtype=np.int64)
        self.givens = givens

    def draw(self, rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
        ids = self.grid_ids[rng.integers(0, len(self.grid_ids), size=count)]
        return to_tokens(dig(rng, ids, self.givens)), to_tokens(all_grids()[ids])


class MazeStream:
    """Fresh mazes from a generator, labelled with the Maze-Hard BFS rule or a distance field.

    :param generator: the seeded maze generator.
    :param target: ``"path"`` (the Maze-Hard answer) or ``"distance"``
        (:func:`~trm_rl.data.maze_targets.distance_labels`).
    """

    def __init__(self, generator: RandomMazeGenerator, target: str = "path"):
        self.generator = generator
        self.target = check_choice("target", target, MAZE_TARGETS)

    def draw(self, rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
        puzzles = [self.generator(rng) for _ in range(count)]
        if self.target == "distance":
            inputs = np.stack([p.grid.reshape(-1) for p in puzzles]).astype(np.uint8)
            return inputs, distance_labels(inputs, self.generator.shape)
        return maze_examples(puzzles, self.generator.shape)


def maze_examples(
    puzzles: Sequence[MazePuzzle], shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Question and answer tokens of mazes: (P, H * W) uint8 each, answers by
    :func:`envs.maze.solver.label_answer`."""
    size = shape[0] * shape[1]
    inputs = np.empty((len(puzzles), size), dtype=np.uint8)
    labels = np.empty_like(inputs)
    for i, puzzle in enumerate(puzzles):
        inputs[i] = puzzle.grid.reshape(-1)
        labels[i] = from_text("maze", label_answer(puzzle), shape)[0]
    return inputs, labels
