"""Stable-Baselines3 ``VecEnv`` adapter for the natively batched environments.

SB3 does not consume ``gymnasium.vector`` environments: it expects its own ``VecEnv`` API
(``step_async``/``step_wait``, a list of per-env info dicts, ``info["terminal_observation"]``
and ``info["TimeLimit.truncated"]`` on the step where an episode ends). Our batched envs
(``envs.maze.vector.MazeVectorEnv``, ``envs.sudoku.vector.SudokuVectorEnv``) already reset
finished sub-environments in the same step (``AutoresetMode.SAME_STEP``), so the adapter only
translates formats; it never loops over environments to step them.

``action_masks`` is forwarded as one batched call, so ``sb3_contrib.MaskablePPO`` can use the
adapter directly::

    from sb3_contrib import MaskablePPO
    from trm_rl.policies.vec_env import make_sb3_vec_env

    venv = make_sb3_vec_env("trm_rl/Sudoku-4x4-v0", num_envs=64, seed=0)
    model = MaskablePPO("MultiInputPolicy", venv, n_steps=32).learn(10_000)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from stable_baselines3.common.vec_env import VecMonitor
from stable_baselines3.common.vec_env.base_vec_env import (
    VecEnv,
    VecEnvIndices,
    VecEnvObs,
    VecEnvStepReturn,
)

import envs  # noqa: F401  (registers the ids)
from envs.utils import check_int

__all__ = ["SB3VecEnvAdapter", "make_sb3_vec_env"]

_FINAL_KEYS = ("final_obs", "_final_obs", "final_info", "_final_info")


def _rows(tree: Any, index: int) -> Any:
    """Row ``index`` of a batched observation (an array or a flat dict of arrays)."""
    if isinstance(tree, dict):
        return {key: value[index] for key, value in tree.items()}
    return tree[index]


class SB3VecEnvAdapter(VecEnv):
    """Expose a same-step-autoreset ``gymnasium.vector.VectorEnv`` as an SB3 ``VecEnv``.

    :param venv: a batched env whose ``metadata["autoreset_mode"]`` is
        ``AutoresetMode.SAME_STEP`` and whose infos carry ``final_obs``/``_final_obs`` as
        batched arrays (the convention of every vector env in ``envs``).
    """

    def __init__(self, venv: VectorEnv) -> None:
        mode = venv.metadata.get("autoreset_mode")
        if mode != AutoresetMode.SAME_STEP:
            raise ValueError(
                f"SB3VecEnvAdapter needs a vector env that resets finished episodes in the same "
                f"step (AutoresetMode.SAME_STEP), got autoreset_mode={mode!r}. Build it with "
                f'gymnasium.make_vec(env_id, num_envs, vectorization_mode="vector_entry_point") '
                f"for the trm_rl envs."
            )
        self.venv = venv
        self.render_mode = venv.render_mode
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)
        self._actions: np.ndarray | None = None

    # -- stepping -------------------------------------------------------------------------
    def reset(self) -> VecEnvObs:
        seed = self._seeds[0]
        options = self._merged_options()
        obs, infos = self.venv.reset(seed=seed, options=options)
        self.reset_infos = self._split_infos(infos)
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> VecEnvStepReturn:
        if self._actions is None:
            raise RuntimeError("step_wait() called without a pending step_async(actions).")
        actions, self._actions = self._actions, None  # consumed even if the step fails
        obs, rewards, terminated, truncated, infos = self.venv.step(actions)
        dones = np.logical_or(terminated, truncated)
        info_list = self._split_infos(infos)
        if dones.any():
            final_obs = infos["final_obs"]
            for i in np.flatnonzero(dones):
                info = info_list[i]
                if infos.get("_final_info") is not None and infos["_final_info"][i]:
                    info.update(
                        {key: _item(value[i]) for key, value in infos["final_info"].items()}
                    )
                info["terminal_observation"] = _rows(final_obs, i)
                info["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
        return obs, rewards.astype(np.float32, copy=False), dones, info_list

    def _split_infos(self, infos: dict[str, Any]) -> list[dict[str, Any]]:
        """Per-env info dicts from batched arrays (keys valid for every env: one ``tolist``
        per key and one ``dict(zip(...))`` per env, the cheapest split in pure Python)."""
        keys = [k for k in infos if k not in _FINAL_KEYS and not k.startswith("_")]
        full = [k for k in keys if infos.get(f"_{k}") is None or infos[f"_{k}"].all()]
        columns = [_as_list(infos[k]) for k in full]
        if full:
            out = [dict(zip(full, row, strict=True)) for row in zip(*columns, strict=True)]
        else:
            out = [{} for _ in range(self.num_envs)]
        for key in keys:
            if key in full:
                continue
            values = infos[key]
            for i in np.flatnonzero(infos[f"_{key}"]):
                out[i][key] = _item(values[i])
        return out

    def _merged_options(self) -> dict[str, Any] | None:
        """The per-env options of ``set_options`` as one batched ``reset`` options dict: each
        env gets exactly its own options (an env without any draws from the pool)."""
        opts = self._options
        if not any(opts):
            return None
        if len(opts) != self.num_envs:
            raise ValueError(
                f"set_options got {len(opts)} option dicts for {self.num_envs} envs; pass one "
                "dict per env (an empty dict draws from the pool) or a single dict for all"
            )
        keys: dict[str, str] = getattr(self.venv, "per_env_option_keys", {})
        merged: dict[str, list] = {}
        for i, env_options in enumerate(opts):
            if not isinstance(env_options, dict):
                raise ValueError(
                    f"options of env {i} must be a dict, got {type(env_options).__name__}"
                )
            unknown = sorted(set(env_options) - set(keys), key=str)
            if unknown:
                raise ValueError(
                    f"env {i} got reset option(s) {unknown} that {type(self.venv).__name__} "
                    f"cannot apply per env; accepted keys are {sorted(keys)}"
                )
            for key, value in env_options.items():
                merged.setdefault(keys[key], [None] * self.num_envs)[i] = value
        return merged

    def close(self) -> None:
        self.venv.close()

    # -- attribute access -----------------------------------------------------------------
    def _indices(self, indices: VecEnvIndices) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        single = isinstance(indices, int | np.integer) and not isinstance(indices, bool | np.bool_)
        idx = [indices] if single else list(indices)
        bad = [
            i
            for i in idx
            if isinstance(i, bool | np.bool_)
            or not isinstance(i, int | np.integer)
            or not 0 <= i < self.num_envs
        ]
        if bad:
            raise ValueError(f"env indices {bad} are not in [0, {self.num_envs})")
        return [int(i) for i in idx]

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        value = getattr(self.venv, attr_name)
        return [value for _ in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set an attribute of the batched env, which all its envs share.

        :raises ValueError: when ``indices`` names only some envs (that cannot be honoured:
            one attribute serves the whole batch).
        """
        idx = self._indices(indices)
        if sorted(idx) != list(range(self.num_envs)):
            raise ValueError(
                f"set_attr({attr_name!r}, indices={indices!r}): the {self.num_envs} envs of a "
                f"batched {type(self.venv).__name__} share their attributes, so one cannot be "
                "set for some envs only; call set_attr without indices"
            )
        setattr(self.venv, attr_name, value)

    def env_method(
        self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs
    ) -> list[Any]:
        """Call a batched method once and split its result per environment.

        ``action_masks`` returns a ``(num_envs, n_actions)`` array, so
        ``np.stack(env_method("action_masks"))`` (what MaskablePPO does) costs one copy.
        """
        result = getattr(self.venv, method_name)(*method_args, **method_kwargs)
        idx = self._indices(indices)
        if isinstance(result, np.ndarray) and result.shape[:1] == (self.num_envs,):
            return result[idx] if len(idx) != self.num_envs else result  # type: ignore[return-value]
        return [result for _ in idx]

    def env_is_wrapped(
        self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None
    ) -> list[bool]:
        return [False for _ in self._indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        frames = self.venv.render()
        if frames is None:
            return [None] * self.num_envs
        return list(frames)


def _as_list(values: Any) -> list:
    """A batched column as a list of Python scalars (numpy arrays) or objects (anything else)."""
    return values.tolist() if isinstance(values, np.ndarray) and values.ndim == 1 else list(values)


def _item(value: Any) -> Any:
    """Numpy scalars become Python scalars so infos look like a single env's."""
    return value.item() if isinstance(value, np.generic) else value


def make_sb3_vec_env(
    env_id: str,
    num_envs: int,
    seed: int | None = None,
    monitor: bool = True,
    info_keywords: Iterable[str] = ("is_success",),
    **kwargs: Any,
) -> VecEnv:
    """Build a natively batched trm_rl env and wrap it for Stable-Baselines3.

    :param env_id: a registered id such as ``"trm_rl/Maze-9x9-v0"``.
    :param num_envs: number of parallel environments in the batch.
    :param seed: seed for the first ``reset`` (``None`` draws fresh entropy).
    :param monitor: wrap in ``VecMonitor`` so episode returns/lengths reach SB3's logger.
    :param info_keywords: info keys that ``VecMonitor`` copies into episode records.
    :param kwargs: constructor arguments of the environment (``size=``, ``max_steps=`` ...).
    :return: an SB3 ``VecEnv``.
    """
    check_int("seed", seed, low=0, allow_none=True)
    venv = gym.make_vec(
        env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs
    )
    adapter: VecEnv = SB3VecEnvAdapter(venv)
    if seed is not None:
        adapter.seed(seed)
    if monitor:
        adapter = VecMonitor(adapter, info_keywords=tuple(info_keywords))
    return adapter
