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

from experiments.plot import bootstrap_ci, iqm, main, plot_study, summary_tables  # noqa: E402

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
        writer = csv.DictWriter(f, fieldnames=columns)
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
    expected = {f"{kind}_{task}_{regime}.png" for task, regime in COMBOS
                for kind in ("curves", "score_vs_K", "score_vs_compute", "ablations")}  # fmt: skip
    expected.add("test_steps_maze-9x9_supervised.png")  # only the TRMs ran several step counts
    assert {p.name for p in written["plots"]} == expected
    for path in written["plots"]:
        assert path.parent == root / "plots"
        data = path.read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 5000, path
    assert written["report"] == [root / "report.md"]
    report = (root / "report.md").read_text()
    assert report.startswith("# k_sweep report\n")
    assert "28 runs: 27 done, 1 failed." in report
    assert "`sudoku-ppo-crashed`" in report and "CUDA out of memory" in report
    header = "| variant | group | seeds (n) | score mean | 95% CI | IQM | params | minutes |"
    assert header + "\n" in report and header + " random | oracle |\n" in report
    assert "## maze-9x9 — ppo" in report and "| 5.0% | 100.0% |" in report
    for name in expected:
        assert f"](plots/{name})" in report
    # The failed run is left out of the table: 3 seeds per row.
    assert "| MLP | — | 3 |" in report and "| 4 |" not in report
    assert not list(root.glob("**/*.tmp"))


def test_summary_tables_are_the_report_tables(study) -> None:
    root, _ = study
    text = summary_tables(root)
    report = (root / "report.md").read_text()
    assert "maze-9x9 — ppo (score: " in text
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
    assert [p.name for p in written["plots"]] == ["score_vs_compute_maze-9x9_supervised.png"]
    out = capsys.readouterr().out
    assert "score_vs_compute_maze-9x9_supervised.png" in out and "report.md" in out
    report = (tmp_path / "report.md").read_text()
    assert "# " + tmp_path.name + " report" in report and "| MLP | — | 2 | 55.0% |" in report


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


def test_bootstrap_ci() -> None:
    rng = np.random.default_rng(1)
    small, large = rng.normal(0.5, 0.1, 5), rng.normal(0.5, 0.1, 200)
    low, high = bootstrap_ci(small)
    assert low <= small.mean() <= high and low < high
    low_l, high_l = bootstrap_ci(large)
    assert low_l <= large.mean() <= high_l and high_l - low_l < high - low
    assert bootstrap_ci(small, seed=3) == bootstrap_ci(small, seed=3)
    assert bootstrap_ci(small, seed=3) != bootstrap_ci(small, seed=4)
    assert bootstrap_ci(np.array([0.7])) == (0.7, 0.7)
    assert bootstrap_ci([0.2, 0.2, 0.2]) == (0.2, 0.2)
    assert all(math.isnan(x) for x in bootstrap_ci(np.array([])))
    assert bootstrap_ci([0.0, 1.0, math.nan], n_resamples=500) == bootstrap_ci([0.0, 1.0], 500)


def test_iqm() -> None:
    assert iqm([1, 2, 3, 4]) == 2.5  # the middle two
    assert iqm([1, 2, 3, 4, 100]) == 3.0  # the middle three: the outlier is dropped
    assert iqm(np.arange(8.0)) == 3.5  # values 2..5
    assert iqm([0, 1, 5]) == 1.0  # n = 3: the median
    assert iqm([1, 3]) == 2.0  # n = 2: both
    assert iqm([0.4]) == 0.4
    assert math.isnan(iqm([]))
