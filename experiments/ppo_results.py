"""Collect PPO runs into ``results/ppo/``: tidy CSVs in the study format, then plots and a report.

Each run directory (``trm-rl train-ppo --out``) is read with the ``trm-rl evaluate-ppo`` JSON
files written beside it: ``<run>.json`` (its own test split) and ``<run>.<label>.json`` (other
envs, e.g. ``<run>.15x15.json`` from ``--env trm_rl/Maze-15x15-v0``); when ``<run>.json``
played the agent chosen on validation (``--checkpoint best``), ``<run>.last.json`` (the last
agent on the same puzzles) gives its row's ``score_last``. It writes, in the format
``experiments/plot.py`` reads:

- ``runs.csv``: one row per (run, evaluation): the policy's success within 2x optimal
  (deterministic actions) as ``score``, with sampled actions, random and oracle beside it,
  thinking steps, parameters, env steps and the CPU minutes of training; for ``--init-from``
  runs the supervised pre-training minutes are added (``minutes`` is the whole budget);
- ``curves.csv``: the validation curve (``val/score`` = validation success within 2x optimal)
  against minutes, shifted by the pre-training minutes;
- ``<run>.json`` / ``<run>.<label>.json`` / ``<run>.metrics.csv``: copies of the raw files;

then ``plots/`` and ``report.md`` (``experiments/plot.py``). Rows of runs collected earlier are
kept; the runs given are replaced::

    python experiments/ppo_results.py runs/ppo/m9-* runs/ppo/s4-*
"""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import tyro

from envs.utils import atomic_write_file
from experiments.collect import CURVE_FIELDS, merge_rows, rounded, training_minutes
from experiments.plot import plot_study
from trm_rl.pretrained import card, list_models

RUN_FIELDS = [
    "study", "run", "regime", "task", "variant", "group", "K", "seed", "params", "minutes",
    "pretrain_minutes", "steps", "flops", "score", "score_name", "success", "length_ratio",
    "stochastic_score", "think_steps", "full_thinking_score", "full_thinking_steps",
    "random_score", "oracle_score", "episodes", "status", "chosen_step", "score_last",
]  # fmt: skip
#: The label of a run's evaluate-ppo JSON of its last agent (``RUN.last.json``) beside the one
#: of the agent chosen on validation (``RUN.json``).
LAST_LABEL = "last"
LABELS = {
    "trm": "TRM",
    "trm-carry": "TRM carry",
    "trm-h1l1": "TRM H1/L1",
    "mlp": "MLP",
    "conv": "conv net",
    "convnet": "conv net",
}


@dataclass
class Args:
    """Options of the PPO results collector."""

    runs: tyro.conf.Positional[tuple[Path, ...]]
    """PPO run directories (the --out of train-ppo); evaluate-ppo JSON files lie beside them."""
    out_dir: Path = Path("results/ppo")
    """Where runs.csv, curves.csv, the copies, plots/ and report.md go."""
    study: str = "ppo"
    """Name of the study in the CSVs and the report."""


def task_of(env_id: str) -> str:
    """``trm_rl/Maze-9x9-v0`` -> ``maze-9x9``; ``trm_rl/MazeHard-v0`` -> ``maze-hard``."""
    name = env_id.split("/")[-1].removesuffix("-v0").lower()
    return "maze-hard" if name == "mazehard" else name


def run_options(config: dict) -> dict:
    """What the rows need from a PPO run's ``config.json``, in one layout: ``policy``, ``seed``,
    ``env`` (the id), ``init_from``, ``freeze_trm``, ``think_rounds`` and ``model`` (the TRM's
    dict). Reads format 2 (the config tree under ``config``) and format 1 (flat ``options``).

    :raises ValueError: when the dict has neither layout, naming the missing key.
    """
    try:
        if config.get("format", 1) >= 2:
            tree = config["config"]
            env = tree["env"]
            return {"policy": tree["policy"], "seed": tree["seed"],
                    "env": env["id"] if isinstance(env, dict) else env,
                    "init_from": tree.get("init_from"), "freeze_trm": tree.get("freeze_trm"),
                    "think_rounds": tree.get("think_rounds"), "model": tree.get("model") or {}}  # fmt: skip
        options = config["options"]
        return {**options, "think_rounds": options.get("halt_max_steps"),
                "model": config.get("model") or {}}  # fmt: skip
    except (KeyError, TypeError) as err:
        raise ValueError(
            f"not a PPO run config (no {err}): pass the --out folder of trm-rl train-ppo"
        ) from None


def variant_of(config: dict) -> str:
    """A display label: the policy, ``+ ACT`` and ``(supervised init)`` where they apply."""
    options = run_options(config)
    label = LABELS.get(options["policy"], options["policy"])
    if options.get("freeze_trm"):
        label += ", frozen reasoning"
    if options.get("think_rounds"):
        label += f" + ACT (<= {options['think_rounds']} rounds)"
    if options.get("init_from"):
        label += " (supervised init)"
    return label


def pretrain_minutes(config: dict) -> float:
    """Training minutes of the supervised run a policy was initialised from (0 without one)."""
    init = run_options(config).get("init_from")
    if not init:
        return 0.0
    if not Path(init).exists() and init in list_models():  # a shipped model: its card says
        return float(card(init).get("train_seconds", 0.0)) / 60
    return training_minutes(init)


