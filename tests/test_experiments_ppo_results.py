"""``experiments/ppo_results.py``: PPO runs and their evaluations into the study CSV format."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from experiments.ppo_results import Args, main, task_of
from trm_rl.policies.config import ppo_args, resolve_ppo
from trm_rl.policies.train import evaluate_ppo, train_ppo

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PPO = dict(n_envs=4, n_steps=16, batch_size=32, n_epochs=1)
FAST = dict(val_episodes=8, test_episodes=16)


def test_runs_become_rows_curves_plots_and_a_report(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "s4-mlp-s3"
    train_ppo(
        resolve_ppo(
            ppo_args(
                "trm_rl/Sudoku-4x4-v0", policy="mlp", out=run, timesteps=128, seed=3,
                progress=False, tensorboard=False, model_set=("hidden_size=16", "num_heads=2"),
                ppo=PPO, **FAST,
            )
        )
    )  # fmt: skip
    report = evaluate_ppo(run, episodes=16, device="cpu")
    (run.parent / f"{run.name}.json").write_text(json.dumps(report))
    other = evaluate_ppo(run, episodes=8, device="cpu", stochastic=False)
    (run.parent / f"{run.name}.again.json").write_text(json.dumps(other))
    out = tmp_path / "results"
    main(Args(runs=(run,), out_dir=out))
    with (out / "runs.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["run"] for r in rows] == ["s4-mlp-s3.again", "s4-mlp-s3"]
    row = rows[1]
    assert row["task"] == "sudoku-4x4" and row["variant"] == "MLP" and row["seed"] == "3"
    assert float(row["score"]) == pytest.approx(report["deterministic"]["success_2x"], abs=1e-4)
    assert float(row["random_score"]) == pytest.approx(report["random"]["success_2x"], abs=1e-4)
    assert row["oracle_score"] == "1.0" and row["status"] == "done" and row["steps"] == "128"
    assert rows[0]["stochastic_score"] == ""  # that evaluation had no sampled actions
    with (out / "curves.csv").open() as f:
        curves = list(csv.DictReader(f))
    assert curves and {c["metric"] for c in curves} == {"val/score"}
    assert (out / "report.md").read_text().count("MLP") >= 1
    assert (out / "s4-mlp-s3.metrics.csv").exists() and (out / "s4-mlp-s3.json").exists()
    main(Args(runs=(run,), out_dir=out))  # collecting again replaces, never duplicates
    with (out / "runs.csv").open() as f:
        assert len(list(csv.DictReader(f))) == 2


def test_task_names_and_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    assert task_of("trm_rl/Maze-9x9-v0") == "maze-9x9"
    assert task_of("trm_rl/MazeHard-v0") == "maze-hard"
    with pytest.raises(SystemExit, match="not a PPO run directory"):
        main(Args(runs=(tmp_path,), out_dir=tmp_path / "out"))
