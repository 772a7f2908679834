"""Batched episode state and transition shared by :class:`MazeEnv` (a batch of one) and
:class:`MazeVectorEnv`, so that both produce identical transitions by construction.

Per row it keeps the current token grid (updated in place: only the two cells that change per
step), the maze's free-cell and distance-to-goal tables, the agent and goal cells and the step
count. All randomness stays with the caller (the env's ``np_random``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from envs.maze import rules
from envs.maze.pool import Generator, build_pool, make_generator
from envs.maze.rules import make_pool, parse_puzzle
from envs.maze.types import OPEN, PATH, START, MazePool

#: Keys of ``info`` (single env) and of the batched ``infos`` (vector env).
INFO_KEYS = ("shortest_path_length", "distance_to_goal", "is_success", "steps")


class MazeBatch:
    """B episodes of same-shaped mazes.

    :param num_envs: batch size B.
    :param shape: (H, W) of every maze.
    :param step_cost: reward subtracted on every step that does not reach the goal.
    :param shaping: add ``F = shaping_gamma * phi(s') - phi(s)``, ``phi = -dist / (H + W)``.
    :param shaping_gamma: discount used in the shaping term.
    :param max_steps: truncation limit.
    :param mark_trail: leave the path token on cells the agent left (else they become open).
    """

    def __init__(
        self,
        num_envs: int,
        shape: tuple[int, int],
        *,
        step_cost: float,
        shaping: bool,
        shaping_gamma: float,
        max_steps: int,
        mark_trail: bool,
    ) -> None:
        h, w = shape
        n = h * w
        self.num_envs, self.shape = num_envs, (h, w)
        self.step_cost, self.shaping, self.shaping_gamma = step_cost, shaping, shaping_gamma
        self.shaping_scale = 1.0 / (h + w)
        self.max_steps, self.trail_token = max_steps, PATH if mark_trail else OPEN
        self.neighbours = rules.neighbour_table(h, w)  # (H*W, 4) int64
        self.grid = np.zeros((num_envs, n), dtype=np.uint8)  # (B, H*W) current tokens
        self.free = np.zeros((num_envs, n + 1), dtype=bool)  # (B, H*W+1) with sentinel
        self.dist = np.zeros((num_envs, n), dtype=np.int32)  # (B, H*W) steps to goal
        self.pos = np.zeros(num_envs, dtype=np.int64)  # (B,) agent cell
        self.goal = np.zeros(num_envs, dtype=np.int64)  # (B,) goal cell
        self.shortest = np.zeros(num_envs, dtype=np.int64)  # (B,) S->G length at reset
        self.steps = np.zeros(num_envs, dtype=np.int64)  # (B,) steps taken this episode
        self.success = np.zeros(num_envs, dtype=bool)  # (B,) reached the goal on last step
        # Flat offsets make every per-row lookup one np.take on a raveled table.
        self._row_grid = np.arange(num_envs, dtype=np.int64) * n
        self._row_free = np.arange(num_envs, dtype=np.int64) * (n + 1)

    def load(self, rows: np.ndarray, pool: MazePool, index: np.ndarray) -> None:
        """Start new episodes: row ``rows[i]`` gets maze ``index[i]`` of ``pool``."""
        self.grid[rows] = pool.grids.reshape(len(pool), -1)[index]
        self.free[rows] = pool.free[index]
        self.dist[rows] = pool.dist[index]
        self.pos[rows] = pool.start[index]
        self.goal[rows] = pool.goal[index]
        self.shortest[rows] = pool.dist[index, pool.start[index]]
        self.steps[rows] = 0
        self.success[rows] = False

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Advance every row by one action.

        :param actions: (B,) int actions in ``0..3``.
        :return: rewards (B,) float64, terminated (B,) bool, truncated (B,) bool.
        """
        pos = self.pos
        target = self.neighbours.take(pos * 4 + actions)
        legal = self.free.take(self._row_free + target)
        new = np.where(legal, target, pos)
        grid = self.grid.reshape(-1)
        grid[self._row_grid + pos] = self.trail_token
        grid[self._row_grid + new] = START
        self.steps += 1
        terminated = new == self.goal
        reward = np.where(terminated, 1.0, -self.step_cost)
        if self.shaping:
            dist = self.dist.reshape(-1)
            phi_old = rules.potential(dist.take(self._row_grid + pos), self.shaping_scale)
            phi_new = rules.potential(dist.take(self._row_grid + new), self.shaping_scale)
            reward += self.shaping_gamma * phi_new - phi_old  # phi(goal) = 0
        self.pos = new
        self.success = terminated.copy()  # the caller owns `terminated`
        truncated = (self.steps >= self.max_steps) & ~terminated
        return reward, terminated, truncated

    def action_masks(self) -> np.ndarray:
        """(B, 4) bool legal moves (those that change the agent's cell)."""
        idx = self._row_free[:, None] + self.neighbours[self.pos]
        return self.free.take(idx)

    def observation(self) -> dict[str, np.ndarray]:
        """Fresh batched observation: ``grid`` (B, H, W) uint8, ``action_mask`` (B, 4) int8."""
        return {
            "grid": self.grid.reshape(self.num_envs, *self.shape).copy(),
            "action_mask": self.action_masks().astype(np.int8),
        }

    def info(self) -> dict[str, np.ndarray]:
        """Fresh batched info arrays (keys :data:`INFO_KEYS`)."""
        return {
            "shortest_path_length": self.shortest.copy(),
            "distance_to_goal": self.dist.take(self._row_grid + self.pos).astype(np.int64),
            "is_success": self.success.copy(),
            "steps": self.steps.copy(),
        }


def build(
    num_envs: int,
    *,
    size: int | tuple[int, int] = 9,
    algorithm: str = "dfs",
    braid: float = 0.0,
    min_path_length: int = 0,
    dataset: str | None = None,
    pool_size: int | None = None,
    pool_seed: int = 0,
    generator: Generator | None = None,
    step_cost: float = 0.01,
    shaping: bool = False,
    shaping_gamma: float = 0.99,
    max_steps: int | None = None,
    mark_trail: bool = False,
) -> tuple[MazePool, MazeBatch]:
    """Validate the env kwargs and build the maze pool and an empty batch (shared by both envs).

    :return: the (cached, read-only) pool and a :class:`MazeBatch` of ``num_envs`` rows.
    """
    if int(num_envs) < 1:
        raise ValueError(f"num_envs must be >= 1, got {num_envs}")
    if not 0.0 <= shaping_gamma <= 1.0:
        raise ValueError(f"shaping_gamma must be in [0, 1], got {shaping_gamma}")
    gen = make_generator(size, algorithm, braid, min_path_length, dataset, generator)
    pool = build_pool(gen, pool_size, pool_seed)
    h, w = pool.shape
    if max_steps is None:
        max_steps = 4 * h * w
    if int(max_steps) < 1:
        raise ValueError(f"max_steps must be a positive int or None, got {max_steps}")
    batch = MazeBatch(
        int(num_envs),
        (h, w),
        step_cost=float(step_cost),
        shaping=bool(shaping),
        shaping_gamma=float(shaping_gamma),
        max_steps=int(max_steps),
        mark_trail=bool(mark_trail),
    )
    return pool, batch


def pick_mazes(
    pool: MazePool,
    shape: tuple[int, int],
    rng: np.random.Generator,
    count: int,
    puzzles: Sequence | None = None,
    indices: Sequence[int] | None = None,
) -> tuple[MazePool, np.ndarray]:
    """The mazes of ``count`` new episodes: the given puzzles, the given pool indices, or pool
    indices drawn with ``rng``.

    :return: the pool to load from and the index of each episode's maze in it.
    """
    if puzzles is not None:
        if len(puzzles) != count:
            raise ValueError(f"got {len(puzzles)} puzzles for {count} environments")
        states = [parse_puzzle(p, shape) for p in puzzles]
        return make_pool(states), np.arange(count)
    if indices is not None:
        index = np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(index) != count or index.min() < 0 or index.max() >= len(pool):
            raise ValueError(f"need {count} pool indices in [0, {len(pool)}), got {indices}")
        return pool, index
    return pool, rng.integers(len(pool), size=count)
