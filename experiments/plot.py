"""Plots and a markdown report for a study, from its tidy CSVs only (no training code imported).

Inputs, in ``STUDY_DIR`` (written by the sweep runner):

- ``runs.csv``: one row per run. Required columns: ``run, regime, task, variant, score`` and
  ``status`` (or, from other writers, ``error``); optional ones read as empty when absent
  (``study, group, K, seed, params, minutes, steps, flops, score_name, random_score,
  oracle_score``, ...); unknown columns are ignored. Only rows with ``status == "done"`` (or an
  empty ``error``) enter plots and tables; the failed ones (``failed: <Error>: <message>``, as
  the sweep writes them) are counted and listed in the report, and so are done rows without a
  numeric score or without a task, regime or variant.
- ``curves.csv`` (optional): tidy rows ``run, variant, group, seed, regime, task, minutes,
  step, metric, value``. The rows of the chosen metric (``val/score``) of done runs are plotted,
  under the task, regime and variant that ``runs.csv`` gives the run; points whose minutes or
  value is not a number are skipped (and counted in the report).

The CSVs are read and checked by :func:`experiments.collect.read_runs` and
:func:`~experiments.collect.read_curves`: a missing or unreadable file, a missing column or a
``runs.csv`` without rows is a ``ValueError`` naming the file and the fix; nothing is written
then.

Outputs, each written atomically (a temporary file beside it, then ``os.replace``); a plot with
no data is not written, and a ``report.md`` that this script did not write is never replaced:

- ``plots/curves_<task>_<regime>.png``: the metric against training minutes; per variant the
  mean over seeds on a common time grid with a 95% bootstrap band, the seeds drawn faint;
- ``plots/score_vs_K_<task>_<regime>.png``: final score against K (H_cycles) for the rows with
  a K, split into series by ``group`` unless the group names K (``K=3``); the rows without a K
  (baselines) as horizontal lines with their CI band;
- ``plots/score_vs_compute_<task>_<regime>.png``: final score against estimated FLOPs (log
  scale; against minutes when a row lacks FLOPs), one marker per run and the variant means
  (the geometric mean of the FLOPs);
- ``plots/ablations_<task>_<regime>.png``: mean score per non-empty ``group`` (>= 2 groups);
- ``plots/test_steps_<task>_<regime>.png``: score against the supervision steps allowed at test
  time (``curves.csv`` metric ``test/exact_by_steps``, ``step`` = steps), per variant the mean
  over seeds with a 95% bootstrap band (supervised runs; the think_longer study);
- ``report.md``: run counts, the failed runs, and per (task, regime) a table and its plots.

PPO plots show the mean random-policy (dashed grey) and oracle (dotted black) scores. Every
confidence interval is a 95% percentile bootstrap of the mean over seeds (1000 resamples, a
seeded generator: the outputs are deterministic); a cell with one seed has none (``—``).

:func:`plot_supervised_curves` draws ``results/supervised/curves.png`` for
``experiments/supervised_results.py``.

    python experiments/plot.py results/studies/k_sweep
"""

from __future__ import annotations

import io
import math
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tyro
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter, ScalarFormatter

from envs.utils import atomic_write
from experiments.collect import (
    DEFAULT_METRIC,
    TEST_STEPS_METRIC,
    Curve,
    Row,
    num,
    read_curves,
    read_rows,
    read_runs,
)

#: How every report.md this script writes begins (one that does not is not replaced).
_OUR_REPORT = re.compile(r"# .* report\n\n\d+ runs: \d+ done, \d+ failed\.")
COLORS = tuple(f"C{i}" for i in range(10))  # the tab10 cycle
GRID_POINTS = 200


def _finite(values: Iterable[float]) -> np.ndarray:
    v = np.asarray(values if isinstance(values, np.ndarray) else list(values), dtype=float).ravel()
    return v[np.isfinite(v)]


