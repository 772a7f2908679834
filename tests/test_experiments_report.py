"""Tests of ``experiments/report.py``: tables with known answers, the README block and its check."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from experiments import stats
from experiments.report import (
    BEGIN,
    END,
    check_readme,
    control_budgets_table,
    pairwise_table,
    regime_of,
    study_tables,
    update_readme,
)

REPS = 100
COLUMNS = ["study", "run", "regime", "task", "variant", "seed", "params", "steps", "flops",
           "score", "score_name", "status", "puzzles", "score_se", "score_last",
           "pretrain_minutes"]  # fmt: skip
SCORES = {"MLP": [0.1, 0.2, 0.3, 0.4, 0.5], "TRM once (no recursion)": [0.5, 0.6, 0.7, 0.8, 0.9],
          "TRM": [0.9, 0.8, 0.85, 0.95, 1.0]}  # fmt: skip


def make_study(root: Path) -> Path:
    """3 variants x 5 seeds of one supervised task, equal FLOPs, 1000 test puzzles per run."""
    root.mkdir(parents=True, exist_ok=True)
    rows = [{"study": "toy", "run": f"{v[:3]}-s{s}", "regime": "supervised", "task": "sudoku-4x4",
             "variant": v, "seed": s, "params": 1000, "steps": 100, "flops": 1e12, "score": x,
             "score_name": "exact accuracy (test)", "status": "done", "puzzles": 1000,
             "score_last": x - 0.05, "pretrain_minutes": ""}
            for v, xs in SCORES.items() for s, x in enumerate(xs)]  # fmt: skip
    with (root / "runs.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return root


def test_tables_have_the_known_numbers(tmp_path: Path) -> None:
    text = study_tables(make_study(tmp_path / "s"), reps=REPS)
    lines = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if "|" in line}
    mlp, trm = lines["MLP"].split(" | "), lines["TRM"].split(" | ")
    assert mlp[1:3] == ["5", "1,000"] and mlp[3].startswith("30.0 [")  # mean 0.3
    assert trm[3].startswith("90.0 [") and trm[4].startswith("90.0 [")  # IQM of 0.85, 0.9, 0.95
    assert mlp[5] == "25.0"  # mean of the last weights
    se = np.mean([stats.binomial_se(p, 1000) for p in SCORES["MLP"]])
    assert mlp[6] == f"{100 * se:.1f}"
    assert trm[7].startswith("100.0 [") and trm[8].startswith("88.0 [")  # 1, 22/25 (ties 1/2)
    assert mlp[7] == "—" and "not separated" not in trm[7]
    assert "training FLOPs" in text and "1e+12" in trm[-1] + trm[-2]
    assert "At equal FLOPs" not in text  # equal FLOPs: the main table is the comparison
    assert "equal steps" in text


def test_ppo_rows_get_a_binomial_se_from_their_episode_count(tmp_path: Path) -> None:
    """PPO results count their test puzzles in ``episodes`` (one episode each), not ``puzzles``:
    the per-run binomial SE and the puzzle count both come from it."""
    root = make_study(tmp_path / "s")
    with (root / "runs.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    with (root / "runs.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[*COLUMNS, "episodes"])
        writer.writeheader()
        writer.writerows({**r, "regime": "ppo", "puzzles": "", "episodes": 400} for r in rows)
    text = study_tables(root, reps=REPS)
    lines = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if "|" in line}
    mlp = lines["MLP"].split(" | ")
    assert mlp[2] == "400"
    se = np.mean([stats.binomial_se(p, 400) for p in SCORES["MLP"]])
    assert mlp[6] == f"{100 * se:.1f}"


def test_pairwise_table_orders_by_mean_and_marks_separated_pairs(tmp_path: Path) -> None:
    text = study_tables(make_study(tmp_path / "s"), reps=REPS)
    header = next(line for line in text.splitlines() if line.startswith("| P(row > column)"))
    assert header.split(" | ")[1:] == ["TRM", "TRM once (no recursion)", "MLP |"]  # best first
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ")[1:]
            for line in text.splitlines() if " (n=5) | " in line}  # fmt: skip
    assert set(rows) == {"TRM (n=5)", "TRM once (no recursion) (n=5)", "MLP (n=5)"}
    trm, mlp = rows["TRM (n=5)"], rows["MLP (n=5)"]
    assert (
        trm[0] == "—" and trm[2].rstrip(" |") == "**100 [100, 100]**"
    )  # above MLP by construction
    assert trm[1].strip("*").startswith("88 [")  # 22/25 with ties counted 1/2, as in P(> TRM once)
    assert mlp[0].startswith("0 [") and "**" not in mlp[0] + mlp[1]  # below: never bold
    two = [{"variant": v, "score": x} for v in ("MLP", "TRM") for x in SCORES[v]]
    assert pairwise_table(two, reps=REPS) == []  # two variants: the main table's P(>) says it


def test_control_budgets_table_reads_every_variant_at_each_controls_compute() -> None:
    """Validation at the controls' own FLOPs: interpolated on each run's curve; a control whose
    budget no other variant reaches gets no column; a variant that ends earlier gets a dash."""
    rows, curves = [], {}
    for seed in (0, 1):
        for variant, k, end, level in (("TRM H1", "1", 10, None), ("once", "", 4, 0.2),
                                        ("long", "", 20, 0.5), ("short", "2", 2, 0.9)):  # fmt: skip
            run = f"{variant}-s{seed}"
            rows.append({"run": run, "variant": variant, "K": k, "flops": str(float(end)),
                         "score": "0.5"})  # fmt: skip
            xs = np.arange(1.0, end + 1)
            curves[run] = (xs, xs / 10 if level is None else np.full(xs.size, level))
    lines = control_budgets_table(rows, curves, reps=REPS)
    assert lines[2] == "| variant | at once's 4 FLOPs |"  # long's 20: only long reaches it
    table = {
        line.split(" | ")[0].strip("| "): line.split(" | ")[1].rstrip(" |") for line in lines[4:]
    }
    assert table == {"TRM H1": "40.0 [40.0, 40.0] (n=2)", "once": "20.0 [20.0, 20.0] (n=2)",
                     "long": "50.0 [50.0, 50.0] (n=2)", "short": "—"}  # fmt: skip
    # Without controls (every variant has a K) or without curves: no table.
    assert control_budgets_table([r for r in rows if r["K"]], curves, reps=REPS) == []
    assert control_budgets_table(rows, {}, reps=REPS) == []


def test_a_panel_of_another_target_says_where_the_equal_flops_table_is(tmp_path: Path) -> None:
    """Rows scoring runs on another target (run names ``RUN.TARGET``) that differ in FLOPs
    point at the training task's panel instead of claiming missing curves."""
    root = make_study(tmp_path / "s")
    with (root / "runs.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    other = [{**r, "run": r["run"] + ".maze-15x15", "task": "maze-15x15 (trained sudoku-4x4)",
              "flops": 1e12 * (1 + i)} for i, r in enumerate(rows)]  # fmt: skip
    with (root / "runs.csv").open("a", newline="") as f:
        csv.DictWriter(f, fieldnames=COLUMNS).writerows(other)
    text = study_tables(root, reps=REPS)
    panel = text.split("### maze-15x15 (trained sudoku-4x4)")[1]
    assert "the comparison at equal FLOPs is in the training task's panel" in panel
    assert "no validation curve" not in panel


