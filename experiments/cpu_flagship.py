"""The CPU flagship: trained models scored on every held-out and public set of their game.

    python -m experiments.cpu_flagship sudoku-9x9 --runs runs/s9/seed0 runs/s9/seed1 \\
        --out results/cpu_flagship

Each run (a ``trm-rl train-supervised`` run directory) is scored, with all its supervision steps
and with early halting, on every set of its task (:data:`TASKS`):

``sudoku-9x9`` (the recipe trains on puzzles with 30-35 givens):

- ``test``: the run's own test split (puzzles of its pool it never trained on);
- ``fresh-30-35``: 1,000 newly generated puzzles with 30-35 givens (pool seed
  :data:`FRESH_SEED`, so none comes from the training pool's stream; any that does is dropped);
- ``pool-22-29``: every puzzle of the shipped 9x9 pool with 22-29 givens (harder: the training
  pool has none of them);
- ``sudoku-extreme``: all 1,000 bundled Sudoku-Extreme puzzles (17-35 givens, the public hard
  set; the paper's TRM reaches 87.4% on its test split after about a GPU-day).

``sudoku-9x9-mixers``: runs of the recipe that differ in ``--model.mixer`` only (units, the
sequence MLP, attention), scored on their test split at the same ``--snapshot`` step, one table
row per mixer:

    python -m experiments.cpu_flagship sudoku-9x9-mixers --snapshot 400 \\
        --runs runs/s9/seed0 runs/s9/mix-mlp-s0 runs/s9/mix-att-s0

Rows go to ``OUT/<task>.csv`` (tidy: run, seed, set, puzzles, exact, exact_se (binomial),
exact_halt, steps_halt, valid, valid_halt, token_accuracy, steps, minutes, mixer, snapshot),
written after each (run, set, snapshot) and skipped when present, so an interrupted scoring resumes. The README block between
``<!-- flagship:<task>:begin -->`` and ``<!-- flagship:<task>:end -->`` of ``--readme`` is
rendered from that CSV alone (:func:`table`); ``tests/test_results_readmes.py`` checks it.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import tyro

from envs.sudoku.generator import RandomSudokuGenerator
from envs.sudoku.io import write_sudoku_csv
from envs.sudoku.puzzles import generate_pool
from envs.sudoku.rules import to_tokens
from envs.utils import atomic_write
from experiments.collect import num, write_csv
from experiments.report import replace_block
from experiments.stats import binomial_se
from trm_rl.data.build import make_data
from trm_rl.data.config import DataConfig
from trm_rl.runs import read_config
from trm_rl.supervised.commands import evaluate_run
from trm_rl.supervised.config import stored_train_config

#: Pool seed of the fresh 30-35-givens puzzles (the recipe's pool uses the data seed, 0).
FRESH_SEED = 20261202
FIELDS = [
    "run", "seed", "set", "puzzles", "exact", "exact_se", "exact_halt", "steps_halt",
    "valid", "valid_halt", "token_accuracy", "steps", "minutes", "mixer", "snapshot",
]  # fmt: skip
#: Minimum shortest path of the generated Maze-Hard-like 30x30 mazes (Maze-Hard's own minimum).
MAZE_HARD_MIN_PATH = 109

#: A set: its name and a function (run's training data, cache folder) -> (data, split).
SetFn = Callable[[DataConfig, Path], tuple[str | DataConfig, str]]


def _test(trained: DataConfig, cache: Path) -> tuple[str | DataConfig, str]:
    return trained, "test"


def _fresh(trained: DataConfig, cache: Path) -> tuple[str | DataConfig, str]:
    """1,000 fresh puzzles with the training givens, minus any in the training pool."""
    path = cache / "sudoku-9x9-fresh-30-35.csv"
    if not path.exists():
        givens = trained.givens or (30, 35)
        pool = generate_pool(RandomSudokuGenerator(9, givens), 1000, FRESH_SEED)
        train = make_data(trained)
        tokens = to_tokens(pool.puzzles).reshape(len(pool), -1)
        seen = _in_pool(train, tokens)
        cache.mkdir(parents=True, exist_ok=True)
        write_sudoku_csv(pool.select(np.flatnonzero(~seen)), path, f"fresh seed {FRESH_SEED}")
    return str(path), "all"


def _in_pool(data: Any, tokens: np.ndarray) -> np.ndarray:
    """Which rows of ``tokens`` are puzzles of ``data``'s pool (train, val or test)."""
    rows = {bytes(r) for r in data.split("all")[0]}
    return np.array([bytes(r) in rows for r in tokens], dtype=bool)


def _pool_22_29(trained: DataConfig, cache: Path) -> tuple[str | DataConfig, str]:
    return DataConfig(name="sudoku-9x9", givens=(22, 29)), "all"


def _extreme(trained: DataConfig, cache: Path) -> tuple[str | DataConfig, str]:
    return "sudoku-extreme", "all"


