"""Episode evaluation of RL policies: held-out splits, every puzzle once, oracle and random."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers the ids)
from baselines.oracles import maze_oracle_action, sudoku_oracle_action
from envs.maze.solver import shortest_path_length
from envs.maze.types import WALL
from trm_rl.policies.evaluate import (
    EpisodeStats,
    EvalResult,
    oracle_policy,
    play_episodes,
    random_policy,
    run_episodes,
    sb3_policy,
)
from trm_rl.policies.split import Split, evaluate_all, heldout_split

MAZE = "trm_rl/Maze-9x9-v0"
SUDOKU = "trm_rl/Sudoku-4x4-v0"


@pytest.fixture(scope="module")
def maze_split() -> Split:
    return heldout_split(MAZE, None, 64, seed=0, train_pool_size=400)


@pytest.fixture(scope="module")
def sudoku_split(tmp_path_factory: pytest.TempPathFactory) -> Split:
    return heldout_split(SUDOKU, None, 48, seed=0, workdir=tmp_path_factory.mktemp("split"))


def _grid_keys(grids: np.ndarray) -> set[bytes]:
    return {np.ascontiguousarray(g, dtype=np.uint8).tobytes() for g in grids}


# ---------------------------------------------------------------------------------- oracle
def test_oracle_solves_heldout_mazes_optimally(maze_split: Split) -> None:
    act = oracle_policy(MAZE)
    result = run_episodes(
        MAZE, act, maze_split.eval_puzzles, env_kwargs=maze_split.eval_env_kwargs, num_envs=24
    )
    assert result.episodes == 64
    assert (result.success, result.success_2x, result.length_ratio) == (1.0, 1.0, 1.0)
    assert result.mean_length == result.mean_optimal > 1


def test_oracle_solves_heldout_sudoku_in_one_placement_per_blank(sudoku_split: Split) -> None:
    puzzles, solutions = sudoku_split.eval_puzzles, sudoku_split.eval_solutions
    act = oracle_policy(SUDOKU, puzzles=puzzles, solutions=solutions)
    result = run_episodes(SUDOKU, act, puzzles, solutions=solutions, num_envs=20)
    assert (result.success, result.success_2x, result.length_ratio) == (1.0, 1.0, 1.0)
    assert result.mean_optimal == np.count_nonzero(puzzles == 0) / len(puzzles)


def test_sudoku_oracle_solves_unlisted_puzzles_itself(sudoku_split: Split) -> None:
    result = run_episodes(SUDOKU, oracle_policy(SUDOKU), sudoku_split.eval_puzzles[:8])
    assert result.success_2x == 1.0


def test_oracles_follow_the_rules_of_baselines_oracles(
    maze_split: Split, sudoku_split: Split
) -> None:
    venv = gym.make_vec(MAZE, num_envs=8, vectorization_mode="vector_entry_point", pool_size=1)
    obs, _ = venv.reset(options={"puzzles": list(maze_split.eval_puzzles[:8])})
    actions = oracle_policy(MAZE)(obs, venv.action_masks(), np.ones(8, dtype=bool))
    assert actions.tolist() == [maze_oracle_action(g) for g in obs["grid"]]

    puzzles, solutions = sudoku_split.eval_puzzles[:8], sudoku_split.eval_solutions[:8]
    venv = gym.make_vec(SUDOKU, num_envs=8, vectorization_mode="vector_entry_point")
    obs, _ = venv.reset(options={"puzzles": list(puzzles), "solutions": list(solutions)})
    act = oracle_policy(SUDOKU, puzzles=puzzles, solutions=solutions)
    actions = act(obs, venv.action_masks(), np.ones(8, dtype=bool))
    expected = [sudoku_oracle_action(g, s) for g, s in zip(obs["grid"], solutions, strict=True)]
    assert actions.tolist() == expected


# ---------------------------------------------------------------------------------- random
def test_random_policy_is_far_below_the_oracle_and_seeded(maze_split: Split) -> None:
    def run(seed: int) -> EpisodeStats:
        return play_episodes(MAZE, random_policy(seed), maze_split.eval_puzzles, num_envs=32)

    first, again = run(3), run(3)
    summary = first.summary()
    assert summary.success_2x < 0.5
    assert summary.length_ratio > 1.5
    for name in ("length", "optimal", "success"):
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))


def test_random_policy_only_picks_legal_actions() -> None:
    masks = np.zeros((500, 6), dtype=bool)
    masks[:, [1, 4]] = True
    masks[0] = False  # no legal action: 0
    actions = random_policy(0)({}, masks, np.ones(500, dtype=bool))
    assert actions[0] == 0
    assert set(actions[1:].tolist()) == {1, 4}


# --------------------------------------------------------------------------- every puzzle once
def test_every_puzzle_is_played_exactly_once_in_its_own_slot(maze_split: Split) -> None:
    puzzles = maze_split.eval_puzzles[:50]  # 16 envs: waves of 16, 16, 16 and 2
    waves = []

    def counting(obs: dict, masks: np.ndarray, starts: np.ndarray) -> np.ndarray:
        if starts.all():
            waves.append(obs["grid"].copy())
        return oracle(obs, masks, starts)

    oracle = oracle_policy(MAZE)
    stats = play_episodes(MAZE, counting, puzzles, num_envs=16)
    assert len(waves) == 4
    played = np.concatenate([waves[0], waves[1], waves[2], waves[3][:2]])
    np.testing.assert_array_equal(played, puzzles)
    assert stats.optimal.tolist() == [shortest_path_length(p) for p in puzzles]
    np.testing.assert_array_equal(stats.length, stats.optimal)  # each its own episode
    assert stats.success.all()


def test_padding_envs_of_the_last_wave_are_ignored(maze_split: Split) -> None:
    one = play_episodes(MAZE, oracle_policy(MAZE), maze_split.eval_puzzles[:1], num_envs=8)
    three = play_episodes(MAZE, oracle_policy(MAZE), maze_split.eval_puzzles[:3], num_envs=2)
    assert len(one.length) == 1 and len(three.length) == 3
    assert one.optimal[0] == three.optimal[0]


# ---------------------------------------------------------------------------------- summaries
def test_summary_and_json() -> None:
    stats = EpisodeStats(
        length=np.array([4, 10, 7, 30]),
        optimal=np.array([4, 4, 5, 6]),
        success=np.array([True, True, False, False]),
    )
    result = stats.summary()
    assert result == EvalResult(4, 0.5, 0.25, (1.0 + 2.5) / 2, 12.75, 4.75)
    failed = EpisodeStats(np.array([9]), np.array([3]), np.array([False])).summary()
    assert math.isnan(failed.length_ratio)
    assert failed.to_dict() == {
        "episodes": 1,
        "success": 0.0,
        "success_2x": 0.0,
        "length_ratio": None,
        "mean_length": 9.0,
        "mean_optimal": 3.0,
        "max_length_ratio": None,
    }


def test_evaluate_all_compares_policy_random_and_oracle(sudoku_split: Split) -> None:
    report = evaluate_all(random_policy(1), sudoku_split, episodes=16, num_envs=8)
    assert set(report) == {"policy", "random", "oracle"}
    assert report["oracle"]["success_2x"] == 1.0
    assert all(r["episodes"] == 16 for r in report.values())
    assert report["random"]["success_2x"] < 1.0


class _RecurrentStub:
    """SB3's predict() signature: threads a state, reads episode_start and masks."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def predict(self, observation, state=None, episode_start=None, deterministic=False,
                action_masks=None):  # fmt: skip
        self.calls.append((state, episode_start.copy(), deterministic))
        steps = np.zeros(len(episode_start), dtype=np.int64) if state is None else state[0]
        steps = np.where(episode_start, 0, steps) + 1
        return action_masks.argmax(axis=1), (steps,)


