"""Collect supervised runs into ``results/supervised/``: test-split scores, tidy curves, a plot.

For every run directory given it scores the run's test split (``trm-rl evaluate``, with env
play) and, where asked, other data (``--also maze-15x15 maze-31x31 maze-hard``: thinking longer
on larger grids), then writes:

- ``summary.csv``: one row per (run, data) with the final test metrics and the run's wall time
  (rows of runs collected earlier are kept; the runs given are replaced);
- ``curves.csv``: tidy rows ``run, data, preset, seed, step, time_s, metric, value`` from each
  run's ``metrics.csv`` (validation split);
- ``curves.png``: validation exact accuracy (mazes: validity) against training minutes, drawn by
  :func:`experiments.plot.plot_supervised_curves`;
- ``<run>.json``: the full evaluate output per run.

    python experiments/supervised_results.py runs/sup/* --also maze-15x15 maze-31x31 maze-hard
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import tyro

from envs.utils import atomic_write
from experiments.collect import data_game, merge_rows, training_minutes
from experiments.plot import plot_supervised_curves
from trm_rl.runs import read_config
from trm_rl.supervised.commands import evaluate_run


@dataclass
class Args:
    """Options of the supervised results collector."""

    runs: tuple[Path, ...]
    """Run directories (the --out of train-supervised)."""
    also: tuple[str, ...] = ()
    """Other data to score maze runs on (larger grids), e.g. maze-15x15 maze-hard."""
    out_dir: Path = Path("results/supervised")
    """Where the CSVs, the plot and the JSON files go."""
    env_episodes: int = 100
    """Test puzzles also played in the Gymnasium env."""
    also_limit: int | None = 256
    """Puzzles scored per --also data set (larger grids cost more; None: the whole split)."""
    device: str = "auto"
    """'auto', 'cpu', 'cuda', ..."""


def game_of_run(config: dict) -> str:
    """``"maze"`` or ``"sudoku"``: the game a supervised run's ``config.json`` records
    (``resolved.kind``), else the game of its data name or file (runs written before it)."""
    return config.get("resolved", {}).get("kind") or data_game(config["data"]["name"])


def main(args: Args) -> None:
    summary, curves = [], []
    for run in args.runs:
        config = read_config(run, "supervised")
        train = config.get("config") or config["train"]  # the options: format 2, else format 1
        maze = game_of_run(config) == "maze"
        targets = [None] + (list(args.also) if maze else [])
        results = {}
        for data in targets:
            result = evaluate_run(
                run,
                data=data,
                env_episodes=args.env_episodes,
                device=args.device,
                limit=None if data is None else args.also_limit,
            )
            results[result["data"]] = result
            row = {
                "run": run.name,
                "train_data": config["data"]["name"],
                "data": result["data"],
                "preset": train.get("preset") or config["model"].get("kind", "trm"),
                "seed": train["seed"],
                "parameters": config["resolved"]["parameters"],
                "train_minutes": round(training_minutes(run), 2),
            }
            for key in ("exact_accuracy", "exact_accuracy_halt", "token_accuracy", "steps_halt",
                        "steps_no_halt", "halt_accuracy", "valid", "valid_halt", "count"):  # fmt: skip
                row[key] = result.get(key)
            row["env_success"] = result.get("env", {}).get("success")
            summary.append(row)
            print(json.dumps(row), flush=True)
        with atomic_write(args.out_dir / f"{run.name}.json") as f:
            json.dump(results, f, indent=2)
        with (run / "metrics.csv").open() as f:
            for r in csv.DictReader(f):
                for metric in ("val/exact_accuracy", "val/exact_accuracy_halt", "val/valid"):
                    if r.get(metric):
                        curves.append(
                            {
                                "run": run.name,
                                "data": config["data"]["name"],
                                "preset": train.get("preset") or "recipe",
                                "seed": train["seed"],
                                "step": int(r["step"]),
                                "time_s": float(r["time_s"]),
                                "metric": metric,
                                "value": float(r[metric]),
                            }
                        )
    scored = {run.name for run in args.runs}  # earlier runs stay, these are replaced
    merge_rows(args.out_dir / "summary.csv", summary, scored)
    curves = merge_rows(args.out_dir / "curves.csv", curves, scored)
    if curves:
        plot_supervised_curves(curves, args.out_dir / "curves.png")
    print(f"wrote {args.out_dir}/summary.csv, curves.csv, curves.png")


if __name__ == "__main__":
    try:
        main(tyro.cli(Args))
    except ValueError as err:  # not a run directory, a file in the way: the message, no traceback
        raise SystemExit(f"supervised_results: {err}") from None
