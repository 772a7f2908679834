"""Plots of a study, from its tidy CSVs only (no training code imported); the tables and
``report.md`` come from :mod:`experiments.report`, the statistics from :mod:`experiments.stats`.

Inputs, in ``STUDY_DIR`` (written by the sweep runner), read and checked by
:func:`experiments.collect.read_runs` and :func:`~experiments.collect.read_curves`: ``runs.csv``
(one row per run and scored target; only done rows with a numeric score are drawn) and
``curves.csv`` (optional; ``val/score`` against ``step``, ``flops`` and ``minutes``, and
``test/exact_by_steps`` against ``step``). A missing or unreadable file or column is a
``ValueError`` naming the file and the fix; nothing is written then.

Every figure keeps the regimes apart (supervised, PPO, PPO from a supervised init: one panel per
(task, regime), :func:`experiments.report.regime_of`), names the split and the unit on its y axis,
puts its legend right of the axes and gives every variant one colour across all the study's
plots (:func:`variant_styles`: the Okabe-Ito palette over the sorted variants of ``runs.csv``,
then the same colours dashed). Outputs, in ``STUDY_DIR/plots/``, each written atomically; a plot
without data is not written:

- ``curves_{steps,flops,minutes}_<task>_<regime>.png``: the validation curve against training
  steps, estimated training FLOPs and minutes; seeds faint; the mean over seeds only where every
  seed has a value (each seed interpolated onto a shared grid inside the range all of them
  cover, :func:`common_grid`) with a 95% bootstrap band;
- ``score_vs_K_<task>_<regime>.png``: the test score against K (H_cycles), baselines as lines;
- ``score_vs_compute_<task>_<regime>.png``: the test score of every run against its training
  FLOPs (or minutes when FLOPs are missing);
- ``iqm_<task>_<regime>.png``: per variant the IQM of the test score with its stratified
  bootstrap 95% CI (rliable), seeds as dots;
- ``test_steps_<task>_<regime>.png``: the test score against supervision steps at test time
  (``test/exact_by_steps``), per variant the mean over seeds where every seed has a value;
- ``profile_<regime>.png``: per regime, one panel per task: the fraction of runs whose test
  score exceeds tau, per variant with a 95% band (:func:`experiments.stats.performance_profile`).

:func:`plot_supervised_curves` draws ``results/supervised/curves.png`` for
``experiments/supervised_results.py``.

    trm-rl plot results/k_cycles
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
from experiments import stats
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
from experiments.report import (
    REPS,
    check_report_path,
    panels,
    score_name,
    study_tables,
    variants,
    write_report,
)

#: The Okabe-Ito colour-blind-safe palette (Okabe & Ito 2008), black last.
OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
             "#000000")  # fmt: skip
#: Line styles of the 2nd, 3rd, ... round through the palette (more than 8 variants).
DASHES = ("-", "--", ":", "-.")
#: Bar hatches of the same rounds (bars have no line style).
HATCHES = ("", "//", "..", "xx")
REFERENCE = "#999999"  # random policy and oracle lines
GRID_POINTS = 200
MEAN_NOTE = ("mean of the seeds on a shared grid, only where\nevery seed has a value; "
             "band: 95% bootstrap CI")  # fmt: skip
#: Learning-curve x columns: file name part, axis label (PPO steps are environment steps).
CURVE_AXES = {
    "step": ("steps", "training steps ({unit})"),
    "flops": ("flops", "training FLOPs (estimated, log scale)"),
    "minutes": ("minutes", "training time (minutes of wall clock, shared CPU)"),
}


# ------------------------------------------------------------------------------------ colours
@dataclass(frozen=True)
class Style:
    """How one variant is drawn in every plot of a study."""

    color: str
    dash: str


def variant_styles(rows: Iterable[Row]) -> dict[str, Style]:
    """One style per variant, built once per study from its sorted variant names: the
    Okabe-Ito colours in order, then again dashed, dotted, ... (failed runs count too, so a
    failure never shifts the colours of the others).

    :param rows: every row of ``runs.csv``.
    """
    names = sorted({r["variant"] for r in rows if r.get("variant")})
    n = len(OKABE_ITO)
    return {v: Style(OKABE_ITO[i % n], DASHES[i // n % len(DASHES)]) for i, v in enumerate(names)}


# --------------------------------------------------------------------------------- statistics
def common_grid(
    curves: Sequence[Curve], points: int = GRID_POINTS
) -> tuple[np.ndarray, np.ndarray]:
    """Seeds' curves on a shared x grid inside the range every one of them covers.

    Each curve is interpolated linearly between its points; no curve is extended beyond its
    first or last point, so a mean over the rows never mixes seeds that have a value with seeds
    that have none (a seed ending early cannot make the mean jump).

    :param curves: one ``(x, y)`` per seed, ``x`` sorted increasing.
    :param points: grid points (one when the shared range is a single x).
    :return: ``grid (G,)`` and ``values (seeds, G)``; ``G = 0`` when the ranges do not overlap.
    :raises ValueError: when ``curves`` is empty or a curve has no points.
    """
    if not curves or any(np.size(x) == 0 for x, _ in curves):
        raise ValueError("common_grid needs at least one curve with points; drop empty curves")
    low = max(float(x[0]) for x, _ in curves)
    high = min(float(x[-1]) for x, _ in curves)
    if low > high:
        return np.empty(0), np.empty((len(curves), 0))
    grid = np.linspace(low, high, points) if high > low else np.array([low])
    return grid, np.array([np.interp(grid, x, y) for x, y in curves])


def mean_band(values: np.ndarray, reps: int = REPS, seed: int = 0) -> tuple[np.ndarray, ...]:
    """The mean over seeds at every column and its pointwise 95% stratified bootstrap interval
    (rliable, through :mod:`experiments.stats`; seeds resampled within each column).

    :param values: ``(seeds, points)``, at least 2 seeds, all finite.
    :return: ``(mean, low, high)``, each ``(points,)``.
    """
    return stats.pointwise_mean_ci(np.asarray(values, dtype=float), reps=reps, seed=seed)


# ------------------------------------------------------------------------------------ drawing
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


def _figure(panels: int = 1, width: float = 6.0, height: float = 4.2, dpi: int = 110) -> Figure:
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


def _legend(ax: Axes, title: str | None = None) -> None:
    """The legend right of the axes, outside the data."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=8,
                  title=title, title_fontsize=7, frameon=False)  # fmt: skip


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def _save(fig: Figure, path: Path, title: str | None = None) -> Path:
    for ax in fig.axes:
        _legend(ax, title)
    return _write_atomic(path, _png(fig))


