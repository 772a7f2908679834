"""The SB3 VecEnv adapter under malformed and per-env input: options reach exactly their env,
bad options and indices fail with one clear error naming the env, and the adapted transitions
are the batched env's.

``stable_baselines3.common.env_checker.check_env`` checks single envs, not VecEnvs, so it is not
used here.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import envs  # noqa: F401  (registers the ids)
from envs.maze import GOAL, OPEN, START
from envs.sudoku import encode_action, shipped_pool
from trm_rl.policies.vec_env import SB3VecEnvAdapter, make_sb3_vec_env

FAST = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])

MAZE_ID, SUDOKU_ID = "trm_rl/Maze-5x5-v0", "trm_rl/Sudoku-4x4-v0"
NUM_ENVS = 4


def maze_venv(monitor: bool = False, num_envs: int = NUM_ENVS, **kwargs):
    return make_sb3_vec_env(MAZE_ID, num_envs, seed=0, monitor=monitor, pool_size=8, **kwargs)


def sudoku_venv(monitor: bool = False, num_envs: int = NUM_ENVS, **kwargs):
    return make_sb3_vec_env(SUDOKU_ID, num_envs, seed=0, monitor=monitor, **kwargs)


def open_maze(start: tuple[int, int], goal: tuple[int, int], pillars=()) -> str:
    """A 5x5 maze with walls only on (odd, odd) pillars: always solvable, and never in a pool
    (a generated perfect 5x5 maze has 8 walls)."""
    grid = [[" "] * 5 for _ in range(5)]
    for r, c in pillars:
        grid[r][c] = "#"
    grid[start[0]][start[1]], grid[goal[0]][goal[1]] = "S", "G"
    return "".join("".join(row) for row in grid)


def tokens_of(puzzle: str) -> np.ndarray:
    table = {"#": 1, " ": OPEN, "S": START, "G": GOAL}
    return np.array([table[c] for c in puzzle], dtype=np.uint8).reshape(5, 5)


def pool_grids(venv) -> np.ndarray:
    pool = venv.get_attr("pool")[0]
    return pool.grids.reshape(len(pool), -1)


def in_pool(grids: np.ndarray, grid: np.ndarray) -> bool:
    return bool((grids == grid.ravel()).all(axis=1).any())


CELLS = [(r, c) for r in range(5) for c in range(5)]
PILLARS = [(1, 1), (1, 3), (3, 1), (3, 3)]


@st.composite
def open_mazes(draw) -> str:
    start, goal = draw(st.lists(st.sampled_from(CELLS), min_size=2, max_size=2, unique=True))
    return open_maze(start, goal, draw(st.sets(st.sampled_from(PILLARS))))


# --------------------------------------------------------------------------------------------
# set_options: each env gets exactly its own options
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("monitor", [False, True])
@pytest.mark.parametrize("target", [0, 1, 3])
def test_a_puzzle_for_one_env_goes_to_that_env_only(monitor, target):
    puzzle = open_maze((0, 0), (4, 4))
    venv = maze_venv(monitor)
    grids = pool_grids(venv)
    venv.reset()
    options = [{} for _ in range(NUM_ENVS)]
    options[target] = {"puzzle": puzzle}
    venv.set_options(options)
    obs = venv.reset()
    for i in range(NUM_ENVS):
        if i == target:
            assert np.array_equal(obs["grid"][i], tokens_of(puzzle))
        else:
            assert in_pool(grids, obs["grid"][i]), f"env {i} must draw a pool maze"
    # Options are one-shot: the next reset draws every env from the pool again.
    obs = venv.reset()
    assert all(in_pool(grids, g) for g in obs["grid"])


@FAST
@given(data=st.data(), monitor=st.booleans())
def test_random_per_env_options_reach_exactly_their_env(data, monitor):
    venv = maze_venv(monitor)
    grids = pool_grids(venv)
    per_env = []
    for _ in range(NUM_ENVS):
        kind = data.draw(st.sampled_from(["none", "empty", "puzzle", "index", "null puzzle"]))
        per_env.append(
            {
                "none": {},
                "empty": {},
                "puzzle": {"puzzle": data.draw(open_mazes())},
                "index": {"index": data.draw(st.integers(0, 7))},
                "null puzzle": {"puzzle": None},
            }[kind]
        )
    venv.set_options(per_env)
    obs = venv.reset()
    assert venv.observation_space.contains({k: v[0] for k, v in obs.items()})
    for i, options in enumerate(per_env):
        if options.get("puzzle") is not None:
            assert np.array_equal(obs["grid"][i], tokens_of(options["puzzle"]))
        elif "index" in options:
            assert np.array_equal(obs["grid"][i].ravel(), grids[options["index"]])
        else:
            assert in_pool(grids, obs["grid"][i])


def test_one_options_dict_goes_to_every_env():
    puzzle = open_maze((2, 2), (0, 4), PILLARS)
    venv = maze_venv(monitor=True)
    venv.set_options({"puzzle": puzzle})
    obs = venv.reset()
    assert all(np.array_equal(g, tokens_of(puzzle)) for g in obs["grid"])


def solve_actions(puzzle: np.ndarray, solution: np.ndarray) -> list[int]:
    flat = solution.ravel()
    return [int(encode_action(c // 4, c % 4, int(flat[c]), 4)) for c in np.flatnonzero(puzzle == 0)]


@FAST
@given(data=st.data(), monitor=st.booleans(), target=st.integers(0, NUM_ENVS - 1))
def test_sudoku_solution_option_picks_the_solution_played(data, monitor, target):
    """A puzzle with <= 3 givens has several solutions; the adapter plays the one passed."""
    pool = shipped_pool(4)
    k = data.draw(st.integers(0, len(pool) - 1))
    chosen = pool.solutions[k].ravel()
    keep = list(data.draw(st.sets(st.integers(0, 15), max_size=3)))
    puzzle = np.where(np.isin(np.arange(16), keep), chosen, 0).astype(np.uint8)
    venv = sudoku_venv(monitor)
    options = [{} for _ in range(NUM_ENVS)]
    options[target] = {"puzzle": puzzle}
    venv.set_options(options)
    with pytest.raises(ValueError, match="more than one solution"):
        venv.reset()
    options[target] = {"puzzle": puzzle, "solution": chosen}
    venv.set_options(options)
    obs = venv.reset()
    assert np.array_equal(obs["grid"][target].ravel(), puzzle + 1)
    plan = solve_actions(puzzle, chosen)
    for step, action in enumerate(plan):
        masks = np.stack(venv.env_method("action_masks"))
        actions = masks.argmax(axis=1)  # some legal move for the other envs
        actions[target] = action
        obs, rewards, dones, infos = venv.step(actions)
        info = infos[target]
        assert info["wrong_placement"] is False and info["illegal_action"] is False
        if step < len(plan) - 1:
            assert not dones[target] and rewards[target] == 0
    assert dones[target] and rewards[target] == pytest.approx(1.0) and info["is_success"]
    assert np.array_equal(info["terminal_observation"]["grid"].ravel(), chosen + 1)
    assert info["TimeLimit.truncated"] is False


def test_sudoku_other_solution_makes_the_same_placements_wrong():
    pool = shipped_pool(4)
    first = pool.solutions[0].ravel()
    other = next(s.ravel() for s in pool.solutions if not np.array_equal(s.ravel(), first))
    puzzle = np.zeros(16, np.uint8)
    venv = sudoku_venv()
    venv.set_options([{"puzzle": puzzle, "solution": other}, {}, {}, {}])
    venv.reset()
    wrong = 0
    for action in solve_actions(puzzle, first):
        actions = np.stack(venv.env_method("action_masks")).argmax(axis=1)
        actions[0] = action
        *_, infos = venv.step(actions)
        wrong += infos[0]["wrong_placement"]
    assert wrong == int((first != other).sum()) > 0


# --------------------------------------------------------------------------------------------
# Bad per-env options: one clear error naming the env
# --------------------------------------------------------------------------------------------
ACCEPTED = {MAZE_ID: {"puzzle", "index"}, SUDOKU_ID: {"puzzle", "solution"}}


@FAST
@given(
    env_id=st.sampled_from([MAZE_ID, SUDOKU_ID]),
    index=st.integers(0, NUM_ENVS - 1),
    key=st.one_of(st.text(min_size=1, max_size=8), st.sampled_from(["puzzles", "seed", "index"])),
    monitor=st.booleans(),
)
def test_unknown_per_env_option_names_the_env(env_id, index, key, monitor):
    assume(key not in ACCEPTED[env_id])
    venv = maze_venv(monitor) if env_id == MAZE_ID else sudoku_venv(monitor)
    options = [{} for _ in range(NUM_ENVS)]
    options[index] = {key: 1}
    venv.set_options(options)
    with pytest.raises(ValueError, match=rf"env {index} got reset option\(s\) \[.*\] that"):
        venv.reset()


MAZE_OPTION_ERRORS = [
    ([{}, {}, 5, {}], "options of env 2 must be a dict, got int"),
    ([{}, "puzzle", {}, {}], "options of env 1 must be a dict, got str"),
    ([{}, {}, {"index": 99}, {}], r"pool index of env 2 must be in \[0, 7\], got 99"),
    ([{}, {"index": 1.0}, {}, {}], "pool index of env 1 must be an int, got 1.0"),
    ([{"index": True}, {}, {}, {}], "pool index of env 0 must be an int, got True"),
    ([{}, {}, {}, {"index": 0, "puzzle": open_maze((0, 0), (1, 0))}], "env 3 got both"),
    ([{"puzzle": "S" + " " * 23}, {}, {}, {}], "has 24 characters, expected 25"),
    ([{}, {"puzzle": open_maze((0, 0), (4, 4)).replace("G", " ")}, {}, {}], "no goal 'G'"),
]


@pytest.mark.parametrize(("options", "message"), MAZE_OPTION_ERRORS)
def test_bad_maze_per_env_options(options, message):
    venv = maze_venv(monitor=True)
    venv.set_options(options)
    with pytest.raises(ValueError, match=message):
        venv.reset()


SOLUTION = "1234341221434321"
SUDOKU_OPTION_ERRORS = [
    ([{}, {"solution": SOLUTION}, {}, {}], r"options\['solutions'\] needs options\['puzzles'\]"),
    (
        [{"puzzle": "1.3.3..2.1.34..1"}, {"solution": SOLUTION}, {}, {}],
        "env 1 got a solution without a puzzle",
    ),
    ([{}, {}, {"puzzle": "1.٣.3..2.1.34..1"}, {}], "bad character '٣'"),
    ([{"puzzle": "." * 16, "solution": "1" * 16}, {}, {}, {}], "not a complete valid grid"),
    ([{}, {"index": 0}, {}, {}], r"env 1 got reset option\(s\) \['index'\]"),
]


@pytest.mark.parametrize(("options", "message"), SUDOKU_OPTION_ERRORS)
def test_bad_sudoku_per_env_options(options, message):
    venv = sudoku_venv(monitor=True)
    venv.set_options(options)
    with pytest.raises(ValueError, match=message):
        venv.reset()


def test_too_many_per_env_options_is_a_clear_error():
    venv = maze_venv()
    venv.set_options([{}] * NUM_ENVS + [{"puzzle": open_maze((0, 0), (4, 4))}])
    with pytest.raises(ValueError, match="4 envs"):
        venv.reset()


# --------------------------------------------------------------------------------------------
# get_attr / set_attr / env_method indices
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("monitor", [False, True])
def test_set_attr_is_all_or_nothing_and_get_attr_is_per_index(monitor):
    venv = maze_venv(monitor)
    for indices in ([0], [1, 2], 3, [0, 1, 2]):
        with pytest.raises(ValueError, match=r"share their attributes.*call set_attr without"):
            venv.set_attr("marker", 1, indices=indices)
    with pytest.raises(AttributeError):
        venv.get_attr("marker")  # nothing was set by the refused calls
    venv.set_attr("marker", 7)
    assert venv.get_attr("marker") == [7] * NUM_ENVS
    assert venv.get_attr("marker", indices=[1, 3]) == [7, 7]
    assert venv.get_attr("marker", indices=2) == [7]
    venv.set_attr("marker", 8, indices=range(NUM_ENVS))  # every env named: allowed
    assert venv.get_attr("marker", indices=[0]) == [8]
    masks = venv.env_method("action_masks", indices=[2, 0])
    assert np.array_equal(masks, venv.env_method("action_masks")[[2, 0]])


BAD_INDICES = [[4], [-1], ["0"], [0, 9], 4, [1.0], [None]]


@pytest.mark.parametrize("indices", BAD_INDICES)
@pytest.mark.parametrize(
    "call",
    [
        lambda venv, idx: venv.get_attr("num_envs", indices=idx),
        lambda venv, idx: venv.set_attr("marker", 1, indices=idx),
        lambda venv, idx: venv.env_method("action_masks", indices=idx),
        lambda venv, idx: venv.env_is_wrapped(gym.Wrapper, indices=idx),
    ],
    ids=["get_attr", "set_attr", "env_method", "env_is_wrapped"],
)
def test_out_of_range_indices_are_refused(indices, call):
    venv = maze_venv()
    venv.reset()
    with pytest.raises(ValueError, match=r"env indices \[.*\] are not in \[0, 4\)"):
        call(venv, indices)


def test_bool_indices_are_refused():
    venv = maze_venv()
    venv.reset()
    with pytest.raises(ValueError, match="env indices"):
        venv.env_method("action_masks", indices=[True, False, True, False])


# --------------------------------------------------------------------------------------------
# Construction and stepping
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: make_sb3_vec_env(MAZE_ID, 0), ValueError, "num_envs must be >= 1"),
        (lambda: make_sb3_vec_env(MAZE_ID, 2.5), ValueError, "num_envs must be an int"),
        (lambda: make_sb3_vec_env(MAZE_ID, "4"), ValueError, "num_envs must be an int"),
        (lambda: make_sb3_vec_env(MAZE_ID, True), ValueError, "num_envs must be an int"),
        (lambda: make_sb3_vec_env(MAZE_ID, 2, sise=5), ValueError, r"unknown Maze argument"),
        (lambda: make_sb3_vec_env(SUDOKU_ID, 2, level=1), ValueError, "unknown Sudoku argument"),
        (lambda: make_sb3_vec_env(MAZE_ID, 2, max_steps=0), ValueError, "max_steps must be >= 1"),
        (lambda: make_sb3_vec_env("trm_rl/Nope-v0", 2), gym.error.Error, "Nope"),
        (
            lambda: make_sb3_vec_env(MAZE_ID, 2, seed=1.5),
            ValueError,
            "seed must be an int or None, got 1.5",
        ),
        (
            lambda: SB3VecEnvAdapter(gym.make_vec(MAZE_ID, num_envs=2, vectorization_mode="sync")),
            ValueError,
            r"needs a vector env .*AutoresetMode.SAME_STEP",
        ),
        (lambda: SB3VecEnvAdapter(gym.make(MAZE_ID)), ValueError, "autoreset_mode=None"),
    ],
)
def test_bad_construction_is_refused(build, error, message):
    with pytest.raises(error, match=message):
        build()


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        (np.zeros(NUM_ENVS, float), "actions must be integers .*got dtype float64"),
        (np.zeros((NUM_ENVS, 1), int), r"expected 4 actions.*got shape \(4, 1\)"),
        (np.zeros(NUM_ENVS + 1, int), r"expected 4 actions.*got shape \(5,\)"),
        (np.array([0, 1, 2, 4]), r"actions must be in .*got \[4\]"),
    ],
)
def test_bad_actions_through_the_adapter(actions, message):
    venv = maze_venv(monitor=True)
    venv.reset()
    with pytest.raises(ValueError, match=message):
        venv.step(actions)
    venv.step(np.zeros(NUM_ENVS, dtype=np.int64))  # the adapter is still usable


def test_step_before_reset_and_wait_without_async():
    venv = maze_venv()
    with pytest.raises(gym.error.ResetNeeded):
        venv.step(np.zeros(NUM_ENVS, dtype=np.int64))
    fresh = maze_venv()
    fresh.reset()
    with pytest.raises(RuntimeError, match=r"step_wait\(\) called without a pending step_async"):
        fresh.step_wait()


@pytest.mark.parametrize("failure", ["before reset", "bad actions"])
def test_a_failed_step_leaves_no_pending_actions(failure):
    venv = maze_venv()
    if failure == "before reset":
        with pytest.raises(gym.error.ResetNeeded):
            venv.step(np.zeros(NUM_ENVS, dtype=np.int64))
        venv.reset()
    else:
        venv.reset()
        with pytest.raises(ValueError):
            venv.step(np.full(NUM_ENVS, 9))
    with pytest.raises(RuntimeError, match="without a pending step_async"):
        venv.step_wait()


# --------------------------------------------------------------------------------------------
# Adapted transitions are the batched env's
# --------------------------------------------------------------------------------------------
@FAST
@given(
    data=st.data(),
    env_id=st.sampled_from([MAZE_ID, SUDOKU_ID]),
    seed=st.integers(0, 1000),
    max_steps=st.sampled_from([2, 5]),
)
def test_adapter_transitions_match_the_batched_env(data, env_id, seed, max_steps):
    kwargs = {"pool_size": 8} if env_id == MAZE_ID else {}
    raw = gym.make_vec(
        env_id, num_envs=3, vectorization_mode="vector_entry_point", max_steps=max_steps, **kwargs
    )
    venv = make_sb3_vec_env(env_id, 3, seed=seed, monitor=False, max_steps=max_steps, **kwargs)
    raw_obs, _ = raw.reset(seed=seed)
    obs = venv.reset()
    assert all(np.array_equal(raw_obs[k], obs[k]) for k in raw_obs)
    n = raw.single_action_space.n
    for _ in range(data.draw(st.integers(1, 8))):
        actions = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=3, max_size=3)))
        raw_obs, raw_rewards, term, trunc, raw_infos = raw.step(actions)
        obs, rewards, dones, infos = venv.step(actions)
        assert rewards.dtype == np.float32 and np.array_equal(rewards, raw_rewards)
        assert np.array_equal(dones, term | trunc)
        assert all(np.array_equal(raw_obs[k], obs[k]) for k in raw_obs)
        for i in range(3):
            assert ("terminal_observation" in infos[i]) == bool(dones[i])
            if dones[i]:
                final = raw_infos["final_obs"]
                term_obs = infos[i]["terminal_observation"]
                assert all(np.array_equal(final[k][i], term_obs[k]) for k in final)
                assert infos[i]["TimeLimit.truncated"] == bool(trunc[i] and not term[i])
