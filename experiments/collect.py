"""The study CSV format, read and written: the helpers shared by the result collectors and by
the plots.

- Writing (``experiments/ppo_results.py``, ``experiments/supervised_results.py``, which turn
  hand-launched runs into CSVs): :func:`write_csv`, :func:`merge_rows` (atomic, collecting a
  run again replaces its rows), :func:`training_minutes`, :func:`rounded`, :func:`data_game`.
- Reading a study directory (``experiments/plot.py``): :func:`read_runs` sorts the rows of
  ``runs.csv`` into done, failed and left out (done, but without a numeric score or a label);
  :func:`read_curves` reads the points of ``curves.csv``. Both raise one ``ValueError`` naming
  the file, what is missing and the fix.

A row belongs to a run through its ``run`` cell: ``<run>`` for the run's own evaluation,
``<run>.<label>`` for another one (``m9-trm-s0.15x15``), as the sweep and the collectors write
them. Importing this module imports neither torch nor matplotlib (:func:`data_game` imports
``trm_rl.data`` when called).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from envs.utils import atomic_write
from trm_rl.data.config import resolve_name
from trm_rl.data.files import sniff

#: ``runs.csv`` columns the plots need, besides ``status`` (or ``error``).
RUN_REQUIRED = ("run", "regime", "task", "variant", "score")
#: The ``curves.csv`` columns of the study format, and those the plots need.
CURVE_FIELDS = ["run", "variant", "group", "seed", "regime", "task", "minutes", "step",
                "examples", "flops", "split", "metric", "value"]  # fmt: skip
CURVE_REQUIRED = ("run", "minutes", "metric", "value")
#: The ``curves.csv`` metric of the learning curves (validation score against minutes).
DEFAULT_METRIC = "val/score"
#: The ``curves.csv`` metric of scores against supervision steps at test time (``step``).
TEST_STEPS_METRIC = "test/exact_by_steps"
#: The ``curves.csv`` columns a learning curve can be drawn against (training budget units).
CURVE_XS = ("step", "flops", "minutes")
FIX = "rewrite it with `trm-rl sweep` (or experiments/ppo_results.py) or add the column"
Row = dict[str, str]
Curve = tuple[np.ndarray, np.ndarray]


def num(text: Any) -> float:
    """A float from a CSV cell (or a number); ``nan`` when it is empty or not a number."""
    if text is None or text == "":
        return math.nan
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def read_rows(
    path: str | Path,
    required: Sequence[str] = (),
    fix: str = "rewrite it with `trm-rl sweep` or add the column",
) -> list[Row]:
    """Read a CSV file into dicts of stripped strings (a missing cell reads as ``""``; lines whose
    cells are all empty are skipped).

    :param path: the CSV file (with a header line).
    :param required: columns the header must have.
    :param fix: what to do when one is missing (ends the error message).
    :return: one dict per data row.
    :raises ValueError: naming the file when it cannot be read, has no header line, or lacks a
        required column.
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            header = [c.strip() for c in reader.fieldnames or [] if c is not None]
            if not any(header):
                raise ValueError(
                    f"{path} is empty (no header line): rewrite it with the command that "
                    "wrote it, or delete it"
                )
            missing = [c for c in required if c not in header]
            if missing:
                raise ValueError(
                    f"{path} has no column {', '.join(map(repr, missing))} (it needs "
                    f"{', '.join(required)}): {fix}"
                )
            rows = []
            for raw in reader:
                row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
                if any(row.values()):
                    rows.append(row)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"cannot read {path} ({err}): pass a readable UTF-8 CSV file") from None
    return rows


def belongs_to(run_cell: str, runs: Collection[str]) -> bool:
    """Whether a ``run`` cell is a row of one of ``runs``: ``m9-trm-s0`` and ``m9-trm-s0.15x15``
    are rows of ``m9-trm-s0``."""
    return any(run_cell == run or run_cell.startswith(run + ".") for run in runs)


