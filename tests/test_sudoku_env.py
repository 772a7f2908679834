"""SudokuEnv: env checkers, determinism, rendering, truncation, pickling, puzzles and errors."""

from __future__ import annotations

import inspect
import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
from conftest import rollout, same
from gymnasium.utils.env_checker import check_env as gym_check_env

import envs
from envs.sudoku import FixedGenerator, SudokuEnv, SudokuVectorEnv, decode_action, encode_action
from envs.sudoku.config import FIELDS as SUDOKU_FIELDS
from envs.sudoku.pool import shipped_pool
from envs.sudoku.render import GIVEN_RGB, PLACED_RGB, WRONG_RGB

SUDOKU_IDS = [i for i in envs.ENV_IDS if "Sudoku" in i]
# A 4x4 puzzle with a unique solution (row by row: 1234 / 4312 / 3421 / 2143).
PUZZLE_4 = "1.3...1.3.2...4."
SOLUTION_4 = "1234431234212143"


@pytest.mark.parametrize("env_id", SUDOKU_IDS)
def test_env_checkers(env_id):
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = gym.make(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gym_check_env(env.unwrapped, skip_render_check=True)
        # The (N, N) grid is deliberate (TRM reads the board); SB3's Flatten extractor copes.
        warnings.filterwarnings(
            "ignore", message="Your observation grid has an unconventional shape"
        )
        sb3_check_env(env.unwrapped, warn=True)
    for mode in ("ansi", "rgb_array"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            gym_check_env(gym.make(env_id, render_mode=mode).unwrapped)


@pytest.mark.parametrize("env_id", SUDOKU_IDS)
def test_seeded_rollouts_are_deterministic(env_id):
    env_a = gym.make(env_id)
    env_b = gym.make(env_id)
    assert same(rollout(env_a, 3, 60), rollout(env_b, 3, 60))
    first = [env_a.reset(seed=s)[0]["grid"] for s in range(5)]
    again = [env_b.reset(seed=s)[0]["grid"] for s in range(5)]
    assert all(np.array_equal(x, y) for x, y in zip(first, again, strict=True))
    assert len({g.tobytes() for g in first}) > 1


def test_constructor_accepts_the_documented_kwargs():
    # Keyword arguments are SudokuConfig fields (one typed config, validated once).
    names = list(inspect.signature(SudokuEnv).parameters) + list(SUDOKU_FIELDS)
    for kw in ("render_mode", "size", "dataset", "givens", "pool_size", "pool_seed",
               "generator", "wrong_penalty", "max_steps"):  # fmt: skip
        assert kw in names
    for kwargs in envs.ENV_IDS.values():
        assert set(kwargs) <= set(names)


@pytest.mark.parametrize("size", [4, 6, 9])
def test_spaces_and_tokens(size):
    env = SudokuEnv(size=size)
    obs, info = env.reset(seed=0)
    assert env.action_space.n == size**3
    assert obs["grid"].shape == (size, size) and obs["grid"].dtype == np.uint8
    assert obs["grid"].min() >= 1 and obs["grid"].max() <= size + 1
    assert np.array_equal(obs["action_mask"].astype(bool), env.action_masks())
    assert info["num_blanks"] == np.count_nonzero(obs["grid"] == 1)
    assert env.action_masks().dtype == bool and env.action_masks().shape == (size**3,)


def test_solving_gives_plus_one_and_terminates():
    env = SudokuEnv(size=4, wrong_penalty=-0.5)
    obs, info = env.reset(options={"puzzle": PUZZLE_4})
    solution = np.array(list(SOLUTION_4), dtype=int).reshape(4, 4)
    blanks = np.argwhere(np.array(list(PUZZLE_4)) == ".").ravel()
    assert info["num_blanks"] == len(blanks) and env.state.step_count == 0
    for k, cell in enumerate(blanks):
        r, c = divmod(int(cell), 4)
        obs, reward, terminated, truncated, info = env.step(encode_action(r, c, solution[r, c], 4))
        last = k == len(blanks) - 1
        assert reward == (1.0 if last else 0.0) and terminated == last and not truncated
    assert info["is_success"] and info["num_blanks"] == 0 and info["num_wrong"] == 0
    assert np.array_equal(obs["grid"] - 1, solution)


def test_wrong_placement_penalised_and_dead_end_terminates():
    env = SudokuEnv(size=4, wrong_penalty=-0.25)
    env.reset(options={"puzzle": PUZZLE_4, "solution": SOLUTION_4})
    solution = env.state.solution.ravel()
    terminated = False
    while not terminated:
        mask = env.action_masks()
        wrong = [a for a in np.flatnonzero(mask) if solution[a // 4] != a % 4 + 1]
        action = wrong[0] if wrong else np.flatnonzero(mask)[0]
        _obs, reward, terminated, _truncated, info = env.step(action)
        assert info["wrong_placement"] == bool(wrong)
        assert reward == (-0.25 if wrong else 0.0) + info["is_success"]
    assert info["dead_end"] and not info["is_success"] and info["num_wrong"] >= 1
    assert not env.action_masks().any()


def test_illegal_action_is_a_penalised_no_op():
    env = SudokuEnv(size=4, wrong_penalty=-0.3)
    obs, _ = env.reset(options={"puzzle": PUZZLE_4})
    occupied = encode_action(0, 0, 2, 4)  # r1c1 holds a given 1
    assert not env.action_masks()[occupied]
    obs2, reward, terminated, truncated, info = env.step(occupied)
    assert reward == pytest.approx(-0.3) and not terminated and not truncated
    assert info["illegal_action"] and info["num_illegal"] == 1 and info["steps"] == 1
    assert np.array_equal(obs["grid"], obs2["grid"])
    with pytest.raises(ValueError, match=r"action must be in \[0, 64\)"):
        env.step(64)


def test_truncation_at_max_steps():
    env = SudokuEnv(size=4, max_steps=3)
    env.reset(options={"puzzle": PUZZLE_4})
    illegal = encode_action(0, 0, 1, 4)
    results = [env.step(illegal)[2:4] for _ in range(3)]
    assert results == [(False, False), (False, False), (False, True)]
    env = SudokuEnv(size=9)  # default limit: twice the blanks
    _, info = env.reset(seed=0)
    truncated, steps = False, 0
    while not truncated:
        truncated = env.step(0 if not env.action_masks()[0] else 1)[3]
        steps += 1
    assert steps == 2 * info["num_blanks"]


def test_info_and_obs_are_fresh_objects():
    env = SudokuEnv(size=4)
    obs, info = env.reset(seed=0)
    obs2, *_, info2 = env.step(int(np.flatnonzero(env.action_masks())[0]))
    assert obs["grid"] is not obs2["grid"] and info is not info2
    assert not np.shares_memory(obs["action_mask"], obs2["action_mask"])
    assert not np.shares_memory(env.action_masks(), env.action_masks())


def test_render_modes():
    env = SudokuEnv(size=4, render_mode="ansi")
    env.reset(options={"puzzle": PUZZLE_4})
    env.step(encode_action(0, 1, 2, 4))  # correct
    env.step(encode_action(1, 1, 4, 4))  # legal but wrong (the solution has 3)
    text = env.render()
    assert isinstance(text, str) and text.count("\n") == 7 and "\x1b[36m2" in text
    assert "\x1b[31m4" in text
    env = SudokuEnv(size=9, render_mode="rgb_array")
    env.reset(seed=0)
    env.step(int(np.flatnonzero(env.action_masks())[0]))
    img = env.render()
    assert img.dtype == np.uint8 and img.shape == (9 * 24 + 3, 9 * 24 + 3, 3)
    colours = {tuple(c) for c in img.reshape(-1, 3)}
    assert GIVEN_RGB in colours and (PLACED_RGB in colours or WRONG_RGB in colours)
    for size in (4, 6):
        env = SudokuEnv(size=size, render_mode="rgb_array")
        env.reset(seed=1)
        assert env.render().shape == (size * 24 + 3, size * 24 + 3, 3)
    assert SudokuEnv.metadata["render_modes"] == ["ansi", "rgb_array"]
    with pytest.raises(ValueError, match="render_mode"):
        SudokuEnv(render_mode="human")


def test_pickle_round_trip_continues_identically():
    env = SudokuEnv(size=6)
    env.reset(seed=4)
    env.step(int(np.flatnonzero(env.action_masks())[0]))
    clone = pickle.loads(pickle.dumps(env))
    action = int(np.flatnonzero(env.action_masks())[-1])
    a, b = env.step(action), clone.step(action)
    assert np.array_equal(a[0]["grid"], b[0]["grid"]) and a[1:] == b[1:]
    assert np.array_equal(env.reset()[0]["grid"], clone.reset()[0]["grid"])


@pytest.mark.parametrize(
    "puzzle",
    [
        PUZZLE_4,
        PUZZLE_4.replace(".", "0"),
        np.array([int(c) if c != "." else 0 for c in PUZZLE_4]).reshape(4, 4),
    ],
)
def test_options_puzzle_forms(puzzle):
    env = SudokuEnv(size=4)
    obs, _ = env.reset(options={"puzzle": puzzle})
    assert "".join(str(t - 1) for t in obs["grid"].ravel()) == PUZZLE_4.replace(".", "0")
    assert "".join(map(str, env.state.solution.ravel())) == SOLUTION_4


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"puzzle": "1.3"}, "has 3 characters, expected 16"),
        ({"puzzle": "1.3...1.3.2...4x"}, "bad character 'x'"),
        ({"puzzle": "1.3...1.3.2...45"}, "out of range|bad character '5'"),
        ({"puzzle": np.zeros((3, 3))}, r"shape \(3, 3\)"),
        ({"puzzle": "11.............."}, "contradictory givens: digit 1 twice in row 1"),
        ({"puzzle": "1..." + "1..." + "." * 8}, "digit 1 twice in column 1"),
        ({"puzzle": ".234" + "...." + "1..." + "...."}, "no solution"),
        ({"puzzle": "." * 16}, "more than one solution"),
        ({"puzzle": SOLUTION_4}, "no blank cell"),
        ({"puzzle": PUZZLE_4, "solution": "4" * 16}, "solution is not a complete valid grid"),
        ({"puzzle": PUZZLE_4, "solution": "1234341221434312"}, "not a complete valid grid"),
        (
            {"puzzle": "2" + PUZZLE_4[1:], "solution": SOLUTION_4},
            "disagrees with the given at row 1",
        ),
    ],
)
def test_malformed_puzzles_raise(options, message):
    env = SudokuEnv(size=4)
    with pytest.raises(ValueError, match=message):
        env.reset(options=options)


