"""MazeEnv: both env checkers, determinism, rendering, truncation, pickling, reset options."""

from __future__ import annotations

import pickle
import re
import warnings

import gymnasium as gym
import numpy as np
import pytest
from conftest import rollout, same
from gymnasium.utils.env_checker import check_env

import envs
from envs.maze import OPEN, PATH, START, MazeEnv, parse_puzzle

MAZE_IDS = [i for i in envs.ENV_IDS if "Maze" in i]
# 5x5, row-major: S top-left, G bottom-right, one corridor.
PUZZLE = "S    " + "#### " + "     " + " ####" + "    G"
# SB3 recommends flat or image observations; our (H, W) token grid is neither by design.
SB3_GRID_WARNING = "unconventional shape"


@pytest.mark.parametrize("env_id", MAZE_IDS)
@pytest.mark.parametrize("render_mode", ["ansi", "rgb_array"])
def test_gymnasium_check_env(env_id, render_mode):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(gym.make(env_id, render_mode=render_mode).unwrapped)


@pytest.mark.parametrize("env_id", MAZE_IDS)
def test_sb3_check_env(env_id):
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sb3_check_env(gym.make(env_id).unwrapped)
    other = [str(w.message) for w in caught if SB3_GRID_WARNING not in str(w.message)]
    assert other == []


@pytest.mark.parametrize("env_id", MAZE_IDS)
def test_make_builds_a_fresh_pool(env_id):
    env = gym.make(env_id, pool_seed=12345)  # a fresh pool: no cache hit
    obs, _ = env.reset(seed=0)
    assert obs["grid"] in env.observation_space["grid"]


def test_gym_make_passes_kwargs():
    env = gym.make("trm_rl/Maze-v0", size=11, braid=0.3, shaping=True, max_steps=7)
    assert env.observation_space["grid"].shape == (11, 11)
    assert env.unwrapped.max_steps == 7


@pytest.mark.parametrize("env_id", ["trm_rl/Maze-5x5-v0", "trm_rl/MazeHard-v0"])
def test_same_seed_same_rollout(env_id):
    a, b = gym.make(env_id), gym.make(env_id)
    assert same(rollout(a, 3, 200, legal_only=False), rollout(b, 3, 200, legal_only=False))
    assert not same(rollout(a, 3, 0)[0], rollout(b, 4, 0)[0])


def test_observation_and_info():
    env = MazeEnv(generator=None, size=5)
    obs, info = env.reset(options={"puzzle": PUZZLE})
    assert obs["grid"].dtype == np.uint8 and obs["grid"].shape == (5, 5)
    assert obs["grid"][0, 0] == START and obs["grid"][4, 4] == 4
    np.testing.assert_array_equal(obs["action_mask"], [0, 1, 0, 0])
    np.testing.assert_array_equal(env.action_masks(), [False, True, False, False])
    assert info == {
        "shortest_path_length": 16,
        "distance_to_goal": 16,
        "is_success": False,
        "steps": 0,
    }
    obs2, reward, terminated, truncated, info2 = env.step(0)  # up: off the grid, a no-op
    assert reward == pytest.approx(-0.01) and not terminated and not truncated
    assert info2["steps"] == 1 and info2["distance_to_goal"] == 16
    assert obs2["grid"] is not obs["grid"] and np.array_equal(obs2["grid"], obs["grid"])
    obs3, *_ = env.step(1)  # right
    assert obs3["grid"][0, 0] == OPEN and obs3["grid"][0, 1] == START
    assert parse_puzzle(obs3["grid"]).start == (0, 1)  # every observation is a valid question


def test_shortest_route_reaches_goal_and_trail():
    env = MazeEnv(size=5, mark_trail=True, step_cost=0.1)
    env.reset(options={"puzzle": PUZZLE})
    route = [1] * 4 + [2] * 2 + [3] * 4 + [2] * 2 + [1] * 4
    total = 0.0
    for i, a in enumerate(route):
        obs, reward, terminated, truncated, info = env.step(a)
        total += reward
        assert terminated == (i == len(route) - 1) and not truncated
    assert info["is_success"] and info["distance_to_goal"] == 0 and info["steps"] == 16
    assert total == pytest.approx(1.0 - 0.1 * 15)
    assert obs["grid"][4, 4] == START and (obs["grid"] == PATH).sum() == 16


def test_truncation_at_max_steps():
    env = MazeEnv(size=5, max_steps=3)
    env.reset(options={"puzzle": PUZZLE})
    flags = [env.step(0)[2:4] for _ in range(3)]
    assert flags == [(False, False), (False, False), (False, True)]
    assert MazeEnv(size=9).max_steps == 4 * 81