def other_target(run_cell: Any) -> bool:
    """Whether a ``run`` cell scores a run on another target than it trained on (``RUN.TARGET``,
    e.g. ``m9-trm-s0.15x15``), not the run itself."""
    return "." in str(run_cell)


def write_csv(
    path: str | Path,
    rows: Sequence[Mapping[str, Any]],
    fields: Sequence[str] | None = None,
    extra: bool = False,
) -> Path:
    """Write ``rows`` as a CSV file, atomically (``envs.utils.atomic_write``).

    :param path: the file (its folder is created when missing).
    :param rows: one mapping per row; keys that are not columns are left out.
    :param fields: the columns, in order (default: the keys of the rows, in the order they first
        appear).
    :param extra: also write the keys of the rows that are not in ``fields``, sorted, after them.
    :return: ``path``.
    """
    if fields is None:
        fields = list(dict.fromkeys(k for row in rows for k in row))
    if extra:
        fields = [*fields, *sorted({k for row in rows for k in row} - set(fields))]
    with atomic_write(path) as f:
        writer = csv.DictWriter(f, fieldnames=list(fields), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return Path(path)


def merge_rows(
    path: str | Path,
    new: Sequence[Mapping[str, Any]],
    replaced: Collection[str],
    fields: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Rewrite a collector's CSV file: its earlier rows whose run is not collected again, then
    ``new``. Without ``fields`` and without rows, nothing is written.

    :param path: the file (read when it exists, then written atomically).
    :param new: the rows of the runs collected now.
    :param replaced: the runs collected now: their earlier rows (``<run>`` and ``<run>.<label>``)
        are dropped.
    :param fields: the columns (default: see :func:`write_csv`).
    :return: the rows of the file, kept then new.
    :raises ValueError: when an existing file cannot be read or has no ``run`` column (it is not
        a file a collector wrote, and is left as it is).
    """
    path = Path(path)
    kept: list[dict[str, Any]] = []
    if path.exists():
        fix = "it is not a file this collector wrote; pass another --out-dir"
        kept = [r for r in read_rows(path, ["run"], fix) if not belongs_to(r["run"], replaced)]
    rows = kept + list(new)
    if rows or fields is not None:
        write_csv(path, rows, fields)
    return rows


def training_minutes(run_dir: str | Path) -> float:
    """The training minutes of a run: ``time_s`` of the last row of its ``metrics.csv`` (0.0
    when it has no rows), as the supervised and PPO trainers write it.

    :param run_dir: the run directory (the ``--out`` of a trainer).
    :raises ValueError: when ``metrics.csv`` is missing or unreadable, naming it.
    """
    path = Path(run_dir) / "metrics.csv"
    if not path.is_file():
        raise ValueError(f"no metrics.csv in {run_dir}: pass the --out folder of a training run")
    if path.stat().st_size == 0:  # created, no row written yet
        return 0.0
    rows = read_rows(path, ["time_s"], "pass the metrics.csv a trainer wrote")
    try:
        return float(rows[-1]["time_s"]) / 60.0 if rows else 0.0
    except ValueError:
        raise ValueError(f"{path}: time_s {rows[-1]['time_s']!r} is not a number") from None


def rounded(value: Any, digits: int = 4) -> float | str:
    """A number for a CSV cell, rounded; ``""`` for None."""
    return "" if value is None else round(float(value), digits)


def data_game(name: str) -> str:
    """``"maze"`` or ``"sudoku"``: the game of a supervised data name (``maze-11x11``,
    ``sudoku-extreme``) or data file, as ``trm_rl.data`` resolves it (a file by its header).

    :raises ValueError: for an unknown name or an unreadable file, from ``trm_rl.data``.
    """
    kind = resolve_name(name).kind
    return kind if kind is not None else sniff(name)[0]


# ---------------------------------------------------------------------------- study directory
@dataclass
class StudyRuns:
    """The rows of a study's ``runs.csv``, sorted into what enters tables and plots and what not."""

    path: Path
    """The ``runs.csv`` file."""
    rows: list[Row]
    """Every row."""
    done: list[Row] = field(default_factory=list)
    """Done rows with a run, task, regime, variant and a finite score: tabled and plotted."""
    failed: list[tuple[Row, str]] = field(default_factory=list)
    """Rows not done, with their status (``failed: <Error>: <message>``)."""
    left_out: list[tuple[Row, str]] = field(default_factory=list)
    """Done rows that cannot be tabled, with the reason (no numeric score, no task, ...)."""


def check_study_dir(study_dir: str | Path) -> Path:
    """The study directory, checked: it exists, is a folder and holds ``runs.csv``.

    :raises ValueError: saying which of these fails and what to pass instead.
    """
    study_dir = Path(study_dir)
    if not study_dir.exists():
        raise ValueError(
            f"study directory {study_dir} does not exist: pass the --out folder of `trm-rl "
            "sweep` (e.g. results/k_cycles)"
        )
    if not study_dir.is_dir():
        raise ValueError(
            f"{study_dir} is a file, not a study directory: pass the folder that holds runs.csv"
        )
    if not (study_dir / "runs.csv").exists():
        if (study_dir / "curves.csv").exists():
            raise ValueError(
                f"{study_dir} has curves.csv but no runs.csv (one row per run: "
                f"{', '.join(RUN_REQUIRED)}, status): run `trm-rl sweep` again (it rewrites "
                "runs.csv from the runs' result.json) or experiments/ppo_results.py"
            )
        raise ValueError(
            f"no runs.csv in {study_dir}: run `trm-rl sweep` first or pass the study directory"
        )
    return study_dir


def _status(row: Row) -> str:
    """``done``, or why not: the ``status`` cell, else a non-empty ``error`` cell."""
    if "status" in row:
        return "done" if row["status"].lower() == "done" else row["status"] or "no status"
    error = row["error"]
    if not error:
        return "done"
    return error if error.startswith("failed") else f"failed: {error}"


def read_runs(study_dir: str | Path) -> StudyRuns:
    """Read a study's ``runs.csv`` and sort its rows: ``status == "done"`` (or an empty
    ``error``) rows with a run, task, regime, variant and a finite score are done; other done
    rows are left out, with the reason; the rest failed, with their status (``failed: <Error>:
    <message>``, as the sweep writes it).

    :param study_dir: the folder holding ``runs.csv``.
    :raises ValueError: naming the folder or file, when the folder or ``runs.csv`` is missing,
        ``runs.csv`` is unreadable, lacks a column of :data:`RUN_REQUIRED` and ``status`` (or
        ``error``), or has no rows.
    """
    path = check_study_dir(study_dir) / "runs.csv"
    runs = StudyRuns(path, read_rows(path, RUN_REQUIRED, FIX))
    if not runs.rows:
        raise ValueError(
            f"{path} has a header but no rows: no run has been recorded; run `trm-rl sweep` "
            "(each finished run adds its row) and plot again"
        )
    if "status" not in runs.rows[0] and "error" not in runs.rows[0]:
        raise ValueError(f"{path} has no column 'status' (or 'error'): {FIX}")
    for row in runs.rows:
        status = _status(row)
        if status != "done":
            runs.failed.append((row, status))
            continue
        empty = [c for c in ("run", "task", "regime", "variant") if not row[c]]
        if empty:
            runs.left_out.append((row, f"no {', '.join(empty)}"))
        elif not math.isfinite(num(row["score"])):
            score = row["score"]
            runs.left_out.append((row, f"score {score!r} is not a number" if score else "no score"))
        else:
            runs.done.append(row)
    return runs


@dataclass
class StudyCurves:
    """The points of a study's ``curves.csv`` that the plots use, and notes on what is missing."""

    curves: dict[str, Curve] = field(default_factory=dict)
    """Run -> (minutes, values) of the chosen metric, sorted by minutes."""
    by_x: dict[str, dict[str, Curve]] = field(default_factory=dict)
    """x column (:data:`CURVE_XS`: ``step``, ``flops``, ``minutes``) -> run -> (x, values) of
    the chosen metric, sorted by x; a point enters an axis when its x and value are numbers."""
    by_steps: dict[str, dict[int, float]] = field(default_factory=dict)
    """Run -> {supervision steps at test time: score}."""
    notes: list[str] = field(default_factory=list)
    """Sentences for the report: no ``curves.csv``, no rows of the metric, points skipped."""


def read_curves(study_dir: str | Path, metric: str = DEFAULT_METRIC) -> StudyCurves:
    """Read a study's ``curves.csv``, when there is one: the points of ``metric`` and of
    :data:`TEST_STEPS_METRIC`; points whose minutes, step or value is not a number are skipped
    and counted in the notes.

    :param study_dir: the folder holding ``curves.csv`` (a missing file is a note).
    :param metric: the metric of the learning curves.
    :raises ValueError: naming the file, when it is unreadable, lacks a column of
        :data:`CURVE_REQUIRED`, or has rows but none of a ``metric`` other than the default.
    """
    path, out = Path(study_dir) / "curves.csv", StudyCurves()
    if not path.exists():
        out.notes.append("No curves.csv: no learning curves or test-step plots.")
        return out
    rows = read_rows(path, CURVE_REQUIRED, FIX)
    metrics = list(dict.fromkeys(c["metric"] for c in rows))
    if metric not in metrics:
        if metric != DEFAULT_METRIC and rows:
            raise ValueError(
                f"{path} has no rows of metric {metric!r}: pass --metric one of {metrics}"
            )
        out.notes.append(f"curves.csv has no rows of metric `{metric}`: no learning curves.")
    raw: dict[str, list[tuple[float, float]]] = {}
    raw_x: dict[str, dict[str, list[tuple[float, float]]]] = {x: {} for x in CURVE_XS}
    skipped = 0
    for c in rows:
        point = (num(c["minutes"]), num(c["value"]))
        if c["metric"] == metric:
            if all(map(math.isfinite, point)):
                raw.setdefault(c["run"], []).append(point)
            else:
                skipped += 1
            for x in CURVE_XS:
                xy = (num(c.get(x)), point[1])
                if all(map(math.isfinite, xy)):
                    raw_x[x].setdefault(c["run"], []).append(xy)
        elif c["metric"] == TEST_STEPS_METRIC:
            step = num(c.get("step"))
            if math.isfinite(step) and math.isfinite(point[1]):
                out.by_steps.setdefault(c["run"], {})[int(step)] = point[1]
            else:
                skipped += 1
    if skipped:
        out.notes.append(
            f"{skipped} curves.csv points of `{metric}` or `{TEST_STEPS_METRIC}` skipped: their "
            "minutes, step or value is not a number."
        )
    out.curves = {run: tuple(np.array(sorted(p)).T) for run, p in raw.items()}
    out.by_x = {x: {run: tuple(np.array(sorted(p)).T) for run, p in runs.items()}
                for x, runs in raw_x.items()}  # fmt: skip
    return out


__all__ = [
    "CURVE_FIELDS",
    "CURVE_REQUIRED",
    "CURVE_XS",
    "DEFAULT_METRIC",
    "RUN_REQUIRED",
    "TEST_STEPS_METRIC",
    "StudyCurves",
    "StudyRuns",
    "belongs_to",
    "check_study_dir",
    "data_game",
    "merge_rows",
    "num",
    "other_target",
    "read_curves",
    "read_rows",
    "read_runs",
    "rounded",
    "training_minutes",
    "write_csv",
]
