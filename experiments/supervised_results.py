"""Collect supervised runs into ``results/supervised/``: test-split scores, tidy curves, a plot.

For every run directory given it scores the run's test split (``trm-rl evaluate``, with env
play) and, where asked, other data (``--also maze-15x15 maze-31x31 maze-hard``: thinking longer
on larger grids), then writes:

- ``summary.csv``: one row per (run, data) with the final test metrics and the run's wall time
  (rows of runs collected earlier are kept; the runs given are replaced);
- ``curves.csv``: tidy rows ``run, data, preset, seed, step, time_s, metric, value`` from each
  run's ``metrics.csv`` (validation split);
- ``curves.png``: validation exact accuracy (and maze validity) against training minutes;
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


def _last_time(run: Path) -> float:
    with (run / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    return float(rows[-1]["time_s"]) if rows else 0.0


def main(args: Args) -> None:
    from trm_rl.supervised.commands import evaluate_run
    from trm_rl.supervised.state import read_run_config

    summary, curves = [], []
    for run in args.runs:
        config = read_run_config(run)
        train = config["train"]
        kind = "maze" if str(config["data"]["name"]).startswith("maze") else "sudoku"
        targets = [None] + (list(args.also) if kind == "maze" else [])
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
                "preset": train["preset"] or config["model"].get("kind", "trm"),
                "seed": train["seed"],
                "parameters": config["resolved"]["parameters"],
                "train_minutes": round(_last_time(run) / 60, 2),
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
                                "preset": train["preset"] or "recipe",
                                "seed": train["seed"],
                                "step": int(r["step"]),
                                "time_s": float(r["time_s"]),
                                "metric": metric,
                                "value": float(r[metric]),
                            }
                        )
    scored = {run.name for run in args.runs}
    for name, rows in (("summary.csv", summary), ("curves.csv", curves)):
        rows = _kept(args.out_dir / name, scored) + rows  # earlier runs stay, these are replaced
        if name == "curves.csv":
            curves = rows
        if rows:
            with atomic_write(args.out_dir / name) as f:
                writer = csv.DictWriter(f, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
    if curves:
        plot(curves, args.out_dir / "curves.png")
    print(f"wrote {args.out_dir}/summary.csv, curves.csv, curves.png")


def _kept(path: Path, replaced: set[str]) -> list[dict]:
    """Rows of an earlier file whose run is not being scored again."""
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return [r for r in csv.DictReader(f) if r["run"] not in replaced]


def plot(curves: list[dict], path: Path) -> None:
    """Validation exact accuracy (mazes: validity) against training minutes, one panel per data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = sorted({c["data"] for c in curves})
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.5 * len(datasets), 4), squeeze=False)
    for ax, data in zip(axes[0], datasets, strict=True):
        metric = "val/valid" if data.startswith("maze") else "val/exact_accuracy"
        runs = sorted({c["run"] for c in curves if c["data"] == data})
        for run in runs:
            pts = [c for c in curves if c["run"] == run and c["metric"] == metric]
            minutes = [float(p["time_s"]) / 60 for p in pts]
            ax.plot(minutes, [100 * float(p["value"]) for p in pts], label=run)
        ax.set_title(data)
        ax.set_xlabel("training time (minutes, 2-core CPU)")
        ax.set_ylabel(
            ("valid shortest paths" if metric == "val/valid" else "exact puzzles") + " (%)"
        )
        ax.set_ylim(0, 101)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main(tyro.cli(Args))
