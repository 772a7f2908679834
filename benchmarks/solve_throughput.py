"""``solve`` throughput: puzzles per second of the shipped models, before and after batched
solving with early stopping, by grid size.

Every task solves the same puzzles twice, back to back in one process, with
:func:`trm_rl.supervised.commands.solve_puzzles` (what ``trm-rl solve`` runs):

- **before**: what ``solve`` did before (one batch of the whole file, ``stop_unchanged=0``):
  the halting head stops rows on the trained grid size (the shipped maze model never halts: it
  was trained without ACT), and on a larger grid every row runs all the supervision steps,
  which are scaled with the cells (``default_steps``: 8 on 11x11, 30 on 21x21, 64 on 31x31);
- **after**: the defaults of ``solve`` now: batches of ``solve_batch_size(cells)`` puzzles (32
  on 31x31, 69 on 21x21, 254 on 11x11, 256 on Sudoku; at most the task's puzzles), the same
  halting, and a row also stops once its answer has not changed for ``STOP_UNCHANGED`` steps;
  stopped rows leave the batch, so the network runs only on rows still working.

``identical`` is the fraction of puzzles whose answer is the same in both; ``correct`` is the
fraction of valid shortest paths (mazes, checked by BFS) or solved grids (Sudoku) in each.
Mazes are generated DFS mazes (the shipped ``maze-11x11`` model's training distribution; the
conv mixer takes any size), Sudoku the held-out puzzles shipped with each model. The steps
ratio is the network work saved (it does not depend on the machine); puzzles/s and their ratio
move with the load of a shared machine (the same work timed twice differs by up to 30% there).

    python benchmarks/solve_throughput.py                    # full table, writes results/benchmarks/
    python benchmarks/solve_throughput.py --tasks maze-31 --puzzles 4    # quick look
"""

from __future__ import annotations

import csv
import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import tyro

from envs.maze.generator import RandomMazeGenerator, generate_mazes
from envs.utils import atomic_write
from trm_rl import pretrained
from trm_rl.data.text import from_text, read_puzzle_file
from trm_rl.supervised.commands import (
    STOP_UNCHANGED,
    default_steps,
    solve_batch_size,
    solve_puzzles,
)
from trm_rl.supervised.evaluate import maze_valid

Task = Literal["maze-11", "maze-21", "maze-31", "sudoku-4", "sudoku-6", "sudoku-9"]
#: Puzzles per task by default: about 2 minutes in all (2 rounds) on one busy core.
PUZZLES = {"maze-11": 64, "maze-21": 12, "maze-31": 6, "sudoku-4": 200, "sudoku-6": 128,
           "sudoku-9": 48}  # fmt: skip


@dataclass
class Args:
    """Options of the solve throughput benchmark."""

    tasks: tuple[Task, ...] = ("maze-11", "maze-21", "maze-31", "sudoku-4", "sudoku-6", "sudoku-9")
    """Games and sizes: DFS mazes for the shipped maze-11x11 model, the shipped Sudoku models."""
    puzzles: int | None = None
    """Puzzles per task (None: 64 / 12 / 6 mazes of 11 / 21 / 31, 200 / 128 / 48 Sudoku of
    4 / 6 / 9; at most 200 Sudoku, the held-out puzzles shipped with each model)."""
    batch_size: int | None = None
    """Batch size of the after column (None: solve's default for the grid size)."""
    stop_unchanged: int = STOP_UNCHANGED
    """Steps without change that stop a row in the after column."""
    rounds: int = 2
    """Timed rounds per task and mode, alternating (before first, then after first); the table
    gives the fastest (the least disturbed by other jobs on a shared machine)."""
    seed: int = 0
    """Seed of the generated mazes."""
    out_dir: Path | None = Path("results/benchmarks")
    """Where solve_throughput.md and solve_throughput.json are written (None: print only)."""


def task_setup(task: str, count: int | None, seed: int) -> dict[str, Any]:
    """Model, questions ``[N, cells]``, grid shape and a correctness check of a task."""
    game, size = task.split("-")
    n, count = int(size), count or PUZZLES[task]
    if game == "maze":
        name = "maze-11x11"
        mazes = generate_mazes(RandomMazeGenerator(size=n), count, seed=seed)
        questions = np.stack([m.grid.ravel() for m in mazes]).astype(np.int64)
        solutions = None
    else:
        name = f"sudoku-{n}x{n}"
        path = pretrained.model_folder(name) / "heldout.csv"
        rows = read_puzzle_file(path)[:count]
        questions = np.stack([from_text("sudoku", text)[0] for _, text in rows])
        solutions = np.stack([from_text("sudoku", s)[0] for s in _solutions(path)[: len(rows)]])
    return {"model": name, "questions": questions, "solutions": solutions, "shape": (n, n),
            "label": f"{game} {n}x{n}"}  # fmt: skip


def _solutions(path: Path) -> list[str]:
    """The ``solution`` column of a model's ``heldout.csv``."""
    with path.open(newline="", encoding="utf-8") as f:
        return [row["solution"] for row in csv.DictReader(f)]


def correct(setup: dict[str, Any], answers: np.ndarray) -> np.ndarray:
    """``[N]`` bool: a valid shortest path (maze) or the solution (Sudoku)."""
    if setup["solutions"] is None:
        return maze_valid(setup["questions"], answers, setup["shape"]).astype(bool)
    return (answers == setup["solutions"]).all(1)