@pytest.mark.parametrize("render_mode", ["ansi", "rgb_array"])
def test_render_modes(render_mode):
    env = MazeEnv(size=5, render_mode=render_mode, cell_px=4)
    env.reset(options={"puzzle": PUZZLE})
    frame = env.render()
    if render_mode == "ansi":
        assert isinstance(frame, str) and "S" in frame and "G" in frame
        assert frame.splitlines()[1] == "|S    |"
    else:
        assert frame.shape == (20, 20, 3) and frame.dtype == np.uint8
        colours = {tuple(frame[r, c]) for r, c in [(0, 0), (5, 0), (0, 5), (19, 19)]}
        assert len(colours) == 4  # agent, wall, open, goal are distinct
    assert MazeEnv(size=5).render() is None


def test_pickle_round_trip():
    env = MazeEnv(size=7, mark_trail=True)
    env.reset(seed=1)
    env.step(1)
    clone = pickle.loads(pickle.dumps(env))
    for a in [0, 1, 2, 3, 2, 2]:
        assert same(env.step(a), clone.step(a))


def test_options_index_and_array_puzzles():
    env = MazeEnv(dataset="maze-hard")
    _, info = env.reset(options={"index": 0})
    assert info["shortest_path_length"] == 112  # row 0 of the CSV
    chars = np.array(list(PUZZLE)).reshape(5, 5)
    small = MazeEnv(size=5)
    for puzzle in (chars, parse_puzzle(PUZZLE).grid, parse_puzzle(PUZZLE)):
        assert small.reset(options={"puzzle": puzzle})[1]["shortest_path_length"] == 16


@pytest.mark.parametrize(
    ("puzzle", "message"),
    [
        (PUZZLE[:-1], "24 characters, expected 25"),
        (PUZZLE[:-1] + "x", "bad characters ['x']"),
        (PUZZLE.replace("S", " "), "no start 'S'"),
        (PUZZLE.replace("G", "S"), "2 ((0, 0), (4, 4)) start 'S'"),
        (PUZZLE.replace("G", " "), "no goal 'G'"),
        ("S#G  " + "##   " + " " * 15, "unsolvable: no path from S at (0, 0)"),
        (np.full((4, 4), 2), "shape (4, 4), expected 5x5"),
        (np.full((5, 5), 7), "bad tokens [7]"),
    ],
)
def test_malformed_puzzles(puzzle, message):
    env = MazeEnv(size=5)
    with pytest.raises(ValueError, match=re.escape(message)):
        env.reset(options={"puzzle": puzzle})


def test_bad_arguments():
    with pytest.raises(ValueError, match="does not exist"):
        MazeEnv(dataset="no/such/file.csv")
    with pytest.raises(ValueError, match="algorithm"):
        MazeEnv(algorithm="kruskal")
    with pytest.raises(ValueError, match="impossible"):
        MazeEnv(size=5, min_path_length=50)
    with pytest.raises(ValueError, match=r"action must be in 0\.\.3"):
        env = MazeEnv(size=5)
        env.reset(seed=0)
        env.step(4)


def test_malformed_dataset_file(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("index,question\n0,S###G\n")
    with pytest.raises(ValueError, match=r"bad\.csv.*line 2.*not a square"):
        MazeEnv(dataset=str(bad))
    header = tmp_path / "header.csv"
    header.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"header\.csv.*header"):
        MazeEnv(dataset=str(header))


def test_shaping_is_potential_based():
    """With shaping_gamma=1 the shaped return is the plain return plus phi(s_T) - phi(s_0)."""
    kwargs = dict(size=9, max_steps=60)
    plain, shaped = MazeEnv(**kwargs), MazeEnv(shaping=True, shaping_gamma=1.0, **kwargs)
    _, info = plain.reset(seed=5)
    shaped.reset(seed=5)
    rng = np.random.default_rng(0)
    returns = [0.0, 0.0]
    for _ in range(60):
        a = int(rng.integers(4))
        s1, s2 = plain.step(a), shaped.step(a)
        returns[0] += s1[1]
        returns[1] += s2[1]
        if s1[2] or s1[3]:
            break
    phi = lambda d: -d / 18  # noqa: E731
    expected = returns[0] + phi(s1[4]["distance_to_goal"]) - phi(info["distance_to_goal"])
    assert returns[1] == pytest.approx(expected, abs=1e-9)
