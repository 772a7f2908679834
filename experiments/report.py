"""The claims of a study: its tables, rendered from ``runs.csv`` (and ``curves.csv``) only.

One table per (task, regime) with one row per variant: the runs ``n``, the test puzzles per run,
the mean and the IQM of the test score (of the checkpoint chosen on validation) with stratified
bootstrap 95% CIs, the mean score of the last weights, the mean per-run binomial standard error,
the probability of improvement over the MLP and over the no-recursion control where the panel
has them, parameters and training FLOPs; then, where 3+ variants have 2+ runs, every pairwise
probability of improvement with its interval (:func:`pairwise_table`). Statistics come from
:mod:`experiments.stats` (rliable); every bootstrap is seeded, so the same CSVs give the same
text, byte for byte.

Regimes are never pooled: PPO runs initialised from a supervised run (``pretrain_minutes > 0``
or a variant named ``... (supervised init)``) form their own regime, ``ppo (supervised init)``.

Where a panel's runs differ in training FLOPs, a second table compares the variants at equal
FLOPs: the validation score of every run, interpolated on its ``curves.csv`` curve, at the
largest FLOP budget that every run of the panel reached (test scores exist only at the chosen
checkpoint). Without FLOPs in ``curves.csv`` a note says why the table is missing. A third
table reads every variant's validation score at each control's own final FLOPs
(:func:`control_budgets_table`): the comparison at the compute the control itself spent.

Outputs:

- ``DIR/report.md`` (:func:`write_report`; ``trm-rl plot`` writes it through here, with its
  plots): run counts, failed runs, the tables;
- a README's block between ``<!-- report:begin -->`` and ``<!-- report:end -->``
  (:func:`update_readme`); :func:`check_readme` lists what differs from the CSVs.

    trm-rl report results/k_cycles --readme results/k_cycles/README.md
"""

from __future__ import annotations

import difflib
import math
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import tyro

from envs.utils import atomic_write
from experiments import stats
from experiments.collect import Row, num, other_target, read_curves, read_rows, read_runs

#: The controls each variant is compared against (P(improvement)), by their runs.csv names.
CONTROLS = {"MLP": "MLP", "TRM once": "TRM once (no recursion)"}
BEGIN, END = "<!-- report:begin -->", "<!-- report:end -->"
#: Bootstrap resamples of every interval (rliable's default for tables).
REPS = 2000
#: Relative spread of training FLOPs below which a panel's runs count as equal in compute.
FLOPS_TOLERANCE = 0.05
#: How every report.md written here begins (one that does not is never replaced).
OUR_REPORT = re.compile(r"# .* report\n\n\d+ runs: \d+ done, \d+ failed\.")
INIT = " (supervised init)"


# ------------------------------------------------------------------------------------ panels
def regime_of(row: Row) -> str:
    """The regime a row is compared within: its ``regime``, with ``" (supervised init)"`` for
    PPO runs that started from a supervised run (never pooled with PPO from scratch).

    :param row: a ``runs.csv`` row.
    """
    init = num(row.get("pretrain_minutes")) > 0 or INIT.strip() in row.get("variant", "")
    return row["regime"] + (INIT if row["regime"] == "ppo" and init else "")


def panels(rows: Iterable[Row]) -> dict[tuple[str, str], list[Row]]:
    """Rows grouped by (task, regime as :func:`regime_of` names it), in order of appearance."""
    out: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        out.setdefault((row["task"], regime_of(row)), []).append(row)
    return out


def variants(rows: Iterable[Row]) -> dict[str, list[Row]]:
    """Rows grouped by variant, in order of appearance."""
    out: dict[str, list[Row]] = {}
    for row in rows:
        out.setdefault(row["variant"], []).append(row)
    return out


def score_name(rows: Sequence[Row]) -> str:
    """The panel's score name (``exact accuracy (test)``), or ``score``."""
    return next((r["score_name"] for r in rows if r.get("score_name")), "score")