def measure(task: str, args: Args) -> dict[str, Any]:
    """One table row: both modes over alternating rounds."""
    setup = task_setup(task, args.puzzles, args.seed)
    net = pretrained.load_pretrained(setup["model"], "cpu")
    questions, shape = setup["questions"], setup["shape"]
    n = len(questions)
    steps = default_steps(net, shape[0] * shape[1])
    after_batch = args.batch_size or solve_batch_size(shape[0] * shape[1])
    modes = {"before": (n, 0), "after": (min(after_batch, n), args.stop_unchanged)}
    seconds: dict[str, list[float]] = {mode: [] for mode in modes}
    solve_puzzles(net, questions[:2], shape, 2)  # warm-up: the first calls are slower
    solved = {}
    for r in range(args.rounds):
        for mode in modes if r % 2 == 0 else reversed(modes):
            batch, stop = modes[mode]
            start = time.perf_counter()
            solved[mode] = solve_puzzles(
                net, questions, shape, steps, batch_size=batch, stop_unchanged=stop
            )
            seconds[mode].append(time.perf_counter() - start)
    row: dict[str, Any] = {"task": task, "label": setup["label"], "model": setup["model"],
                           "puzzles": n, "max_steps": steps}  # fmt: skip
    for mode, (batch, stop) in modes.items():
        fastest = min(seconds[mode])
        row[f"{mode}_batch_size"] = batch
        row[f"{mode}_stop_unchanged"] = stop
        row[f"{mode}_seconds"] = round(fastest, 3)
        row[f"{mode}_puzzles_per_s"] = round(n / fastest, 3)
        row[f"{mode}_mean_steps"] = round(float(solved[mode].steps[0].mean()), 2)
        row[f"{mode}_correct"] = round(float(correct(setup, solved[mode].answers[0]).mean()), 4)
    same = (solved["before"].answers[0] == solved["after"].answers[0]).all(1)
    row["identical"] = round(float(same.mean()), 4)
    row["ratio"] = round(row["after_puzzles_per_s"] / row["before_puzzles_per_s"], 2)
    row["steps_ratio"] = round(row["before_mean_steps"] / row["after_mean_steps"], 2)
    return row


def machine_info() -> dict[str, Any]:
    return {
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "loadavg_1min": os.getloadavg()[0],
    }


def to_markdown(rows: list[dict[str, Any]], args: Args, info: dict[str, Any], wall: float) -> str:
    lines = [
        "# Solve throughput",
        "",
        f"The shipped models on CPU, {info['torch_threads']} torch thread, fastest of "
        f"{args.rounds} alternating round(s). Before: one batch of all the puzzles, every "
        "supervision step unless the halting head stops a row (on the trained grid size only; "
        "the maze model never halts). After: batches of "
        f"{args.batch_size or 'the default size of solve'}, the same halting, "
        "and a row stops once its answer has not changed "
        f"for {args.stop_unchanged} steps; stopped rows leave the batch. Machine: "
        f"{info['cpu_count']} cores ({info['machine']}), torch {info['torch']}, load average "
        f"{info['loadavg_1min']:.2f}; the whole run took {wall:.0f} s. Reproduce: "
        "`python benchmarks/solve_throughput.py`.",
        "",
        "Steps are supervision steps per puzzle (the limit scales with the cells on grids larger "
        "than the trained one); the steps ratio is the network work saved, independent of the "
        "machine, while puzzles/s move with its load. Identical: the fraction of puzzles given the same answer by "
        "both; correct: a valid shortest path (mazes) or the solution (Sudoku).",
        "",
        "| task | model | puzzles | batch before → after | puzzles/s before | puzzles/s after "
        "| ratio | steps / puzzle before → after | steps ratio | identical "
        "| correct before → after |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['label']} | {r['model']} | {r['puzzles']} "
            f"| {r['before_batch_size']} → {r['after_batch_size']} | {r['before_puzzles_per_s']:,.2f} "
            f"| {r['after_puzzles_per_s']:,.2f} | {r['ratio']:.2f}x "
            f"| {r['before_mean_steps']:.1f} → {r['after_mean_steps']:.1f} (of {r['max_steps']}) "
            f"| {r['steps_ratio']:.2f}x "
            f"| {r['identical']:.3f} | {r['before_correct']:.3f} → {r['after_correct']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main(args: Args) -> None:
    torch.set_num_threads(1)
    start = time.perf_counter()
    rows = []
    for task in args.tasks:
        rows.append(measure(task, args))
        r = rows[-1]
        print(f"{r['label']}: {r['before_puzzles_per_s']:,.2f} -> "
              f"{r['after_puzzles_per_s']:,.2f} puzzles/s", flush=True)  # fmt: skip
    wall = time.perf_counter() - start
    info = machine_info()
    table = to_markdown(rows, args, info, wall)
    print(table)
    if args.out_dir is not None:
        payload = {"args": {**asdict(args), "out_dir": str(args.out_dir)}, "machine": info,
                   "seconds": round(wall, 1), "rows": rows}  # fmt: skip
        with atomic_write(args.out_dir / "solve_throughput.json") as f:
            json.dump(payload, f, indent=2)
        with atomic_write(args.out_dir / "solve_throughput.md") as f:
            f.write(table)
        print(f"wrote {args.out_dir}/solve_throughput.{{md,json}}")


if __name__ == "__main__":
    main(tyro.cli(Args))
