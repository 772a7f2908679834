"""Evaluation episodes cut at a length cap: ``success_2x`` exactly as uncapped play gives it, for
a fraction of the steps; the validation schedule of PPO runs in env steps."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import envs  # noqa: F401  (registers the ids)
from envs.maze.generator import RandomMazeGenerator, generate_mazes
from envs.maze.types import GOAL, WALL
from envs.sudoku.pool import shipped_pool
from trm_rl.policies.config import DEFAULT_EVAL_EVERY_S, PPOConfig, ppo_args, resolve_ppo
from trm_rl.policies.evaluate import (
    EpisodeStats,
    length_caps,
    oracle_policy,
    play_episodes,
    random_policy,
    run_episodes,
)
from trm_rl.policies.train import stored_ppo_config, train_ppo

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ROOT = Path(__file__).resolve().parents[1]
MAZE = "trm_rl/Maze-9x9-v0"
SUDOKU = "trm_rl/Sudoku-4x4-v0"


def _mazes(size: int, count: int, seed: int = 3) -> list:
    return generate_mazes(RandomMazeGenerator(size=size), count, seed=seed)


def _sudoku(count: int) -> tuple[np.ndarray, np.ndarray]:
    pool = shipped_pool(4)
    return np.array(pool.puzzles[:count]), np.array(pool.solutions[:count])


class NoisyOracle:
    """The oracle, except that with probability ``p`` a row steps aside: a random legal move
    (Maze) or an illegal, no-op placement (Sudoku). The coin of a row depends only on its
    episode's first board and its step in the episode, so a row plays the same episode whatever
    the other rows and waves do (unlike a shared random stream)."""

    def __init__(self, env_id: str, p: float, **oracle: object) -> None:
        self.oracle = oracle_policy(env_id, **oracle)  # type: ignore[arg-type]
        self.maze = "Maze" in env_id
        self.p = p
        self.key: np.ndarray | None = None
        self.t: np.ndarray | None = None

    def __call__(self, obs: dict, masks: np.ndarray, starts: np.ndarray) -> np.ndarray:
        grid = np.asarray(obs["grid"])
        if self.key is None or len(self.key) != len(grid):
            self.key, self.t = np.zeros(len(grid), np.int64), np.zeros(len(grid), np.int64)
        assert self.t is not None
        for row in np.flatnonzero(starts):
            digest = hashlib.blake2b(grid[row].tobytes(), digest_size=7).digest()
            self.key[row], self.t[row] = int.from_bytes(digest, "little"), 0
        actions = np.asarray(self.oracle(obs, masks, starts)).copy()
        for row in range(len(grid)):
            coin = np.array([self.key[row], self.t[row]], dtype=np.int64).tobytes()
            h = int.from_bytes(hashlib.blake2b(coin, digest_size=8).digest(), "little")
            if h / 2**64 < self.p:
                choices = np.flatnonzero(masks[row] if self.maze else ~masks[row])
                if len(choices):
                    actions[row] = choices[(h >> 8) % len(choices)]
        self.t += 1
        return actions


# ------------------------------------------------------------------------------ equivalence
def _assert_cut_at_caps(full: EpisodeStats, capped: EpisodeStats, ratio: float) -> None:
    """``capped`` is ``full`` with each episode cut after ``floor(ratio x optimal)`` steps."""
    caps = length_caps(full.optimal, ratio)
    np.testing.assert_array_equal(capped.optimal, full.optimal)
    np.testing.assert_array_equal(capped.success, full.success & (full.length <= caps))
    np.testing.assert_array_equal(capped.length, np.minimum(full.length, caps))


def test_a_2x_cap_gives_the_uncapped_success_2x_on_mazes() -> None:
    mazes = _mazes(9, 48)

    def play(ratio: float | None) -> EpisodeStats:
        return play_episodes(
            MAZE, NoisyOracle(MAZE, 0.45), mazes, num_envs=16, max_length_ratio=ratio
        )

    full, capped = play(None), play(2.0)
    within = full.success & (full.length <= 2 * full.optimal)
    assert within.any() and (full.success & ~within).any()  # both kinds of success occur
    _assert_cut_at_caps(full, capped, 2.0)
    assert capped.summary().success_2x == full.summary().success_2x
    assert capped.summary().success == capped.summary().success_2x < full.summary().success
    assert (capped.summary().max_length_ratio, full.summary().max_length_ratio) == (2.0, None)
    _assert_cut_at_caps(full, play(3.5), 3.5)  # any ratio: the same episodes, cut later


def test_a_2x_cap_gives_the_uncapped_success_2x_on_sudoku() -> None:
    puzzles, solutions = _sudoku(40)
    limits = {"max_steps": 64}  # room to succeed after 2x the blanks

    def play(ratio: float | None) -> EpisodeStats:
        act = NoisyOracle(SUDOKU, 0.5, puzzles=puzzles, solutions=solutions)
        return play_episodes(
            SUDOKU, act, puzzles, solutions=solutions, env_kwargs=limits, num_envs=16,
            max_length_ratio=ratio,
        )  # fmt: skip

    full, capped = play(None), play(2.0)
    within = full.success & (full.length <= 2 * full.optimal)
    assert within.any() and (full.success & ~within).any()
    _assert_cut_at_caps(full, capped, 2.0)
    assert capped.summary().success_2x == full.summary().success_2x
    # the oracle solves every puzzle in exactly its blanks: within a 1x cap too (which cannot
    # tell success_2x, so it is not reported)
    oracle = run_episodes(SUDOKU, oracle_policy(SUDOKU, puzzles=puzzles, solutions=solutions),
                          puzzles, solutions=solutions, max_length_ratio=1.0)  # fmt: skip
    assert (oracle.success, oracle.length_ratio, oracle.max_length_ratio) == (1.0, 1.0, 1.0)
    assert np.isnan(oracle.success_2x)


def test_random_play_in_one_wave_is_the_same_episodes_cut_at_the_cap() -> None:
    mazes = _mazes(11, 32)  # one wave: the random stream is the same in both plays
    kwargs = {"env_kwargs": {"size": 11}, "num_envs": 32}
    full = play_episodes("trm_rl/Maze-v0", random_policy(5), mazes, **kwargs)
    for ratio in (2.0, 1.5, 1.0):
        capped = play_episodes(
            "trm_rl/Maze-v0", random_policy(5), mazes, max_length_ratio=ratio, **kwargs
        )
        _assert_cut_at_caps(full, capped, ratio)
        failed = ~capped.success
        assert failed.any()
        np.testing.assert_array_equal(
            capped.length[failed], np.floor(ratio * capped.optimal[failed])
        )  # each failure ends exactly at its cap
    assert np.isnan(capped.summary().success_2x)  # a cap below 2x cannot decide it
    assert capped.summary().to_dict()["success_2x"] is None


def test_length_caps_floor_the_product_without_float_surprises() -> None:
    assert length_caps(np.array([10, 7, 3, 20]), 1.1).tolist() == [11, 7, 3, 22]
    assert length_caps(np.array([20, 5]), 1.15).tolist() == [23, 5]
    assert length_caps(np.array([7, 1]), 2.0).tolist() == [14, 2]


# ------------------------------------------------------------------------------- cheap waves
class CountingAct:
    """A policy that counts its calls (one per step of a wave)."""

    def __init__(self, act) -> None:
        self.act, self.calls = act, 0

    def __call__(self, obs: dict, masks: np.ndarray, starts: np.ndarray) -> np.ndarray:
        self.calls += 1
        return self.act(obs, masks, starts)


def test_a_capped_wave_ends_once_every_counted_episode_is_decided() -> None:
    mazes = _mazes(11, 32)
    kwargs = {"env_kwargs": {"size": 11}, "num_envs": 32}
    full, capped = CountingAct(random_policy(0)), CountingAct(random_policy(0))
    play_episodes("trm_rl/Maze-v0", full, mazes, **kwargs)
    stats = play_episodes("trm_rl/Maze-v0", capped, mazes, max_length_ratio=2.0, **kwargs)
    assert full.calls == 4 * 11 * 11  # some random walk runs to the env's step limit
    assert capped.calls == stats.length.max() <= 2 * stats.optimal.max()
    assert capped.calls * 3 < full.calls
    # done rows never hold a wave open: the oracle's waves end at their longest shortest path
    oracle = CountingAct(oracle_policy("trm_rl/Maze-v0"))
    stats = play_episodes("trm_rl/Maze-v0", oracle, mazes[:20], max_length_ratio=2.0, num_envs=8,
                          env_kwargs={"size": 11})  # fmt: skip
    waves = [stats.optimal[i : i + 8].max() for i in range(0, 20, 8)]
    assert oracle.calls == sum(waves)


@pytest.mark.parametrize("ratio", [0.5, 0.999, -2.0, float("inf"), float("nan"), True, "2"])
def test_a_bad_ratio_is_refused_with_the_fix(ratio: object) -> None:
    with pytest.raises(ValueError, match=r"max_length_ratio must be (a number >= 1|finite)"):
        run_episodes(MAZE, random_policy(0), _mazes(9, 2), max_length_ratio=ratio)  # type: ignore[arg-type]


# ----------------------------------------------------------------------- PPO's eval schedule
def test_a_timesteps_budget_validates_ten_times_in_env_steps() -> None:
    cfg = resolve_ppo(ppo_args(SUDOKU, timesteps=20_000))
    assert (cfg.eval_every_steps, cfg.eval_every_s) == (2_000, None)
    assert resolve_ppo(ppo_args(SUDOKU, timesteps=7)).eval_every_steps == 1
    minutes = resolve_ppo(ppo_args(SUDOKU, minutes=2.0))
    assert (minutes.eval_every_steps, minutes.eval_every_s) == (None, DEFAULT_EVAL_EVERY_S)
    clock = resolve_ppo(ppo_args(SUDOKU, timesteps=20_000, eval_every_s=30.0))
    assert (clock.eval_every_steps, clock.eval_every_s) == (None, 30.0)  # as given
    steps = resolve_ppo(ppo_args(SUDOKU, minutes=2.0, eval_every_steps=512))
    assert (steps.eval_every_steps, steps.eval_every_s) == (512, None)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"eval_every_steps": 100, "eval_every_s": 10.0}, "give one validation schedule"),
        ({"eval_every_steps": 0}, "eval_every_steps"),
        ({"eval_every_s": -1.0}, "eval_every_s"),
    ],
)
def test_bad_schedules_are_refused(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_ppo(ppo_args(SUDOKU, timesteps=1000, **options))


def test_configs_written_before_eval_every_steps_still_load() -> None:
    cfg = resolve_ppo(ppo_args(SUDOKU, timesteps=4096, out=Path("runs/x")))
    tree = cfg.to_dict()
    assert PPOConfig.from_dict(tree) == cfg
    del tree["eval_every_steps"]  # format 2, before the field existed
    tree["eval_every_s"] = 60.0
    old = stored_ppo_config({"format": 2, "regime": "ppo", "config": tree})
    assert (old.eval_every_steps, old.eval_every_s, old.timesteps) == (None, 60.0, 4096)
    flat = {  # format 1: flat options
        "options": {"env": SUDOKU, "policy": "trm", "timesteps": 4096, "eval_every_s": 60.0,
                    "out": "runs/x", "seed": 1},
        "ppo": {"n_steps": 16},
    }  # fmt: skip
    older = stored_ppo_config(flat)
    assert (older.eval_every_steps, older.eval_every_s, older.seed) == (None, 60.0, 1)


def _metrics(run: Path) -> list[dict[str, str]]:
    with (run / "metrics.csv").open() as f:
        return list(csv.DictReader(f))


def test_a_run_validates_at_its_env_steps_and_logs_its_eval_time(tmp_path: Path) -> None:
    out = tmp_path / "run"
    options = dict(
        out=out, progress=False, tensorboard=False, model_set=("hidden_size=16", "num_heads=2"),
        ppo=dict(n_envs=4, n_steps=16, batch_size=32, n_epochs=1), val_episodes=8,
        test_episodes=8,
    )  # fmt: skip
    cfg = resolve_ppo(ppo_args(SUDOKU, timesteps=256, eval_every_steps=128, **options))
    train_ppo(cfg)
    rows = _metrics(out)
    # validations of the step-0 policy, at 128 and at the end (256), each logged at the env step
    # it was made at (not with the rollout that follows it)
    validated = [float(r["time/total_timesteps"]) for r in rows if r.get("val/success_2x")]
    assert validated == [0.0, 128.0, 256.0]
    assert "val/success" not in rows[0]  # plain success is not decided by a 2x-capped play
    last = rows[-1]
    assert float(last["time/eval_minutes"]) > 0
    assert 0 < float(last["time/eval_fraction"]) < 1
    # a resume with a grown budget (so another default schedule) continues the run
    grown = resolve_ppo(ppo_args(SUDOKU, timesteps=320, resume=True, **options))
    assert grown.eval_every_steps == 32 != cfg.eval_every_steps
    train_ppo(grown)
    rows = _metrics(out)
    assert float(rows[-1]["time/total_timesteps"]) == 320
    assert float(rows[-1]["time/eval_minutes"]) > float(last["time/eval_minutes"])
    assert json.loads((out / "config.json").read_text())["config"]["eval_every_steps"] == 128


def test_the_eval_throughput_benchmark_writes_its_table(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "eval_throughput.py"), "--tasks", "maze-7",
         "sudoku-4", "--episodes", "8", "--num-envs", "4", "--rounds", "1", "--out-dir", str(tmp_path)],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    payload = json.loads((tmp_path / "eval_throughput.json").read_text())
    rows = {(r["task"], r["policy"]) for r in payload["rows"]}
    assert rows == {("maze-7", "random"), ("maze-7", "oracle"), ("sudoku-4", "random"),
                    ("sudoku-4", "oracle")}  # fmt: skip
    for row in payload["rows"]:
        assert row["capped_success_2x"] == row["uncapped_success_2x"]
        assert row["capped_episodes_per_s"] > 0 and row["uncapped_episodes_per_s"] > 0
    assert "| maze 7x7 | random |" in (tmp_path / "eval_throughput.md").read_text()


def test_the_eval_throughput_benchmark_plays_a_shipped_trm_carry_policy(tmp_path: Path) -> None:
    """--policies trm-carry: the shipped maze-11x11 TRM as an untrained trm-carry PPO policy
    plays a 7x7 maze table row per thread count, in validation's waves (even_waves: 6
    puzzles, 2 waves of 3)."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "eval_throughput.py"), "--tasks", "maze-7",
         "--policies", "trm-carry", "--episodes", "6", "--num-envs", "4", "--rounds", "1",
         "--threads", "1", "2", "--out-dir", str(tmp_path)],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    rows = json.loads((tmp_path / "eval_throughput.json").read_text())["rows"]
    assert [r["threads"] for r in rows] == [1, 2]
    for row in rows:
        assert (row["task"], row["policy"], row["num_envs"]) == ("maze-7", "trm-carry", 3)
        for mode in ("uncapped", "capped"):
            assert row[f"{mode}_episodes_per_s"] > 0 and row[f"{mode}_wave_steps"] > 0
            assert 0.0 <= row[f"{mode}_success_2x"] <= 1.0
    table = (tmp_path / "eval_throughput.md").read_text()
    assert "| maze 7x7 | trm-carry | 1 |" in table and "| maze 7x7 | trm-carry | 2 |" in table