def test_non_unique_puzzle_allowed_with_a_solution():
    env = SudokuEnv(size=4)
    _, info = env.reset(options={"puzzle": "." * 16, "solution": SOLUTION_4})
    assert info["num_blanks"] == 16


def test_injected_generator_overrides_the_pool():
    env = SudokuEnv(size=4, generator=FixedGenerator(PUZZLE_4, size=4))
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        assert "".join(str(t - 1) for t in obs["grid"].ravel()) == PUZZLE_4.replace(".", "0")


def test_pool_knobs():
    env = SudokuEnv(size=9, givens=(40, 45), difficulty="easy", pool_size=50, pool_seed=3)
    assert len(env.generator) == 50 and (env.generator.guesses == 0).all()
    for seed in range(5):
        _, info = env.reset(seed=seed)
        assert 81 - 45 <= info["num_blanks"] <= 81 - 40
    extreme = SudokuEnv(dataset="sudoku-extreme", givens=[17, 20])
    assert len(extreme.generator) > 0
    with pytest.raises(ValueError, match=r"cannot read Sudoku dataset 'no/such\.csv'"):
        SudokuEnv(dataset="no/such.csv")
    with pytest.raises(ValueError, match="unsupported Sudoku size 5"):
        SudokuEnv(size=5)


def test_action_helpers_agree_with_the_env():
    env = SudokuEnv(size=9)
    env.reset(seed=2)
    action = int(np.flatnonzero(env.action_masks())[0])
    r, c, d = decode_action(action, 9)
    obs, *_ = env.step(action)
    assert obs["grid"][r, c] == d + 1


def test_maskable_ppo_smoke():
    torch = pytest.importorskip("torch")
    from sb3_contrib import MaskablePPO

    torch.set_num_threads(1)
    env = gym.make("trm_rl/Sudoku-4x4-v0")
    model = MaskablePPO("MultiInputPolicy", env, n_steps=64, batch_size=64, seed=0, verbose=0)
    model.learn(128)
    obs, _ = env.reset(seed=0)
    action, _ = model.predict(obs, action_masks=env.unwrapped.action_masks())
    assert env.unwrapped.action_masks()[int(action)]


def test_pool_puzzles_are_shared_read_only():
    pool = shipped_pool(4)
    with pytest.raises(ValueError):
        pool.puzzles[0, 0, 0] = 1


@pytest.mark.parametrize("cls", [SudokuEnv, SudokuVectorEnv])
def test_non_positive_max_steps_is_rejected(cls) -> None:
    with pytest.raises(ValueError, match="max_steps must be >= 1"):
        cls(size=4, max_steps=0)
