"""Batched episode state and transition shared by :class:`MazeEnv` (a batch of one) and
:class:`MazeVectorEnv`, so that both produce identical transitions by construction.

Per row it keeps the current token grid (updated in place: only the two cells that change per
step), the maze's free-cell and distance-to-goal tables, the agent and goal cells and the step
count. All randomness stays with the caller (the env's ``np_random``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from envs.maze.config import MazeConfig
from envs.maze.pool import make_pool
from envs.maze.rules import neighbour_table, parse_puzzle, potential
from envs.maze.types import GOAL, OPEN, PATH, START, STEP_DTYPE, WALL, MazePool, MazePuzzle
from envs.utils import check_int, per_row

#: Keys of ``info`` (single env) and of the batched ``infos`` (vector env).
INFO_KEYS = ("shortest_path_length", "distance_to_goal", "is_success", "steps")


class MazeBatch:
    """B episodes of same-shaped mazes.

    :param num_envs: batch size B.
    :param shape: (H, W) of every maze (the pool's).
    :param config: rewards and limits: ``step_cost``, ``shaping``, ``shaping_gamma``,
        ``max_steps`` (None: ``4 * H * W``) and ``mark_trail``.
    """

    def __init__(self, num_envs: int, shape: tuple[int, int], config: MazeConfig) -> None:
        h, w = shape
        n = h * w
        self.num_envs, self.shape = num_envs, (h, w)
        self.step_cost, self.shaping = config.step_cost, config.shaping
        self.shaping_gamma = config.shaping_gamma
        self.shaping_scale = 1.0 / (h + w)
        self.max_steps = 4 * h * w if config.max_steps is None else config.max_steps
        self.trail_token = PATH if config.mark_trail else OPEN
        self.neighbours = neighbour_table(h, w)  # (H*W, 4) int64
        self.grid = np.zeros((num_envs, n), dtype=np.uint8)  # (B, H*W) current tokens
        self.free = np.zeros((num_envs, n + 1), dtype=bool)  # (B, H*W+1) with sentinel
        self.dist = np.zeros((num_envs, n), dtype=np.int32)  # (B, H*W) steps to goal
        self.pos = np.zeros(num_envs, dtype=np.int64)  # (B,) agent cell
        self.goal = np.zeros(num_envs, dtype=np.int64)  # (B,) goal cell
        self.start = np.zeros(num_envs, dtype=np.int64)  # (B,) start cell of the maze
        self.shortest = np.zeros(num_envs, dtype=np.int64)  # (B,) S->G length at reset
        self.steps = np.zeros(num_envs, dtype=STEP_DTYPE)  # (B,) steps taken this episode
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
        self.start[rows] = pool.start[index]
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
            phi_old = potential(dist.take(self._row_grid + pos), self.shaping_scale)
            phi_new = potential(dist.take(self._row_grid + new), self.shaping_scale)
            reward += self.shaping_gamma * phi_new - phi_old  # phi(goal) = 0
        self.pos = new
        self.success = terminated.copy()  # the caller owns `terminated`
        truncated = (self.steps >= self.max_steps) & ~terminated
        return reward, terminated, truncated

    def puzzle(self, row: int) -> MazePuzzle:
        """The maze row ``row`` is playing, rebuilt from its current grid (walls never change;
        ``S`` and ``G`` go back to their cells, every other free cell is open)."""
        h, w = self.shape
        free = self.free[row, :-1]
        grid = np.where(free, OPEN, WALL).astype(np.uint8)
        grid[self.start[row]], grid[self.goal[row]] = START, GOAL
        start, goal = divmod(int(self.start[row]), w), divmod(int(self.goal[row]), w)
        return MazePuzzle(grid=grid.reshape(h, w), start=start, goal=goal)

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


@dataclass(frozen=True)
class EpisodePlan:
    """Validated starts of new episodes (see :func:`plan_episodes`): nothing is loaded and no
    random number is drawn until :func:`start_episodes`, so a bad option changes nothing."""

    rows: np.ndarray  # (k,) rows of the batch to restart
    indices: np.ndarray  # (k,) pool index per row, -1 where a custom maze or a draw is due
    draw: np.ndarray  # (k,) bool, True where the maze is drawn from the pool
    custom_rows: np.ndarray  # (c,) positions in ``rows`` that play a given maze
    custom: MazePool | None  # the c given mazes


def plan_episodes(
    rows: np.ndarray,
    pool: MazePool,
    puzzles: Sequence | None = None,
    indices: Sequence | None = None,
) -> EpisodePlan:
    """Validate the starts of new episodes: a given puzzle, a given pool index, or a pool maze to
    draw, row by row (a None entry of ``puzzles``/``indices`` means "draw").

    :param rows: (k,) rows of the batch to restart.
    :param pool: the env's pool.
    :param puzzles: k puzzles (strings, arrays or ``MazePuzzle``; see
        :func:`envs.maze.rules.parse_puzzle`) or None entries.
    :param indices: k pool indices or None entries.
    :raises ValueError: for a wrong count, a bad puzzle (naming its env), an index outside the
        pool, or a row given both a puzzle and an index.
    """
    count = len(rows)
    given = [None] * count if puzzles is None else per_row("puzzles", puzzles, count)
    index = [None] * count if indices is None else per_row("indices", indices, count)
    picked = np.full(count, -1, dtype=np.int64)
    custom, mazes = [], []
    for i, (p, k) in enumerate(zip(given, index, strict=True)):
        env = int(rows[i])
        if p is not None and k is not None:
            raise ValueError(f"env {env} got both a puzzle and a pool index; pass one")
        if k is not None:
            picked[i] = check_int(f"pool index of env {env}", k, low=0, high=len(pool) - 1)
        elif p is not None:
            try:
                mazes.append(parse_puzzle(p, pool.shape))
            except ValueError as e:
                raise ValueError(f"puzzle of env {env}: {e}") from None
            custom.append(i)
    draw = np.array([g is None and k is None for g, k in zip(given, index, strict=True)])
    return EpisodePlan(
        rows=np.asarray(rows, dtype=np.int64),
        indices=picked,
        draw=draw.astype(bool).reshape(count),
        custom_rows=np.array(custom, dtype=np.int64),
        custom=make_pool(mazes) if mazes else None,
    )


def start_episodes(
    batch: MazeBatch, plan: EpisodePlan, pool: MazePool, rng: np.random.Generator
) -> None:
    """Load a validated plan: draw the pool mazes due (one ``rng`` draw), then load every row."""
    indices = plan.indices.copy()
    indices[plan.draw] = rng.integers(len(pool), size=int(plan.draw.sum()))
    from_pool = np.flatnonzero(indices >= 0)
    if len(from_pool):
        batch.load(plan.rows[from_pool], pool, indices[from_pool])
    if plan.custom is not None:
        batch.load(plan.rows[plan.custom_rows], plan.custom, np.arange(len(plan.custom_rows)))


def load_episodes(
    batch: MazeBatch,
    rows: np.ndarray,
    pool: MazePool,
    rng: np.random.Generator,
    puzzles: Sequence | None = None,
    indices: Sequence | None = None,
) -> None:
    """:func:`plan_episodes` then :func:`start_episodes` (the autoreset path skips the plan)."""
    if puzzles is None and indices is None:  # the autoreset path: one draw, one load
        batch.load(rows, pool, rng.integers(len(pool), size=len(rows)))
        return
    start_episodes(batch, plan_episodes(rows, pool, puzzles, indices), pool, rng)