def test_the_eval_throughput_benchmark_rejects_a_thread_count_below_one(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "eval_throughput.py"), "--tasks", "maze-7",
         "--threads", "0", "--out-dir", str(tmp_path)],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode != 0 and "--threads takes counts >= 1" in result.stderr
    assert not (tmp_path / "eval_throughput.json").exists()


def test_dataclass_round_trip_keeps_the_cap() -> None:
    stats = EpisodeStats(np.array([3, 8]), np.array([3, 4]), np.array([True, False]), 2.0)
    result = stats.summary()
    assert dataclasses.asdict(result)["max_length_ratio"] == 2.0
    assert result.to_dict()["max_length_ratio"] == 2.0
    assert (result.success, result.success_2x, result.mean_length) == (0.5, 0.5, 5.5)


def test_an_unsolvable_maze_is_named_by_its_index() -> None:
    mazes = [p.grid.copy() for p in _mazes(9, 40)]
    goal = tuple(np.argwhere(mazes[37] == GOAL)[0])
    for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0)):
        r, c = goal[0] + dr, goal[1] + dc
        if 0 <= r < 9 and 0 <= c < 9:
            mazes[37][r, c] = WALL
    with pytest.raises(ValueError, match=r"puzzles\[37\]: maze puzzle is unsolvable"):
        run_episodes(MAZE, random_policy(0), mazes, num_envs=16)