# ------------------------------------------------------------------------------------- cells
def _values(rows: Iterable[Row], key: str) -> np.ndarray:
    v = np.array([num(r.get(key)) for r in rows], dtype=float)
    return v[np.isfinite(v)]


def _pct(x: float) -> str:
    return f"{100 * x:.1f}" if math.isfinite(x) else "—"


def _interval(e: stats.Estimate) -> str:
    return f"{_pct(e.point)} [{_pct(e.low)}, {_pct(e.high)}]"


def _improvement(e: stats.Estimate) -> str:
    verdict = ", not separated" if e.low <= 0.5 <= e.high else ""
    return f"{_interval(e)}{verdict}"


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split()) or "—"


def _test_count(row: Row) -> float:
    """How many test puzzles a run was scored on: ``puzzles`` (supervised), else ``episodes``
    (PPO: one episode per test puzzle)."""
    n = num(row.get("puzzles"))
    return n if math.isfinite(n) else num(row.get("episodes"))


def _puzzles(rows: Sequence[Row]) -> str:
    counts = set()
    for r in rows:
        n = _test_count(r)
        if math.isfinite(n):
            counts.add(int(n))
    counts = sorted(counts)
    if not counts:
        return "—"
    return f"{counts[0]:,}" if len(counts) == 1 else f"{counts[0]:,}–{counts[-1]:,}"


def _binomial_se(rows: Sequence[Row]) -> float:
    """Mean per-run binomial SE: the ``score_se`` column, else sqrt(p(1-p)/N) from the score
    and the test count (``puzzles``, else ``episodes``); ``nan`` when neither is known."""
    ses = []
    for r in rows:
        se, p, n = num(r.get("score_se")), num(r["score"]), _test_count(r)
        if not math.isfinite(se) and math.isfinite(n) and n >= 1 and 0 <= p <= 1:
            se = stats.binomial_se(p, int(n))
        if math.isfinite(se):
            ses.append(se)
    return float(np.mean(ses)) if ses else math.nan


def _number(x: float, fmt: str) -> str:
    return format(x, fmt) if math.isfinite(x) else "—"