def test_sb3_policy_threads_state_episode_starts_and_masks(maze_split: Split) -> None:
    stub = _RecurrentStub()
    puzzles = maze_split.eval_puzzles[:6]
    result = run_episodes(MAZE, sb3_policy(stub), puzzles, env_kwargs={"max_steps": 30}, num_envs=3)
    assert result.episodes == 6
    states, starts, deterministic = zip(*stub.calls, strict=True)
    assert states[0] is None and all(state is not None for state in states[1:])
    assert starts[0].all() and sum(s.all() for s in starts) >= 2  # each wave starts every env
    assert all(deterministic)
    with pytest.raises(ValueError, match="predict"):
        sb3_policy(object())


# ---------------------------------------------------------------------------------- splits
def test_maze_split_is_disjoint_and_seeded(maze_split: Split) -> None:
    env = gym.make(MAZE, **maze_split.train_env_kwargs)
    train = env.unwrapped.pool
    assert len(train) == 400
    assert not _grid_keys(maze_split.eval_puzzles) & _grid_keys(train.grids)
    assert len(_grid_keys(maze_split.eval_puzzles)) == 64  # no repeats either
    again = heldout_split(MAZE, None, 64, seed=0, train_pool_size=400)
    other = heldout_split(MAZE, None, 64, seed=1, train_pool_size=400)
    assert again.train_env_kwargs == maze_split.train_env_kwargs
    np.testing.assert_array_equal(again.eval_puzzles, maze_split.eval_puzzles)
    assert not np.array_equal(other.eval_puzzles, maze_split.eval_puzzles)