def _maze_hard_test(trained: DataConfig, cache: Path) -> tuple[str | DataConfig, str]:
    """Maze-Hard's held-out test split (100 of the bundled 1,000; a model trained on Maze-Hard
    never saw them)."""
    return "maze-hard", "test"


def _maze_hard_all(trained: DataConfig, cache: Path) -> tuple[str | DataConfig, str]:
    """All 1,000 bundled Maze-Hard mazes: only for models that never trained on Maze-Hard."""
    if trained.name == "maze-hard":
        raise ValueError("the run trained on maze-hard: score its test split only")
    return "maze-hard", "all"


def _maze_like(trained: DataConfig, cache: Path) -> tuple[str | DataConfig, str]:
    """100 generated Maze-Hard-like 30x30 obstacle mazes (shortest path >= 109), a seed no
    training stream uses."""
    data = DataConfig(name="maze-30x30", algorithm="obstacles", seed=FRESH_SEED,
                      min_path_length=MAZE_HARD_MIN_PATH, val_size=1, test_size=100)  # fmt: skip
    return data, "test"


#: The sets of each task, in table order.
TASKS: dict[str, dict[str, SetFn]] = {
    "sudoku-9x9": {
        "test": _test,
        "fresh-30-35": _fresh,
        "pool-22-29": _pool_22_29,
        "sudoku-extreme": _extreme,
    },
    # The token mixers at equal optimiser steps (runs that differ in --model.mixer only, scored
    # at the same --snapshot): rendered by mixer, not by set.
    "sudoku-9x9-mixers": {"test": _test},
    "maze-hard": {
        "test": _test,
        "maze-hard-test": _maze_hard_test,
        "maze-hard-all": _maze_hard_all,
        "maze-hard-like": _maze_like,
    },
}
SET_LABELS = {
    "test": "the run's own test split (unseen)",
    "fresh-30-35": "1,000 fresh puzzles, 30-35 givens",
    "pool-22-29": "shipped pool, 22-29 givens (harder)",
    "sudoku-extreme": "Sudoku-Extreme 1k (17-35 givens)",
    "maze-hard-test": "Maze-Hard test split (100 held out)",
    "maze-hard-all": "Maze-Hard, all 1,000",
    "maze-hard-like": "generated Maze-Hard-like 30x30 (100)",
}


def read_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a flagship CSV ([] when missing)."""
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def score_runs(
    task: str, runs: list[Path], out: Path, device: str = "cpu", snapshot: int | None = None
) -> list[dict]:
    """Score every run on every set of ``task`` into ``out/<task>.csv``, skipping done
    (run, set, snapshot) triples.

    :param snapshot: score the snapshot each run kept at this step (``--keep-every``) instead of
        its last checkpoint (runs compared at equal optimiser steps).
    :raises ValueError: for an unknown task, a folder that is not a finished supervised run, or
        a run that kept no snapshot at ``snapshot``.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {list(TASKS)}")
    path = out / f"{task}.csv"
    rows = read_rows(path)
    tag = "" if snapshot is None else str(snapshot)
    done = {(r["run"], r["set"], r.get("snapshot") or "") for r in rows}
    cache = out / "sets"
    for run in runs:
        cfg = stored_train_config(read_config(run, "supervised"))
        trained = cfg.data
        for name, make in TASKS[task].items():
            if (run.name, name, tag) in done:
                continue
            try:
                data, split = make(trained, cache)
            except ValueError as err:  # a set that does not apply to this run
                print(f"{run.name} {name}: skipped ({err})", flush=True)
                continue
            start = time.perf_counter()
            report = evaluate_run(run, data, split=split, device=device, snapshot=snapshot)
            n = int(report["count"])
            valid = {k: round(report[k], 4) if report.get(k) is not None else ""
                     for k in ("valid", "valid_halt")}  # fmt: skip
            rows.append({
                "run": run.name, "seed": cfg.seed, "set": name, "puzzles": n,
                "exact": round(report["exact_accuracy"], 4),
                "exact_se": round(binomial_se(report["exact_accuracy"], n), 4),
                "exact_halt": round(report["exact_accuracy_halt"], 4),
                "steps_halt": round(report["steps_halt"], 2), **valid,
                "token_accuracy": round(report["token_accuracy"], 4),
                "steps": report["steps_no_halt"],
                "minutes": round((time.perf_counter() - start) / 60, 2),
                "mixer": cfg.model.mixer, "snapshot": tag,
            })  # fmt: skip
            write_csv(path, rows, FIELDS)
            print(f"{run.name} {name}: {rows[-1]['exact']:.1%} exact of {n}", flush=True)
    return rows


