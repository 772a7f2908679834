"""Plots and a markdown report for a study, from its tidy CSVs only (no training code imported).

Inputs, in ``STUDY_DIR`` (written by the sweep runner):

- ``runs.csv``: one row per run. Required columns: ``run, regime, task, variant, score,
  status``; optional ones read as empty when absent (``study, group, K, seed, params, minutes,
  steps, flops, score_name, random_score, oracle_score``, ...); unknown columns are ignored.
  Only rows with ``status == "done"`` enter plots and tables; the others are listed in the
  report.
- ``curves.csv`` (optional): tidy rows ``run, variant, group, seed, regime, task, minutes,
  step, metric, value``. The rows of the chosen metric (``val/score``) of done runs are plotted,
  under the task, regime and variant that ``runs.csv`` gives the run.

Outputs, each written atomically (a temporary file beside it, then ``os.replace``); a plot with
no data is not written:

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
seeded generator: the outputs are deterministic).

    python experiments/plot.py results/studies/k_sweep
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
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

REQUIRED = ("run", "regime", "task", "variant", "score", "status")
CURVE_REQUIRED = ("run", "minutes", "metric", "value")
COLORS = tuple(f"C{i}" for i in range(10))  # the tab10 cycle
GRID_POINTS = 200
#: The ``curves.csv`` metric of scores against supervision steps at test time (``step``).
TEST_STEPS_METRIC = "test/exact_by_steps"
Row = dict[str, str]
Curve = tuple[np.ndarray, np.ndarray]


def read_rows(path: str | Path, required: Sequence[str] = ()) -> list[Row]:
    """Read a CSV file into dicts of stripped strings (a missing cell reads as ``""``).

    :param path: the CSV file (with a header line).
    :param required: columns the header must have.
    :return: one dict per data row.
    :raises ValueError: when a required column is missing, naming it.
    """
    with Path(path).open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(
                f"{path} has no column {', '.join(map(repr, missing))} (it needs "
                f"{', '.join(required)}): rewrite it with `trm-rl sweep` or add the column"
            )
        return [{k: (v or "").strip() for k, v in r.items() if k is not None} for r in reader]


def num(text: str | None) -> float:
    """A float from a CSV cell; ``nan`` when it is empty or not a number."""
    try:
        return float(text) if text else math.nan
    except ValueError:
        return math.nan


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
    with atomic_write(path, "wb") as f:
        f.write(data)
    return path


def _axes(title: str, xlabel: str, ylabel: str, percent: bool = True) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(7.0, 4.5), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    if percent:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    return fig, ax


def _save(fig: Figure, ax: Axes, path: Path, loc: str = "best") -> Path:
    ax.legend(fontsize=8, loc=loc)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return _write_atomic(path, buf.getvalue())


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
            ax.plot(t, y, color=p.colors[variant], alpha=0.25, lw=0.7)
            inside = (grid >= t[0]) & (grid <= t[-1])
            ys[i, inside] = np.interp(grid[inside], t, y)
        mean, low, high = (np.full(grid.size, np.nan) for _ in range(3))
        for j in np.flatnonzero(~np.isnan(ys).all(axis=0)):
            column = _finite(ys[:, j])
            mean[j], (low[j], high[j]) = column.mean(), bootstrap_ci(column)
        ax.plot(grid, mean, color=p.colors[variant], lw=2, label=f"{variant} (n={len(cs)})")
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
        cells += [f"{_pct(low)}–{_pct(high)}", _pct(iqm(values))]
        cells += [f"{round(params):,}" if math.isfinite(params) else "—"]
        cells += [f"{minutes:.1f}" if math.isfinite(minutes) else "—"]
        if ppo:
            refs = ("random_score", "oracle_score")
            cells += [_pct(_mean(num(r.get(k)) for r in sub)) for k in refs]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def plot_study(study_dir: str | Path, metric: str = "val/score") -> dict[str, list[Path]]:
    """Write the plots of every (task, regime) of a study and its ``report.md``.

    :param study_dir: the folder holding ``runs.csv`` (and ``curves.csv``).
    :param metric: the ``curves.csv`` metric drawn in the learning-curve plots.
    :return: ``{"plots": [PNG paths], "report": [report.md path]}``.
    :raises ValueError: when ``runs.csv`` or a required column is missing.
    """
    study_dir = Path(study_dir)
    if not (study_dir / "runs.csv").is_file():
        raise ValueError(
            f"no runs.csv in {study_dir}: run `trm-rl sweep` first or pass the study directory"
        )
    rows = read_rows(study_dir / "runs.csv", REQUIRED)
    raw: dict[str, list[tuple[float, float]]] = {}
    by_steps: dict[str, dict[int, float]] = {}
    if (study_dir / "curves.csv").is_file():
        for c in read_rows(study_dir / "curves.csv", CURVE_REQUIRED):
            point = (num(c["minutes"]), num(c["value"]))
            if c["metric"] == metric and all(map(math.isfinite, point)):
                raw.setdefault(c["run"], []).append(point)
            elif c["metric"] == TEST_STEPS_METRIC and math.isfinite(num(c.get("step"))):
                by_steps.setdefault(c["run"], {})[int(num(c["step"]))] = point[1]
    curves = {run: tuple(np.array(sorted(p)).T) for run, p in raw.items()}
    done = [r for r in rows if r["status"] == "done"]
    failed = [r for r in rows if r["status"] != "done"]
    study = next((r["study"] for r in rows if r.get("study")), study_dir.name)
    lines = [f"# {study} report", "", f"{len(rows)} runs: {len(done)} done, {len(failed)} failed."]
    if failed:
        lines += ["", "Failed runs (left out of the tables and plots):", ""]
        lines += [
            f"- `{r['run']}` ({r['task']}, {r['regime']}, {r['variant']}, seed "
            f"{r.get('seed') or '—'}): {_cell(r['status'])}"
            for r in failed
        ]
    plots: list[Path] = []
    for task, regime in _unique((r["task"], r["regime"]) for r in rows):
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
        curves_panel = _Panel(sub, panel.title, name if metric == "val/score" else metric, colors)
        made = [
            _plot_curves(curves_panel, curves, out / f"curves_{stem}.png", metric == "val/score"),
            _plot_score_vs_k(panel, out / f"score_vs_K_{stem}.png"),
            _plot_score_vs_compute(panel, out / f"score_vs_compute_{stem}.png"),
            _plot_ablations(panel, out / f"ablations_{stem}.png"),
            _plot_score_vs_test_steps(panel, by_steps, out / f"test_steps_{stem}.png"),
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
    policy and the oracle).

    :raises ValueError: when ``runs.csv`` or a required column is missing.
    """
    study_dir = Path(study_dir)
    if not (study_dir / "runs.csv").is_file():
        raise ValueError(
            f"no runs.csv in {study_dir}: run `trm-rl sweep` first or pass the study directory"
        )
    rows = [r for r in read_rows(study_dir / "runs.csv", REQUIRED) if r["status"] == "done"]
    lines: list[str] = []
    for task, regime in _unique((r["task"], r["regime"]) for r in rows):
        sub = [r for r in rows if r["task"] == task and r["regime"] == regime]
        name = next((r["score_name"] for r in sub if r.get("score_name")), "score")
        if lines:
            lines.append("")
        lines += [f"{task} — {regime} (score: {name})", *_table(sub)]
    return "\n".join(lines)


@dataclass
class PlotArgs:
    """Plots and report.md of a study directory (runs.csv, curves.csv)."""

    study_dir: tyro.conf.Positional[Path]
    """The study directory holding runs.csv and curves.csv; plots/ and report.md go there."""
    metric: str = "val/score"
    """The curves.csv metric drawn in the learning-curve plots."""


def main(argv: Sequence[str] | None = None) -> dict[str, list[Path]]:
    """Command line: ``python experiments/plot.py STUDY_DIR [--metric val/score]``.

    :param argv: the arguments (``sys.argv[1:]`` when ``None``).
    :return: the paths written, as :func:`plot_study` returns them (also printed).
    """
    args = tyro.cli(PlotArgs, args=argv)
    written = plot_study(args.study_dir, args.metric)
    print(summary_tables(args.study_dir))
    for path in written["plots"] + written["report"]:
        print(path)
    return written


if __name__ == "__main__":
    main()