def ylabel(name: str, split: str) -> str:
    """A y label that names the split and the unit: ``exact accuracy, validation (%)``.

    :param name: the score name of ``runs.csv`` (``exact accuracy (test)``, ``puzzles solved``).
    :param split: ``test`` or ``validation``.
    """
    base = re.sub(r"\s*\((test|validation|val)\)\s*$", "", name.strip())
    base = re.sub(r"^(test|validation|val)\s+", "", base) or "score"
    return f"{base}, {split} (%)"


@dataclass
class _Panel:
    """The done runs of one (task, regime) and what their plots share."""

    rows: list[Row]
    task: str
    regime: str
    styles: dict[str, Style]
    reps: int

    @property
    def title(self) -> str:
        return f"{self.task} — {self.regime}"

    @property
    def stem(self) -> str:
        return f"{_safe(self.task)}_{_safe(self.regime)}"

    def ylabel(self, split: str = "test") -> str:
        return ylabel(score_name(self.rows), split)

    def line(self, variant: str) -> dict[str, Any]:
        style = self.styles[variant]
        return {"color": style.color, "ls": style.dash}


def _references(ax: Axes, rows: list[Row]) -> None:
    """The mean random-policy and oracle test scores of PPO rows, as grey horizontal lines."""
    if not rows[0]["regime"].startswith("ppo"):
        return
    for key, label, dash in (
        ("random_score", "random policy", "--"),
        ("oracle_score", "oracle", ":"),
    ):
        values = [num(r.get(key)) for r in rows]
        values = [v for v in values if math.isfinite(v)]
        if values:
            ax.axhline(float(np.mean(values)), ls=dash, lw=1.2, label=label, color=REFERENCE)