# ------------------------------------------------------------------------------------ tables
def variant_table(rows: Sequence[Row], reps: int = REPS, seed: int = 0) -> list[str]:
    """The markdown table of one panel: one row per variant (see the module docstring).

    :param rows: the done rows of one (task, regime).
    :param reps: bootstrap resamples of every interval.
    :param seed: seed of every bootstrap.
    :return: the table's lines, then its notes (IQMs that are means, missing controls).
    """
    by_variant = variants(rows)
    scores = {v: _values(rs, "score") for v, rs in by_variant.items()}
    many = {v: s for v, s in scores.items() if s.size >= 2}
    aggregates = stats.aggregate(many, reps=reps, seed=seed) if many else {}
    controls = {label: name for label, name in CONTROLS.items() if name in many}
    cols = ["variant", "n", "test puzzles/run", "mean test score, % [95% CI]",
            "IQM, % [95% CI]", "last weights, mean %", "binomial SE/run, %"]  # fmt: skip
    cols += [f"P(> {label}), % [95% CI]" for label in controls]
    cols += ["params", "training FLOPs"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    iqm_means: dict[str, list[str]] = {}
    for variant, sub in by_variant.items():
        n, values = len(sub), scores[variant]
        if variant in aggregates:
            mean, iqm = (
                _interval(aggregates[variant]["mean"]),
                _interval(aggregates[variant]["iqm"]),
            )
        else:  # one run: its score, no interval
            mean, iqm = _pct(float(values.mean())), "—"
        note = stats.iqm_note(n)
        if note and variant in aggregates:
            iqm_means.setdefault(note, []).append(variant)
            iqm = "= mean (n < 4)"
        cells = [_cell(variant), str(n), _puzzles(sub), mean, iqm]
        last = _values(sub, "score_last")
        cells += [_pct(float(last.mean())) if last.size else "—", _pct(_binomial_se(sub))]
        for name in controls.values():
            if variant == name or variant not in many:
                cells.append("—")
            else:
                e = stats.probability_of_improvement(
                    many[variant], many[name], reps=reps, seed=seed
                )
                cells.append(_improvement(e))
        params, flops = _values(sub, "params"), _values(sub, "flops")
        cells += [_number(params.mean() if params.size else math.nan, ",.0f")]
        cells += [_number(flops.mean() if flops.size else math.nan, ".3g")]
        lines.append("| " + " | ".join(cells) + " |")
    for label, key in (("random legal policy", "random_score"), ("oracle", "oracle_score")):
        ref = _values(rows, key)  # RL rows: the floor and the ceiling on the same puzzles
        if ref.size:
            blank = ["—"] * (len(cols) - 4)
            lines.append(f"| {label} | {ref.size} | {_puzzles(rows)} | {_pct(ref.mean())} | "
                         + " | ".join(blank) + " |")  # fmt: skip
    notes = [f"{note} ({', '.join(vs)})." for note, vs in iqm_means.items()]
    missing = [f"`{name}`" for name in CONTROLS.values() if name not in many]
    if missing:
        notes.append(f"No P(improvement) over {' or '.join(missing)}: fewer than 2 done runs of it "
                     "in this panel.")  # fmt: skip
    return lines + (["", *notes] if notes else [])


def pairwise_table(rows: Sequence[Row], reps: int = REPS, seed: int = 0) -> list[str]:
    """P(row variant > column variant) for every pair of the panel's variants with 2+ runs,
    ordered by mean score (best first), so that "K=2 vs K=3" or "TRM vs DT-recall" is answered
    with its interval, not read off two overlapping means; empty with fewer than 3 such variants.

    :param rows: the done rows of one (task, regime).
    :return: a caption line, a blank line and the table's lines.
    """
    scores = {v: _values(rs, "score") for v, rs in variants(rows).items()}
    many = {v: s for v, s in scores.items() if s.size >= 2}
    if len(many) < 3:
        return []
    order = sorted(many, key=lambda v: (-float(many[v].mean()), v))
    short = [_cell(v) for v in order]
    lines = [
        "Pairwise: P(row > column), % [95% CI] (probability that a run of the row's variant "
        "scores above a run of the column's; bold: separated, the interval excludes 50%).",
        "",
        "| P(row > column) | " + " | ".join(short) + " |",
        "|---|" + "---|" * len(order),
    ]
    for a in order:
        cells = []
        for b in order:
            if a == b:
                cells.append("—")
                continue
            e = stats.probability_of_improvement(many[a], many[b], reps=reps, seed=seed)
            text = f"{100 * e.point:.0f} [{100 * e.low:.0f}, {100 * e.high:.0f}]"
            cells.append(f"**{text}**" if e.low > 0.5 else text)
        lines.append(f"| {_cell(a)} (n={many[a].size}) | " + " | ".join(cells) + " |")
    return lines


def equal_flops_table(
    rows: Sequence[Row], curves: Mapping[str, tuple[np.ndarray, np.ndarray]], reps: int = REPS
) -> list[str]:
    """Variants at equal training FLOPs: each run's validation score interpolated on its curve at
    the largest budget every run of the panel reached, as a table, or one line saying why not.

    :param rows: the done rows of one (task, regime).
    :param curves: run -> (FLOPs, validation score), sorted by FLOPs (``read_curves(...).by_x``).
    :param reps: bootstrap resamples of every interval.
    :return: the lines (empty when the runs do not differ in FLOPs).
    """
    flops = _values(rows, "flops")
    if flops.size < len(rows) or flops.size == 0:
        return ["No table at equal FLOPs: some runs have no training FLOPs in runs.csv."]
    if flops.max() <= flops.min() * (1 + FLOPS_TOLERANCE):
        return []
    own = [r for r in rows if r["run"] in curves and curves[r["run"]][0].size]
    if len(own) < len(rows):
        return [f"Runs differ in training FLOPs ({flops.min():.3g}–{flops.max():.3g}) but "
                f"{len(rows) - len(own)} of {len(rows)} have no validation curve against FLOPs in "
                "curves.csv: no table at equal FLOPs."]  # fmt: skip
    budget = min(float(curves[r["run"]][0][-1]) for r in own)
    at: dict[str, list[float]] = {}
    late: dict[str, float] = {}  # variant -> the first curve point of a run that starts later
    for r in own:
        x, y = curves[r["run"]]
        if x[0] <= budget:
            at.setdefault(r["variant"], []).append(float(np.interp(budget, x, y)))
        else:
            late[r["variant"]] = max(late.get(r["variant"], 0.0), float(x[0]))
    lines = [f"At equal FLOPs: validation score at {budget:.3g} training FLOPs, the largest budget "
             "every run reached (each run's curve interpolated linearly; test scores exist only "
             "at the chosen checkpoint).", "",
             "| variant | n | validation score at equal FLOPs, mean % [95% CI] |", "|---|---|---|"]  # fmt: skip
    many = {v: np.array(s) for v, s in at.items() if len(s) >= 2}
    aggregates = stats.aggregate(many, reps=reps) if many else {}
    for variant in variants(rows):
        if variant in late:
            cell = f"— (a run's first validation point is at {late[variant]:.3g} FLOPs)"
            lines.append(f"| {_cell(variant)} | {len(at.get(variant, []))} | {cell} |")
            continue
        values = at[variant]
        cell = _interval(aggregates[variant]["mean"]) if variant in many else _pct(values[0])
        lines.append(f"| {_cell(variant)} | {len(values)} | {cell} |")
    return lines


def control_budgets_table(
    rows: Sequence[Row], curves: Mapping[str, tuple[np.ndarray, np.ndarray]], reps: int = REPS
) -> list[str]:
    """Every variant at each control's own training FLOPs: the validation score of each run,
    interpolated on its curve at the median final FLOPs of a control's runs (the variants
    without a K), so that "the TRM beats the no-recursion control" is also read at the compute
    the control itself spent. A column is kept where 2+ variants reach its budget; a variant whose
    runs end before a budget, or first validate after it, gets a dash. Empty for panels without
    both K variants and controls, or without FLOP curves.

    :param rows: the done rows of one (task, regime).
    :param curves: run -> (FLOPs, validation score), sorted by FLOPs (``read_curves(...).by_x``).
    :param reps: bootstrap resamples of every interval.
    """
    by_variant = variants(rows)
    controls = [v for v, rs in by_variant.items()
                if all(r.get("K") in ("", None) for r in rs)]  # fmt: skip
    if not controls or len(controls) == len(by_variant):
        return []
    if any(r["run"] not in curves or not curves[r["run"]][0].size for r in rows):
        return []

    def at(variant: str, budget: float) -> list[float]:
        out = []
        for r in by_variant[variant]:
            x, y = curves[r["run"]]
            if x[0] <= budget * (1 + 1e-6) and budget <= x[-1] * (1 + 1e-6):
                out.append(float(np.interp(budget, x, y)))
        return out

    columns = []  # (control, budget, variant -> values)
    for control in controls:
        flops = _values(by_variant[control], "flops")
        if not flops.size:
            continue
        budget = float(np.median(flops))
        values = {v: at(v, budget) for v in by_variant}
        if sum(bool(x) for x in values.values()) >= 2:
            columns.append((control, budget, values))
    if not columns:
        return []
    lines = ["At each control's own compute: validation score (mean % [95% CI], n runs) of every "
             "variant at the median final training FLOPs of a control's runs, each run's curve "
             "interpolated linearly; — : the variant's runs end before that budget or first "
             "validate after it.", "",
             "| variant | " + " | ".join(f"at {_cell(c)}'s {b:.3g} FLOPs" for c, b, _ in columns)
             + " |", "|---|" + "---|" * len(columns)]  # fmt: skip
    for variant in by_variant:
        cells = []
        for _, _, values in columns:
            x = np.array(values[variant])
            if x.size >= 2:
                mean = stats.aggregate({variant: x}, reps=reps)[variant]["mean"]
                cells.append(f"{_interval(mean)} (n={x.size})")
            else:
                cells.append(f"{_pct(float(x[0]))} (n=1)" if x.size else "—")
        lines.append(f"| {_cell(variant)} | " + " | ".join(cells) + " |")
    return lines


def equal_flops_test_table(
    rows: Sequence[Row], scored: Sequence[Row], reps: int = REPS
) -> list[str]:
    """Variants at equal training FLOPs, from ``equal_flops.csv`` (test scores of the snapshot
    at the task's FLOP budget, :mod:`experiments.equal_flops`), or [] when it has no row of
    this panel's runs.

    :param rows: the done rows of one (task, regime).
    :param scored: the rows of ``equal_flops.csv``.
    """
    runs = {r["run"] for r in rows}
    mine = [r for r in scored if r.get("run") in runs]
    if not mine:
        return []
    budget = next((r["flops_budget"] for r in mine if r.get("flops_budget")), "?")
    lines = [f"At equal FLOPs: test score of each run's last kept snapshot within "
             f"{num(str(budget)):.3g} training FLOPs (the final FLOPs of the cheapest variant "
             "within 10x of the most expensive; variants that end below it are scored at their "
             "last weights, marked *).", "",
             "| variant | n | step | test score at equal FLOPs, mean % [95% CI] |",
             "|---|---|---|---|"]  # fmt: skip
    by_variant: dict[str, list[Row]] = {}
    for r in mine:
        by_variant.setdefault(r["variant"], []).append(r)
    values = {v: np.array([num(r["score"]) for r in rs if r.get("score") not in ("", None)])
              for v, rs in by_variant.items()}  # fmt: skip
    many = {v: x for v, x in values.items() if x.size >= 2}
    aggregates = stats.aggregate(many, reps=reps) if many else {}
    for variant in variants(rows):
        rs = by_variant.get(variant, [])
        x = values.get(variant, np.array([]))
        if not x.size:
            lines.append(f"| {_cell(variant)} | 0 | — | — (no snapshot within the budget) |")
            continue
        cell = _interval(aggregates[variant]["mean"]) if variant in many else _pct(x[0])
        under = "*" if any(r.get("status") == "under_budget" for r in rs) else ""
        steps = sorted({int(num(r["step"])) for r in rs if r.get("step") not in ("", None)})
        step = (
            "—" if not steps else (f"{steps[0]}" if len(steps) == 1 else f"{steps[0]}–{steps[-1]}")
        )
        lines.append(f"| {_cell(variant)}{under} | {x.size} | {step} | {cell} |")
    return lines


def _budget(rows: Sequence[Row]) -> str:
    """A sentence on the panel's training budget and seeds: steps equal or not, and a warning
    when a variant has fewer than 5 runs (STUDIES.md)."""
    steps = _values(rows, "steps")
    if steps.size == 0:
        text = "Training steps not recorded."
    elif steps.min() == steps.max():
        text = f"Every run trained {steps.min():,.0f} steps (equal steps)."
    else:
        text = f"Runs trained {steps.min():,.0f}–{steps.max():,.0f} steps (not equal)."
    fewest = min(len(rs) for rs in variants(rows).values())
    if fewest < 5:
        text += (f" Some variants have {fewest} run(s): intervals from fewer than 5 runs are not "
                 "reliable (STUDIES.md).")  # fmt: skip
    return text


@lru_cache(maxsize=8)
def _tables(runs_csv: str, stamp: tuple[int, ...], reps: int) -> str:
    """:func:`study_tables`, cached on the CSV files' modification times (the sweep and plot
    print the tables that report.md holds; each bootstrap runs once)."""
    del stamp  # part of the cache key only
    study_dir = Path(runs_csv).parent
    runs = read_runs(study_dir)
    by_flops = read_curves(study_dir).by_x.get("flops", {})
    flops_csv = study_dir / "equal_flops.csv"
    scored = read_rows(flops_csv) if flops_csv.exists() else []
    chosen = any(r.get("chosen_step") not in (None, "") for r in runs.done)
    which = ("of the checkpoint chosen on validation" if chosen
             else "of each run's last checkpoint (these runs kept no snapshots)")  # fmt: skip
    lines = [f"_Generated by `trm-rl report` from runs.csv ({len(runs.done)} done runs); "
             f"do not edit. 95% CIs: stratified bootstrap over runs, {reps} resamples. Scores "
             f"are {which}, on the test split._"]  # fmt: skip
    if not runs.done:
        return "\n".join([*lines, "", "No completed runs."])
    for (task, regime), sub in panels(runs.done).items():
        lines += ["", f"### {task} — {regime}", "", f"Score: {score_name(sub)}. {_budget(sub)}", ""]
        lines += variant_table(sub, reps)
        pairs = pairwise_table(sub, reps)
        lines += ["", *pairs] if pairs else []
        if all(other_target(r["run"]) for r in sub):
            equal = ["No table at equal FLOPs here: these rows score the checkpoints chosen on "
                     "the training task's validation on another target; the comparison at equal "
                     "FLOPs is in the training task's panel."]  # fmt: skip
        else:
            equal = equal_flops_test_table(sub, scored, reps)
            equal = equal or equal_flops_table(sub, by_flops, reps)
            own = control_budgets_table(sub, by_flops, reps)
            equal = [*equal, "", *own] if equal and own else equal or own
        lines += ["", *equal] if equal else []
    return "\n".join(lines)


def study_tables(study_dir: str | Path, reps: int = REPS) -> str:
    """The study's tables as markdown: per (task, regime), the variant table and, where the
    runs differ in FLOPs, the table at equal FLOPs. The same CSVs give the same text.

    :param study_dir: the folder holding ``runs.csv`` (and ``curves.csv``).
    :param reps: bootstrap resamples of every interval.
    :raises ValueError: as :func:`experiments.collect.read_runs` does.
    """
    runs_csv = read_runs(study_dir).path
    stamp = tuple(p.stat().st_mtime_ns if p.exists() else 0
                  for p in (runs_csv, runs_csv.with_name("curves.csv"),
                            runs_csv.with_name("equal_flops.csv")))  # fmt: skip
    return _tables(str(runs_csv.resolve()), stamp, reps)


# ------------------------------------------------------------------------------------ report
def check_report_path(study_dir: Path) -> Path:
    """``study_dir/report.md``, checked: not a folder, and not a file written by someone else.

    :raises ValueError: naming the file and the fix.
    """
    report = study_dir / "report.md"
    if report.is_dir():
        raise ValueError(f"{report} is a folder: report.md is written there; move it away")
    if report.exists():
        try:
            head = report.read_text(encoding="utf-8", errors="replace")[:500]
        except OSError as err:
            raise ValueError(f"cannot read {report} ({err}): make it readable") from None
        if not OUR_REPORT.match(head):
            raise ValueError(
                f"{report} was not written by experiments/report.py (it does not begin with "
                "'# <study> report' and the run counts): move or rename it so that it is kept, "
                "then run again"
            )
    return report


def _run_line(row: Row, why: str) -> str:
    return (f"- `{row['run'] or '—'}` ({_cell(row['task'])}, {_cell(row['regime'])}, "
            f"{_cell(row['variant'])}, seed {row.get('seed') or '—'}): {_cell(why)}")  # fmt: skip


def report_text(
    study_dir: str | Path,
    plots: Mapping[tuple[str, str], Sequence[Path]] | None = None,
    notes: Sequence[str] = (),
    reps: int = REPS,
) -> str:
    """The text of ``report.md``: run counts, failed and left-out runs, ``notes``, the tables and
    the plots of every (task, regime).

    :param study_dir: the folder holding ``runs.csv``.
    :param plots: (task, regime) -> PNG paths under ``study_dir/plots``, linked under the
        panel's tables; ``(task, "")`` -> plots of the whole study, linked at the end.
    :param notes: sentences printed after the run counts (e.g. on ``curves.csv``).
    :param reps: bootstrap resamples of every interval.
    """
    runs = read_runs(study_dir)
    rows, plots = runs.rows, plots or {}
    study = next((r["study"] for r in rows if r.get("study")), runs.path.parent.name)
    counts = f"{len(rows)} runs: {len(rows) - len(runs.failed)} done, {len(runs.failed)} failed."
    lines = [f"# {study} report", "", counts]
    if runs.failed:
        lines += ["", "Failed runs (left out of the tables and plots):", ""]
        lines += [_run_line(row, status) for row, status in runs.failed]
    if runs.left_out:
        lines += ["", "Done runs left out of the tables and plots:", ""]
        lines += [_run_line(row, why) for row, why in runs.left_out]
    lines += ["", *notes] if notes else []
    tables = study_tables(study_dir, reps).split("\n### ")
    lines += ["", "## Tables", "", tables[0].strip()]
    for block in tables[1:]:
        head, _, body = block.partition("\n")
        lines += ["", f"### {head}", body.rstrip()]
        task, _, regime = head.partition(" — ")
        lines += [f"\n![{p.stem}](plots/{p.name})" for p in plots.get((task, regime), [])]
    rest = [p for (task, regime), ps in plots.items() if not regime for p in ps]
    if rest:
        lines += ["", "## Across tasks", *[f"\n![{p.stem}](plots/{p.name})" for p in rest]]
    return "\n".join(lines) + "\n"


def write_report(
    study_dir: str | Path,
    plots: Mapping[tuple[str, str], Sequence[Path]] | None = None,
    notes: Sequence[str] = (),
    reps: int = REPS,
) -> Path:
    """Write ``study_dir/report.md`` (:func:`report_text`), atomically.

    :raises ValueError: before writing, when ``runs.csv`` cannot be read or ``report.md`` is a
        folder or a file this module did not write.
    """
    text = report_text(study_dir, plots, notes, reps)
    report = check_report_path(Path(study_dir))
    with atomic_write(report) as f:
        f.write(text)
    return report


# ------------------------------------------------------------------------------------ README
def split_block(readme: Path, begin: str = BEGIN, end: str = END) -> tuple[str, str, str]:
    """The README's text before, inside and after its generated block (markers excluded).

    :raises ValueError: for an unreadable file, or markers missing, repeated or out of order.
    """
    try:
        text = readme.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"cannot read {readme} ({err}): pass a readable UTF-8 README") from None
    if text.count(begin) != 1 or text.count(end) != 1 or text.index(begin) > text.index(end):
        raise ValueError(
            f"{readme} needs exactly one '{begin}' line followed by one '{end}' line around "
            "the generated tables; add them where the tables belong (nothing outside them is "
            "changed)"
        )
    before, rest = text.split(begin)
    inside, after = rest.split(end)
    return before, inside, after


