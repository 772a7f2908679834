"""``MazeVectorEnv``: B Maze envs stepped together in numpy, with same-step autoreset."""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from envs.maze.core import INFO_KEYS, build, pick_mazes
from envs.maze.env import observation_space
from envs.maze.pool import Generator
from envs.maze.render import render_ansi, render_rgb
from envs.maze.rules import sample_legal_actions

__all__ = ["MazeVectorEnv", "sample_legal_actions"]


class MazeVectorEnv(gym.vector.VectorEnv):
    """A natively batched :class:`~envs.maze.env.MazeEnv`: same kwargs, same transitions.

    Every step is a handful of numpy operations over the batch (no per-env Python loop); only
    the two grid cells that change per env are written. Finished envs are reset in the same step
    (``AutoresetMode.SAME_STEP``): the returned ``obs``/``infos`` rows of a finished env already
    belong to its next episode, and its last observation and info are in
    ``infos["final_obs"]`` / ``infos["final_info"]`` (dicts of batched arrays, rows valid where
    ``infos["_final_obs"]`` / ``infos["_final_info"]`` are True). ``infos`` holds the single
    env's info keys as batched arrays, each with the usual ``_key`` mask.

    ``reset(options=...)`` accepts ``"puzzles"`` (one puzzle per env), ``"puzzle"`` (the same
    puzzle for every env), ``"indices"`` (pool indices) and ``"reset_mask"`` ((B,) bool: reset
    only those envs; the others keep their episode).

    :param num_envs: batch size B.
    :param kwargs: the :class:`~envs.maze.env.MazeEnv` arguments.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["ansi", "rgb_array"],
        "render_fps": 8,
        "autoreset_mode": AutoresetMode.SAME_STEP,
    }

    def __init__(
        self,
        num_envs: int = 1,
        render_mode: str | None = None,
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
        cell_px: int = 16,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}")
        self.render_mode, self.cell_px = render_mode, int(cell_px)
        self.pool, self._batch = build(
            num_envs,
            size=size,
            algorithm=algorithm,
            braid=braid,
            min_path_length=min_path_length,
            dataset=dataset,
            pool_size=pool_size,
            pool_seed=pool_seed,
            generator=generator,
            step_cost=step_cost,
            shaping=shaping,
            shaping_gamma=shaping_gamma,
            max_steps=max_steps,
            mark_trail=mark_trail,
        )
        self.num_envs = int(num_envs)
        self.shape = self.pool.shape
        self.max_steps = self._batch.max_steps
        self.single_observation_space = observation_space(self.shape)
        self.single_action_space = spaces.Discrete(4)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._all = np.arange(self.num_envs, dtype=np.int64)
        self._true = np.ones(self.num_envs, dtype=bool)
        self._loaded = np.zeros(self.num_envs, dtype=bool)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start new episodes (all envs, or those in ``options["reset_mask"]``)."""
        super().reset(seed=seed)
        options = options or {}
        rows = self._all
        if options.get("reset_mask") is not None:
            rows = np.flatnonzero(np.asarray(options["reset_mask"], dtype=bool))
            if not self._loaded.all() and not np.array_equal(rows, self._all):
                raise ValueError("the first reset must reset every env (no reset_mask)")
        puzzles = options.get("puzzles")
        if options.get("puzzle") is not None:
            puzzles = [options["puzzle"]] * len(rows)
        pool, index = pick_mazes(
            self.pool, self.shape, self.np_random, len(rows), puzzles, options.get("indices")
        )
        self._batch.load(rows, pool, index)
        self._loaded[rows] = True
        return self._batch.observation(), self._infos(self._batch.info())

    def step(
        self, actions: np.ndarray
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every env; finished envs restart on a pool maze drawn with ``np_random``.

        :param actions: (B,) ints in 0..3 (up, right, down, left).
        :return: obs, rewards (B,) float32, terminations (B,) bool, truncations (B,) bool, infos.
        """
        actions = np.asarray(actions).reshape(self.num_envs)
        if actions.dtype.kind not in "iu":
            actions = actions.astype(np.int64)
        if actions.min() < 0 or actions.max() > 3:
            raise ValueError("actions must be in 0..3 (up, right, down, left)")
        rewards, terminations, truncations = self._batch.step(actions.astype(np.int64, copy=False))
        done = terminations | truncations
        step_info = self._batch.info()
        final_obs = {
            "grid": np.zeros((self.num_envs, *self.shape), dtype=np.uint8),
            "action_mask": np.zeros((self.num_envs, 4), dtype=np.int8),
        }
        final_info = self._infos({k: np.zeros_like(v) for k, v in step_info.items()}, done)
        if done.any():
            rows = np.flatnonzero(done)
            final_obs["grid"][rows] = self._batch.grid[rows].reshape(len(rows), *self.shape)
            final_obs["action_mask"][rows] = self._batch.action_masks()[rows]
            for k in INFO_KEYS:
                final_info[k][rows] = step_info[k][rows]
            pool, index = pick_mazes(self.pool, self.shape, self.np_random, len(rows))
            self._batch.load(rows, pool, index)
            step_info = self._batch.info()
        infos = self._infos(step_info)
        infos.update(
            final_obs=final_obs, _final_obs=done, final_info=final_info, _final_info=done.copy()
        )
        return (
            self._batch.observation(),
            rewards.astype(np.float32),
            terminations,
            truncations,
            infos,
        )

    def action_masks(self) -> np.ndarray:
        """(B, 4) bool: the moves that change each agent's cell."""
        return self._batch.action_masks()

    def render(self) -> tuple[str | np.ndarray, ...] | None:
        """One frame per env (see :meth:`MazeEnv.render`)."""
        if self.render_mode is None:
            return None
        grids = self._batch.grid.reshape(self.num_envs, *self.shape)
        if self.render_mode == "ansi":
            return tuple(render_ansi(g) for g in grids)
        goals = [divmod(int(g), self.shape[1]) for g in self._batch.goal]
        return tuple(
            render_rgb(g, goal, self.cell_px) for g, goal in zip(grids, goals, strict=True)
        )

    def _infos(self, info: dict[str, np.ndarray], mask: np.ndarray | None = None) -> dict:
        out: dict[str, Any] = dict(info)
        for k in INFO_KEYS:
            out[f"_{k}"] = self._true.copy() if mask is None else mask.copy()
        return out