def table(rows: list[dict[str, str]], task: str) -> str:
    """The markdown table of a task's rows: per set, the runs, puzzles per run, the mean exact
    accuracy with the range over runs, the mean binomial s.e. of one run, and the same with
    early halting (mean steps used). ``sudoku-9x9-mixers``: the same per mixer and scored step
    (:func:`mixer_table`)."""
    if task == "sudoku-9x9-mixers":
        return mixer_table(rows)
    mazes = any(r.get("valid") not in ("", None) for r in rows)
    extra = " valid path, mean [min, max] |" if mazes else ""
    lines = [
        "| set | runs | puzzles / run | exact, mean [min, max] | s.e. of one run | "
        f"exact with halting [min, max] | steps used |{extra}",
        "|---|---|---|---|---|---|---|" + ("---|" if mazes else ""),
    ]
    for name in TASKS[task]:
        mine = [r for r in rows if r["set"] == name]
        if not mine:
            continue
        exact = np.array([num(r["exact"]) for r in mine])
        halt = np.array([num(r["exact_halt"]) for r in mine])
        se = np.mean([num(r["exact_se"]) for r in mine])
        steps = np.mean([num(r["steps_halt"]) for r in mine])
        puzzles = sorted({int(num(r["puzzles"])) for r in mine})
        valid = f" {_range(np.array([num(r['valid']) for r in mine]))} |" if mazes else ""
        lines.append(
            f"| {SET_LABELS.get(name, name)} | {len(mine)} | "
            f"{'/'.join(map(str, puzzles))} | {_range(exact)} | {se:.1%} | {_range(halt)} | "
            f"{steps:.1f} |{valid}"
        )
    return "\n".join(lines)


def mixer_table(rows: list[dict[str, str]]) -> str:
    """Per token mixer and scored step (a snapshot's, or the run's last), in the order the rows
    first name them: runs, puzzles per run, exact accuracy on the run's test split (mean [min,
    max] over runs), the mean binomial s.e. of one run, and the same with early halting."""
    lines = [
        "| mixer | optimiser steps | runs | puzzles / run | exact, mean [min, max] | "
        "s.e. of one run | exact with halting [min, max] | steps used |",
        "|---|---|---|---|---|---|---|---|",
    ]
    test = [r for r in rows if r["set"] == "test"]
    for mixer, step in dict.fromkeys((r["mixer"], _step(r)) for r in test):
        mine = [r for r in test if (r["mixer"], _step(r)) == (mixer, step)]
        exact = np.array([num(r["exact"]) for r in mine])
        halt = np.array([num(r["exact_halt"]) for r in mine])
        se = np.mean([num(r["exact_se"]) for r in mine])
        steps = np.mean([num(r["steps_halt"]) for r in mine])
        puzzles = sorted({int(num(r["puzzles"])) for r in mine})
        lines.append(
            f"| {mixer} | {step} | {len(mine)} | {'/'.join(map(str, puzzles))} | "
            f"{_range(exact)} | {se:.1%} | {_range(halt)} | {steps:.1f} |"
        )
    return "\n".join(lines)


def _step(row: dict[str, str]) -> str:
    return row.get("snapshot") or "last"


def _range(x: np.ndarray) -> str:
    return f"{x.mean():.1%} [{x.min():.1%}, {x.max():.1%}]".replace("%", "")


def markers(task: str) -> tuple[str, str]:
    """The README markers of a task's block."""
    return f"<!-- flagship:{task}:begin -->", f"<!-- flagship:{task}:end -->"


def render(readme: Path, task: str, rows: list[dict[str, str]]) -> str:
    """``readme``'s text with the task's block replaced by :func:`table` of ``rows``.

    :raises ValueError: when the README lacks the task's markers.
    """
    begin, end = markers(task)
    return replace_block(readme, table(rows, task), begin, end)


@dataclass
class FlagshipArgs:
    """Score supervised runs on every held-out and public set of their task; write
    OUT/<task>.csv and the README's table."""

    task: tyro.conf.Positional[Annotated[str, tyro.conf.arg(metavar="TASK")]]
    """sudoku-9x9, sudoku-9x9-mixers (runs that differ in the token mixer, scored on their test
    split, one row per mixer) or maze-hard (a model for Maze-Hard, trained on it or on generated
    mazes)."""
    runs: tuple[Path, ...] = ()
    """Run directories of trm-rl train-supervised (one per seed)."""
    out: Path = Path("results/cpu_flagship")
    """Where <task>.csv and the generated sets (sets/) go."""
    readme: Path | None = None
    """Re-render this README's <!-- flagship:TASK:begin/end --> block from the CSV."""
    device: str = "cpu"
    """'cpu', 'auto', 'cuda', ..."""
    snapshot: int | None = None
    """Score the snapshot each run kept at this optimiser step (train-supervised --keep-every)
    instead of its last checkpoint: runs compared at equal steps (default: the last)."""


def main(argv: list[str] | None = None) -> None:
    args = tyro.cli(FlagshipArgs, args=argv)
    out = Path(args.out)
    try:
        rows = score_runs(args.task, list(args.runs), out, args.device, args.snapshot)
        print(table(rows, args.task))
        if args.readme is not None:
            text = render(args.readme, args.task, rows)
            with atomic_write(args.readme) as f:
                f.write(text)
    except ValueError as err:
        raise SystemExit(f"cpu_flagship: {' '.join(str(err).split())}") from None


if __name__ == "__main__":
    main()
