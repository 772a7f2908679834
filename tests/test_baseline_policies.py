"""SB3 baseline policies: extractor shapes, parameter matching, MaskablePPO smoke and save/load."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from sb3_contrib import MaskablePPO
from stable_baselines3.common.utils import obs_as_tensor

import envs  # noqa: F401  (registers the ids)
from baselines.policies import (
    OneHotGridExtractor,
    ResidualConvExtractor,
    count_policy_params,
    matched_conv_policy_kwargs,
    matched_mlp_policy_kwargs,
)
from envs.maze.types import START
from trm_rl.policies.evaluate import run_episodes, sb3_policy
from trm_rl.policies.vec_env import make_sb3_vec_env

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MAZE, SUDOKU = "trm_rl/Maze-9x9-v0", "trm_rl/Sudoku-4x4-v0"
GAMES = [MAZE, SUDOKU]
MATCHERS = [matched_mlp_policy_kwargs, matched_conv_policy_kwargs]


def _spaces(env_id: str) -> tuple[gym.spaces.Dict, gym.spaces.Discrete]:
    venv = gym.make_vec(env_id, num_envs=1, vectorization_mode="vector_entry_point", pool_size=8)
    return venv.single_observation_space, venv.single_action_space


def _batch(env_id: str, num_envs: int = 3) -> dict[str, torch.Tensor]:
    """A reset observation as SB3 hands it to an extractor (float tensors)."""
    venv = gym.make_vec(
        env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", pool_size=8
    )
    obs, _ = venv.reset(seed=0)
    return {k: v.float() for k, v in obs_as_tensor(obs, torch.device("cpu")).items()}


# ---------------------------------------------------------------------------------- extractors
@pytest.mark.parametrize(("env_id", "cells", "vocab"), [(MAZE, 81, 6), (SUDOKU, 16, 6)])
def test_one_hot_extractor_flattens_the_grid(env_id: str, cells: int, vocab: int) -> None:
    space, _ = _spaces(env_id)
    extractor = OneHotGridExtractor(space)
    obs = _batch(env_id)
    features = extractor(obs)
    assert extractor.features_dim == cells * vocab
    assert features.shape == (3, cells * vocab)
    assert torch.equal(features.view(3, cells, vocab).argmax(-1), obs["grid"].flatten(1).long())


@pytest.mark.parametrize(("env_id", "dim"), [(MAZE, 2 * 16), (SUDOKU, 16 * 4 + 16)])
def test_conv_extractor_shapes(env_id: str, dim: int) -> None:
    space, _ = _spaces(env_id)
    extractor = ResidualConvExtractor(space, channels=16, blocks=2)
    assert extractor.readout == ("agent" if env_id == MAZE else "cells")
    assert extractor.features_dim == dim
    assert extractor(_batch(env_id)).shape == (3, dim)


def test_conv_agent_readout_reads_the_agent_cell() -> None:
    space, _ = _spaces(MAZE)
    extractor = ResidualConvExtractor(space, channels=8, blocks=0)  # features are per cell
    obs = _batch(MAZE, 1)
    token_features = torch.relu(extractor.final_norm(extractor.embed.weight))  # [V, C]
    features = extractor(obs)[0]
    assert torch.allclose(features[:8], token_features[START])  # the agent's cell
    cells = token_features[obs["grid"].flatten().long()]
    assert torch.allclose(features[8:], cells.mean(0))  # the mean over the cells


def test_conv_extractor_runs_on_other_grid_sizes() -> None:
    small, large = _spaces("trm_rl/Maze-5x5-v0")[0], _spaces("trm_rl/Maze-15x15-v0")[0]
    extractor = ResidualConvExtractor(small, channels=8, blocks=2)
    obs = _batch("trm_rl/Maze-15x15-v0", 2)
    assert extractor(obs).shape == (2, 16)
    assert ResidualConvExtractor(large, channels=8, blocks=2).features_dim == 16


# ---------------------------------------------------------------------------------- matching
@pytest.mark.parametrize("env_id", GAMES)
@pytest.mark.parametrize("matcher", MATCHERS)
@pytest.mark.parametrize("target", [30_000, 80_000, 200_000])
def test_matched_policies_are_within_5_percent(env_id: str, matcher, target: int) -> None:
    obs_space, action_space = _spaces(env_id)
    kwargs = matcher(target, obs_space, action_space)
    count = count_policy_params(obs_space, action_space, kwargs)
    assert abs(count - target) / target <= 0.05


def test_count_matches_the_model_maskable_ppo_builds() -> None:
    venv = make_sb3_vec_env(SUDOKU, 2, seed=0)
    kwargs = matched_conv_policy_kwargs(50_000, venv.observation_space, venv.action_space)
    model = MaskablePPO("MultiInputPolicy", venv, policy_kwargs=kwargs, n_steps=8, batch_size=8)
    built = sum(p.numel() for p in model.policy.parameters())
    assert built == count_policy_params(venv.observation_space, venv.action_space, kwargs)
    assert "ortho_init" not in kwargs  # SB3's default (orthogonal) init


def test_conv_matching_moves_the_block_count_when_channels_cannot_match() -> None:
    obs_space, action_space = _spaces(MAZE)
    kwargs = matched_conv_policy_kwargs(10_500, obs_space, action_space, blocks=30)
    assert kwargs["features_extractor_kwargs"]["blocks"] < 30
    count = count_policy_params(obs_space, action_space, kwargs)
    assert abs(count - 10_500) / 10_500 <= 0.05


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda o, a: matched_mlp_policy_kwargs(100, o, a), "smallest MLP policy has"),
        (lambda o, a: matched_conv_policy_kwargs(100, o, a), "lower head_width"),
        (lambda o, a: matched_mlp_policy_kwargs(0, o, a), "target_params must be"),
        (lambda o, a: matched_mlp_policy_kwargs(10_000, o["grid"], a), "trm_rl observation"),
        (lambda o, a: matched_conv_policy_kwargs(10_000, o, gym.spaces.Box(0, 1)), "Discrete"),
        (lambda o, a: matched_conv_policy_kwargs(10_000, o, a, readout="x"), "readout must be"),
        (lambda o, a: ResidualConvExtractor(o, channels=0), "channels must be"),
    ],
)
def test_bad_inputs_raise_clear_errors(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(*_spaces(MAZE))


# ---------------------------------------------------------------------------------- training
@pytest.mark.parametrize("env_id", GAMES)
@pytest.mark.parametrize("matcher", MATCHERS)
def test_maskable_ppo_learns_and_round_trips(env_id: str, matcher, tmp_path) -> None:
    venv = make_sb3_vec_env(env_id, 2, seed=0)
    kwargs = matcher(30_000, venv.observation_space, venv.action_space)
    model = MaskablePPO(
        "MultiInputPolicy",
        venv,
        policy_kwargs=kwargs,
        n_steps=32,
        batch_size=32,
        n_epochs=1,
        seed=0,
        device="cpu",
    )
    model.learn(64)
    obs = venv.reset()
    masks = np.stack(venv.env_method("action_masks"))
    actions, _ = model.predict(obs, action_masks=masks, deterministic=True)
    assert masks[np.arange(2), actions].all()
    model.save(tmp_path / "model.zip")
    loaded = MaskablePPO.load(tmp_path / "model.zip", device="cpu")
    again, _ = loaded.predict(obs, action_masks=masks, deterministic=True)
    np.testing.assert_array_equal(actions, again)
    assert type(loaded.policy.features_extractor) is kwargs["features_extractor_class"]
    limits = {"max_steps": 16} if env_id == MAZE else {}
    result = run_episodes(env_id, sb3_policy(loaded), _puzzles(env_id), env_kwargs=limits)
    assert result.episodes == 3


def _puzzles(env_id: str) -> list:
    """Three puzzles of the env's pool (evaluation plays each once)."""
    venv = gym.make_vec(env_id, num_envs=3, vectorization_mode="vector_entry_point", pool_size=8)
    if env_id == MAZE:
        return list(venv.pool.grids[:3])
    return list(venv.generator.puzzles[:3])