def _scores(rows: Iterable[Row]) -> np.ndarray:
    v = np.array([num(r["score"]) for r in rows], dtype=float)
    return v[np.isfinite(v)]


def _mean_line(ax: Axes, p: _Panel, variant: str, seeds: list[Curve], label: str) -> None:
    """Seeds faint, then their mean on the shared grid with a 95% band (2+ seeds)."""
    for x, y in seeds:
        marker = "o" if x.size == 1 else None
        ax.plot(x, y, alpha=0.25, lw=0.7, marker=marker, ms=3, **p.line(variant))
    grid, ys = common_grid(seeds)
    if grid.size == 0:
        ax.plot([], [], lw=2, label=f"{label}: seeds do not overlap, no mean", **p.line(variant))
        return
    if len(seeds) == 1:
        mean, low, high = ys[0], ys[0], ys[0]
    else:
        mean, low, high = mean_band(ys, p.reps)
    marker = "o" if grid.size == 1 else None
    ax.plot(grid, mean, lw=2, marker=marker, label=label, **p.line(variant))
    ax.fill_between(grid, low, high, color=p.styles[variant].color, alpha=0.2, lw=0)


def _plot_curves(
    p: _Panel, curves: Mapping[str, Curve], x: str, path: Path, metric: str
) -> Path | None:
    """Learning curves against one x column (:data:`CURVE_AXES`)."""
    seeds: dict[str, list[Curve]] = {}
    for r in p.rows:
        if r["run"] in curves:
            seeds.setdefault(r["variant"], []).append(curves[r["run"]])
    if not seeds:
        return None
    unit = "environment steps" if p.regime.startswith("ppo") else "optimiser updates"
    percent = metric == DEFAULT_METRIC
    label = p.ylabel("validation") if percent else f"{metric} (validation)"
    fig, ax = _axes(p.title, CURVE_AXES[x][1].format(unit=unit), label, percent)
    for variant, cs in seeds.items():
        _mean_line(ax, p, variant, cs, f"{variant} (n={len(cs)})")
    if x == "flops":
        ax.set_xscale("log")
    _references(ax, p.rows)
    return _save(fig, path, MEAN_NOTE)


def _plot_test_steps(
    p: _Panel, by_steps: Mapping[str, dict[int, float]], path: Path
) -> Path | None:
    """Test score against the supervision steps allowed at test time (log2 axis), per variant
    scored at 2+ step counts: seeds faint, the mean where every seed has a value, a 95% band."""
    seeds: dict[str, list[Curve]] = {}
    for r in p.rows:
        run = by_steps.get(r["run"], {})
        if len(run) >= 2:
            xs = np.array(sorted(run), dtype=float)
            seeds.setdefault(r["variant"], []).append((xs, np.array([run[int(s)] for s in xs])))
    if not seeds:
        return None
    fig, ax = _axes(f"{p.title}: thinking longer", "supervision steps at test time (log2 scale)",
                    p.ylabel("test"))  # fmt: skip
    for variant, cs in seeds.items():
        _mean_line(ax, p, variant, cs, f"{variant} (n={len(cs)})")
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(ScalarFormatter())  # 1, 2, 4, ... rather than 2^0, 2^1, ...
    return _save(fig, path, MEAN_NOTE)


def _k_series(row: Row) -> str:
    group = row.get("group", "")
    return group if group and not group.startswith("K=") else "TRM"