def test_regimes_are_never_pooled() -> None:
    ppo = {"regime": "ppo", "variant": "TRM", "pretrain_minutes": "3.0"}
    assert regime_of(ppo) == "ppo (supervised init)"
    assert regime_of({**ppo, "pretrain_minutes": "0"}) == "ppo"
    assert regime_of({"regime": "supervised", "variant": "TRM"}) == "supervised"


def test_readme_block_is_replaced_and_checked(tmp_path: Path) -> None:
    root = make_study(tmp_path / "s")
    readme = tmp_path / "README.md"
    readme.write_text(f"# Toy\n\nintro\n\n{BEGIN}\nstale table\n{END}\n\noutro\n")
    assert check_readme(root, readme, reps=REPS)  # stale block: differences
    update_readme(root, readme, reps=REPS)
    text = readme.read_text()
    assert text.startswith("# Toy\n\nintro\n\n" + BEGIN) and text.endswith(END + "\n\noutro\n")
    assert "stale table" not in text and "| TRM | 5 |" in text
    assert check_readme(root, readme, reps=REPS) == []  # in sync


def test_an_edited_number_fails_the_check(tmp_path: Path) -> None:
    root = make_study(tmp_path / "s")
    readme = tmp_path / "README.md"
    readme.write_text(f"{BEGIN}\n{END}\n")
    update_readme(root, readme, reps=REPS)
    readme.write_text(
        readme.read_text().replace("| MLP | 5 | 1,000 | 30.0", "| MLP | 5 | 1,000 | 35.0")
    )
    diff = check_readme(root, readme, reps=REPS)
    assert any(line.startswith("-| MLP | 5 | 1,000 | 35.0") for line in diff)
    assert any(line.startswith("+| MLP | 5 | 1,000 | 30.0") for line in diff)


def test_a_readme_without_markers_is_refused(tmp_path: Path) -> None:
    root = make_study(tmp_path / "s")
    readme = tmp_path / "README.md"
    readme.write_text("# no markers\n")
    with pytest.raises(ValueError, match="needs exactly one '<!-- report:begin -->'"):
        update_readme(root, readme, reps=REPS)
    assert readme.read_text() == "# no markers\n"