def replace_block(readme: Path, body: str, begin: str = BEGIN, end: str = END) -> str:
    """The README's text with its generated block's content replaced by ``body``."""
    before, _, after = split_block(readme, begin, end)
    return f"{before}{begin}\n{body}\n{end}{after}"


def readme_block(study_dir: str | Path, reps: int = REPS) -> str:
    """What belongs between the markers: a newline, the tables, a newline."""
    return f"\n{study_tables(study_dir, reps)}\n"


def update_readme(study_dir: str | Path, readme: str | Path, reps: int = REPS) -> Path:
    """Replace the block between ``<!-- report:begin -->`` and ``<!-- report:end -->`` of
    ``readme`` with the study's tables; the text outside the markers is kept byte for byte.

    :raises ValueError: when the README cannot be read or lacks the markers (it is left as is).
    """
    readme = Path(readme)
    before, _, after = split_block(readme)
    text = f"{before}{BEGIN}{readme_block(study_dir, reps)}{END}{after}"
    with atomic_write(readme) as f:
        f.write(text)
    return readme


def block_reps(readme: str | Path) -> int | None:
    """The bootstrap resamples a README's report block says it was rendered with."""
    _, inside, _ = split_block(Path(readme))
    found = re.search(r"(\d+) resamples", inside)
    return int(found.group(1)) if found else None


