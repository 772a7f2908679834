"""Evaluation throughput: episodes (one per puzzle) per second, played to the env's step limit
vs cut at 2x the optimal length, by grid size.

Every task plays the same puzzles with the same policy twice, back to back in one process:
uncapped (each episode runs until it succeeds or the env truncates it: ``4 * H * W`` steps for a
maze, twice the blanks for a Sudoku) and capped with ``max_length_ratio`` (an episode not solved
after ``floor(ratio * optimal)`` steps is a failure there; see
:func:`trm_rl.policies.evaluate.run_episodes`). ``success_2x`` is the same in both columns by
construction; the table shows it. The random policy is the worst case (it fails by wandering, so
uncapped waves run to the step limit); the oracle is the best (it never needs the cap). Read the
speed-up column: absolute rates move with the load of a shared machine.

The random policy here draws each action from a hash of (seed, the episode's first board, its
step, the action) instead of one shared stream (:func:`~trm_rl.policies.evaluate.random_policy`),
so an episode is the same whatever the other rows and waves do: the capped play is exactly the
uncapped one cut short, and the two ``success_2x`` are equal episode by episode.

``--policies trm-carry`` measures what validation costs during PPO training: a network forward
per step. It plays the shipped supervised TRM of the game (``maze-11x11``, whose conv mixer takes
every maze size; ``sudoku-NxN`` for each Sudoku) as an untrained ``trm-carry`` PPO policy with
a frozen trunk, as ``trm-rl ppo --policy trm-carry --init-from NAME --freeze-trm`` builds it
before its first update (:func:`trm_rl.policies.agents.build_agent`), on the CPU, with greedy
actions through :func:`~trm_rl.policies.evaluate.agent_act`: exactly the act function PPO
validation plays, which runs the network only for the rows still counted (``live``).

Every policy plays in the waves validation uses: ``even_waves(episodes, num_envs)`` envs each
(:func:`trm_rl.policies.train.even_waves`; ``num_envs`` defaults to its ``VAL_WAVE``).

Wave steps are the calls of the policy (one per step of a wave, on the whole wave): what a
network policy pays in forward passes, and a count that does not depend on the machine. Env
steps/s counts every row of the batched env at every step of a wave (finished and padding rows
included): what the machine does. Episodes/s is what an evaluation gets; with these two cheap
policies it includes the env's resets (parsing and checking every given puzzle), which do not
shrink with the cap.

    python benchmarks/eval_throughput.py                      # full table, writes results/benchmarks/
    python benchmarks/eval_throughput.py --tasks maze-31 --episodes 64   # quick look
    python benchmarks/eval_throughput.py --policies trm-carry --tasks maze-7 maze-15 \
        --episodes 64 --out-dir /tmp/evalbench            # what PPO validation pays
    python benchmarks/eval_throughput.py --policies trm-carry --tasks maze-9 --threads 1 2 \
        --out-dir results/benchmarks/eval_threads         # evaluate-ppo's --threads default
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import tyro

import envs  # noqa: F401  (registers the ids)
from envs.maze.generator import RandomMazeGenerator, generate_mazes
from envs.sudoku.pool import shipped_pool
from envs.utils import atomic_write
from trm_rl.policies.agents import build_agent
from trm_rl.policies.config import ppo_args, resolve_ppo
from trm_rl.policies.evaluate import (
    ActFn,
    EpisodeStats,
    accepts_live,
    agent_act,
    oracle_policy,
    play_episodes,
)
from trm_rl.policies.train import VAL_WAVE, even_waves
from trm_rl.policies.vec_env import make_sb3_vec_env

Task = Literal[
    "maze-7", "maze-9", "maze-11", "maze-15", "maze-21", "maze-31", "sudoku-4", "sudoku-6",
    "sudoku-9",
]  # fmt: skip
Policy = Literal["random", "oracle", "trm-carry"]
#: The shipped model each game's ``trm-carry`` policy starts from (``{n}``: the Sudoku side).
SHIPPED = {"maze": "maze-11x11", "sudoku": "sudoku-{n}x{n}"}


@dataclass
class Args:
    """Options of the evaluation throughput benchmark."""

    tasks: tuple[Task, ...] = ("maze-7", "maze-11", "maze-21", "maze-31", "sudoku-4", "sudoku-9")
    """Games and sizes: generated mazes (trm_rl/Maze-v0, DFS) and shipped Sudoku pools."""
    policies: tuple[Policy, ...] = ("random", "oracle")
    """Policies to play: random (uniform over legal actions), oracle (the optimal policy),
    trm-carry (the shipped TRM of the game as an untrained trm-carry PPO policy, greedy: what
    PPO validation runs; maze-11x11 on every maze size, sudoku-NxN on Sudoku NxN)."""
    episodes: int = 256
    """Puzzles per task (each played once per mode and round)."""
    num_envs: int = VAL_WAVE
    """Most envs per wave; the puzzles play in evenly full waves, as PPO validation's do."""
    max_length_ratio: float = 2.0
    """The cap of the capped column (2.0: success within 2x optimal, the headline)."""
    rounds: int = 3
    """Timed rounds per task, policy and mode, alternating; the table gives medians."""
    seed: int = 0
    """Seed of the puzzles, the envs and the random policy."""
    threads: tuple[int, ...] = (1,)
    """torch threads to compare (e.g. 1 2): each count is a row, and the counts alternate
    within every round, so a change of the machine's load hits them alike."""
    out_dir: Path | None = Path("results/benchmarks")
    """Where eval_throughput.md and eval_throughput.json are written (None: print only)."""