def bootstrap_ci(
    values: Iterable[float], n_resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean (non-finite values are dropped).

    :param values: one value per seed.
    :param n_resamples: bootstrap resamples (drawn with replacement, each of ``len(values)``).
    :param seed: seeds the ``numpy`` generator, so the interval is deterministic.
    :param level: the coverage, e.g. 0.95 for the 2.5th and 97.5th percentiles.
    :return: ``(low, high)``; ``(v, v)`` for a single (or constant) value, ``(nan, nan)`` for none.
    """
    v = _finite(values)
    if v.size == 0:
        return math.nan, math.nan
    if np.all(v == v[0]):
        return float(v[0]), float(v[0])
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, size=(n_resamples, v.size))].mean(axis=1)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def iqm(values: Iterable[float]) -> float:
    """Interquartile mean: the mean of the finite values ``x`` with ``q25 <= x <= q75``.

    ``q25`` and ``q75`` are ``np.percentile``'s (linear interpolation) 25th and 75th percentiles.
    For ``n >= 3`` at least one value lies in that window: ``n = 3`` gives the median,
    ``n = 4`` and ``n = 5`` the mean of the middle 2 and 3 values. For ``n = 2`` the window may
    hold none; the IQM is then the mean of both. ``n = 1``: the value; none: ``nan``.

    :param values: one value per seed.
    """
    v = _finite(values)
    if v.size == 0:
        return math.nan
    q25, q75 = np.percentile(v, [25, 75])
    middle = v[(v >= q25) & (v <= q75)]
    return float(middle.mean() if middle.size else v.mean())


def _mean(values: Iterable[float]) -> float:
    v = _finite(values)
    return float(v.mean()) if v.size else math.nan


def _unique(items: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(items))


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "_"


def _write_atomic(path: Path, data: bytes) -> Path:
    try:
        with atomic_write(path, "wb") as f:
            f.write(data)
    except OSError as err:
        raise ValueError(
            f"cannot write {path} ({err}): make {path.parent} a writable folder, with no "
            f"folder named {path.name} in it"
        ) from None
    return path


def _figure(panels: int = 1, width: float = 7.0, height: float = 4.5, dpi: int = 120) -> Figure:
    """A figure of ``panels`` axes side by side, on the Agg canvas (no pyplot state)."""
    fig = Figure(figsize=(width * panels, height), dpi=dpi)
    FigureCanvasAgg(fig)
    fig.subplots(1, panels, squeeze=False)
    return fig


def _style(ax: Axes, title: str, xlabel: str, ylabel: str, percent: bool = True) -> None:
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    if percent:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))


def _axes(title: str, xlabel: str, ylabel: str, percent: bool = True) -> tuple[Figure, Axes]:
    fig = _figure()
    _style(fig.axes[0], title, xlabel, ylabel, percent)
    return fig, fig.axes[0]


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def _save(fig: Figure, ax: Axes, path: Path, loc: str = "best") -> Path:
    ax.legend(fontsize=8, loc=loc)
    return _write_atomic(path, _png(fig))


@dataclass
class _Panel:
    """The done runs of one (task, regime) and what their plots share."""

    rows: list[Row]
    title: str
    ylabel: str
    colors: dict[str, str]


def _references(ax: Axes, rows: list[Row]) -> None:
    """The mean random-policy and oracle scores of PPO rows, as horizontal lines."""
    if rows[0]["regime"] != "ppo":
        return
    for key, label, style, color in (
        ("random_score", "random policy", "--", "grey"),
        ("oracle_score", "oracle", ":", "k"),
    ):
        value = _mean(num(r.get(key)) for r in rows)
        if math.isfinite(value):
            ax.axhline(value, ls=style, lw=1.2, label=label, color=color)


def _scores(rows: list[Row]) -> np.ndarray:
    return _finite(num(r["score"]) for r in rows)


def _plot_curves(p: _Panel, curves: dict[str, Curve], path: Path, percent: bool) -> Path | None:
    """Learning curves per variant: the mean over seeds on a common time grid (each seed's curve
    interpolated linearly between its first and last points only; a grid point uses the seeds
    with data there) and its 95% bootstrap band; the seeds drawn faint."""
    seeds: dict[str, list[Curve]] = {}
    for r in p.rows:
        if r["run"] in curves:
            seeds.setdefault(r["variant"], []).append(curves[r["run"]])
    if not seeds:
        return None
    times = np.concatenate([t for cs in seeds.values() for t, _ in cs])
    grid = np.linspace(times.min(), times.max(), GRID_POINTS)
    fig, ax = _axes(p.title, "training time (minutes)", p.ylabel, percent)
    for variant, cs in seeds.items():
        ys = np.full((len(cs), grid.size), np.nan)
        for i, (t, y) in enumerate(cs):
            marker = "o" if t.size == 1 else None  # a lone point is no line
            ax.plot(t, y, color=p.colors[variant], alpha=0.25, lw=0.7, marker=marker, ms=3)
            inside = (grid >= t[0]) & (grid <= t[-1])
            ys[i, inside] = np.interp(grid[inside], t, y)
        mean, low, high = (np.full(grid.size, np.nan) for _ in range(3))
        for j in np.flatnonzero(~np.isnan(ys).all(axis=0)):
            column = _finite(ys[:, j])
            mean[j], (low[j], high[j]) = column.mean(), bootstrap_ci(column)
        lone = "o" if np.isfinite(mean).sum() == 1 else None  # one point: a marker, not a line
        ax.plot(
            grid, mean, color=p.colors[variant], lw=2, marker=lone, label=f"{variant} (n={len(cs)})"
        )
        ax.fill_between(grid, low, high, color=p.colors[variant], alpha=0.2, lw=0)
    _references(ax, p.rows)
    return _save(fig, ax, path, loc="lower right")


def _plot_score_vs_test_steps(
    p: _Panel, by_steps: dict[str, dict[int, float]], path: Path
) -> Path | None:
    """Score against the supervision steps allowed at test time (log2 axis), per variant: the
    mean over seeds with its 95% bootstrap band, seeds faint. Drawn when a variant was scored
    at two or more step counts (one-shot baselines are flat lines)."""
    seeds: dict[str, list[dict[int, float]]] = {}
    for r in p.rows:
        if len(by_steps.get(r["run"], {})) >= 2:
            seeds.setdefault(r["variant"], []).append(by_steps[r["run"]])
    if not seeds:
        return None
    fig, ax = _axes(f"{p.title}: thinking longer at test time", "supervision steps at test time",
                    p.ylabel)  # fmt: skip
    for variant, runs in seeds.items():
        color = p.colors[variant]
        for run in runs:
            xs = sorted(run)
            ax.plot(xs, [run[x] for x in xs], color=color, alpha=0.25, lw=0.7)
        xs = sorted(set().union(*runs))
        mean, low, high = [], [], []
        for x in xs:
            column = _finite(run[x] for run in runs if x in run)
            mean.append(column.mean())
            low_x, high_x = bootstrap_ci(column)
            low.append(low_x)
            high.append(high_x)
        ax.plot(xs, mean, color=color, lw=2, label=f"{variant} (n={len(runs)})")
        ax.fill_between(xs, low, high, color=color, alpha=0.2, lw=0)
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(ScalarFormatter())  # 1, 2, 4, ... rather than 2^0, 2^1, ...
    return _save(fig, ax, path, loc="lower right")


def _k_series(row: Row) -> str:
    group = row.get("group", "")
    return group if group and not group.startswith("K=") else "TRM"


def _plot_score_vs_k(p: _Panel, path: Path) -> Path | None:
    """Final score against K: per series the mean over seeds with 95% CI error bars and the seeds
    as faint dots; the rows without a K (baselines) as horizontal lines with a CI band."""
    with_k = [r for r in p.rows if math.isfinite(num(r.get("K")))]
    if not with_k:
        return None
    fig, ax = _axes(f"{p.title}: score vs K", "K (H_cycles)", p.ylabel)
    for name in _unique(map(_k_series, with_k)):
        series = [r for r in with_k if _k_series(r) == name]
        ks = sorted({num(r["K"]) for r in series})
        stats = []
        for k in ks:
            values = _scores([r for r in series if num(r["K"]) == k])
            ax.scatter(np.full(values.size, k), values, color=p.colors[name], alpha=0.3, s=14)
            stats.append((_mean(values), *bootstrap_ci(values)))
        m, low, high = np.array(stats).T
        yerr = np.maximum(0, [m - low, high - m])
        ax.errorbar(ks, m, yerr=yerr, color=p.colors[name], marker="o", capsize=3, label=name)
    without_k = [r for r in p.rows if not math.isfinite(num(r.get("K")))]
    for variant in _unique(r["variant"] for r in without_k):
        values = _scores([r for r in without_k if r["variant"] == variant])
        if values.size:
            color = p.colors[variant]
            ax.axhline(values.mean(), color=color, lw=1.2, label=f"{variant} (no K)")
            ax.axhspan(*bootstrap_ci(values), color=color, alpha=0.15, lw=0)
    _references(ax, p.rows)
    ax.set_xticks(sorted({num(r["K"]) for r in with_k}))
    return _save(fig, ax, path)


def _plot_score_vs_compute(p: _Panel, path: Path) -> Path | None:
    """Final score against training FLOPs (log scale), or minutes when a row lacks FLOPs: one
    marker per run coloured by variant, and the variant means (geometric mean of the FLOPs)."""
    flops = all(num(r.get("flops")) > 0 for r in p.rows)
    key = "flops" if flops else "minutes"
    points = [(r["variant"], num(r.get(key)), num(r["score"])) for r in p.rows]
    points = [q for q in points if math.isfinite(q[1]) and math.isfinite(q[2])]
    if not points:
        return None
    xlabel = "estimated training FLOPs" if flops else "training time (minutes)"
    fig, ax = _axes(f"{p.title}: score vs compute", xlabel, p.ylabel)
    for variant in _unique(v for v, _, _ in points):
        xs, ys = np.array([(x, y) for v, x, y in points if v == variant]).T
        ax.scatter(xs, ys, color=p.colors[variant], alpha=0.45, s=18)
        mean = {"marker": "D", "s": 60, "edgecolors": "k", "label": f"{variant} (mean)"}
        x = np.exp(np.log(xs).mean()) if flops else xs.mean()  # geometric mean on a log axis
        ax.scatter([x], [ys.mean()], color=p.colors[variant], **mean)
    if flops:
        low, high = min(x for _, x, _ in points), max(x for _, x, _ in points)
        if low == high:  # one FLOP count: a decade around it, not a singular axis
            ax.set_xlim(low / 3, high * 3)
        ax.set_xscale("log")
    _references(ax, p.rows)
    return _save(fig, ax, path)


def _plot_ablations(p: _Panel, path: Path) -> Path | None:
    """Mean score per non-empty ``group`` (when >= 2 have scores) with 95% CI error bars and the
    seeds as dots."""
    groups = [g for g in _unique(r.get("group", "") for r in p.rows) if g]
    scores = {g: _scores([r for r in p.rows if r.get("group") == g]) for g in groups}
    scores = {g: v for g, v in scores.items() if v.size}
    if len(scores) < 2:
        return None
    fig, ax = _axes(f"{p.title}: groups", "group", p.ylabel)
    for i, values in enumerate(scores.values()):
        (low, high), m = bootstrap_ci(values), values.mean()
        yerr = [[max(0, m - low)], [max(0, high - m)]]
        ax.bar(i, m, color=COLORS[i % len(COLORS)], alpha=0.7, yerr=yerr, capsize=4)
        offsets = np.linspace(-0.15, 0.15, values.size) if values.size > 1 else np.zeros(1)
        ax.scatter(i + offsets, values, color="k", s=12, zorder=3)
    ax.scatter([], [], color="k", s=12, label="seeds")
    _references(ax, p.rows)
    ax.set_xticks(range(len(scores)), list(scores), rotation=20 if len(scores) > 4 else 0)
    return _save(fig, ax, path)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%" if math.isfinite(x) else "—"


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split()) or "—"


def _table(rows: list[Row]) -> list[str]:
    ppo = rows[0]["regime"] == "ppo"
    cols = ["variant", "group", "seeds (n)", "score mean", "95% CI", "IQM", "params", "minutes"]
    cols += ["random", "oracle"] if ppo else []
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for variant, group in _unique((r["variant"], r.get("group", "")) for r in rows):
        sub = [r for r in rows if r["variant"] == variant and r.get("group", "") == group]
        values, params = _scores(sub), _mean(num(r.get("params")) for r in sub)
        low, high = bootstrap_ci(values)
        minutes = _mean(num(r.get("minutes")) for r in sub)
        cells = [_cell(variant), _cell(group), str(len(sub)), _pct(_mean(values))]
        cells += [f"{_pct(low)}–{_pct(high)}" if values.size > 1 else "—", _pct(iqm(values))]
        cells += [f"{round(params):,}" if math.isfinite(params) else "—"]
        cells += [f"{minutes:.1f}" if math.isfinite(minutes) else "—"]
        if ppo:
            refs = ("random_score", "oracle_score")
            cells += [_pct(_mean(num(r.get(k)) for r in sub)) for k in refs]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _check_outputs(study_dir: Path) -> None:
    """Refuse before writing anything when ``plots`` is not a folder or ``report.md`` is a file
    this script did not write."""
    plots, report = study_dir / "plots", study_dir / "report.md"
    if plots.exists() and not plots.is_dir():
        raise ValueError(
            f"{plots} is a file, not a folder: plot.py writes its PNGs there; move that file away"
        )
    if report.is_dir():
        raise ValueError(f"{report} is a folder: plot.py writes report.md there; move it away")
    if report.exists():
        try:
            head = report.read_text(encoding="utf-8", errors="replace")[:500]
        except OSError as err:
            raise ValueError(f"cannot read {report} ({err}): make it readable") from None
        if not _OUR_REPORT.match(head):
            raise ValueError(
                f"{report} was not written by experiments/plot.py (it does not begin with "
                "'# <study> report' and the run counts): move or rename it so that it is kept, "
                "then plot again"
            )


def _run_line(row: Row, why: str) -> str:
    return (
        f"- `{row['run'] or '—'}` ({_cell(row['task'])}, {_cell(row['regime'])}, "
        f"{_cell(row['variant'])}, seed {row.get('seed') or '—'}): {_cell(why)}"
    )


# -------------------------------------------------------------------------------------- study
def plot_study(study_dir: str | Path, metric: str = DEFAULT_METRIC) -> dict[str, list[Path]]:
    """Write the plots of every (task, regime) of a study and its ``report.md``.

    Failed runs and done runs without a numeric score are left out of the tables and plots,
    counted and listed in the report; a study whose runs all failed gets a report and no plot.

    :param study_dir: the folder holding ``runs.csv`` (and ``curves.csv``).
    :param metric: the ``curves.csv`` metric drawn in the learning-curve plots.
    :return: ``{"plots": [PNG paths], "report": [report.md path]}``.
    :raises ValueError: naming the file and the fix, before anything is written, when the
        folder or ``runs.csv`` is missing, a CSV is unreadable or lacks a required column,
        ``runs.csv`` has no rows, ``metric`` is not in ``curves.csv``, or ``plots`` or
        ``report.md`` is in the way (see the module docstring).
    """
    runs = read_runs(study_dir)
    study_dir = runs.path.parent
    points = read_curves(study_dir, metric)
    _check_outputs(study_dir)
    rows, done = runs.rows, runs.done
    study = next((r["study"] for r in rows if r.get("study")), study_dir.name)
    counts = f"{len(rows)} runs: {len(rows) - len(runs.failed)} done, {len(runs.failed)} failed."
    lines = [f"# {study} report", "", counts]
    if runs.failed:
        lines += ["", "Failed runs (left out of the tables and plots):", ""]
        lines += [_run_line(row, status) for row, status in runs.failed]
    if runs.left_out:
        lines += ["", "Done runs left out of the tables and plots:", ""]
        lines += [_run_line(row, why) for row, why in runs.left_out]
    if points.notes:
        lines += ["", *points.notes]
    plots: list[Path] = []
    for task, regime in _unique(
        (r["task"], r["regime"]) for r in rows if r["task"] and r["regime"]
    ):
        sub = [r for r in done if r["task"] == task and r["regime"] == regime]
        lines += ["", f"## {task} — {regime}", ""]
        if not sub:
            lines.append("No completed runs.")
            continue
        name = next((r["score_name"] for r in sub if r.get("score_name")), "score")
        keys = [r["variant"] for r in sub] + [_k_series(r) for r in sub if r.get("K")]
        colors = {k: COLORS[i % len(COLORS)] for i, k in enumerate(_unique(keys))}
        panel = _Panel(sub, f"{task} — {regime}", name, colors)
        out, stem = study_dir / "plots", f"{_safe(task)}_{_safe(regime)}"
        default = metric == DEFAULT_METRIC
        curves_panel = _Panel(sub, panel.title, name if default else metric, colors)
        made = [
            _plot_curves(curves_panel, points.curves, out / f"curves_{stem}.png", default),
            _plot_score_vs_k(panel, out / f"score_vs_K_{stem}.png"),
            _plot_score_vs_compute(panel, out / f"score_vs_compute_{stem}.png"),
            _plot_ablations(panel, out / f"ablations_{stem}.png"),
            _plot_score_vs_test_steps(panel, points.by_steps, out / f"test_steps_{stem}.png"),
        ]
        lines += [
            f"Score: {name} (mean over seeds; 95% percentile bootstrap CI over seeds, "
            "1000 resamples; IQM as defined in `experiments/plot.py`).",
            "",
        ]
        lines += _table(sub)
        for path in filter(None, made):
            plots.append(path)
            lines += ["", f"![{path.stem}](plots/{path.name})"]
    report = _write_atomic(study_dir / "report.md", ("\n".join(lines) + "\n").encode())
    return {"plots": plots, "report": [report]}


def summary_tables(study_dir: str | Path) -> str:
    """The tables of ``report.md`` as text for a terminal: one per (task, regime), with the
    mean over seeds, its 95% bootstrap CI and the IQM of every variant (and, for RL, the random
    policy and the oracle). Without a done run: one line that says so.

    :raises ValueError: as :func:`plot_study` does for ``runs.csv``.
    """
    runs = read_runs(study_dir)
    if not runs.done:
        return (
            f"no completed runs in {runs.path}: {len(runs.failed)} failed, "
            f"{len(runs.left_out)} done but left out (listed in report.md by `trm-rl plot`)"
        )
    lines: list[str] = []
    for task, regime in _unique((r["task"], r["regime"]) for r in runs.done):
        sub = [r for r in runs.done if r["task"] == task and r["regime"] == regime]
        name = next((r["score_name"] for r in sub if r.get("score_name")), "score")
        if lines:
            lines.append("")
        lines += [f"{task} — {regime} (score: {name})", *_table(sub)]
    return "\n".join(lines)


# --------------------------------------------------------------------------------- supervised
#: The ``val/`` metrics of a supervised run's panel: maze validity where recorded, else exact.
SUPERVISED_METRICS = {"val/valid": "valid shortest paths", "val/exact_accuracy": "exact puzzles"}


def plot_supervised_curves(curves: Iterable[Mapping[str, Any]], path: str | Path) -> Path | None:
    """Validation curves of hand-launched supervised runs (``experiments/supervised_results.py``):
    one panel per data set, one line per run, the score against training minutes. A panel draws
    ``val/valid`` (the answer is a valid shortest path) where its runs recorded it (mazes), else
    ``val/exact_accuracy``.

    :param curves: tidy rows with ``run, data, time_s, metric, value`` (numbers or CSV text);
        rows of other metrics, or whose time or value is not a number, are skipped.
    :param path: the PNG, written atomically.
    :return: ``path``; None when no row can be drawn (nothing is written).
    """
    points: dict[str, dict[str, dict[str, list[tuple[float, float]]]]] = {}
    for c in curves:
        t, v, metric = num(c.get("time_s")), num(c.get("value")), c.get("metric")
        if metric in SUPERVISED_METRICS and math.isfinite(t) and math.isfinite(v):
            by_run = points.setdefault(str(c.get("data") or "—"), {}).setdefault(metric, {})
            by_run.setdefault(str(c.get("run") or "—"), []).append((t / 60, v))
    if not points:
        return None
    datasets = sorted(points)
    fig = _figure(len(datasets), width=5.5, height=4.0, dpi=110)
    for ax, data in zip(fig.axes, datasets, strict=True):
        metric = next(m for m in SUPERVISED_METRICS if m in points[data])
        label = SUPERVISED_METRICS[metric]
        _style(ax, data, "training time (minutes, 2-core CPU)", label)
        for i, (run, pts) in enumerate(sorted(points[data][metric].items())):
            minutes, values = np.array(sorted(pts)).T
            style = ("-", "--", ":")[i // len(COLORS) % 3]  # > 10 runs: new dashes, same colours
            marker = "o" if minutes.size == 1 else None
            ax.plot(minutes, values, color=COLORS[i % len(COLORS)], ls=style, marker=marker,
                    ms=3, label=run)  # fmt: skip
        ax.set_ylim(0, 1.01)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return _write_atomic(Path(path), _png(fig))


# ---------------------------------------------------------------------------------------- CLI
@dataclass
class PlotArgs:
    """Plots and report.md of a study directory (runs.csv, curves.csv)."""

    study_dir: tyro.conf.Positional[Path]
    """The study directory holding runs.csv and curves.csv; plots/ and report.md go there."""
    metric: str = DEFAULT_METRIC
    """The curves.csv metric drawn in the learning-curve plots."""


def main(argv: Sequence[str] | None = None) -> dict[str, list[Path]]:
    """Command line: ``python experiments/plot.py STUDY_DIR [--metric val/score]``.

    A ``ValueError`` (a missing folder, file or column; see :func:`plot_study`) prints one line
    on stderr and exits with code 2, without a traceback.

    :param argv: the arguments (``sys.argv[1:]`` when ``None``).
    :return: the paths written, as :func:`plot_study` returns them (also printed).
    """
    args = tyro.cli(PlotArgs, args=argv)
    try:
        written = plot_study(args.study_dir, args.metric)
        print(summary_tables(args.study_dir))
    except ValueError as err:
        print(f"plot: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    for path in written["plots"] + written["report"]:
        print(path)
    return written


__all__ = [
    "TEST_STEPS_METRIC",  # the sweep imports it from here
    "PlotArgs",
    "bootstrap_ci",
    "iqm",
    "main",
    "num",
    "plot_study",
    "plot_supervised_curves",
    "read_rows",
    "summary_tables",
]


if __name__ == "__main__":
    main()
