"""``MazeConfig``: the one typed configuration of the Maze envs, their pools and generators.

``MazeEnv``, ``MazeVectorEnv`` and :func:`envs.maze.pool.build_pool` all take it; the keyword
arguments of ``gym.make``/``gym.make_vec`` are its fields::

    gym.make("trm_rl/Maze-v0", size=21, braid=0.2)            # kwargs -> MazeConfig
    gym.make("trm_rl/Maze-v0", config=MazeConfig(size=21))    # or the config itself

Every field is validated once, here; a bad value raises a ``ValueError`` naming the field, the
value and what to pass. tyro builds a command line from it (``tyro.cli(MazeConfig)``).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from envs.maze.obstacles import MAZE_HARD_WALL_DENSITY, check_wall_density
from envs.maze.rules import longest_shortest_path
from envs.maze.types import STEP_DTYPE
from envs.utils import (
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_step_limit,
    config_from_kwargs,
)

ALGORITHMS = ("dfs", "prim", "obstacles")
#: Smallest side of a generated maze.
MIN_SIZE = 5
#: Largest ``max_steps``: the step counters of the batched transition are ``STEP_DTYPE``.
MAX_STEPS_LIMIT = int(np.iinfo(STEP_DTYPE).max)


@dataclass(frozen=True)
class MazeConfig:
    """Configuration of a Maze env: which mazes, which rewards, which limits."""

    size: int | tuple[int, int] = 9
    """Grid side (>= 5) or an (H, W) pair of generated mazes; ignored with ``dataset``."""
    algorithm: Literal["dfs", "prim", "obstacles"] = "dfs"
    """Maze kind: ``dfs`` (recursive backtracker, long corridors), ``prim`` (randomised Prim,
    many short branches), both perfect mazes carved on a cell lattice, or ``obstacles``
    (independent random walls, S and G placed uniformly and kept when far apart: the kind of
    Maze-Hard, see :mod:`envs.maze.obstacles`)."""
    braid: float = 0.0
    """Probability in [0, 1] of opening each dead end into a loop (0: a perfect maze); carved
    mazes (``dfs``, ``prim``) only."""
    min_path_length: int = 0
    """Minimum S->G shortest path in steps (Maze-Hard: 109-146 on 30x30); for carved mazes at
    most the number of open cells of a perfect maze of this size minus one."""
    wall_density: float | tuple[float, float] = MAZE_HARD_WALL_DENSITY
    """``obstacles`` only: the probability in (0, 1) that a cell is a wall, or a (lo, hi) range
    it is drawn from uniformly per maze. The default (0.3, 0.5) reproduces Maze-Hard (walls
    0.37 +- 0.027 of the cells after the path-length selection); a fixed 0.37 is 2-3 times as
    fast to generate but half as varied."""
    dataset: str | None = None
    """``None`` (generated mazes), ``"maze-hard"`` (the bundled 1000 Maze-Hard training mazes)
    or the path of a CSV in that format."""
    pool_size: int | None = None
    """Mazes in the pool resets draw from; None: 1000 up to 15x15 and fewer above (about 200
    at 31x31), or every row of a dataset."""
    pool_seed: int = 0
    """Seed (>= 0) of the pool; a dataset subset is also chosen with it."""
    step_cost: float = 0.01
    """Reward subtracted on every step that does not reach the goal."""
    shaping: bool = False
    """Add the potential-based term ``shaping_gamma * phi(s') - phi(s)``,
    ``phi = -BFS distance to G / (H + W)``, which leaves optimal policies unchanged."""
    shaping_gamma: float = 0.99
    """Discount in [0, 1] of the shaping term (use the agent's discount)."""
    max_steps: int | None = None
    """Truncation limit in steps, at most ``MAX_STEPS_LIMIT`` (2**63 - 1); None: ``4 * H * W``."""
    mark_trail: bool = False
    """Leave the path token ``o`` on cells the agent left (else they become open again)."""
    cell_px: int = 16
    """Pixels per cell of ``rgb_array`` frames."""

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        size = self.size
        if isinstance(size, list | tuple):
            if len(size) != 2:
                raise ValueError(
                    f"size must be an int or an (H, W) pair, got {size!r} ({len(size)} values)"
                )
            size = tuple(check_int(f"size[{i}]", s, low=MIN_SIZE) for i, s in enumerate(size))
            if size[0] == size[1]:
                size = size[0]  # one spelling per shape: (9, 9) is 9
        else:
            size = check_int("size", size, low=MIN_SIZE)
        set_(self, "size", size)
        check_choice("algorithm", self.algorithm, ALGORITHMS)
        set_(self, "braid", check_float("braid", self.braid, low=0.0, high=1.0))
        set_(self, "min_path_length", check_int("min_path_length", self.min_path_length, low=0))
        set_(self, "wall_density", check_wall_density(self.wall_density))
        self._check_algorithm_options()
        if self.dataset is not None:
            if not isinstance(self.dataset, str | os.PathLike) or not str(self.dataset):
                raise ValueError(
                    f"dataset must be None, 'maze-hard' or a CSV path, got {self.dataset!r}"
                )
            set_(self, "dataset", str(self.dataset))
        set_(self, "pool_size", check_int("pool_size", self.pool_size, low=1, allow_none=True))
        set_(self, "pool_seed", check_int("pool_seed", self.pool_seed, low=0))
        set_(self, "step_cost", check_float("step_cost", self.step_cost))
        set_(self, "shaping", check_bool("shaping", self.shaping))
        gamma = check_float("shaping_gamma", self.shaping_gamma, low=0.0, high=1.0)
        set_(self, "shaping_gamma", gamma)
        max_steps = check_step_limit(self.max_steps, STEP_DTYPE, "4 * H * W")
        set_(self, "max_steps", max_steps)
        set_(self, "mark_trail", check_bool("mark_trail", self.mark_trail))
        set_(self, "cell_px", check_int("cell_px", self.cell_px, low=1))
        if self.dataset is None:
            h, w = self.shape
            if self.algorithm == "obstacles":
                bound, why = h * w - 1, "the cells minus one"
            else:
                bound, why = (
                    longest_shortest_path((h, w)),
                    "the open cells of a perfect maze minus one",
                )
            if self.min_path_length > bound:
                raise ValueError(
                    f"min_path_length={self.min_path_length} is impossible on a {h}x{w} maze: no "
                    f"shortest path there is longer than {bound} steps ({why}); lower it or grow "
                    "the size"
                )

    def _check_algorithm_options(self) -> None:
        """Refuse the options of one maze kind with another."""
        if self.algorithm == "obstacles" and self.braid > 0:
            raise ValueError(
                f"braid={self.braid} applies to carved mazes (algorithm 'dfs' or 'prim') only: "
                "obstacle mazes have no dead-end corridors to open (their loops come from the "
                "random walls); leave braid at 0 or pick algorithm='dfs'/'prim'"
            )
        if self.algorithm != "obstacles" and self.wall_density != MAZE_HARD_WALL_DENSITY:
            raise ValueError(
                f"wall_density={self.wall_density!r} applies to algorithm='obstacles' only, not "
                f"to {self.algorithm!r} (a carved maze's walls follow from its lattice); leave "
                f"it at its default {MAZE_HARD_WALL_DENSITY} or pass algorithm='obstacles'"
            )

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of generated mazes (a dataset's mazes have the dataset's shape)."""
        s = self.size
        return (s, s) if isinstance(s, int) else (s[0], s[1])

    def replace(self, **changes: Any) -> MazeConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_kwargs(cls, config: MazeConfig | None = None, **kwargs: Any) -> MazeConfig:
        """The config an env is built with: ``config``, the keyword fields, or both when they
        agree (see :func:`envs.utils.config_from_kwargs`).

        :raises ValueError: for an unknown keyword (listing the fields) or a keyword that
            contradicts ``config``.
        """
        return config_from_kwargs(
            cls, config, kwargs, "trm_rl/Maze-9x9-v0 fixes size: use trm_rl/Maze-v0"
        )


#: Names of the fields of :class:`MazeConfig`.
FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(MazeConfig))

__all__ = ["ALGORITHMS", "FIELDS", "MAX_STEPS_LIMIT", "MazeConfig"]