def check_readme(study_dir: str | Path, readme: str | Path, reps: int | None = None) -> list[str]:
    """The differences between the README's report block and the tables the CSVs give.

    :param study_dir: the folder holding ``runs.csv``.
    :param readme: a README with the report markers.
    :param reps: the resamples the block was rendered with (default: the number the block
        states, else :data:`REPS`).
    :return: unified-diff lines (committed -> from the CSVs); empty when they agree.
    :raises ValueError: as :func:`update_readme` does.
    """
    readme = Path(readme)
    reps = reps or block_reps(readme) or REPS
    _, inside, _ = split_block(readme)
    expected = readme_block(study_dir, reps)
    return list(difflib.unified_diff(inside.splitlines(), expected.splitlines(),
                                     f"{readme} (committed)", "from the CSVs", lineterm=""))  # fmt: skip


# --------------------------------------------------------------------------------------- CLI
@dataclass
class ReportArgs:
    """Write report.md of a study from its CSVs, and optionally its README's tables."""

    study_dir: tyro.conf.Positional[Path]
    """The study directory holding runs.csv (the --out of trm-rl sweep)."""
    readme: Path | None = None
    """Also replace the tables between <!-- report:begin --> and <!-- report:end --> here."""
    check: bool = False
    """With --readme: write nothing; exit 1 when the README's tables differ from the CSVs."""
    reps: int = REPS
    """Bootstrap resamples of every interval."""


