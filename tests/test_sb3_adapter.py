"""The SB3 VecEnv adapter over the natively batched envs: format translation, same-step
autoreset bookkeeping, batched action masks, and MaskablePPO end to end."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from sb3_contrib import MaskablePPO
from sb3_contrib.common.maskable.utils import get_action_masks, is_masking_supported

import envs  # noqa: F401
from trm_rl.policies.vec_env import SB3VecEnvAdapter, make_sb3_vec_env


@pytest.mark.parametrize("env_id", ["trm_rl/Maze-5x5-v0", "trm_rl/Sudoku-4x4-v0"])
def test_adapter_steps_and_terminal_observation(env_id: str) -> None:
    venv = make_sb3_vec_env(env_id, num_envs=8, seed=3, monitor=False, max_steps=12)
    obs = venv.reset()
    assert obs["grid"].shape[0] == 8
    assert is_masking_supported(venv)
    rng = np.random.default_rng(0)
    saw_done = False
    for _ in range(40):
        masks = get_action_masks(venv)
        assert masks.shape == (8, venv.action_space.n)
        actions = np.array([rng.choice(np.flatnonzero(m)) for m in masks])
        obs, rewards, dones, infos = venv.step(actions)
        assert rewards.dtype == np.float32 and dones.dtype == bool
        assert len(infos) == 8
        for i in np.flatnonzero(dones):
            saw_done = True
            term = infos[i]["terminal_observation"]
            assert set(term) == {"grid", "action_mask"}
            assert term["grid"].shape == obs["grid"].shape[1:]
            assert isinstance(infos[i]["TimeLimit.truncated"], bool)
    assert saw_done, "max_steps=12 must end some episodes within 40 steps"


@pytest.mark.parametrize("env_id", ["trm_rl/Maze-5x5-v0", "trm_rl/Sudoku-4x4-v0"])
def test_adapter_infos_are_the_batched_infos_split_per_env(env_id: str) -> None:
    raw = gym.make_vec(env_id, num_envs=6, vectorization_mode="vector_entry_point", max_steps=5)
    adapted = make_sb3_vec_env(env_id, num_envs=6, seed=2, monitor=False, max_steps=5)
    raw.reset(seed=2)
    adapted.reset()
    rng = np.random.default_rng(1)
    for _ in range(12):
        masks = raw.action_masks()
        actions = np.array([rng.choice(np.flatnonzero(m)) for m in masks])
        _, _, term, trunc, batched = raw.step(actions)
        _, _, dones, infos = adapted.step(actions)
        np.testing.assert_array_equal(dones, term | trunc)
        for i, info in enumerate(infos):
            source = batched["final_info"] if dones[i] else batched
            for key in source:
                if key.startswith("_") or key in ("final_obs", "final_info"):
                    continue
                assert info[key] == source[key][i], (key, i)
                assert not isinstance(info[key], np.generic), "numpy scalars become Python ones"


def test_adapter_rejects_next_step_autoreset() -> None:
    sync = gym.make_vec("trm_rl/Maze-5x5-v0", num_envs=2, vectorization_mode="sync")
    with pytest.raises(ValueError, match="SAME_STEP"):
        SB3VecEnvAdapter(sync)


def test_adapter_seed_is_deterministic() -> None:
    a = make_sb3_vec_env("trm_rl/Sudoku-4x4-v0", num_envs=4, seed=11, monitor=False)
    b = make_sb3_vec_env("trm_rl/Sudoku-4x4-v0", num_envs=4, seed=11, monitor=False)
    np.testing.assert_array_equal(a.reset()["grid"], b.reset()["grid"])


def test_maskable_ppo_learns_on_batched_env() -> None:
    torch.set_num_threads(1)
    venv = make_sb3_vec_env("trm_rl/Sudoku-4x4-v0", num_envs=16, seed=0)
    model = MaskablePPO("MultiInputPolicy", venv, n_steps=16, batch_size=64, n_epochs=1, seed=0)
    model.learn(512)
    obs = venv.reset()
    actions, _ = model.predict(obs, action_masks=get_action_masks(venv), deterministic=True)
    assert actions.shape == (16,)
    assert get_action_masks(venv)[np.arange(16), actions].all()
