"""Test scores at equal training FLOPs: the second comparison of a step-budgeted study.

Every variant of a task trains the same number of optimiser steps, so runs end at different
training FLOPs. To compare what they learn per unit of compute, each task gets one FLOP budget
``F``: the final training FLOPs of the cheapest variant that is within :data:`SPAN` of the most
expensive one. Each supervised run is then scored on its test split at its last kept snapshot
whose training FLOPs do not exceed ``F`` (snapshots sit at the validation points, whose FLOPs
``curves.csv`` records). A variant that ends below ``F`` never spent it: it is scored at its
last weights and flagged ``under_budget``; a variant whose first snapshot is already above
``F`` has no point and is flagged ``no_snapshot``.

The scores go to ``DIR/equal_flops.csv`` (tidy, one row per run); each run caches its score in
``DIR/<run>/equal_flops.json`` so a rerun scores only what changed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from envs.utils import atomic_write
from experiments.collect import num, write_csv
from experiments.stats import binomial_se
from trm_rl.supervised.commands import evaluate_run

#: Variants more than this many times cheaper than the most expensive one of a task do not set
#: the budget (a matched MLP can cost 100x fewer FLOPs per step than a TRM: its whole run would
#: fall below the TRM's first snapshot).
SPAN = 10.0
FIELDS = [
    "study", "run", "regime", "task", "variant", "group", "K", "seed", "flops_budget", "step",
    "flops", "score", "puzzles", "score_se", "status",
]  # fmt: skip
#: The columns of a runs.csv row that label an equal-FLOPs row (its scores are its own).
LABELS = ("study", "run", "regime", "task", "variant", "group", "K", "seed")
CACHE = "equal_flops.json"


def budgets(rows: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """The FLOP budget of every supervised task: the smallest mean final training FLOPs of a
    variant within :data:`SPAN` of the most expensive variant's."""
    finals: dict[str, dict[str, list[float]]] = {}
    for row in rows:
        if row.get("regime") != "supervised" or row.get("status") != "done":
            continue
        if "." in str(row.get("run", "")) or not num(str(row.get("flops", ""))) > 0:
            continue  # other targets of a run, or no FLOP estimate
        finals.setdefault(str(row["task"]), {}).setdefault(str(row["variant"]), []).append(
            num(str(row["flops"]))
        )
    out = {}
    for task, by_variant in finals.items():
        means = {v: sum(f) / len(f) for v, f in by_variant.items()}
        top = max(means.values())
        out[task] = min(m for m in means.values() if m * SPAN >= top)
    return out


def point_at(points: Iterable[tuple[int, float]], budget: float) -> tuple[int, float] | None:
    """The ``(step, flops)`` with the largest step whose FLOPs do not exceed ``budget``."""
    within = [(step, flops) for step, flops in points if flops <= budget * (1 + 1e-9)]
    return max(within) if within else None


def score_runs(
    out_dir: Path,
    rows: list[dict[str, Any]],
    curves: list[dict[str, Any]],
    options: Mapping[str, Mapping[str, Any]],
    evaluate: Callable[..., dict[str, Any]] = evaluate_run,
) -> list[dict[str, Any]]:
    """Score every done supervised run at its task's FLOP budget and write ``equal_flops.csv``.

    :param rows: ``runs.csv`` rows (with ``flops`` filled).
    :param curves: ``curves.csv`` rows (validation points with ``step`` and ``flops``).
    :param options: per run name, the ``limit`` (test puzzles) and ``device`` to score with.
    :param evaluate: the scorer (``evaluate_run``; tests swap it).
    :return: the rows written.
    """
    rows = [r for r in rows if r.get("regime") == "supervised"]
    task_budget = budgets(rows)
    points: dict[str, list[tuple[int, float]]] = {}
    for c in curves:
        if c.get("split") == "val" and num(str(c.get("flops", ""))) > 0:
            points.setdefault(str(c["run"]), []).append((int(c["step"]), num(str(c["flops"]))))
    out = []
    for row in rows:
        run, task = str(row["run"]), str(row.get("task", ""))
        if row.get("status") != "done" or "." in run or task not in task_budget:
            continue
        budget = task_budget[task]
        labels = {k: row.get(k, "") for k in LABELS}
        final = num(str(row["flops"]))
        if final <= budget * (1 + 1e-9):
            point, status = (int(row["steps"]), final), "under_budget" if final < budget else "done"
        else:
            point, status = point_at(points.get(run, []), budget), "done"
        if point is None:
            out.append(labels | {"flops_budget": budget, "status": "no_snapshot"})
            continue
        step, flops = point
        last = point == (int(row["steps"]), final)
        score, count = _cached_score(
            out_dir / run, budget, step, None if last else step, options.get(run, {}), evaluate
        )
        out.append(labels | {
            "flops_budget": f"{budget:.4g}", "step": step, "flops": f"{flops:.4g}",
            "score": round(score, 4), "puzzles": count,
            "score_se": round(binomial_se(score, count), 4), "status": status,
        })  # fmt: skip
    write_csv(Path(out_dir) / "equal_flops.csv", out, FIELDS)
    return out


def _cached_score(
    run_dir: Path,
    budget: float,
    step: int,
    snapshot: int | None,
    options: Mapping[str, Any],
    evaluate: Callable[..., dict[str, Any]],
) -> tuple[float, int]:
    """The test score of ``run_dir`` at ``step`` (its snapshot, or its last weights)."""
    path = run_dir / CACHE
    limit = options.get("limit")
    key = {"budget": f"{budget:.6g}", "step": step, "limit": limit}
    try:
        cached = json.loads(path.read_text())
        if cached.get("key") == key:
            return float(cached["score"]), int(cached["count"])
    except (OSError, ValueError, KeyError):
        pass
    device = options.get("device", "auto")
    report = evaluate(run_dir, snapshot=snapshot, limit=limit, device=device)
    score, count = float(report["exact_accuracy"]), int(report["count"])
    with atomic_write(path) as f:
        json.dump({"key": key, "score": score, "count": count}, f)
    return score, count


__all__ = ["FIELDS", "SPAN", "budgets", "point_at", "score_runs"]
