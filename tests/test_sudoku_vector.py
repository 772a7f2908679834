"""SudokuVectorEnv: same transitions as SudokuEnv, same-step autoreset, make_vec."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import envs  # noqa: F401  (registers the ids)
from envs.sudoku import SudokuEnv, SudokuVectorEnv, encode_action
from envs.sudoku.rules import sample_legal_actions

PUZZLE_4 = "1.3...1.3.2...4."
SOLUTION_4 = "1234431234212143"


def puzzle_of(grid: np.ndarray) -> np.ndarray:
    """Digits of an observed grid (tokens - 1)."""
    return grid.astype(np.int64) - 1


def assert_same_info(single: dict, vector: dict, i: int) -> None:
    for key, value in single.items():
        assert vector[key][i] == value, key
        assert vector[f"_{key}"][i]


def assert_same_obs(single: dict, vector: dict, i: int) -> None:
    assert set(single) == set(vector)
    for key in single:
        assert np.array_equal(single[key], vector[key][i]), key
        assert single[key].dtype == vector[key].dtype


@pytest.mark.parametrize(("size", "max_steps"), [(4, None), (6, 7), (9, None)])
def test_vector_matches_single_env_across_autoresets(size, max_steps):
    num_envs, rng = 6, np.random.default_rng(size)
    venv = SudokuVectorEnv(num_envs, size=size, max_steps=max_steps)
    singles = [SudokuEnv(size=size, max_steps=max_steps) for _ in range(num_envs)]
    obs, infos = venv.reset(seed=1)
    for i, env in enumerate(singles):
        s_obs, s_info = env.reset(options={"puzzle": puzzle_of(obs["grid"][i])})
        assert_same_obs(s_obs, obs, i)
        assert_same_info(s_info, infos, i)
    resets = 0
    for _ in range(120):
        actions = sample_legal_actions(venv.action_masks(), rng)
        random = rng.random(num_envs) < 0.1  # some illegal actions too
        actions[random] = rng.integers(0, size**3, size=random.sum())
        obs, rewards, terms, truncs, infos = venv.step(actions)
        assert rewards.dtype == np.float32 and terms.dtype == bool and truncs.dtype == bool
        for i, env in enumerate(singles):
            s_obs, s_rew, s_term, s_trunc, s_info = env.step(actions[i])
            assert (s_rew, s_term, s_trunc) == (rewards[i], terms[i], truncs[i])
            if s_term or s_trunc:
                resets += 1
                assert infos["_final_obs"][i] and infos["_final_info"][i]
                assert_same_obs(s_obs, infos["final_obs"], i)
                assert_same_info(s_info, infos["final_info"], i)
                s_obs, s_info = env.reset(options={"puzzle": puzzle_of(obs["grid"][i])})
            elif "_final_obs" in infos:
                assert not infos["_final_obs"][i] and not infos["_final_info"][i]
            assert_same_obs(s_obs, obs, i)
            assert_same_info(s_info, infos, i)
            assert np.array_equal(env.action_masks(), venv.action_masks()[i])
    assert resets >= num_envs


def test_make_vec_vector_entry_point_and_spaces():
    venv = gym.make_vec("trm_rl/Sudoku-9x9-v0", num_envs=3, vectorization_mode="vector_entry_point")
    env = gym.make("trm_rl/Sudoku-9x9-v0")
    assert isinstance(venv.unwrapped, SudokuVectorEnv) and venv.num_envs == 3
    assert venv.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    assert venv.single_observation_space == env.observation_space
    assert venv.single_action_space == env.action_space
    obs, _ = venv.reset(seed=0)
    assert venv.observation_space.contains(obs)
    assert obs["grid"].shape == (3, 9, 9) and obs["action_mask"].shape == (3, 729)
    actions = sample_legal_actions(venv.unwrapped.action_masks(), np.random.default_rng(0))
    assert venv.action_space.contains(actions)
    obs, rewards, terms, truncs, _infos = venv.step(actions)
    assert rewards.shape == terms.shape == truncs.shape == (3,)
    assert venv.unwrapped.action_masks().shape == (3, 729)
    extreme = gym.make_vec(
        "trm_rl/SudokuExtreme-v0", num_envs=2, vectorization_mode="vector_entry_point"
    )
    assert extreme.reset(seed=0)[0]["grid"].shape == (2, 9, 9)


def test_same_step_autoreset_reports_final_obs():
    venv = SudokuVectorEnv(2, size=4)
    obs, _ = venv.reset(seed=0, options={"puzzles": [PUZZLE_4, PUZZLE_4.replace(".", "0")]})
    solution = np.array(list(SOLUTION_4), dtype=int).reshape(4, 4)
    blanks = [divmod(i, 4) for i, ch in enumerate(PUZZLE_4) if ch == "."]
    for k, (r, c) in enumerate(blanks):
        actions = np.array([encode_action(r, c, solution[r, c], 4), encode_action(0, 0, 1, 4)])
        obs, rewards, terms, truncs, infos = venv.step(actions)
        if k < len(blanks) - 1:
            assert "final_obs" not in infos and not terms.any()
    assert rewards.tolist() == [1.0, pytest.approx(-0.1)]
    assert terms.tolist() == [True, False] and not truncs.any()
    assert infos["_final_obs"].tolist() == [True, False]
    assert np.array_equal(infos["final_obs"]["grid"][0], solution + 1)
    assert infos["final_info"]["is_success"][0] and infos["final_info"]["_is_success"][0]
    assert not infos["final_info"]["_is_success"][1]
    assert not infos["is_success"][0] and infos["steps"][0] == 0  # the new episode
    assert infos["num_blanks"][0] == np.count_nonzero(obs["grid"][0] == 1) > 0
    assert infos["num_illegal"][1] == len(blanks) and infos["illegal_action"][1]
    assert not np.shares_memory(obs["action_mask"], infos["final_obs"]["action_mask"])


def test_reset_options_and_seeding():
    venv = SudokuVectorEnv(3, size=4)
    obs, _ = venv.reset(options={"puzzles": [PUZZLE_4] * 3, "solutions": [SOLUTION_4] * 3})
    assert (puzzle_of(obs["grid"]) == puzzle_of(obs["grid"][0])).all()
    obs2, _infos = venv.reset(options={"reset_mask": [False, True, False]})
    assert np.array_equal(obs2["grid"][[0, 2]], obs["grid"][[0, 2]])
    with pytest.raises(ValueError, match="3 puzzles for 2 envs"):
        venv.reset(options={"reset_mask": [True, True, False], "puzzles": [PUZZLE_4] * 3})
    with pytest.raises(ValueError, match="contradictory givens"):
        venv.reset(options={"puzzles": ["11" + "." * 14] * 3})
    a, b = SudokuVectorEnv(4, size=9), SudokuVectorEnv(4, size=9)
    oa, ob = a.reset(seed=5)[0], b.reset(seed=5)[0]
    assert np.array_equal(oa["grid"], ob["grid"])
    rng_a, rng_b = np.random.default_rng(0), np.random.default_rng(0)
    for _ in range(40):
        ra = a.step(sample_legal_actions(a.action_masks(), rng_a))
        rb = b.step(sample_legal_actions(b.action_masks(), rng_b))
        assert np.array_equal(ra[0]["grid"], rb[0]["grid"]) and np.array_equal(ra[1], rb[1])


def test_vector_render_and_errors():
    venv = SudokuVectorEnv(2, size=6, render_mode="ansi")
    venv.reset(seed=0)
    frames = venv.render()
    assert len(frames) == 2 and all(isinstance(f, str) for f in frames)
    single = SudokuEnv(size=6, render_mode="ansi")
    for i, frame in enumerate(frames):  # frame i is env i's board, drawn as the single env does
        puzzle = venv.unwrapped._batch.puzzle[i].reshape(6, 6)
        single.reset(options={"puzzle": puzzle, "solution": venv._batch.solution[i].reshape(6, 6)})
        assert frame == single.render()
    with pytest.raises(ValueError, match="expected 2 actions"):
        venv.step(np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="num_envs"):
        SudokuVectorEnv(0)


def test_injected_generator_in_vector_env():
    from envs.sudoku import FixedGenerator

    venv = SudokuVectorEnv(3, size=4, generator=FixedGenerator(PUZZLE_4, size=4))
    obs, _ = venv.reset(seed=0)
    assert (puzzle_of(obs["grid"]) == puzzle_of(obs["grid"][0])).all()
    with pytest.raises(ValueError, match="not 9x9"):
        SudokuVectorEnv(2, size=9, generator=FixedGenerator(PUZZLE_4, size=4)).reset(seed=0)
