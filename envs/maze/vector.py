"""``MazeVectorEnv``: B Maze envs stepped together in numpy, with same-step autoreset."""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from envs.maze.batch import INFO_KEYS, MazeBatch, load_episodes, plan_episodes, start_episodes
from envs.maze.config import MazeConfig
from envs.maze.env import MOVES_TEXT, RENDER_MODES, check_render_mode, observation_space
from envs.maze.pool import Generator, build_pool
from envs.maze.render import render_ansi, render_rgb
from envs.maze.rules import sample_legal_actions
from envs.utils import check_actions, check_int, check_options, per_env_options, reset_rows

__all__ = ["MazeVectorEnv", "sample_legal_actions"]

#: Keys of ``MazeVectorEnv.reset(options=...)``.
RESET_OPTIONS = ("puzzles", "puzzle", "indices", "index", "reset_mask")


class MazeVectorEnv(gym.vector.VectorEnv):
    """A natively batched :class:`~envs.maze.env.MazeEnv`: same kwargs, same transitions.

    Every step is a handful of numpy operations over the batch (no per-env Python loop); only
    the two grid cells that change per env are written. Finished envs are reset in the same step
    (``AutoresetMode.SAME_STEP``): the returned ``obs``/``infos`` rows of a finished env already
    belong to its next episode, and its last observation and info are in
    ``infos["final_obs"]`` / ``infos["final_info"]`` (dicts of batched arrays, rows valid where
    ``infos["_final_obs"]`` / ``infos["_final_info"]`` are True). ``infos`` holds the single
    env's info keys as batched arrays, each with the usual ``_key`` mask.

    ``reset(options=...)`` accepts ``"puzzles"`` (one entry per reset env: a puzzle, or None
    to draw from the pool), ``"puzzle"`` (the same puzzle for every reset env), ``"indices"``
    (one pool index or None per reset env), ``"index"`` (one pool index for all) and
    ``"reset_mask"`` ((B,) bool: reset only those envs; the others keep their episode). An env
    may get a puzzle or an index, not both.

    :param num_envs: batch size B.
    :param render_mode: as :class:`~envs.maze.env.MazeEnv`.
    :param config: a :class:`~envs.maze.config.MazeConfig`, or its fields as keyword arguments.
    :param generator: an injected maze generator, as :class:`~envs.maze.env.MazeEnv`.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": list(RENDER_MODES),
        "render_fps": 8,
        "autoreset_mode": AutoresetMode.SAME_STEP,
    }

    #: Single-env reset options and the batched option that carries them per env (the SB3
    #: adapter turns ``set_options([{...}, ...])`` into one batched reset with these).
    per_env_option_keys: ClassVar[dict[str, str]] = {"puzzle": "puzzles", "index": "indices"}

    def __init__(
        self,
        num_envs: int = 1,
        render_mode: str | None = None,
        *,
        config: MazeConfig | None = None,
        generator: Generator | None = None,
        **kwargs: Any,
    ) -> None:
        check_render_mode(render_mode)
        self.num_envs = check_int("num_envs", num_envs, low=1)
        self.render_mode = render_mode
        self.config = MazeConfig.from_kwargs(config, **kwargs)
        self.pool = build_pool(self.config, generator)
        self.shape = self.pool.shape
        self._batch = MazeBatch(self.num_envs, self.shape, self.config)
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
        """Start new episodes (all envs, or those in ``options["reset_mask"]``). Options are
        validated before anything changes: a bad one raises and leaves every env as it was."""
        options = check_options(options, RESET_OPTIONS, "MazeVectorEnv")
        rows = self._all
        if options.get("reset_mask") is not None:
            rows = reset_rows(options["reset_mask"], self.num_envs)
            if not self._loaded.all() and not np.array_equal(rows, self._all):
                raise ValueError("the first reset must reset every env (no reset_mask)")
        puzzles, indices = per_env_options(options, len(rows), ("puzzles", "indices"))
        plan = plan_episodes(rows, self.pool, puzzles, indices)
        super().reset(seed=seed)
        start_episodes(self._batch, plan, self.pool, self.np_random)
        self._loaded[rows] = True
        return self._batch.observation(), self._infos(self._batch.info())

    def step(
        self, actions: np.ndarray
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every env; finished envs restart on a pool maze drawn with ``np_random``.

        :param actions: (B,) ints in 0..3 (up, right, down, left).
        :return: obs, rewards (B,) float32, terminations (B,) bool, truncations (B,) bool, infos.
        """
        if not self._loaded.all():
            raise gym.error.ResetNeeded("MazeVectorEnv.step() needs reset() first")
        actions = check_actions(actions, self.num_envs, 4, MOVES_TEXT)
        rewards, terminations, truncations = self._batch.step(actions)
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
            load_episodes(self._batch, rows, self.pool, self.np_random)
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
            render_rgb(g, goal, self.config.cell_px) for g, goal in zip(grids, goals, strict=True)
        )

    def _infos(self, info: dict[str, np.ndarray], mask: np.ndarray | None = None) -> dict:
        out: dict[str, Any] = dict(info)
        for k in INFO_KEYS:
            out[f"_{k}"] = self._true.copy() if mask is None else mask.copy()
        return out
