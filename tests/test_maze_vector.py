"""MazeVectorEnv: same transitions as MazeEnv, make_vec, same-step autoreset contract."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import envs  # noqa: F401  (registers the ids)
from envs.maze import FixedGenerator, MazeEnv, MazeVectorEnv, sample_legal_actions
from envs.maze.batch import INFO_KEYS


def check_single(single_out, vec_out, i):
    """Compare one single-env (obs, reward, terminated, truncated, info) to row i of the batch."""
    obs, reward, terminated, truncated, info = single_out
    vobs, vreward, vterm, vtrunc, vinfo = vec_out
    for k in obs:
        np.testing.assert_array_equal(obs[k], vobs[k][i])
    assert np.float32(reward) == vreward[i]
    assert (terminated, truncated) == (vterm[i], vtrunc[i])
    assert info == {k: vinfo[k][i].item() for k in INFO_KEYS}


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(size=5, max_steps=12),
        dict(size=6, max_steps=25, shaping=True, mark_trail=True, step_cost=0.05),
        dict(size=(7, 9), algorithm="prim", braid=0.5, max_steps=30, shaping=True),
    ],
)
def test_vector_matches_single_env_across_autoresets(kwargs):
    n = 6
    venv = MazeVectorEnv(num_envs=n, **kwargs)
    singles = [MazeEnv(**kwargs) for _ in range(n)]
    obs, infos = venv.reset(seed=0)
    for i, env in enumerate(singles):
        out = env.reset(options={"puzzle": obs["grid"][i]})  # read the puzzle from the batch
        check_single(
            (*out[:1], 0.0, False, False, out[1]),
            (obs, np.zeros(n), *[np.zeros(n, bool)] * 2, infos),
            i,
        )
    rng = np.random.default_rng(0)
    resets = 0
    for _ in range(150):
        actions = rng.integers(4, size=n)  # illegal moves included
        vec_out = venv.step(actions)
        vobs, _, vterm, vtrunc, vinfos = vec_out
        done = vterm | vtrunc
        np.testing.assert_array_equal(vinfos["_final_obs"], done)
        np.testing.assert_array_equal(vinfos["_final_info"], done)
        for i, env in enumerate(singles):
            out = env.step(int(actions[i]))
            if done[i]:  # the finished episode is in final_obs/final_info
                check_single(out, (vinfos["final_obs"], *vec_out[1:4], vinfos["final_info"]), i)
                new_obs, new_info = env.reset(options={"puzzle": vobs["grid"][i]})
                np.testing.assert_array_equal(new_obs["grid"], vobs["grid"][i])
                np.testing.assert_array_equal(new_obs["action_mask"], vobs["action_mask"][i])
                assert new_info == {k: vinfos[k][i].item() for k in INFO_KEYS}
                resets += 1
            else:
                check_single(out, vec_out, i)
    assert resets > 10


def test_make_vec_and_spaces():
    venv = gym.make_vec("trm_rl/Maze-9x9-v0", num_envs=3, vectorization_mode="vector_entry_point")
    env = gym.make("trm_rl/Maze-9x9-v0")
    assert isinstance(venv, MazeVectorEnv)
    assert venv.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    assert venv.single_observation_space == env.observation_space
    assert venv.single_action_space == env.action_space
    obs, infos = venv.reset(seed=1)
    assert venv.observation_space.contains(obs)
    assert obs["grid"].shape == (3, 9, 9) and obs["grid"].dtype == np.uint8
    actions = venv.action_space.sample()
    obs, rewards, terms, truncs, infos = venv.step(actions)
    assert rewards.dtype == np.float32 and rewards.shape == (3,)
    assert terms.dtype == bool and truncs.dtype == bool
    assert set(INFO_KEYS) <= infos.keys() and {"final_obs", "final_info"} <= infos.keys()
    assert venv.action_masks().shape == (3, 4) and venv.action_masks().dtype == bool
    hard = gym.make_vec("trm_rl/MazeHard-v0", num_envs=2, vectorization_mode="vector_entry_point")
    assert hard.reset(seed=0)[0]["grid"].shape == (2, 30, 30)


def test_same_step_autoreset_semantics():
    corridor = FixedGenerator("S   G" + "#" * 20)  # autoresets restart the same corridor
    venv = MazeVectorEnv(num_envs=2, generator=corridor, max_steps=3)
    obs, _ = venv.reset(seed=0)
    before = obs["grid"].copy()
    for _ in range(3):
        obs, _, terms, truncs, infos = venv.step(np.array([1, 3]))  # env 0 right, env 1 stuck
    # Step 3: env 0 is not at G yet (needs 4) and both hit max_steps: truncated, reset same step.
    assert truncs.all() and not terms.any()
    np.testing.assert_array_equal(infos["final_obs"]["grid"][0, 0], [2, 2, 2, 3, 4])
    np.testing.assert_array_equal(infos["final_obs"]["grid"][1], before[1])
    assert infos["final_info"]["steps"].tolist() == [3, 3]
    assert infos["steps"].tolist() == [0, 0]  # the returned rows are the new episodes
    np.testing.assert_array_equal(obs["grid"], before)
    *_, infos = venv.step(np.array([0, 0]))
    assert not infos["_final_obs"].any() and infos["steps"].tolist() == [1, 1]


def test_reached_goal_reward_and_fresh_arrays():
    venv = MazeVectorEnv(num_envs=2, size=5)
    obs, _ = venv.reset(options={"puzzles": ["S   G" + "#" * 20, "SG   " + "#" * 20]})
    obs2, rewards, terms, _, infos = venv.step(np.array([1, 1]))
    assert terms.tolist() == [False, True] and rewards.tolist() == [np.float32(-0.01), 1.0]
    assert infos["final_info"]["is_success"].tolist() == [False, True]
    assert obs2["grid"] is not obs["grid"]
    obs3, *_ = venv.step(np.array([1, 1]))
    assert not np.shares_memory(obs3["grid"], obs2["grid"])


def test_reset_options_and_errors():
    venv = MazeVectorEnv(num_envs=3, dataset="maze-hard")
    obs, infos = venv.reset(seed=0, options={"indices": [0, 1, 2]})
    assert infos["shortest_path_length"][0] == 112
    stepped = venv.step(np.array([0, 1, 2]))[0]
    obs, infos = venv.reset(options={"reset_mask": [True, False, True], "indices": [5, 6]})
    assert infos["steps"].tolist() == [0, 1, 0]
    np.testing.assert_array_equal(obs["grid"][1], stepped["grid"][1])  # env 1 kept its episode
    with pytest.raises(ValueError, match="got 2 puzzles for 3"):
        venv.reset(options={"puzzles": ["S" + "G" + " " * 898] * 2})
    with pytest.raises(ValueError, match=r"actions must be in 0\.\.3"):
        venv.step(np.array([0, 4, 1]))


def test_pickle_and_random_legal_actions():
    venv = MazeVectorEnv(num_envs=64, size=15)
    venv.reset(seed=0)
    clone = pickle.loads(pickle.dumps(venv))
    rng = np.random.default_rng(0)
    for _ in range(20):
        actions = sample_legal_actions(venv.action_masks(), rng)
        assert venv.action_masks()[np.arange(64), actions].all()
        a, b = venv.step(actions), clone.step(actions)
        np.testing.assert_array_equal(a[0]["grid"], b[0]["grid"])
        np.testing.assert_array_equal(a[1], b[1])