class CountingAct:
    """A policy that counts its calls: the steps of every wave. It passes ``live`` on to a
    policy that takes it (a network then runs only for the counted rows)."""

    def __init__(self, act: ActFn) -> None:
        self.act, self.calls, self.takes_live = act, 0, accepts_live(act)

    def __call__(
        self, obs: dict, masks: np.ndarray, starts: np.ndarray, live: np.ndarray | None = None
    ) -> np.ndarray:
        self.calls += 1
        if self.takes_live and live is not None:
            return self.act(obs, masks, starts, live=live)
        return self.act(obs, masks, starts)


class EpisodeRandom:
    """Uniform over each row's legal actions (action 0 where none is legal), drawn from a
    counter-based hash of (seed, the episode's first board, its step, the action): the same
    episode whatever the other rows and waves do."""

    _MIX = (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))

    def __init__(self, seed: int) -> None:
        self.seed = np.uint64(seed)
        self.key: np.ndarray | None = None  # (B,) uint64 hash of each row's first board
        self.t: np.ndarray | None = None  # (B,) uint64 step of each row's episode
        self.weights: np.ndarray | None = None  # (H * W,) uint64 odd multipliers per cell

    def _mix(self, x: np.ndarray) -> np.ndarray:
        """splitmix64's finaliser: a bijection of uint64 that scrambles every bit."""
        x = (x ^ (x >> np.uint64(30))) * self._MIX[0]
        x = (x ^ (x >> np.uint64(27))) * self._MIX[1]
        return x ^ (x >> np.uint64(31))

    def __call__(self, obs: dict, masks: np.ndarray, starts: np.ndarray) -> np.ndarray:
        grid = np.asarray(obs["grid"]).reshape(len(masks), -1)
        starts = np.asarray(starts, dtype=bool)
        if self.key is None or self.key.shape[0] != len(grid):
            self.key, self.t = np.zeros(len(grid), np.uint64), np.zeros(len(grid), np.uint64)
            cells = np.arange(1, grid.shape[1] + 1, dtype=np.uint64)
            self.weights = self._mix(cells + self.seed) | np.uint64(1)
            starts = np.ones(len(grid), dtype=bool)
        assert self.t is not None and self.weights is not None
        if starts.any():
            first = grid[starts].astype(np.uint64)
            self.key[starts] = self._mix((first * self.weights).sum(axis=1) + self.seed)
            self.t[starts] = 0
        actions = np.arange(masks.shape[1], dtype=np.uint64)
        x = self._mix(self.key[:, None] ^ self._mix(self.t[:, None] * self._MIX[0] + actions))
        scores = (x >> np.uint64(11)).astype(np.float64)  # 53 uniform bits per action
        scores[~np.asarray(masks, dtype=bool)] = -1.0
        self.t += np.uint64(1)
        return scores.argmax(axis=1)


def task_setup(task: str, episodes: int, seed: int) -> dict[str, Any]:
    """Env id, env kwargs, puzzles and (Sudoku) solutions of a task."""
    game, size = task.split("-")
    n = int(size)
    if game == "maze":
        mazes = generate_mazes(RandomMazeGenerator(size=n), episodes, seed=seed)
        return {"env_id": "trm_rl/Maze-v0", "env_kwargs": {"size": n}, "puzzles": mazes,
                "solutions": None, "label": f"maze {n}x{n}"}  # fmt: skip
    pool = shipped_pool(n)
    rows = np.random.default_rng(seed).permutation(len(pool.puzzles))[:episodes]
    return {"env_id": f"trm_rl/Sudoku-{n}x{n}-v0", "env_kwargs": {},
            "puzzles": np.array(pool.puzzles[rows]), "solutions": np.array(pool.solutions[rows]),
            "label": f"sudoku {n}x{n}"}  # fmt: skip