def _plot_score_vs_k(p: _Panel, path: Path) -> Path | None:
    """Test score against K: per series a grey line through the means, at every K the seeds as
    dots and the mean with its 95% CI in the colour of that K's variant; the rows without a K
    (baselines) as horizontal lines with their CI band in their own colour."""
    with_k = [r for r in p.rows if math.isfinite(num(r.get("K")))]
    if not with_k:
        return None
    fig, ax = _axes(f"{p.title}: score vs K", "K (H_cycles)", p.ylabel("test"))
    for name in dict.fromkeys(map(_k_series, with_k)):
        series = [r for r in with_k if _k_series(r) == name]
        ks = sorted({num(r["K"]) for r in series})
        means = []
        for k in ks:
            at_k = [r for r in series if num(r["K"]) == k]
            for variant, sub in variants(at_k).items():
                _point(ax, p, variant, k, _scores(sub))
            means.append(float(_scores(at_k).mean()))
        ax.plot(ks, means, color=REFERENCE, lw=1, zorder=1, label=f"{name} (mean per K)")
    for variant, sub in variants(r for r in p.rows if r not in with_k).items():
        values = _scores(sub)
        ax.axhline(
            values.mean(), lw=1.2, label=f"{variant} (no K, n={values.size})", **p.line(variant)
        )
        if values.size >= 2:
            e = stats.aggregate({variant: values}, reps=p.reps)[variant]["mean"]
            ax.axhspan(e.low, e.high, color=p.styles[variant].color, alpha=0.15, lw=0)
    _references(ax, p.rows)
    ax.set_xticks(sorted({num(r["K"]) for r in with_k}))
    return _save(fig, path, "means: 95% bootstrap CI")


def _point(ax: Axes, p: _Panel, variant: str, x: float, values: np.ndarray) -> None:
    """Seeds as dots and their mean with a 95% CI (2+ seeds) at ``x``."""
    color = p.styles[variant].color
    ax.scatter(np.full(values.size, x), values, color=color, alpha=0.35, s=14)
    yerr = None
    if values.size >= 2:
        e = stats.aggregate({variant: values}, reps=p.reps)[variant]["mean"]
        yerr = [[max(0.0, e.point - e.low)], [max(0.0, e.high - e.point)]]
    ax.errorbar([x], [values.mean()], yerr=yerr, color=color, marker="o", capsize=3,
                label=f"{variant} (n={values.size})")  # fmt: skip


def _plot_score_vs_compute(p: _Panel, path: Path) -> Path | None:
    """Test score against training FLOPs (log scale), or minutes when a row lacks FLOPs: one
    marker per run and per variant the mean (geometric mean of the FLOPs)."""
    flops = all(num(r.get("flops")) > 0 for r in p.rows)
    key = "flops" if flops else "minutes"
    points = [(r["variant"], num(r.get(key)), num(r["score"])) for r in p.rows]
    points = [q for q in points if math.isfinite(q[1]) and math.isfinite(q[2])]
    if not points:
        return None
    xlabel = "training FLOPs (estimated, log scale)" if flops else CURVE_AXES["minutes"][1]
    fig, ax = _axes(f"{p.title}: score vs compute", xlabel, p.ylabel("test"))
    for variant in dict.fromkeys(v for v, _, _ in points):
        xs, ys = np.array([(x, y) for v, x, y in points if v == variant]).T
        color = p.styles[variant].color
        ax.scatter(xs, ys, color=color, alpha=0.45, s=18)
        x = np.exp(np.log(xs).mean()) if flops else xs.mean()  # geometric mean on a log axis
        ax.scatter([x], [ys.mean()], color=color, marker="D", s=60, edgecolors="k",
                   label=f"{variant} (mean, n={ys.size})")  # fmt: skip
    if flops:
        low, high = min(x for _, x, _ in points), max(x for _, x, _ in points)
        if low == high:  # one FLOP count: a decade around it, not a singular axis
            ax.set_xlim(low / 3, high * 3)
        ax.set_xscale("log")
    _references(ax, p.rows)
    return _save(fig, path, "dots: runs")


