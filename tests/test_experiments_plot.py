"""Tests of ``experiments/plot.py``: plots and report.md from a study's tidy CSVs."""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from experiments.plot import (  # noqa: E402
    OKABE_ITO,
    common_grid,
    main,
    plot_supervised_curves,
    variant_styles,
    ylabel,
)
from experiments.plot import plot_study as _plot_study  # noqa: E402
from experiments.plot import summary_tables as _summary_tables  # noqa: E402

REPS = 100  # bootstrap resamples: enough for smoke tests, seconds not minutes


def plot_study(study_dir: Path, metric: str = "val/score") -> dict[str, list[Path]]:
    return _plot_study(study_dir, metric, reps=REPS)


def summary_tables(study_dir: Path) -> str:
    return _summary_tables(study_dir, reps=REPS)


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
RUN_COLUMNS = ["study", "run", "regime", "task", "variant", "group", "K", "seed", "params",
               "minutes", "steps", "flops", "score", "score_name", "success", "length_ratio",
               "think_steps", "random_score", "oracle_score", "status", "extra"]  # fmt: skip
CURVE_COLUMNS = ["run", "variant", "group", "seed", "regime", "task", "minutes", "step", "metric",
                 "value"]  # fmt: skip
COMBOS = [("maze-9x9", "supervised"), ("maze-9x9", "ppo"), ("sudoku-4x4", "ppo")]
VARIANTS = [("TRM H1/L1", "K=1", "1"), ("TRM H3/L3", "K=3", "3"), ("MLP", "", "")]