def shipped_agent(task: str, setup: dict[str, Any], seed: int) -> Any:
    """The task's shipped TRM as an untrained ``trm-carry`` PPO agent on the CPU (frozen trunk,
    as ``--init-from NAME --freeze-trm`` builds it before the first update)."""
    game, size = task.split("-")
    name = SHIPPED[game].format(n=size)
    cfg = resolve_ppo(
        ppo_args(setup["env_id"], policy="trm-carry", init_from=Path(name), freeze_trm=True,
                 timesteps=8, seed=seed, device="cpu", env_fields=setup["env_kwargs"],
                 ppo={"n_envs": 1, "n_steps": 8, "batch_size": 8})  # a small rollout buffer
    )  # fmt: skip
    venv = make_sb3_vec_env(cfg.env.id, 1, seed=seed, **cfg.env.kwargs)
    try:
        return build_agent(cfg, venv, torch.device("cpu"))[0]
    finally:
        venv.close()


def make_policy(policy: str, setup: dict[str, Any], seed: int, agent: Any = None) -> ActFn:
    if policy == "random":
        return EpisodeRandom(seed)
    if policy == "trm-carry":
        return agent_act(agent, deterministic=True)  # what PPO validation plays
    if setup["solutions"] is None:
        return oracle_policy(setup["env_id"])
    return oracle_policy(setup["env_id"], puzzles=setup["puzzles"], solutions=setup["solutions"])


def play_timed(
    setup: dict[str, Any], policy: str, ratio: float | None, args: Args, agent: Any = None
) -> tuple[float, int, EpisodeStats]:
    """Seconds, policy calls (wave steps) and the episodes of one play."""
    act = CountingAct(make_policy(policy, setup, args.seed, agent))
    start = time.perf_counter()
    stats = play_episodes(
        setup["env_id"], act, setup["puzzles"], solutions=setup["solutions"],
        env_kwargs=setup["env_kwargs"], num_envs=waves(args), seed=args.seed,
        max_length_ratio=ratio,
    )  # fmt: skip
    return time.perf_counter() - start, act.calls, stats


def waves(args: Args) -> int:
    """Envs per wave: PPO validation's evenly full waves (:func:`even_waves`)."""
    return even_waves(args.episodes, args.num_envs)


def measure(task: str, policy: str, args: Args) -> list[dict[str, Any]]:
    """The task's table rows, one per thread count: both modes over alternating rounds."""
    setup = task_setup(task, args.episodes, args.seed)
    agent = shipped_agent(task, setup, args.seed) if policy == "trm-carry" else None
    modes = (("uncapped", None), ("capped", args.max_length_ratio))
    seconds = {(t, mode): [] for t in args.threads for mode, _ in modes}
    calls: dict[tuple[int, str], int] = {}
    stats: dict[tuple[int, str], EpisodeStats] = {}
    for _ in range(args.rounds):
        for t in args.threads:
            torch.set_num_threads(t)
            for mode, ratio in modes:
                s, calls[t, mode], stats[t, mode] = play_timed(setup, policy, ratio, args, agent)
                seconds[t, mode].append(s)
    torch.set_num_threads(1)
    return [
        table_row(
            task,
            setup,
            policy,
            args,
            t,
            {m: seconds[t, m] for m, _ in modes},
            {m: calls[t, m] for m, _ in modes},
            {m: stats[t, m] for m, _ in modes},
        )
        for t in args.threads
    ]


def table_row(
    task: str,
    setup: dict[str, Any],
    policy: str,
    args: Args,
    threads: int,
    seconds: dict[str, list[float]],
    calls: dict[str, int],
    stats: dict[str, EpisodeStats],
) -> dict[str, Any]:
    """One row: the medians of one thread count's rounds."""
    batch = waves(args)
    row: dict[str, Any] = {"task": task, "label": setup["label"], "policy": policy,
                           "threads": threads, "episodes": args.episodes,
                           "num_envs": batch}  # fmt: skip
    for mode in ("uncapped", "capped"):
        median = statistics.median(seconds[mode])
        summary = stats[mode].summary()
        row[f"{mode}_seconds"] = round(median, 4)
        row[f"{mode}_episodes_per_s"] = round(args.episodes / median, 1)
        row[f"{mode}_env_steps_per_s"] = round(calls[mode] * batch / median, 1)
        row[f"{mode}_wave_steps"] = calls[mode]
        row[f"{mode}_mean_length"] = round(float(stats[mode].length.mean()), 2)
        row[f"{mode}_success"] = summary.success
        row[f"{mode}_success_2x"] = summary.success_2x
    row["mean_optimal"] = round(float(stats["uncapped"].optimal.mean()), 2)
    row["speedup"] = round(row["capped_episodes_per_s"] / row["uncapped_episodes_per_s"], 2)
    return row


