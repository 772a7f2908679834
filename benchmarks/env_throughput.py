"""Environment throughput: single env vs natively batched env, plus puzzle generation rates.

Every env is driven by uniformly random *legal* actions (drawn from the action mask) with
autoreset on, so the numbers include action sampling and resets, as in a real rollout. The
single and batched envs of one game are measured back to back in the same process; read the
ratio column, since absolute numbers move with the load of a shared machine.

    python benchmarks/env_throughput.py                 # full table, writes results/benchmarks/
    python benchmarks/env_throughput.py --seconds 0.5   # quick look
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np
import tyro

import envs  # noqa: F401  (registers the ids)
from envs.maze.generator import RandomMazeGenerator
from envs.maze.rules import sample_legal_actions as maze_sample
from envs.sudoku.generator import RandomSudokuGenerator
from envs.sudoku.rules import sample_legal_actions as sudoku_sample
from envs.utils import atomic_write


@dataclass
class Args:
    """Options of the environment throughput benchmark."""

    env_ids: tuple[str, ...] = (
        "trm_rl/Maze-15x15-v0",
        "trm_rl/MazeHard-v0",
        "trm_rl/Sudoku-9x9-v0",
    )
    """Registered ids to measure (single env and batched env for each)."""
    batch_size: int = 1024
    """Number of environments in the batched env."""
    seconds: float = 3.0
    """Wall-clock budget per measurement (after one warm-up second)."""
    generation_seconds: float = 5.0
    """Wall-clock budget per generator in the puzzle-generation table."""
    seed: int = 0
    """Seed for the envs and for action sampling."""
    out_dir: Path | None = Path("results/benchmarks")
    """Where env_throughput.md and env_throughput.json are written (None: print only)."""


@dataclass
class Row:
    env_id: str
    single_steps_per_s: float
    batched_steps_per_s: float
    sb3_adapter_steps_per_s: float
    make_seconds: float
    batch_size: int
    ratio: float = field(init=False)

    def __post_init__(self) -> None:
        self.ratio = self.batched_steps_per_s / max(self.single_steps_per_s, 1e-9)


def _sampler(env_id: str):
    return maze_sample if "Maze" in env_id else sudoku_sample


def _timed_rate(chunk, seconds: float) -> float:
    """Calls/s of ``chunk()`` (which returns how many steps it took) after a warm-up."""

    def run(budget: float) -> float:
        steps, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < budget or steps == 0:
            steps += chunk()
        return steps / elapsed

    run(min(1.0, seconds))
    return run(seconds)


def single_env_rate(env_id: str, seconds: float, seed: int) -> float:
    """Steps/s of one env stepped by a Python loop, random legal actions, manual reset."""
    env = gym.make(env_id).unwrapped  # no checker wrappers: measure the env itself
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    sample = _sampler(env_id)

    def chunk() -> int:
        for _ in range(100):
            action = int(sample(env.action_masks()[None], rng)[0])
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()
        return 100

    return _timed_rate(chunk, seconds)


def batched_env_rate(env_id: str, batch: int, seconds: float, seed: int) -> float:
    """Env-steps/s of the batched env (steps x batch), random legal actions, autoreset on."""
    venv = gym.make_vec(env_id, num_envs=batch, vectorization_mode="vector_entry_point")
    rng = np.random.default_rng(seed)
    venv.reset(seed=seed)
    sample = _sampler(env_id)

    def chunk() -> int:
        for _ in range(10):
            venv.step(sample(venv.action_masks(), rng))
        return 10 * batch

    rate = _timed_rate(chunk, seconds)
    venv.close()
    return rate


def adapter_rate(env_id: str, batch: int, seconds: float, seed: int) -> float:
    """Env-steps/s of the batched env behind the SB3 ``VecEnv`` adapter (what PPO sees)."""
    from trm_rl.policies.vec_env import make_sb3_vec_env

    venv = make_sb3_vec_env(env_id, batch, seed=seed, monitor=False)
    rng = np.random.default_rng(seed)
    venv.reset()
    sample = _sampler(env_id)

    def chunk() -> int:
        for _ in range(10):
            venv.step(sample(np.asarray(venv.env_method("action_masks")), rng))
        return 10 * batch

    rate = _timed_rate(chunk, seconds)
    venv.close()
    return rate


def make_seconds(env_id: str) -> float:
    """Seconds for ``gym.make`` plus the first reset in a process that has not built this env's
    pool yet (a maze pool is generated, a shipped Sudoku pool is read from disk)."""
    start = time.perf_counter()
    gym.make(env_id, pool_seed=987_654).reset(seed=0)
    return time.perf_counter() - start


def generation_rate(name: str, generator, seconds: float, seed: int) -> dict:
    """Puzzles/s of a generator called with a seeded ``np.random.Generator``."""
    rng = np.random.default_rng(seed)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or count == 0:
        generator(rng)
        count += 1
    elapsed = time.perf_counter() - start
    return {"generator": name, "puzzles": count, "puzzles_per_s": count / elapsed}


def generators() -> list[tuple[str, object]]:
    return [
        ("maze 15x15 dfs", RandomMazeGenerator(size=15)),
        ("maze 31x31 prim braid 0.2", RandomMazeGenerator(size=31, algorithm="prim", braid=0.2)),
        (
            "maze 30x30 path>110 (Maze-Hard recipe)",
            RandomMazeGenerator(size=30, min_path_length=111),
        ),
        ("sudoku 4x4", RandomSudokuGenerator(size=4)),
        ("sudoku 6x6", RandomSudokuGenerator(size=6)),
        ("sudoku 9x9", RandomSudokuGenerator(size=9)),
    ]


def machine_info() -> dict:
    return {
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "loadavg_1min": os.getloadavg()[0],
    }


def to_markdown(rows: list[Row], gen: list[dict], info: dict) -> str:
    lines = [
        "# Environment throughput",
        "",
        f"Random legal actions, autoreset on. Machine: {info['cpu_count']} cores "
        f"({info['machine']}), numpy {info['numpy']}, load average {info['loadavg_1min']:.2f}.",
        "",
        "| env id | single env steps/s | batched steps/s | via SB3 adapter | batch "
        "| batched / single | make + reset s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| `{r.env_id}` | {r.single_steps_per_s:,.0f} | {r.batched_steps_per_s:,.0f} "
            f"| {r.sb3_adapter_steps_per_s:,.0f} | {r.batch_size} | {r.ratio:,.1f}x "
            f"| {r.make_seconds:.2f} |"
        )
    lines += ["", "| generator | puzzles/s |", "|---|---:|"]
    lines += [f"| {g['generator']} | {g['puzzles_per_s']:,.1f} |" for g in gen]
    return "\n".join(lines) + "\n"


def main(args: Args) -> None:
    from rich.console import Console
    from rich.table import Table

    rows = []
    for env_id in args.env_ids:
        made = make_seconds(env_id)  # first, while this process has no pool of it cached
        single = single_env_rate(env_id, args.seconds, args.seed)
        batched = batched_env_rate(env_id, args.batch_size, args.seconds, args.seed)
        adapted = adapter_rate(env_id, args.batch_size, args.seconds, args.seed)
        rows.append(Row(env_id, single, batched, adapted, made, args.batch_size))
    gen = [generation_rate(n, g, args.generation_seconds, args.seed) for n, g in generators()]
    info = machine_info()

    table = Table(title="Environment throughput (random legal actions, autoreset on)")
    columns = ("env id", "single steps/s", f"batched (B={args.batch_size})", "via SB3 adapter")
    table.add_column(columns[0], no_wrap=True)
    for col in (*columns[1:], "batched / single"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            r.env_id,
            f"{r.single_steps_per_s:,.0f}",
            f"{r.batched_steps_per_s:,.0f}",
            f"{r.sb3_adapter_steps_per_s:,.0f}",
            f"{r.ratio:.1f}x",
        )
    gtable = Table(title="Puzzle generation")
    gtable.add_column("generator")
    gtable.add_column("puzzles/s", justify="right")
    for g in gen:
        gtable.add_row(g["generator"], f"{g['puzzles_per_s']:,.1f}")
    console = Console()
    console.print(table)
    console.print(gtable)

    if args.out_dir is not None:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        payload = {
            "args": {**asdict(args), "out_dir": str(args.out_dir)},
            "machine": info,
            "envs": [asdict(r) for r in rows],
            "generation": gen,
        }
        _atomic_write(args.out_dir / "env_throughput.json", json.dumps(payload, indent=2))
        _atomic_write(args.out_dir / "env_throughput.md", to_markdown(rows, gen, info))
        console.print(f"wrote {args.out_dir}/env_throughput.{{md,json}}")


def _atomic_write(path: Path, text: str) -> None:
    with atomic_write(path) as f:
        f.write(text)


if __name__ == "__main__":
    main(tyro.cli(Args))