def run_report(args: ReportArgs) -> int:
    """Carry out :class:`ReportArgs`; print what was written or the differences.

    :return: the exit code: 0, or 1 when ``--check`` finds differences.
    """
    if args.check:
        if args.readme is None:
            raise ValueError("--check compares a README's tables with the CSVs: pass --readme")
        diff = check_readme(args.study_dir, args.readme, args.reps)
        print("\n".join(diff) if diff else f"{args.readme} is in sync with the CSVs")
        return 1 if diff else 0
    print(write_report(args.study_dir, reps=args.reps))
    if args.readme is not None:
        print(update_readme(args.study_dir, args.readme, args.reps))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python experiments/report.py DIR [--readme PATH] [--check]``; a ``ValueError`` prints
    one line on stderr and exits with code 2."""
    args = tyro.cli(ReportArgs, args=argv)
    try:
        return run_report(args)
    except ValueError as err:
        print(f"report: {err}", file=sys.stderr)
        raise SystemExit(2) from None


__all__ = [
    "BEGIN",
    "CONTROLS",
    "END",
    "REPS",
    "ReportArgs",
    "block_reps",
    "check_readme",
    "control_budgets_table",
    "equal_flops_table",
    "equal_flops_test_table",
    "pairwise_table",
    "panels",
    "readme_block",
    "regime_of",
    "report_text",
    "run_report",
    "study_tables",
    "update_readme",
    "variant_table",
    "variants",
    "write_report",
]


if __name__ == "__main__":
    raise SystemExit(main())