def machine_info() -> dict[str, Any]:
    return {
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch_threads": torch.get_num_threads(),
        "loadavg_1min": os.getloadavg()[0],
    }


def rate(per_s: float) -> str:
    """A rate for the table: whole numbers, one decimal below 10 (a network on a large maze)."""
    return f"{per_s:,.1f}" if per_s < 10 else f"{per_s:,.0f}"


def to_markdown(rows: list[dict[str, Any]], args: Args, info: dict[str, Any], wall: float) -> str:
    ratio = f"{args.max_length_ratio:g}x"
    lines = [
        "# Evaluation throughput",
        "",
        f"{args.episodes} puzzles per task, waves of {waves(args)} envs, "
        f"median of {args.rounds} alternating rounds; uncapped = to the env's step limit "
        f"(maze 4·H·W, Sudoku 2·blanks), capped = cut at floor({ratio} · optimal). Machine: "
        f"{info['cpu_count']} cores ({info['machine']}), numpy {info['numpy']}, load average "
        f"{info['loadavg_1min']:.2f}; the whole run took {wall:.0f} s. Reproduce: "
        "`python benchmarks/eval_throughput.py`.",
        "",
        "Wave steps are policy calls (hardware independent); a network policy that takes `live` "
        "(`agent_act`) computes only the counted steps (steps / episode x episodes), one that "
        "does not computes wave steps x envs. The random policy hashes (episode, step) instead "
        "of sharing one stream, so both plays are the same episodes and success_2x matches "
        "episode by episode. Episodes/s of these two cheap policies includes the env's resets "
        "(every given maze is parsed and checked), which the cap does not shorten.",
        *trm_carry_note(args),
        "",
        f"| task | policy | torch threads | episodes/s uncapped | episodes/s capped {ratio} | speed-up "
        "| wave steps uncapped → capped | env steps/s uncapped | env steps/s capped "
        "| steps / episode uncapped → capped | mean optimal | success_2x (both) "
        "| plain success (uncapped) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        same = r["capped_success_2x"] == r["uncapped_success_2x"]
        lines.append(
            f"| {r['label']} | {r['policy']} | {r['threads']} "
            f"| {rate(r['uncapped_episodes_per_s'])} "
            f"| {rate(r['capped_episodes_per_s'])} | {r['speedup']:.1f}x "
            f"| {r['uncapped_wave_steps']:,} → {r['capped_wave_steps']:,} "
            f"| {r['uncapped_env_steps_per_s']:,.0f} | {r['capped_env_steps_per_s']:,.0f} "
            f"| {r['uncapped_mean_length']:,.1f} → {r['capped_mean_length']:,.1f} "
            f"| {r['mean_optimal']:.1f} | {r['capped_success_2x']:.3f}{'' if same else ' (!)'} "
            f"| {r['uncapped_success']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def trm_carry_note(args: Args) -> list[str]:
    if "trm-carry" not in args.policies:
        return []
    return [
        "",
        "trm-carry: the shipped TRM (maze-11x11 on every maze, sudoku-NxN on Sudoku) as an "
        "untrained trm-carry PPO policy with a frozen trunk, greedy, on the CPU (torch threads: "
        "the table's column): the act function PPO validation and evaluate-ppo play, one "
        "forward per wave step on the live rows only.",
    ]


def main(args: Args) -> None:
    if not args.threads or min(args.threads) < 1:
        raise SystemExit(f"--threads takes counts >= 1 (e.g. --threads 1 2), got {args.threads}")
    torch.set_num_threads(1)
    start = time.perf_counter()
    rows = []
    for task in args.tasks:
        for policy in args.policies:
            for r in measure(task, policy, args):
                rows.append(r)
                print(f"{r['label']} {policy} ({r['threads']} threads): "
                      f"{r['uncapped_episodes_per_s']:,.0f} -> "
                      f"{r['capped_episodes_per_s']:,.0f} episodes/s", flush=True)  # fmt: skip
    wall = time.perf_counter() - start
    info = machine_info()
    table = to_markdown(rows, args, info, wall)
    print(table)
    if args.out_dir is not None:
        payload = {"args": {**asdict(args), "out_dir": str(args.out_dir)}, "machine": info,
                   "seconds": round(wall, 1), "rows": rows}  # fmt: skip
        with atomic_write(args.out_dir / "eval_throughput.json") as f:
            json.dump(payload, f, indent=2)
        with atomic_write(args.out_dir / "eval_throughput.md") as f:
            f.write(table)
        print(f"wrote {args.out_dir}/eval_throughput.{{md,json}}")


if __name__ == "__main__":
    main(tyro.cli(Args))