def _value(result: dict | None, key: str) -> float | str:
    return rounded(result.get(key)) if result else ""


def _read_report(path: Path) -> dict | None:
    """An evaluate-ppo JSON (None, with a note, when it is incomplete or unreadable)."""
    try:
        report = json.loads(path.read_text())
        report["deterministic"]
    except (json.JSONDecodeError, KeyError, TypeError):
        print(f"skipped {path}: not a complete evaluate-ppo JSON (still being written?)")
        return None
    return report


def run_rows(run: Path, study: str) -> tuple[list[dict], list[dict]]:
    """The ``runs.csv`` rows (one per evaluate-ppo JSON) and ``curves.csv`` rows of one run."""
    config = json.loads((run / "config.json").read_text())
    options = run_options(config)
    model = options["model"]
    variant, pre = variant_of(config), pretrain_minutes(config)
    k = model.get("H_cycles", "") if options["policy"].startswith("trm") else ""
    common = {"study": study, "regime": "ppo", "variant": variant, "group": options["policy"],
              "K": k, "seed": options["seed"], "params": config["parameters"],
              "pretrain_minutes": round(pre, 2)}  # fmt: skip
    maze = config["game"] == "maze"
    score_name = "success within 2x optimal" if maze else "puzzles solved"
    rows, last, chosen = [], None, None
    for path in sorted(run.parent.glob(f"{run.name}.*json")):
        label = path.name[len(run.name) + 1 : -len(".json")]
        if path.name != f"{run.name}.json" and not label:
            continue
        if label == LAST_LABEL:  # the last agent, beside the one chosen on validation
            last = _read_report(path)
            continue
        report = _read_report(path)
        if report is None:
            continue
        det, full = report["deterministic"], report.get("deterministic_full_thinking")
        task = task_of(report["env"])
        if report["env"] != options["env"]:
            task += f" (trained {task_of(options['env'])})"
        rows.append({
            **common, "run": run.name if path.name == f"{run.name}.json" else f"{run.name}.{label}",
            "task": task, "minutes": round(report["train_minutes"] + pre, 2),
            "steps": report["train_timesteps"], "flops": "",
            "score": _value(det, "success_2x"), "score_name": score_name,
            "success": _value(det, "success"), "length_ratio": _value(det, "length_ratio"),
            "stochastic_score": _value(report.get("stochastic"), "success_2x"),
            "think_steps": _value(det, "think_steps"),
            "full_thinking_score": _value(full, "success_2x"),
            "full_thinking_steps": _value(full, "think_steps"),
            "random_score": _value(report["random"], "success_2x"),
            "oracle_score": _value(report["oracle"], "success_2x"),
            "episodes": det["episodes"], "status": "done",
        })  # fmt: skip
        if rows[-1]["run"] == run.name and report.get("checkpoint") == "best":
            # the agent chosen on validation, the last one beside it (on the same puzzles)
            rows[-1]["chosen_step"] = report["train_timesteps"]
            chosen = rows[-1]
    if chosen is not None and last is not None:  # the budget: the run's env steps and minutes
        chosen["score_last"] = _value(last["deterministic"], "success_2x")
        chosen["steps"] = last["train_timesteps"]
        chosen["minutes"] = round(last["train_minutes"] + pre, 2)
    curves = []
    with (run / "metrics.csv").open() as f:
        for row in csv.DictReader(f):
            if row.get("val/success_2x"):
                curves.append({
                    "run": run.name, "variant": variant, "group": options["policy"],
                    "seed": options["seed"], "regime": "ppo", "task": task_of(options["env"]),
                    "minutes": round(float(row["time/train_minutes"]) + pre, 3),
                    "step": int(float(row["time/total_timesteps"])), "flops": "",
                    "split": "val", "metric": "val/score", "value": float(row["val/success_2x"]),
                })  # fmt: skip
    return rows, curves


def main(args: Args) -> None:
    args.out_dir.mkdir(parents=True, exist_ok=True)
    rows, curves, replaced = [], [], set()
    for run in args.runs:
        if not (run / "config.json").exists():
            raise SystemExit(
                f"{run} is not a PPO run directory (no config.json); pass train-ppo --out folders"
            )
        run_r, run_c = run_rows(run, args.study)
        if not run_r:
            print(f"skipped {run.name}: no evaluate-ppo JSON beside it ({run}.json)")
            continue
        rows += run_r
        curves += run_c
        replaced.add(run.name)
        for path in [*run.parent.glob(f"{run.name}.*json"), run / "metrics.csv"]:
            name = path.name if path.parent == run.parent else f"{run.name}.metrics.csv"
            atomic_write_file(args.out_dir / name, lambda tmp, src=path: shutil.copyfile(src, tmp))
    try:
        all_rows = merge_rows(args.out_dir / "runs.csv", rows, replaced, RUN_FIELDS)
        merge_rows(args.out_dir / "curves.csv", curves, replaced, CURVE_FIELDS)
        print(f"{len(all_rows)} rows in {args.out_dir / 'runs.csv'}")
        written = plot_study(args.out_dir)
    except ValueError as err:  # a file in the way or nothing to plot: the message, no traceback
        raise SystemExit(f"ppo_results: {err}") from None
    for kind, paths in written.items():
        for path in paths:
            print(f"{kind}: {path}")


if __name__ == "__main__":
    main(tyro.cli(Args))
