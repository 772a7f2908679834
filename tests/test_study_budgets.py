"""Studies budgeted in steps: validation and snapshots at the comparison points, FLOPs in
proportion to steps, the snapshot chosen on validation, and a study killed and resumed."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from experiments import sweep
from experiments.studies import RunSpec
from experiments.sweep import choose_snapshot, expand, run_one, run_specs
from trm_rl.flops import run_flops
from trm_rl.supervised import trainer as trainer_module
from trm_rl.supervised.commands import evaluate_run, load_run
from trm_rl.supervised.config import resolve_train, train_args
from trm_rl.supervised.state import snapshots
from trm_rl.supervised.trainer import train

#: Columns of runs.csv / curves.csv that measure wall time (they differ between two runs).
TIME_COLUMNS = {"minutes", "wall_minutes"}


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def without(rows: list[dict[str, str]], columns: set[str]) -> list[dict[str, str]]:
    return [{k: v for k, v in r.items() if k not in columns} for r in rows]


# --------------------------------------------------------------------- (a) budget accounting
@pytest.fixture(scope="module")
def budget_run(tmp_path_factory) -> tuple[Path, object]:
    """12 steps of a hidden-16 TRM on 4x4 Sudoku, validated and kept every 4 steps."""
    out = tmp_path_factory.mktemp("budget") / "run"
    cfg = resolve_train(
        train_args("sudoku-4x4", steps=12, keep_every=4, eval_every=4, eval_size=8, out=out,
                   progress=False, tensorboard=False, threads=1, model={"hidden_size": 16},
                   optim={"batch_size": 4}, data_set=("val_size=16", "test_size=16"))
    )  # fmt: skip
    train(cfg)
    return out, cfg


def test_validation_and_snapshots_at_every_comparison_point(budget_run) -> None:
    run, _ = budget_run
    rows = read_csv(run / "metrics.csv")
    val = [int(r["step"]) for r in rows if r["val/exact_accuracy"]]
    assert val == [4, 8, 12]
    assert [step for step, _ in snapshots(run)] == [4, 8, 12]
    examples = [int(float(r["examples"])) for r in rows]
    # Puzzles started (a row takes a new one when it halts): the first batch, then more.
    assert examples == sorted(examples) and examples[0] >= 4
    weights = {}
    for step in (4, 8, 12):
        model, config = load_run(run, device="cpu", snapshot=step)
        assert config["config"]["keep_every"] == 4 and not model.training
        weights[step] = {k: v.clone() for k, v in model.state_dict().items()}
    # The snapshots are three different points of training, the last one the final weights.
    assert any(not torch.equal(weights[4][k], weights[12][k]) for k in weights[4])
    assert any(not torch.equal(weights[8][k], weights[12][k]) for k in weights[8])
    final = load_file(str(run / "checkpoint" / "model.safetensors"))
    last = load_file(str(run / "snapshots" / "step-00000012" / "model.safetensors"))
    assert final.keys() == last.keys() and all(torch.equal(final[k], last[k]) for k in final)


def test_a_snapshot_holds_the_weights_that_were_validated(budget_run) -> None:
    """Scoring each snapshot on the validation puzzles the trainer used gives that step's
    validation row."""
    run, _ = budget_run
    rows = {int(r["step"]): r for r in read_csv(run / "metrics.csv")}
    scores = set()
    for step in (4, 8, 12):
        report = evaluate_run(run, split="val", device="cpu", limit=8, snapshot=step)
        assert report["count"] == 8
        row = rows[step]
        assert report["token_accuracy"] == pytest.approx(float(row["val/token_accuracy"]), abs=1e-6)
        assert report["exact_accuracy"] == pytest.approx(float(row["val/exact_accuracy"]), abs=1e-6)
        scores.add(round(report["token_accuracy"], 6))
    assert len(scores) > 1  # the check tells the snapshots apart


def test_training_flops_are_proportional_to_steps(budget_run) -> None:
    _, cfg = budget_run
    per_4 = run_flops("supervised", cfg, 4)
    assert per_4 > 0
    assert run_flops("supervised", cfg, 12) == pytest.approx(3 * per_4, rel=1e-12)
    assert run_flops("supervised", cfg, 0) == 0
    # A deeper recursion costs more per step: FLOPs are not a relabelled step count.
    deeper = dataclasses.replace(cfg, model=cfg.model.replace(H_cycles=cfg.model.H_cycles + 1))
    assert run_flops("supervised", deeper, 4) > per_4


# ------------------------------------------------------------------ (b) choosing a snapshot
def test_choose_snapshot_picks_the_best_validated_kept_step() -> None:
    assert choose_snapshot({4: 0.1, 8: 0.5, 12: 0.3}, [4, 8, 12]) == 8
    assert choose_snapshot({4: 0.1, 8: 0.3, 12: 0.5}, [4, 8, 12]) == 12
    assert choose_snapshot({4: 0.6, 8: 0.3, 12: 0.5}, [4, 8, 12]) == 4
    # Ties: the latest of the best.
    assert choose_snapshot({4: 0.5, 8: 0.5, 12: 0.2}, [4, 8, 12]) == 8
    assert choose_snapshot({4: 0.0, 8: 0.0, 12: 0.0}, [4, 8, 12]) == 12
    # Only kept steps count: a better validation score without a snapshot is not chosen.
    assert choose_snapshot({4: 0.1, 6: 0.9, 8: 0.2}, [4, 8]) == 8
    assert choose_snapshot({4: 0.3}, [4, 8]) == 4  # a kept step without a score is skipped
    # Nothing to choose from.
    assert choose_snapshot({}, [4, 8]) is None
    assert choose_snapshot({4: 0.5}, []) is None
    assert choose_snapshot({6: 0.5}, [4, 8]) is None


# --------------------------------------------------------------- (c) kill and resume a study
def tiny_study_specs() -> list[RunSpec]:
    """The TRM and the no-recursion control of cpu-quick (seed 0), cut to 6 steps of a hidden-16
    network validated and kept every 3 steps, scored on 16 test puzzles."""
    specs = {s.name: s for s in expand("k_cycles", "cpu-quick")}
    out = []
    for name in ("sup-sudoku-4x4-trm-K2-s0", "sup-sudoku-4x4-once-s0"):
        spec = specs[name]
        config = dataclasses.replace(
            spec.config,
            steps=6, eval_every=3, keep_every=3, eval_size=8, tensorboard=False,
            model=spec.config.model.replace(hidden_size=16, halt_max_steps=min(
                2, spec.config.model.halt_max_steps)),
            data=dataclasses.replace(spec.config.data, val_size=16, test_size=32),
            optim=dataclasses.replace(spec.config.optim, batch_size=8),
        )  # fmt: skip
        out.append(dataclasses.replace(spec, config=config, eval_limit=16, eval_episodes=0))
    return out


@pytest.fixture(scope="module")
def whole_study(tmp_path_factory) -> Path:
    """The tiny study run without interruption."""
    out = tmp_path_factory.mktemp("whole") / "k_cycles"
    run_specs(tiny_study_specs(), out, workers=1, preset="tiny")
    return out


def test_tiny_study_keeps_the_step_budget(whole_study: Path) -> None:
    specs = tiny_study_specs()
    rows = {r["run"]: r for r in read_csv(whole_study / "runs.csv")}
    assert sorted(rows) == sorted(s.name for s in specs)
    assert {r["variant"] for r in rows.values()} == {"TRM H2/L2", "TRM once (no recursion)"}
    for spec in specs:
        row = rows[spec.name]
        assert row["status"] == "done" and row["steps"] == "6" and row["puzzles"] == "16"
        assert row["chosen_step"] in {"3", "6"} and row["score_last"] != ""
        assert 0 <= float(row["score"]) <= 1 and 0 <= float(row["score_last"]) <= 1
        cfg = sweep.build_config(spec)
        assert float(row["flops"]) == pytest.approx(run_flops("supervised", cfg, 6), rel=1e-3)
        # The chosen snapshot is the one with the best validation score, latest of ties.
        curve = [c for c in read_csv(whole_study / "curves.csv")
                 if c["run"] == spec.name and c["split"] == "val"]  # fmt: skip
        assert [int(c["step"]) for c in curve] == [3, 6]
        best = max(curve, key=lambda c: (float(c["value"]), int(c["step"])))
        assert row["chosen_step"] == best["step"]
        for c in curve:  # each point carries its training FLOPs and examples
            step_flops = run_flops("supervised", cfg, int(c["step"]))
            assert float(c["flops"]) == pytest.approx(step_flops, rel=1e-3)
            assert int(c["examples"]) >= 8  # at least the first batch
        evaluated = json.loads((whole_study / spec.name / "evaluate.json").read_text())
        assert evaluated["chosen_step"] == int(row["chosen_step"])
        assert evaluated["last"]["exact_accuracy"] == pytest.approx(float(row["score_last"]))
    # The TRM does more work per step than the same network applied once.
    trm, once = (rows[s.name] for s in specs)
    assert float(trm["flops"]) > float(once["flops"])


def test_a_killed_study_resumes_to_the_same_rows(whole_study: Path, tmp_path, monkeypatch) -> None:
    specs = tiny_study_specs()
    first, second = specs
    out = tmp_path / "k_cycles"
    calls: list[str] = []
    original = trainer_module._accumulate

    def killed_in_second_run(spec, out_dir):
        """Run the first run; kill the second one at its 5th step (after the step-3 snapshot,
        before its last checkpoint)."""
        calls.append(spec.name)
        if spec.name == second.name:
            count = {"n": 0}

            def dies_at_step_5(*args, **kwargs):
                count["n"] += 1
                if count["n"] == 5:
                    raise KeyboardInterrupt
                return original(*args, **kwargs)

            monkeypatch.setattr(trainer_module, "_accumulate", dies_at_step_5)
        return run_one(spec, out_dir)

    # The longest run first: the TRM (more FLOPs per step), then the control.
    assert [s.name for s in sorted(specs, key=lambda s: -s.est_minutes)] == [
        first.name,
        second.name,
    ]
    with pytest.raises(KeyboardInterrupt):
        run_specs(specs, out, workers=1, preset="tiny", runner=killed_in_second_run)
    monkeypatch.setattr(trainer_module, "_accumulate", original)
    assert calls == [first.name, second.name]
    assert [r["run"] for r in read_csv(out / "runs.csv")] == [first.name]  # only what finished
    assert [step for step, _ in snapshots(out / second.name)] == [3]
    assert not (out / second.name / "result.json").exists()

    def counting(spec, out_dir):
        calls.append(spec.name)
        return run_one(spec, out_dir)

    calls.clear()
    run_specs(specs, out, workers=1, preset="tiny", runner=counting)
    assert calls == [second.name]  # the finished run is not run again
    rows = read_csv(out / "runs.csv")
    assert [r["run"] for r in rows] == sorted(s.name for s in specs)  # each run once
    assert [step for step, _ in snapshots(out / second.name)] == [3, 6]
    expected = read_csv(whole_study / "runs.csv")
    assert {"score", "score_last", "chosen_step", "flops", "steps"} <= set(rows[0])
    assert without(rows, TIME_COLUMNS) == without(expected, TIME_COLUMNS)
    curves = without(read_csv(out / "curves.csv"), TIME_COLUMNS)
    assert curves == without(read_csv(whole_study / "curves.csv"), TIME_COLUMNS)

    # A run killed after training, before its result.json: scored again, not trained again.
    (out / first.name / "result.json").unlink()
    calls.clear()
    monkeypatch.setattr(sweep, "train", lambda cfg: pytest.fail(f"retrained {cfg.out}"))
    run_specs(specs, out, workers=1, preset="tiny", runner=counting)
    assert calls == [first.name]
    rows = read_csv(out / "runs.csv")
    assert without(rows, TIME_COLUMNS) == without(expected, TIME_COLUMNS)


# -------------------------------------------------------------- (d) evaluate a missing snapshot
def test_evaluate_a_snapshot_the_run_did_not_keep_is_a_usage_error(budget_run, capsys) -> None:
    from experiments.cli import main

    run, _ = budget_run
    with pytest.raises(SystemExit) as err:
        main(["evaluate", "--run", str(run), "--snapshot", "99", "--device", "cpu",
              "--env-episodes", "0"])  # fmt: skip
    assert err.value.code == 2
    message = capsys.readouterr().err
    assert "trm-rl evaluate:" in message and "snapshot of step 99" in message
    assert "[4, 8, 12]" in message and "Traceback" not in message
    # A kept step is scored.
    main(["evaluate", "--run", str(run), "--snapshot", "8", "--device", "cpu",
          "--env-episodes", "0", "--limit", "4"])  # fmt: skip
    assert json.loads(capsys.readouterr().out)["count"] == 4


# ------------------------------------------------- (e) a study carried on by what git keeps
def test_a_study_resumes_from_what_git_keeps(whole_study: Path, tmp_path) -> None:
    """A fresh clone holds only each run's result.json and equal_flops.json (.gitignore): the
    finished runs are skipped and the equal-FLOPs table is rebuilt from the scores each run
    cached when it ended, with no checkpoint left."""
    ignore = (Path(__file__).parents[1] / ".gitignore").read_text().splitlines()
    kept = [line[len("!results/*/*/") :] for line in ignore if line.startswith("!results/*/*/")]
    assert sorted(kept) == ["equal_flops.json", "result.json"]
    clone = tmp_path / "k_cycles"
    clone.mkdir()
    (clone / "sweep.json").write_bytes((whole_study / "sweep.json").read_bytes())
    specs = tiny_study_specs()
    for spec in specs:
        (clone / spec.name).mkdir()
        for name in kept:  # each run scored its equal-FLOPs snapshot as soon as it trained
            (clone / spec.name / name).write_bytes((whole_study / spec.name / name).read_bytes())

    def never(spec, out_dir):
        pytest.fail(f"ran {spec.name} again")

    run_specs(specs, clone, workers=1, preset="tiny", runner=never)
    assert without(read_csv(clone / "runs.csv"), TIME_COLUMNS) == without(
        read_csv(whole_study / "runs.csv"), TIME_COLUMNS
    )
    scored = read_csv(clone / "equal_flops.csv")
    assert scored == read_csv(whole_study / "equal_flops.csv")
    assert [r["status"] for r in scored] == ["done", "done"]  # none unscored
    # The budget is the plan's (the cheaper variant's final FLOPs), known before any run.
    budget = sweep.flops_budgets(specs)["sudoku-4x4"]
    finals = [run_flops("supervised", sweep.build_config(s), 6) for s in specs]
    assert budget == pytest.approx(min(finals), rel=1e-3)


def test_a_run_without_weights_or_cache_is_reported_unscored(whole_study: Path, tmp_path) -> None:
    from experiments import equal_flops

    run = tmp_path / "gone"
    run.mkdir()
    row = equal_flops.score_run(run, 1e9, 6, 2e9, [(3, 1e9)], {"limit": 16, "device": "cpu"})
    assert row["status"].startswith("unscored: ") and "score" not in row and row["step"] == 3


def test_pending_runs_go_seed_by_seed(tmp_path) -> None:
    """A study stopped half-way has every variant at the same number of seeds."""
    specs = [dataclasses.replace(s, seed=seed, name=f"{s.name[:-3]}-s{seed}")
             for s in tiny_study_specs() for seed in (1, 0)]  # fmt: skip
    calls: list[tuple[int, str]] = []

    def record(spec, out_dir):
        calls.append((spec.seed, spec.variant))
        return sweep.failed_result(spec, RuntimeError("not run"))

    run_specs(specs, tmp_path / "order", workers=1, preset="tiny", runner=record)
    assert [seed for seed, _ in calls] == [0, 0, 1, 1]
    assert calls[0][1] == "TRM H2/L2"  # the longest first within a seed


def test_report_only_rebuilds_the_tables_of_a_partial_study(whole_study: Path, tmp_path) -> None:
    """--report-only runs nothing: the tables hold the finished runs and no other."""
    specs = tiny_study_specs()
    partial = tmp_path / "k_cycles"
    partial.mkdir()
    (partial / "sweep.json").write_bytes((whole_study / "sweep.json").read_bytes())
    done = specs[0]
    (partial / done.name).mkdir()
    for name in ("result.json", "equal_flops.json"):
        (partial / done.name / name).write_bytes((whole_study / done.name / name).read_bytes())

    def never(spec, out_dir):
        pytest.fail(f"ran {spec.name}")

    run_specs(specs, partial, workers=1, preset="tiny", runner=never, report_only=True)
    assert [r["run"] for r in read_csv(partial / "runs.csv")] == [done.name]
    assert [r["run"] for r in read_csv(partial / "equal_flops.csv")] == [done.name]
    assert (partial / "report.md").exists()


def test_a_config_field_added_since_does_not_make_finished_runs_stale(whole_study: Path) -> None:
    spec = tiny_study_specs()[0]
    stored = json.loads((whole_study / spec.name / "result.json").read_text())["spec"]
    assert sweep._same_spec(stored, spec)
    older = json.loads(json.dumps(stored))
    del older["config"]["data"]["wall_density"]  # written before the field existed
    assert sweep._same_spec(older, spec)
    changed = json.loads(json.dumps(stored))
    changed["config"]["steps"] = 7
    assert not sweep._same_spec(changed, spec)
    assert not sweep._same_spec({"name": spec.name, "config": {"nonsense": 1}}, spec)
