"""Every registered id through both env checkers, a same-seed determinism rollout, the
vector entry point, and the import contract of ``envs``."""

from __future__ import annotations

import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from conftest import rollout, same
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import envs

ALL_IDS = sorted(envs.ENV_IDS)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_gymnasium_check_env(env_id: str) -> None:
    env = gym.make(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gym_check_env(env.unwrapped, skip_render_check=False)
    env.close()


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_sb3_check_env(env_id: str) -> None:
    env = gym.make(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # The token grid is deliberately 2-D (H, W): SB3 flags any non-image, non-1-D Box as
        # "unconventional" (its MultiInputPolicy flattens it). That advisory is the only
        # warning allowed.
        warnings.filterwarnings("ignore", message=r"Your observation grid has an unconventional")
        sb3_check_env(env.unwrapped, warn=True, skip_render_check=True)
    env.close()


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_same_seed_same_rollout(env_id: str) -> None:
    a, b = gym.make(env_id), gym.make(env_id)
    assert same(rollout(a, 7, 60), rollout(b, 7, 60))
    # a different seed gives a different episode (puzzle pools hold many puzzles)
    assert not same(rollout(a, 7, 60), rollout(b, 8, 60))


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_vector_entry_point(env_id: str) -> None:
    venv = gym.make_vec(env_id, num_envs=4, vectorization_mode="vector_entry_point")
    single = gym.make(env_id)
    assert venv.single_observation_space == single.observation_space
    assert venv.single_action_space == single.action_space
    obs, _ = venv.reset(seed=0)
    assert obs["grid"].shape == (4, *single.observation_space["grid"].shape)
    masks = venv.action_masks()
    assert masks.shape == (4, single.action_space.n) and masks.dtype == bool
    actions = np.array([np.flatnonzero(m)[0] for m in masks])
    obs, rewards, term, trunc, _ = venv.step(actions)
    assert rewards.shape == term.shape == trunc.shape == (4,)
    assert obs["grid"] in venv.observation_space["grid"]
    venv.close()


@pytest.mark.parametrize("env_id", ["trm_rl/Maze-9x9-v0", "trm_rl/Sudoku-9x9-v0"])
def test_module_prefixed_make_without_prior_import(env_id: str) -> None:
    code = (
        "import gymnasium as gym, sys\n"
        f"env = gym.make('envs:{env_id}')\n"
        "env.reset(seed=0)\n"
        "assert 'torch' not in sys.modules, 'importing envs must not import torch'\n"
        "assert 'stable_baselines3' not in sys.modules\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