def test_maze_split_keeps_env_kwargs_and_drops_repeats_of_a_small_universe() -> None:
    split = heldout_split(
        "trm_rl/Maze-5x5-v0", {"step_cost": 0.05, "pool_seed": 7}, 100, train_pool_size=2000
    )
    assert split.train_env_kwargs == {"step_cost": 0.05, "pool_seed": 7, "pool_size": 2000}
    assert split.eval_env_kwargs == {"step_cost": 0.05}
    train = gym.make("trm_rl/Maze-5x5-v0", **split.train_env_kwargs).unwrapped.pool
    assert len(_grid_keys(split.eval_puzzles)) == 100
    assert not _grid_keys(split.eval_puzzles) & _grid_keys(train.grids)


def _layouts(grids) -> set[bytes]:
    return {(np.asarray(g) == WALL).tobytes() for g in grids}


def test_layout_split_holds_out_wall_layouts_not_just_mazes() -> None:
    """7x7 mazes repeat layouts with other starts and goals; by='layout' never evaluates on a
    training layout, by='puzzle' may."""
    env, size = "trm_rl/Maze-v0", 3000
    layout = heldout_split(env, {"size": 7}, 200, seed=0, train_pool_size=size, by="layout")
    train = gym.make(env, **layout.train_env_kwargs).unwrapped.pool
    assert not _layouts(layout.eval_puzzles) & _layouts(train.grids)
    assert len(_layouts(layout.eval_puzzles)) == 200
    puzzle = heldout_split(env, {"size": 7}, 200, seed=0, train_pool_size=size)
    assert not _grid_keys(puzzle.eval_puzzles) & _grid_keys(train.grids)
    assert _layouts(puzzle.eval_puzzles) & _layouts(train.grids)  # the looser split leaks
    with pytest.raises(ValueError, match=r"distinct wall layouts outside .* --heldout puzzle"):
        heldout_split("trm_rl/Maze-5x5-v0", None, 50, train_pool_size=2000, by="layout")
    with pytest.raises(ValueError, match="held-out layouts are a maze split"):
        heldout_split(SUDOKU, None, 8, by="layout", workdir=".")


def test_the_default_7x7_pool_leaves_a_1000_maze_test_of_unseen_layouts() -> None:
    """About 3,800 7x7 layouts exist; the default 7x7 pool (2,000 mazes) leaves enough of them
    out for the studies' 1,000 test mazes (and 64 validation ones)."""
    split = heldout_split("trm_rl/Maze-7x7-v0", None, 1064, seed=0, by="layout")
    train = gym.make("trm_rl/Maze-7x7-v0", **split.train_env_kwargs).unwrapped.pool
    assert len(train.grids) == 2000
    assert len(_layouts(split.eval_puzzles)) == 1064
    assert not _layouts(split.eval_puzzles) & _layouts(train.grids)


def test_ppo_runs_hold_out_layouts_from_7x7_up() -> None:
    from trm_rl.policies.config import ppo_args, resolve_ppo

    def by(env: str, **changes) -> str:
        return resolve_ppo(ppo_args(env, timesteps=64, **changes)).heldout_by

    assert by("trm_rl/Maze-9x9-v0") == by("trm_rl/Maze-v0", env_set=("size=7",)) == "layout"
    assert by("trm_rl/MazeHard-v0") == "layout"
    assert by("trm_rl/Maze-5x5-v0") == by("trm_rl/Sudoku-4x4-v0") == "puzzle"
    assert by("trm_rl/Maze-9x9-v0", heldout="puzzle") == "puzzle"
    with pytest.raises(ValueError, match="--heldout layout holds out maze wall layouts"):
        by("trm_rl/Sudoku-4x4-v0", heldout="layout")


def test_maze_hard_split_holds_out_rows() -> None:
    split = heldout_split("trm_rl/MazeHard-v0", None, 100, seed=0)
    assert split.train_env_kwargs == {"pool_size": 900, "pool_seed": 0}
    train = gym.make("trm_rl/MazeHard-v0", **split.train_env_kwargs).unwrapped.pool
    assert split.eval_puzzles.shape == (100, 30, 30)
    assert not _grid_keys(split.eval_puzzles) & _grid_keys(train.grids)


def test_sudoku_4x4_split_holds_out_whole_solution_grids(sudoku_split: Split) -> None:
    (key,) = sudoku_split.train_env_kwargs
    assert key == "dataset"
    env = gym.make(SUDOKU, **sudoku_split.train_env_kwargs)
    train = env.unwrapped.generator
    assert not _grid_keys(sudoku_split.eval_solutions) & _grid_keys(train.solutions)
    assert not _grid_keys(sudoku_split.eval_puzzles) & _grid_keys(train.puzzles)
    assert len(train) + 48 <= 2000
    env.reset(seed=0)  # the CSV plays