def test_validation_waves_are_evenly_full() -> None:
    from trm_rl.policies.train import even_waves

    sizes = {n: even_waves(n, 64) for n in (1, 8, 64, 65, 200, 1000)}
    assert sizes == {1: 1, 8: 8, 64: 64, 65: 33, 200: 50, 1000: 63}


@pytest.mark.parametrize("policy", ["trm", "trm-carry"])
def test_an_agent_acts_only_for_live_rows_and_plays_the_same_episodes(policy: str) -> None:
    from trm_rl.policies.agents import build_agent
    from trm_rl.policies.evaluate import agent_act
    from trm_rl.policies.vec_env import make_sb3_vec_env

    cfg = resolve_ppo(ppo_args(MAZE, policy=policy, timesteps=64, device="cpu",
                               model_set=("hidden_size=16", "num_heads=2")))  # fmt: skip
    venv = make_sb3_vec_env(MAZE, 2, seed=0, pool_size=8, **cfg.env.kwargs)
    agent = build_agent(cfg, venv, torch.device("cpu"))[0]
    venv.close()
    mazes = _mazes(9, 10)
    rows: list[int] = []

    def play(live: bool) -> EpisodeStats:
        act = agent_act(agent)

        def every_row(obs: dict, masks: np.ndarray, starts: np.ndarray) -> np.ndarray:
            return act(obs, masks, starts)

        def counted(obs: dict, masks: np.ndarray, starts: np.ndarray, live: np.ndarray):
            rows.append(int(live.sum()))
            return act(obs, masks, starts, live=live)

        return play_episodes(MAZE, counted if live else every_row, mazes, num_envs=6,
                             max_length_ratio=2.0)  # fmt: skip

    full, skipping = play(False), play(True)
    for name in ("length", "optimal", "success"):
        np.testing.assert_array_equal(getattr(skipping, name), getattr(full, name))
    assert sum(rows) == int(skipping.length.sum())  # one forward row per counted step