def write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def make_study(root: Path) -> Path:
    """3 (task, regime) x 3 variants x 3 seeds, plus one failed run; PPO rows have no FLOPs."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    runs, curves = [], []
    for task, regime in COMBOS:
        for v, (variant, group, k) in enumerate(VARIANTS):
            for seed in range(3):
                run = f"{task}-{regime}-{variant.replace(' ', '').replace('/', '')}-s{seed}"
                score = float(np.clip(0.3 + 0.25 * v + 0.05 * rng.standard_normal(), 0, 1))
                minutes = 5.0 + seed
                runs.append({
                    "study": "k_sweep", "run": run, "regime": regime, "task": task,
                    "variant": variant, "group": group, "K": k, "seed": seed,
                    "params": 1000 * (v + 1), "minutes": minutes, "steps": 100,
                    "flops": "" if regime == "ppo" else 1e12 * (v + 1) * (seed + 1),
                    "score": score,
                    "score_name": "success within 2x optimal" if regime == "ppo"
                    else "test exact accuracy",
                    "random_score": 0.05 if regime == "ppo" else "",
                    "oracle_score": 1.0 if regime == "ppo" else "", "status": "done",
                })  # fmt: skip
                for i, t in enumerate(np.linspace(0.2 * seed, minutes, 12)):
                    common = {"run": run, "variant": variant, "group": group, "seed": seed,
                              "regime": regime, "task": task, "minutes": t, "step": 10 * i}  # fmt: skip
                    value = score * (1 - math.exp(-t / 2))
                    curves.append({**common, "metric": "val/score", "value": value})
                    curves.append({**common, "metric": "train/loss", "value": 5 - value})
                if regime == "supervised":  # scored after 1, 2, 4, 8 supervision steps
                    for steps in (1, 2, 4, 8) if k else (1,):
                        curves.append({**common, "minutes": "", "step": steps, "value": score
                                       * steps / 8, "metric": "test/exact_by_steps"})  # fmt: skip
    runs.append({**runs[-1], "run": "sudoku-ppo-crashed", "seed": 7, "score": "",
                 "status": "failed: RuntimeError: CUDA out of memory"})  # fmt: skip
    write_csv(root / "runs.csv", RUN_COLUMNS, runs)
    write_csv(root / "curves.csv", CURVE_COLUMNS, curves)
    return root


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[Path]]]:
    root = make_study(tmp_path_factory.mktemp("plot") / "k_sweep")
    return root, plot_study(root)


def test_plot_study_writes_every_plot_and_the_report(study) -> None:
    root, written = study
    kinds = ("curves_steps", "curves_minutes", "score_vs_K", "score_vs_compute", "iqm")
    expected = {f"{kind}_{task}_{regime}.png" for task, regime in COMBOS for kind in kinds}
    expected.add("test_steps_maze-9x9_supervised.png")  # only the TRMs ran several step counts
    expected |= {"profile_supervised.png", "profile_ppo.png"}  # one per regime, never pooled
    assert {p.name for p in written["plots"]} == expected  # no FLOPs in curves.csv: no flops plot
    for path in written["plots"]:
        assert path.parent == root / "plots"
        data = path.read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 5000, path
    assert written["report"] == [root / "report.md"]
    report = (root / "report.md").read_text()
    assert report.startswith("# k_sweep report\n")
    assert "28 runs: 27 done, 1 failed." in report
    assert "`sudoku-ppo-crashed`" in report and "CUDA out of memory" in report
    assert "### maze-9x9 — ppo" in report and "| variant | n | test puzzles/run |" in report
    for name in expected:
        assert f"](plots/{name})" in report
    # The failed run is left out of the table: 3 runs per row.
    assert report.count("| MLP | 3 |") == 3 and "| 4 |" not in report
    assert not list(root.glob("**/*.tmp"))


def test_summary_tables_are_the_report_tables(study) -> None:
    root, _ = study
    text = summary_tables(root)
    report = (root / "report.md").read_text()
    assert "### maze-9x9 — ppo" in text
    tables = [line for line in text.splitlines() if line.startswith("|")]
    assert tables and all(line in report.splitlines() for line in tables)
    assert len(tables) == sum(line.startswith("|") for line in report.splitlines())
    assert "crashed" not in text  # failed runs are left out, as in the report
    with pytest.raises(ValueError, match=r"no runs\.csv"):
        summary_tables(root / "plots")


def test_plot_study_is_deterministic(study) -> None:
    root, written = study
    report = (root / "report.md").read_text()
    pngs = {p: p.read_bytes() for p in written["plots"]}
    again = plot_study(root)
    assert (root / "report.md").read_text() == report
    assert {p: p.read_bytes() for p in again["plots"]} == pngs


def test_plots_without_data_are_skipped_and_main_prints_paths(tmp_path: Path, capsys) -> None:
    rows = [{"run": f"r{s}", "regime": "supervised", "task": "maze-9x9", "variant": "MLP",
             "score": 0.5 + 0.1 * s, "minutes": 2 + s, "status": "done"} for s in range(2)]  # fmt: skip
    write_csv(tmp_path / "runs.csv", list(rows[0]), rows)
    written = main([str(tmp_path)])
    assert [p.name for p in written["plots"]] == [
        "score_vs_compute_maze-9x9_supervised.png",
        "iqm_maze-9x9_supervised.png",
        "profile_supervised.png",
    ]
    out = capsys.readouterr().out
    assert "score_vs_compute_maze-9x9_supervised.png" in out and "report.md" in out
    report = (tmp_path / "report.md").read_text()
    assert "# " + tmp_path.name + " report" in report and "| MLP | 2 | — | 55.0 [" in report


def test_missing_runs_csv_or_column_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"no runs\.csv in .*trm-rl sweep"):
        plot_study(tmp_path)
    write_csv(tmp_path / "runs.csv", ["run", "regime", "task", "variant", "status"], [])
    with pytest.raises(ValueError, match="'score'"):
        plot_study(tmp_path)
    row = {"run": "a", "regime": "ppo", "task": "t", "variant": "v", "score": 1, "status": "done"}
    write_csv(tmp_path / "runs.csv", list(row), [row])
    write_csv(tmp_path / "curves.csv", ["run", "minutes", "metric"], [])
    with pytest.raises(ValueError, match="'value'"):
        plot_study(tmp_path)


# ------------------------------------------------------------------ robustness: what is there
def done_row(run: str, seed: int = 0, score: object = 0.5, **changes: object) -> dict:
    """A done supervised row of maze-9x9 (variant MLP) with the columns the sweep writes."""
    row = {"study": "s", "run": run, "regime": "supervised", "task": "maze-9x9", "variant": "MLP",
           "group": "", "K": "", "seed": seed, "params": 1000, "minutes": 2 + seed, "steps": 10,
           "flops": 1e9 * (seed + 1), "score": score, "score_name": "exact accuracy (test)",
           "success": "", "length_ratio": "", "think_steps": "", "random_score": "",
           "oracle_score": "", "status": "done", "extra": ""}  # fmt: skip
    return {**row, **changes}


def sweep_failed_row(run: str, seed: int = 1) -> dict:
    """A failed row as ``experiments/sweep.py`` ``failed_result`` writes it: labels, no score."""
    status = "failed: RuntimeError: CUDA out of memory"
    return {"study": "s", "run": run, "regime": "supervised", "task": "maze-9x9",
            "variant": "MLP", "group": "", "K": "", "seed": seed, "status": status}  # fmt: skip


def curve_rows(run: str, values: list[object], metric: str = "val/score") -> list[dict]:
    return [{"run": run, "minutes": i + 1, "step": i, "metric": metric, "value": v}
            for i, v in enumerate(values)]  # fmt: skip


def nothing_written(root: Path) -> bool:
    return not (root / "report.md").exists() and not (root / "plots").exists()


def pngs_ok(paths: list[Path]) -> bool:
    return all(p.read_bytes()[:8] == PNG_MAGIC and p.stat().st_size > 5000 for p in paths)


def test_a_missing_folder_a_file_or_an_empty_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"study directory .*missing does not exist: pass"):
        plot_study(tmp_path / "missing")
    (tmp_path / "a.csv").write_text("run\n")
    with pytest.raises(ValueError, match=r"a\.csv is a file, not a study directory"):
        plot_study(tmp_path / "a.csv")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=r"no runs\.csv in .*empty: run `trm-rl sweep` first"):
        plot_study(empty)
    with pytest.raises(ValueError, match=r"no runs\.csv"):
        summary_tables(empty)
    assert nothing_written(empty) and list(empty.iterdir()) == []


def test_curves_without_runs_is_a_clear_error(tmp_path: Path) -> None:
    write_csv(tmp_path / "curves.csv", CURVE_COLUMNS, curve_rows("a", [0.1, 0.2]))
    with pytest.raises(ValueError, match=r"has curves\.csv but no runs\.csv .*trm-rl sweep"):
        plot_study(tmp_path)
    assert nothing_written(tmp_path)


def test_runs_without_curves_plots_what_is_there(tmp_path: Path) -> None:
    rows = [done_row(f"r{s}", s, 0.4 + 0.1 * s) for s in range(3)]
    write_csv(tmp_path / "runs.csv", RUN_COLUMNS, rows)
    written = plot_study(tmp_path)
    assert [p.name for p in written["plots"]] == [
        "score_vs_compute_maze-9x9_supervised.png",
        "iqm_maze-9x9_supervised.png",
        "profile_supervised.png",
    ]
    assert pngs_ok(written["plots"])
    report = (tmp_path / "report.md").read_text()
    assert "3 runs: 3 done, 0 failed." in report
    assert "No curves.csv: no learning curves or test-step plots." in report
    assert "| MLP | 3 | — | 50.0 [" in report


def test_missing_columns_name_the_file_and_the_column(tmp_path: Path) -> None:
    no_status = {k: v for k, v in done_row("a").items() if k != "status"}
    write_csv(tmp_path / "runs.csv", list(no_status), [no_status])
    with pytest.raises(ValueError, match=r"runs\.csv has no column 'status' \(or 'error'\)"):
        plot_study(tmp_path)
    no_task = {k: v for k, v in done_row("a").items() if k != "task"}
    write_csv(tmp_path / "runs.csv", list(no_task), [no_task])
    with pytest.raises(ValueError, match=r"runs\.csv has no column 'task' .*trm-rl sweep"):
        summary_tables(tmp_path)
    write_csv(tmp_path / "runs.csv", RUN_COLUMNS, [done_row("a")])
    write_csv(tmp_path / "curves.csv", ["run", "metric", "value"], curve_rows("a", [0.1]))
    with pytest.raises(ValueError, match=r"curves\.csv has no column 'minutes'"):
        plot_study(tmp_path)
    assert nothing_written(tmp_path)


def test_empty_csvs(tmp_path: Path) -> None:
    (tmp_path / "runs.csv").write_text("")
    with pytest.raises(ValueError, match=r"runs\.csv is empty \(no header line\)"):
        plot_study(tmp_path)
    write_csv(tmp_path / "runs.csv", RUN_COLUMNS, [])
    with pytest.raises(ValueError, match=r"runs\.csv has a header but no rows: .*trm-rl sweep"):
        plot_study(tmp_path)
    with pytest.raises(ValueError, match="header but no rows"):
        summary_tables(tmp_path)
    assert nothing_written(tmp_path)
    # A curves.csv with a header only: the other plots, and the report says why no curves.
    write_csv(tmp_path / "runs.csv", RUN_COLUMNS, [done_row("a"), done_row("b", 1, 0.7)])
    write_csv(tmp_path / "curves.csv", CURVE_COLUMNS, [])
    written = plot_study(tmp_path)
    assert [p.name for p in written["plots"]] == [
        "score_vs_compute_maze-9x9_supervised.png",
        "iqm_maze-9x9_supervised.png",
        "profile_supervised.png",
    ]
    assert "curves.csv has no rows of metric `val/score`" in (tmp_path / "report.md").read_text()


def test_an_unreadable_csv_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "runs.csv").write_bytes(b"\xff\xfe\x00run,score\n\x00\x81")
    with pytest.raises(ValueError, match=r"cannot read .*runs\.csv .*UTF-8 CSV"):
        plot_study(tmp_path)
    (tmp_path / "runs.csv").unlink()
    (tmp_path / "runs.csv").mkdir()
    with pytest.raises(ValueError, match=r"cannot read .*runs\.csv"):
        plot_study(tmp_path)
    assert not (tmp_path / "report.md").exists()


def test_failed_rows_are_skipped_and_counted(tmp_path: Path) -> None:
    rows = [done_row("ok0", 0, 0.5), done_row("ok1", 2, 0.7), sweep_failed_row("oom")]
    write_csv(tmp_path / "runs.csv", RUN_COLUMNS, rows)
    write_csv(tmp_path / "curves.csv", CURVE_COLUMNS,
              curve_rows("ok0", [0.1, 0.4]) + curve_rows("ok1", [0.2, 0.6]))  # fmt: skip
    written = plot_study(tmp_path)
    report = (tmp_path / "report.md").read_text()
    assert "3 runs: 2 done, 1 failed." in report
    assert "- `oom` (maze-9x9, supervised, MLP, seed 1): failed: RuntimeError: CUDA out" in report
    assert "| MLP | 2 | — | 60.0 [" in report
    assert {p.name for p in written["plots"]} == {
        "curves_steps_maze-9x9_supervised.png", "curves_minutes_maze-9x9_supervised.png",
        "score_vs_compute_maze-9x9_supervised.png", "iqm_maze-9x9_supervised.png",
        "profile_supervised.png"}  # fmt: skip
    assert pngs_ok(written["plots"])
    assert "oom" not in summary_tables(tmp_path)


def test_an_error_column_marks_failed_rows(tmp_path: Path) -> None:
    rows = [{k: v for k, v in done_row(f"r{s}", s).items() if k != "status"} for s in range(2)]
    rows[1]["error"] = "ValueError: bad config"
    write_csv(tmp_path / "runs.csv", [*rows[0], "error"], rows)
    plot_study(tmp_path)
    report = (tmp_path / "report.md").read_text()
    assert "2 runs: 1 done, 1 failed." in report
    assert "`r1` (maze-9x9, supervised, MLP, seed 1): failed: ValueError: bad config" in report


def test_a_study_whose_runs_all_failed_gets_a_report_and_no_plot(tmp_path: Path, capsys) -> None:
    write_csv(tmp_path / "runs.csv", RUN_COLUMNS, [sweep_failed_row("a"), sweep_failed_row("b")])
    written = main([str(tmp_path)])
    assert written["plots"] == [] and not (tmp_path / "plots").exists()
    report = (tmp_path / "report.md").read_text()
    assert "2 runs: 0 done, 2 failed." in report and "No completed runs." in report
    assert "No completed runs." in capsys.readouterr().out
    assert summary_tables(tmp_path).endswith("No completed runs.")


def test_nan_and_non_numeric_values(tmp_path: Path) -> None:
    rows = [done_row("good0", 0, 0.5, K="abc", flops="nan"), done_row("good1", 1, 0.7),
            done_row("nan", 2, "nan"), done_row("text", 3, "n/a"), done_row("empty", 4, ""),
            done_row("inf", 5, "inf"), done_row("nolabel", 6, 0.9, task="")]  # fmt: skip
    write_csv(tmp_path / "runs.csv", RUN_COLUMNS, rows)
    curves = curve_rows("good0", [0.1, "nan", "x", 0.5]) + curve_rows("good1", [0.2, 0.6])
    curves += [{**curves[0], "minutes": "soon"}]
    write_csv(tmp_path / "curves.csv", CURVE_COLUMNS, curves)
    written = plot_study(tmp_path)
    report = (tmp_path / "report.md").read_text()
    assert "7 runs: 7 done, 0 failed." in report
    assert "Done runs left out of the tables and plots:" in report
    for line in ("`nan` (maze-9x9, supervised, MLP, seed 2): score 'nan' is not a number",
                 "`text` (maze-9x9, supervised, MLP, seed 3): score 'n/a' is not a number",
                 "`empty` (maze-9x9, supervised, MLP, seed 4): no score",
                 "`inf` (maze-9x9, supervised, MLP, seed 5): score 'inf' is not a number",
                 "`nolabel` (—, supervised, MLP, seed 6): no task"):  # fmt: skip
        assert line in report
    assert "3 curves.csv points of `val/score` or `test/exact_by_steps` skipped" in report
    assert "| MLP | 2 | — | 60.0 [" in report  # the two numeric rows only
    # A K that is not a number reads as no K; FLOPs that are not all numbers: minutes instead.
    assert {p.name for p in written["plots"]} == {
        "curves_steps_maze-9x9_supervised.png", "curves_minutes_maze-9x9_supervised.png",
        "score_vs_compute_maze-9x9_supervised.png", "iqm_maze-9x9_supervised.png",
        "profile_supervised.png"}  # fmt: skip
    assert pngs_ok(written["plots"])


def test_one_seed_per_cell_has_no_interval(tmp_path: Path) -> None:
    rows = [done_row("mlp", 0, 0.4), done_row("trm", 0, 0.6, variant="TRM", group="K=3", K=3),
            done_row("trm1", 0, 0.5, variant="TRM H1", group="K=1", K=1)]  # fmt: skip
    write_csv(tmp_path / "runs.csv", RUN_COLUMNS, rows)
    curves = curve_rows("mlp", [0.2]) + curve_rows("trm", [0.1, 0.3, 0.6])  # one point: a marker
    curves += [{**c, "metric": "test/exact_by_steps", "minutes": "", "step": c["step"] + 1}
               for c in curve_rows("trm", [0.2, 0.6])]  # fmt: skip
    write_csv(tmp_path / "curves.csv", CURVE_COLUMNS, curves)
    written = plot_study(tmp_path)
    names = {p.name for p in written["plots"]}
    assert names == {f"{kind}_maze-9x9_supervised.png" for kind in
                     ("curves_steps", "curves_minutes", "score_vs_K", "score_vs_compute", "iqm", "test_steps")}  # fmt: skip
    assert pngs_ok(written["plots"])
    report = (tmp_path / "report.md").read_text()
    assert "| MLP | 1 | — | 40.0 | — |" in report
    assert "| TRM | 1 | — | 60.0 | — |" in report


def test_a_metric_that_curves_csv_lacks_is_a_clear_error(tmp_path: Path) -> None:
    write_csv(tmp_path / "runs.csv", RUN_COLUMNS, [done_row("a"), done_row("b", 1)])
    write_csv(tmp_path / "curves.csv", CURVE_COLUMNS, curve_rows("a", [0.1, 0.2]))
    with pytest.raises(ValueError, match=r"no rows of metric 'val/acc': pass --metric one of"):
        plot_study(tmp_path, metric="val/acc")
    assert nothing_written(tmp_path)
    write_csv(tmp_path / "curves.csv", CURVE_COLUMNS, curve_rows("a", [1, 2], "train/loss"))
    written = plot_study(tmp_path, metric="train/loss")
    assert "curves_steps_maze-9x9_supervised.png" in {p.name for p in written["plots"]}


def test_files_plot_did_not_write_are_never_replaced(tmp_path: Path) -> None:
    write_csv(tmp_path / "runs.csv", RUN_COLUMNS, [done_row("a"), done_row("b", 1)])
    (tmp_path / "report.md").write_text("# My notes\n\nhand-written\n")
    with pytest.raises(ValueError, match=r"report\.md was not written by experiments/report\.py"):
        plot_study(tmp_path)
    assert (tmp_path / "report.md").read_text() == "# My notes\n\nhand-written\n"
    assert not (tmp_path / "plots").exists()
    (tmp_path / "report.md").unlink()
    (tmp_path / "plots").write_text("not a folder")
    with pytest.raises(ValueError, match=r"plots is a file, not a folder: .*move that file away"):
        plot_study(tmp_path)
    assert (tmp_path / "plots").read_text() == "not a folder"
    assert not (tmp_path / "report.md").exists()
    (tmp_path / "plots").unlink()
    plot_study(tmp_path)  # a report.md that plot.py wrote is replaced, atomically
    (tmp_path / "report.md").write_text((tmp_path / "report.md").read_text() + "stale\n")
    plot_study(tmp_path)
    assert "stale" not in (tmp_path / "report.md").read_text()
    assert not list(tmp_path.glob("**/*.tmp"))


def test_main_prints_one_line_and_exits_2(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path / "missing")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("plot: study directory ") and err.count("\n") == 1
    assert "Traceback" not in err


# ------------------------------------------------------------------------ supervised curves
def test_plot_supervised_curves(tmp_path: Path) -> None:
    rows = []
    for data, metrics in (("maze-11x11", ("val/exact_accuracy", "val/valid")),
                          ("sudoku-4x4", ("val/exact_accuracy", "val/exact_accuracy_halt"))):  # fmt: skip
        for run in range(12):  # more runs than colours
            for step in range(4):
                rows += [{"run": f"{data}-r{run}", "data": data, "time_s": str(60.0 * step),
                          "metric": m, "value": str(0.1 * step)} for m in metrics]  # fmt: skip
    rows.append({**rows[0], "value": "nan"})
    path = plot_supervised_curves(rows, tmp_path / "out" / "curves.png")
    assert path == tmp_path / "out" / "curves.png" and pngs_ok([path])
    assert not list(path.parent.glob("*.tmp"))
    skipped = [{**r, "value": "x"} for r in rows] + [{**rows[0], "metric": "train/loss"}]
    assert plot_supervised_curves(skipped, tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()


# ---------------------------------------------------------------- grid, colours and labels
def test_common_grid_means_only_where_every_seed_has_a_value() -> None:
    early = (np.array([0.0, 1.0, 2.0]), np.array([0.0, 0.5, 1.0]))
    late = (np.array([1.0, 3.0, 5.0]), np.array([0.2, 0.4, 0.6]))
    grid, ys = common_grid([early, late], points=5)
    assert grid[0] == 1.0 and grid[-1] == 2.0 and ys.shape == (2, 5)  # the overlap only
    np.testing.assert_allclose(ys[0], np.linspace(0.5, 1.0, 5))
    np.testing.assert_allclose(ys[1], np.linspace(0.2, 0.3, 5))
    apart = (np.array([4.0, 6.0]), np.array([0.1, 0.2]))
    grid, ys = common_grid([early, apart])
    assert grid.size == 0 and ys.shape == (2, 0)  # no x where both have a value: no mean
    with pytest.raises(ValueError, match="at least one curve"):
        common_grid([])


def test_one_colour_per_variant_across_the_study() -> None:
    rows = [{"variant": v} for v in ("TRM", "MLP", "conv", "MLP", *[f"v{i}" for i in range(8)])]
    styles = variant_styles(rows)
    assert list(styles) == sorted(styles) and styles["MLP"].color == OKABE_ITO[0]
    assert len({(s.color, s.dash) for s in styles.values()}) == len(styles)  # 11 > 8 colours
    assert variant_styles(reversed(rows)) == styles  # built from the sorted names, not the order


def test_ylabel_names_split_and_unit() -> None:
    assert ylabel("exact accuracy (test)", "validation") == "exact accuracy, validation (%)"
    assert ylabel("puzzles solved", "test") == "puzzles solved, test (%)"
