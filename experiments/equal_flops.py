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
from experiments.collect import num, other_target, write_csv
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
        if other_target(row.get("run", "")) or not num(str(row.get("flops", ""))) > 0:
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
    task_budget: Mapping[str, float] | None = None,
) -> list[dict[str, Any]]:
    """Score every done supervised run at its task's FLOP budget and write ``equal_flops.csv``.

    :param rows: ``runs.csv`` rows (with ``flops`` filled).
    :param curves: ``curves.csv`` rows (validation points with ``step`` and ``flops``).
    :param options: per run name, the ``limit`` (test puzzles) and ``device`` to score with.
    :param evaluate: the scorer (``evaluate_run``; tests swap it).
    :param task_budget: the FLOP budget of each task (default: :func:`budgets` of ``rows``; a
        sweep passes the budgets of its whole plan, so that a partly run study scores every
        run at the budget it will have at the end).
    :return: the rows written.
    """
    rows = [r for r in rows if r.get("regime") == "supervised"]
    task_budget = budgets(rows) if task_budget is None else task_budget
    points: dict[str, list[tuple[int, float]]] = {}
    for c in curves:
        if c.get("split") == "val" and num(str(c.get("flops", ""))) > 0:
            points.setdefault(str(c["run"]), []).append((int(c["step"]), num(str(c["flops"]))))
    out = []
    for row in rows:
        run, task = str(row["run"]), str(row.get("task", ""))
        if row.get("status") != "done" or other_target(run) or task not in task_budget:
            continue
        labels = {k: row.get(k, "") for k in LABELS}
        scored = score_run(
            out_dir / run, task_budget[task], int(row["steps"]), num(str(row["flops"])),
            points.get(run, []), options.get(run, {}), evaluate,
        )  # fmt: skip
        out.append(labels | scored)
    write_csv(Path(out_dir) / "equal_flops.csv", out, FIELDS)
    return out


def score_run(
    run_dir: Path,
    budget: float,
    steps: int,
    final: float,
    points: Iterable[tuple[int, float]],
    options: Mapping[str, Any],
    evaluate: Callable[..., dict[str, Any]] = evaluate_run,
) -> dict[str, Any]:
    """The equal-FLOPs score of one run: its test score at its last snapshot within ``budget``
    (its last weights when it ends within it), cached in ``run_dir/equal_flops.json``.

    A sweep calls it at the end of each run, while the run's snapshots exist; the cache is what
    later scorings read, so a study whose checkpoints were deleted (only ``result.json`` and
    the cache kept) still scores every run.

    :param steps: the run's last step; ``final``: its training FLOPs there.
    :param points: ``(step, training FLOPs)`` of its kept snapshots.
    :return: the ``flops_budget, step, flops, score, puzzles, score_se, status`` fields;
        ``status`` is ``done``, ``under_budget`` (it never spent the budget), ``no_snapshot``
        (its first snapshot is above it) or ``unscored: ...`` (no cached score and no weights).
    """
    if final <= budget * (1 + 1e-9):
        point, status = (steps, final), "under_budget" if final < budget else "done"
    else:
        point, status = point_at(points, budget), "done"
    if point is None:
        return {"flops_budget": f"{budget:.4g}", "status": "no_snapshot"}
    step, flops = point
    last = point == (steps, final)
    try:
        score, count = _cached_score(
            run_dir, budget, step, None if last else step, options, evaluate
        )
    except (OSError, ValueError) as err:  # no cache and the weights are gone
        return {"flops_budget": f"{budget:.4g}", "step": step, "flops": f"{flops:.4g}",
                "status": f"unscored: {' '.join(str(err).split())}"[:300]}  # fmt: skip
    return {
        "flops_budget": f"{budget:.4g}", "step": step, "flops": f"{flops:.4g}",
        "score": round(score, 4), "puzzles": count,
        "score_se": round(binomial_se(score, count), 4), "status": status,
    }  # fmt: skip


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


__all__ = ["FIELDS", "SPAN", "budgets", "point_at", "score_run", "score_runs"]