def test_sudoku_split_is_seeded_and_splits_6x6_by_puzzle(tmp_path) -> None:
    def split(seed: int, folder: str) -> Split:
        return heldout_split(
            "trm_rl/Sudoku-6x6-v0", None, 100, seed=seed, train_pool_size=500,
            workdir=tmp_path / folder,
        )  # fmt: skip

    a, b, other = split(2, "a"), split(2, "b"), split(3, "a")
    np.testing.assert_array_equal(a.eval_puzzles, b.eval_puzzles)
    np.testing.assert_array_equal(a.eval_solutions, b.eval_solutions)
    assert not np.array_equal(a.eval_puzzles, other.eval_puzzles)
    train = gym.make("trm_rl/Sudoku-6x6-v0", **a.train_env_kwargs).unwrapped.generator
    assert len(train) == 500
    assert not _grid_keys(a.eval_puzzles) & _grid_keys(train.puzzles)


@pytest.mark.parametrize("env_id", [SUDOKU, "trm_rl/Sudoku-6x6-v0"])
def test_eval_solutions_from_keeps_evaluation_on_the_given_solutions(env_id, tmp_path) -> None:
    base = heldout_split(env_id, None, 40, seed=0, workdir=tmp_path / "base")
    allowed = base.eval_solutions[:20]  # e.g. the solutions a supervised run held out
    split = heldout_split(
        env_id, None, 10, seed=0, workdir=tmp_path / "restricted", eval_solutions_from=allowed
    )
    assert _grid_keys(split.eval_solutions) <= _grid_keys(allowed)
    train = gym.make(env_id, **split.train_env_kwargs).unwrapped.generator
    assert not _grid_keys(split.eval_puzzles) & _grid_keys(train.puzzles)
    with pytest.raises(ValueError, match="allowed for evaluation"):
        heldout_split(
            env_id, None, 500, seed=0, workdir=tmp_path / "x", eval_solutions_from=allowed[:1]
        )
    with pytest.raises(ValueError, match="Sudoku"):
        heldout_split(MAZE, None, 4, seed=0, eval_solutions_from=allowed)


# ---------------------------------------------------------------------------------- bad input
def _puzzles(split: Split) -> np.ndarray:
    return split.eval_puzzles[:3]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: run_episodes("trm_rl/Chess-v0", random_policy(0), _puzzles(s)), "unknown env"),
        (lambda s: run_episodes(MAZE, random_policy(0), []), "puzzles is empty"),
        (lambda s: run_episodes(MAZE, random_policy(0), _puzzles(s), num_envs=0), "num_envs"),
        (lambda s: run_episodes(MAZE, random_policy(0), "#S G#", seed=0), "must be a sequence"),
        (
            lambda s: run_episodes(MAZE, random_policy(0), _puzzles(s), solutions=_puzzles(s)),
            "solutions are for Sudoku",
        ),
        (lambda s: run_episodes(MAZE, "policy", _puzzles(s)), "act must be a callable"),
        (lambda s: run_episodes(MAZE, lambda o, m, e: np.zeros(2), _puzzles(s)), "act returned"),
        (lambda s: evaluate_all(random_policy(0), s, episodes=0), "episodes must be"),
        (lambda s: evaluate_all(random_policy(0), s, episodes=65), "episodes must be"),
        (lambda s: evaluate_all(random_policy(0), "split"), "split must be a Split"),
        (lambda s: oracle_policy(MAZE, solutions=[1]), "needs no solutions"),
        (lambda s: oracle_policy(SUDOKU, puzzles=[1]), "together"),
        (lambda s: heldout_split(MAZE, None, 0), "eval_size must be"),
        (lambda s: heldout_split(MAZE, {"colour": 1}, 5), "unknown Maze argument"),
        (lambda s: heldout_split(MAZE, [("size", 9)], 5), "env_kwargs must be a dict"),
        (lambda s: heldout_split(SUDOKU, None, 5), "pass workdir="),
        (lambda s: heldout_split("trm_rl/MazeHard-v0", None, 1000), "leaves none to train"),
    ],
)
def test_bad_inputs_raise_clear_errors(maze_split: Split, call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(maze_split)


def test_a_puzzle_of_the_wrong_size_is_named_by_index(sudoku_split: Split, tmp_path) -> None:
    puzzles = [*sudoku_split.eval_puzzles[:3], np.zeros((9, 9), dtype=np.uint8)]
    with pytest.raises(ValueError, match=r"puzzles\[3\]: puzzle array has shape \(9, 9\)"):
        run_episodes(SUDOKU, random_policy(0), puzzles)
    with pytest.raises(ValueError, match=r"puzzles\[0\]: maze puzzle string has 25 char"):
        run_episodes(MAZE, random_policy(0), ["#S G#" * 5])
    with pytest.raises(ValueError, match="too few for eval_size=2000"):
        heldout_split(SUDOKU, None, 2000, workdir=tmp_path)