def _plot_iqm(p: _Panel, path: Path) -> Path | None:
    """Per variant a bar at the IQM of the test score with its stratified bootstrap 95% CI
    (variants with 2+ runs; a lone run is a dot without a bar) and the seeds as dots."""
    scores = {v: _scores(sub) for v, sub in variants(p.rows).items()}
    scores = {v: s for v, s in scores.items() if s.size}
    if not scores:
        return None
    many = {v: s for v, s in scores.items() if s.size >= 2}
    aggregates = stats.aggregate(many, reps=p.reps) if many else {}
    fig, ax = _axes(f"{p.title}: IQM", "variant", p.ylabel("test"))
    for i, (variant, values) in enumerate(scores.items()):
        color = p.styles[variant].color
        hatch = HATCHES[DASHES.index(p.styles[variant].dash)]  # repeated colours: hatched
        if variant in aggregates:
            e = aggregates[variant]["iqm"]
            yerr = [[max(0.0, e.point - e.low)], [max(0.0, e.high - e.point)]]
            note = "; IQM = mean, n < 4" if stats.iqm_note(values.size) else ""
            ax.bar(i, e.point, color=color, alpha=0.75, yerr=yerr, capsize=4, hatch=hatch,
                   edgecolor="white" if hatch else None,
                   label=f"{variant} (n={values.size}{note})")  # fmt: skip
        offsets = np.linspace(-0.2, 0.2, values.size) if values.size > 1 else np.zeros(1)
        ax.scatter(i + offsets, values, color="k", s=10, zorder=3)
    _references(ax, p.rows)
    ax.set_xticks(range(len(scores)), [v for v in scores], rotation=30, ha="right", fontsize=8)
    return _save(fig, path, "IQM, 95% stratified bootstrap CI;\ndots: runs")


def _plot_profiles(
    regime: str, by_task: Mapping[str, list[Row]], styles: dict[str, Style], reps: int, path: Path
) -> Path | None:
    """Performance profiles of one regime: per task, per variant with 2+ runs, the fraction of
    runs with a test score above tau, with a pointwise 95% band."""
    tasks = {}
    for task, rows in by_task.items():
        scores = {v: _scores(sub) for v, sub in variants(rows).items()}
        scores = {v: s for v, s in scores.items() if s.size >= 2}
        if scores:
            tasks[task] = (rows, scores)
    if not tasks:
        return None
    taus = np.linspace(0.0, 1.0, 101)
    fig = _figure(len(tasks), width=5.0)
    for ax, (task, (rows, scores)) in zip(fig.axes, tasks.items(), strict=True):
        label = ylabel(score_name(rows), "test")
        _style(ax, f"{task} — {regime}", f"τ: {label}", "fraction of runs with score > τ")
        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
        for variant, (frac, low, high) in stats.performance_profile(
            scores, taus, reps=reps
        ).items():
            style = styles[variant]
            ax.plot(taus, frac, color=style.color, ls=style.dash, lw=1.8,
                    label=f"{variant} (n={scores[variant].size})")  # fmt: skip
            ax.fill_between(taus, low, high, color=style.color, alpha=0.15, lw=0)
        ax.set_ylim(-0.02, 1.02)
    fig.tight_layout()
    return _save(fig, path, "band: 95% bootstrap CI")


# -------------------------------------------------------------------------------------- study
def _check_outputs(study_dir: Path) -> None:
    """Refuse before writing anything when ``plots`` is not a folder or ``report.md`` is a file
    that :mod:`experiments.report` did not write."""
    plots = study_dir / "plots"
    if plots.exists() and not plots.is_dir():
        raise ValueError(
            f"{plots} is a file, not a folder: plot.py writes its PNGs there; move that file away"
        )
    check_report_path(study_dir)


def plot_study(
    study_dir: str | Path, metric: str = DEFAULT_METRIC, reps: int = REPS
) -> dict[str, list[Path]]:
    """Write the plots of every (task, regime) and regime of a study, then its ``report.md``
    (:func:`experiments.report.write_report`, which links the plots under the tables).

    :param study_dir: the folder holding ``runs.csv`` (and ``curves.csv``).
    :param metric: the ``curves.csv`` metric drawn in the learning-curve plots.
    :param reps: bootstrap resamples of every band and interval.
    :return: ``{"plots": [PNG paths], "report": [report.md path]}``.
    :raises ValueError: naming the file and the fix, before anything is written, when the
        folder or ``runs.csv`` is missing, a CSV is unreadable or lacks a required column,
        ``runs.csv`` has no rows, ``metric`` is not in ``curves.csv``, or ``plots`` or
        ``report.md`` is in the way.
    """
    runs = read_runs(study_dir)
    study_dir = runs.path.parent
    points = read_curves(study_dir, metric)
    _check_outputs(study_dir)
    styles = variant_styles(runs.rows)
    out = study_dir / "plots"
    made: dict[tuple[str, str], list[Path]] = {}
    by_regime: dict[str, dict[str, list[Row]]] = {}
    for (task, regime), sub in panels(runs.done).items():
        by_regime.setdefault(regime, {})[task] = sub
        p = _Panel(sub, task, regime, styles, reps)
        paths = [
            _plot_curves(p, points.by_x.get(x, {}), x, out / f"curves_{name}_{p.stem}.png", metric)
            for x, (name, _) in CURVE_AXES.items()
        ]
        paths += [
            _plot_score_vs_k(p, out / f"score_vs_K_{p.stem}.png"),
            _plot_score_vs_compute(p, out / f"score_vs_compute_{p.stem}.png"),
            _plot_iqm(p, out / f"iqm_{p.stem}.png"),
            _plot_test_steps(p, points.by_steps, out / f"test_steps_{p.stem}.png"),
        ]
        made[(task, regime)] = [path for path in paths if path is not None]
    for regime, by_task in by_regime.items():
        path = _plot_profiles(regime, by_task, styles, reps, out / f"profile_{_safe(regime)}.png")
        if path is not None:
            made[(f"performance profile, {regime}", "")] = [path]
    report = write_report(study_dir, made, points.notes, reps)
    return {"plots": [p for paths in made.values() for p in paths], "report": [report]}


def summary_tables(study_dir: str | Path, reps: int = REPS) -> str:
    """The tables of ``report.md`` as text for a terminal (:func:`experiments.report.study_tables`).

    :raises ValueError: as :func:`plot_study` does for ``runs.csv``.
    """
    return study_tables(study_dir, reps)


# --------------------------------------------------------------------------------- supervised
#: The ``val/`` metrics of a supervised run's panel: maze validity where recorded, else exact.
SUPERVISED_METRICS = {"val/valid": "valid shortest paths", "val/exact_accuracy": "exact accuracy"}


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
        label = f"{SUPERVISED_METRICS[metric]}, validation (%)"
        _style(ax, data, "training time (minutes, 2-core CPU)", label)
        for i, (run, pts) in enumerate(sorted(points[data][metric].items())):
            minutes, values = np.array(sorted(pts)).T
            n = len(OKABE_ITO)  # more runs than colours: the colours again, dashed
            marker = "o" if minutes.size == 1 else None
            style = {"color": OKABE_ITO[i % n], "ls": DASHES[i // n % len(DASHES)]}
            ax.plot(minutes, values, marker=marker, ms=3, label=run, **style)
        ax.set_ylim(0, 1.01)
        _legend(ax)
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
    reps: int = REPS
    """Bootstrap resamples of every band and interval."""


def main(argv: Sequence[str] | None = None) -> dict[str, list[Path]]:
    """Command line: ``python experiments/plot.py STUDY_DIR [--metric val/score]``.

    A ``ValueError`` (a missing folder, file or column; see :func:`plot_study`) prints one line
    on stderr and exits with code 2, without a traceback.

    :param argv: the arguments (``sys.argv[1:]`` when ``None``).
    :return: the paths written, as :func:`plot_study` returns them (also printed).
    """
    args = tyro.cli(PlotArgs, args=argv)
    try:
        written = plot_study(args.study_dir, args.metric, args.reps)
        print(summary_tables(args.study_dir, args.reps))
    except ValueError as err:
        print(f"plot: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    for path in written["plots"] + written["report"]:
        print(path)
    return written


__all__ = [
    "OKABE_ITO",
    "TEST_STEPS_METRIC",  # the sweep imports it from here
    "PlotArgs",
    "Style",
    "common_grid",
    "main",
    "mean_band",
    "num",
    "plot_study",
    "plot_supervised_curves",
    "read_rows",
    "summary_tables",
    "variant_styles",
    "ylabel",
]


if __name__ == "__main__":
    main()
