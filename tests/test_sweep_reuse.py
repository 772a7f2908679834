"""A sweep copies an identical finished run of another study instead of training it again."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import tyro

from experiments import sweep
from experiments.reuse import copy_run, find_donors
from experiments.studies import RunSpec
from experiments.sweep import SweepArgs, run_specs
from tests.test_ppo_train import tiny_run
from trm_rl.supervised.config import resolve_train, train_args

TINY_MODEL = ("hidden_size=16", "H_cycles=1", "L_cycles=1", "halt_max_steps=2")
NAME = "sup-sudoku-4x4-trm-K1-s0"


def tiny_spec(study: str, name: str = NAME, tensorboard: bool = False, **changes: Any) -> RunSpec:
    """A hidden-16 TRM on 4x4 Sudoku, 4 steps, validated and kept at steps 2 and 4.

    :param changes: fields of its TrainConfig to change (``seed``, ``steps``, ``optim``...).
    """
    config = resolve_train(
        train_args("sudoku-4x4", steps=4, optim={"batch_size": 8}, eval_size=16, eval_every=2,
                   keep_every=2, data_set=("val_size=16", "test_size=32"), device="cpu",
                   tensorboard=tensorboard, model_set=TINY_MODEL)
    )  # fmt: skip
    return RunSpec(
        study=study, name=name, regime="supervised", task="sudoku-4x4", variant="TRM H1/L1",
        group="K=1", K=1, seed=config.seed, config=dataclasses.replace(config, **changes),
        eval_episodes=0, eval_limit=32,
    )  # fmt: skip


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def tree_digest(folder: Path) -> dict[str, str]:
    """Every file under ``folder``: its relative path -> the SHA-256 of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


class NotReused(Exception):
    """Raised by the stand-in trainer: the run was about to train."""


def no_training(cfg) -> None:
    raise NotReused(f"trained {cfg.out}")


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A results root holding the finished study ``donor`` (one run, with TensorBoard events)."""
    root = tmp_path_factory.mktemp("results")
    run_specs([tiny_spec("donor", tensorboard=True)], root / "donor", workers=1, preset="tiny")
    return root


# -------------------------------------------------------------------------------- reuse
def test_an_identical_run_is_copied_and_scored_not_trained(base: Path, monkeypatch, capsys):
    donor = base / "donor" / NAME
    before = tree_digest(donor)
    monkeypatch.setattr(sweep, "train", no_training)
    # Another study, another run name; tensorboard and threads do not change what it trains.
    spec = tiny_spec("other", name="sup-sudoku-4x4-trm-s0")
    out = run_specs([spec], base / "other", workers=1, preset="tiny")
    printed = capsys.readouterr().out
    assert f"reusing {donor} (identical config) for {spec.name}" in printed
    run_dir = out / spec.name
    [row] = read_csv(out / "runs.csv")
    [donor_row] = read_csv(base / "donor" / "runs.csv")
    assert row["status"] == "done" and row["reused_from"] == str(donor)
    # The same weights, scored on the same puzzles: the same scores and training minutes.
    for key in ("score", "score_last", "chosen_step", "steps", "minutes", "params", "puzzles"):
        assert row[key] == donor_row[key], key
    assert donor_row["reused_from"] == ""
    result = json.loads((run_dir / "result.json").read_text())
    assert result["status"] == "done" and result["reused_from"] == str(donor)
    assert result["rows"][0]["reused_from"] == str(donor)
    assert (run_dir / "metrics.csv").read_bytes() == (donor / "metrics.csv").read_bytes()
    for name in ("checkpoint/model.safetensors", "snapshots/step-00000002/model.safetensors",
                 "snapshots/step-00000004/model.safetensors"):  # fmt: skip
        assert (run_dir / name).read_bytes() == (donor / name).read_bytes()
    assert len(list(run_dir.glob("events.out.tfevents*"))) == 1
    stored = json.loads((run_dir / "config.json").read_text())
    original = json.loads((donor / "config.json").read_text())
    assert stored["config"]["out"] == str(run_dir)
    assert {**stored["config"], "out": ""} == {**original["config"], "out": ""}
    assert not list(out.glob("*.reuse-tmp"))
    assert tree_digest(donor) == before  # the donor is read, never written


@pytest.mark.parametrize(
    "changes",
    [{"seed": 1}, {"steps": 6}, {"lr": 2e-3}, {"eval_every": 4}, {"keep_every": 4}],
    ids=["seed", "steps", "lr", "eval_every", "keep_every"],
)
def test_a_run_differing_in_a_training_field_is_trained(base: Path, monkeypatch, changes):
    spec = tiny_spec("changed")
    if "lr" in changes:
        changes = {"optim": dataclasses.replace(spec.config.optim, lr=changes["lr"])}
    spec = dataclasses.replace(spec, config=dataclasses.replace(spec.config, **changes))
    out = base / f"trained-{next(iter(changes))}"
    assert find_donors([spec], out) == {}
    monkeypatch.setattr(sweep, "train", no_training)
    run_specs([spec], out, workers=1, preset="tiny")
    [row] = read_csv(out / "runs.csv")
    assert row["status"].startswith("failed: NotReused: trained") and row["reused_from"] == ""


def test_a_donor_finished_while_the_sweep_runs_is_reused(base: Path, monkeypatch, capsys):
    """Two studies swept side by side: the run the other sweep finishes first is copied when this
    sweep reaches it, not only when this sweep started."""
    first = tiny_spec("side", name="first")
    # Seed 3 runs after seed 0 (a sweep goes seed by seed).
    spec = dataclasses.replace(tiny_spec("side", name="sup-sudoku-4x4-trm-s3", seed=3), seed=3)
    late = dataclasses.replace(tiny_spec("late-donor", seed=3), seed=3)
    assert find_donors([spec], base / "side") == {}  # no donor when the sweep starts
    ran = []

    def runner(s, out_dir):
        s = s if isinstance(s, RunSpec) else RunSpec.from_dict(s)
        ran.append(s.name)
        if s.name == "first":  # meanwhile, another sweep finishes an identical run
            run_specs([late], base / "late-donor", workers=1, preset="tiny")
            monkeypatch.setattr(sweep, "train", no_training)
            return sweep.failed_result(s, RuntimeError("stand-in"))
        return sweep.run_one(s, out_dir)

    out = run_specs([spec, first], base / "side", workers=1, preset="tiny", runner=runner)
    assert ran == ["first", spec.name]
    donor = base / "late-donor" / NAME
    assert f"reusing {donor} (identical config) for {spec.name}" in capsys.readouterr().out
    row = next(r for r in read_csv(out / "runs.csv") if r["run"] == spec.name)
    assert row["status"] == "done" and row["reused_from"] == str(donor)
    [donor_row] = read_csv(base / "late-donor" / "runs.csv")
    assert row["score"] == donor_row["score"] and row["steps"] == donor_row["steps"]


def test_no_reuse_trains(base: Path, monkeypatch) -> None:
    out = base / "unreused"
    assert find_donors([tiny_spec("unreused")], out) == {NAME: base / "donor" / NAME}
    monkeypatch.setattr(sweep, "train", no_training)
    run_specs([tiny_spec("unreused")], out, workers=1, preset="tiny", reuse=False)
    [row] = read_csv(out / "runs.csv")
    assert row["status"].startswith("failed: NotReused")
    assert not (out / NAME / "reused.json").exists()
    with pytest.raises(ValueError, match="contradict"):
        run_specs([tiny_spec("unreused")], out, workers=1, preset="tiny", reuse=False,
                  reuse_from=[base / "donor"])  # fmt: skip
    args = tyro.cli(SweepArgs, args=["think_longer", "--preset", "cpu-full", "--no-reuse"])
    assert args.reuse is False
    args = tyro.cli(SweepArgs, args=["think_longer", "--preset", "cpu-full", "--reuse-from",
                                     "a", "b"])  # fmt: skip
    assert args.reuse is True and args.reuse_from == (Path("a"), Path("b"))


def test_dry_run_marks_reused_runs_and_leaves_them_out_of_the_eta(base: Path, capsys) -> None:
    out = base / "planned"
    specs = [tiny_spec("planned"), tiny_spec("planned", name="sup-sudoku-4x4-trm-K1-s1", seed=1)]
    run_specs(specs, out, workers=1, preset="tiny", dry_run=True)
    printed = capsys.readouterr().out
    [reused] = [line for line in printed.splitlines() if line.startswith(specs[0].name)]
    assert reused.endswith(f"(reuse donor/{NAME})")
    [trained] = [line for line in printed.splitlines() if line.startswith(specs[1].name)]
    assert "reuse" not in trained
    assert "(1 to run, 1 reused)" in printed
    assert not out.exists()  # a dry run writes nothing


# ------------------------------------------------------------------------------- donors
def damaged_copy(base: Path, root: Path, damage: str) -> Path:
    """A copy of the donor study in ``root/donor`` with ``damage`` done to its run."""
    study = root / "donor"
    shutil.copytree(base / "donor", study)
    run_dir = study / NAME
    if damage == "no checkpoint":
        shutil.rmtree(run_dir / "checkpoint")
    elif damage == "a snapshot missing":
        shutil.rmtree(run_dir / "snapshots" / "step-00000002")
    elif damage == "not done":
        result = json.loads((run_dir / "result.json").read_text())
        (run_dir / "result.json").write_text(json.dumps({**result, "status": "failed: x"}))
    elif damage == "only what git keeps":
        for path in run_dir.iterdir():
            if path.name not in ("config.json", "result.json", "equal_flops.json"):
                shutil.rmtree(path) if path.is_dir() else path.unlink()
    return study


@pytest.mark.parametrize(
    "damage", ["no checkpoint", "a snapshot missing", "not done", "only what git keeps"]
)
def test_a_donor_without_its_weights_or_unfinished_is_not_used(base, tmp_path, damage) -> None:
    study = damaged_copy(base, tmp_path / "results", damage)
    spec = tiny_spec("mine")
    assert find_donors([spec], tmp_path / "results" / "mine") == {}
    assert find_donors([spec], tmp_path / "elsewhere", reuse_from=[study]) == {}


def test_reuse_from_names_donors_outside_the_results_root(base: Path, tmp_path) -> None:
    spec = tiny_spec("mine")
    out = tmp_path / "results" / "mine"
    assert find_donors([spec], out) == {}  # nothing beside it
    assert find_donors([spec], out, reuse_from=[base / "donor"]) == {NAME: base / "donor" / NAME}
    run_dir = base / "donor" / NAME
    assert find_donors([spec], out, reuse_from=[run_dir]) == {NAME: run_dir}  # a run folder
    with pytest.raises(ValueError, match="not a folder"):
        find_donors([spec], out, reuse_from=[tmp_path / "missing"])


def test_only_a_run_that_has_not_started_is_replaced(base: Path, tmp_path) -> None:
    out = base / "started"
    spec = tiny_spec("started")
    (out / NAME).mkdir(parents=True)
    (out / NAME / "result.json").write_text('{"status": "failed: x"}')  # a failed attempt
    assert find_donors([spec], out) == {NAME: base / "donor" / NAME}
    (out / NAME / "config.json").write_text("{}")  # a run its trainer continues
    assert find_donors([spec], out) == {}
    with pytest.raises(ValueError, match="holds a run already"):
        copy_run(base / "donor" / NAME, out / NAME)


def test_think_longer_runs_are_the_k_cycles_maze_runs():
    """Every think_longer cpu-full run trains exactly what a k_cycles cpu-full run trains, so a
    sweep of think_longer after k_cycles only scores."""
    from experiments.reuse import training_key
    from experiments.studies import get_study

    k_cycles = {training_key(s.config) for s in get_study("k_cycles").expand("cpu-full")}
    think = get_study("think_longer").expand("cpu-full")
    assert len(think) == 15
    assert all(training_key(s.config) in k_cycles for s in think)


# ----------------------------------------------------------------------------- PPO reuse
def tiny_ppo_spec(study: str, name: str, **changes: Any) -> RunSpec:
    """A tiny TRM policy on 4x4 Sudoku, 128 env steps, scored on 8 test puzzles."""
    config = tiny_run(Path("unused"), **changes)
    return RunSpec(
        study=study, name=name, regime="ppo", task="sudoku-4x4", variant="TRM", group="base",
        K=1, seed=config.seed, config=config, eval_episodes=8, eval_limit=None,
        eval_stochastic=False,
    )  # fmt: skip


def test_an_identical_ppo_run_is_copied_and_scored_not_trained(tmp_path: Path, monkeypatch):
    # the ablations' base run is k_cycles' TRM run: the second study trains nothing
    run_specs([tiny_ppo_spec("donor", "ppo-s4-trm-K1-s0")], tmp_path / "donor", workers=1,
              preset="tiny")  # fmt: skip
    donor = tmp_path / "donor" / "ppo-s4-trm-K1-s0"
    before = tree_digest(donor)
    changed = tiny_ppo_spec("other", "ppo-s4-seed1-s1", seed=1)
    assert find_donors([changed], tmp_path / "other") == {}  # another seed trains
    monkeypatch.setattr(sweep, "train_ppo", no_training)
    spec = tiny_ppo_spec("other", "ppo-s4-base-s0", update_threads=2)  # threads are free
    out = run_specs([spec], tmp_path / "other", workers=1, preset="tiny")
    [row] = read_csv(out / "runs.csv")
    [donor_row] = read_csv(tmp_path / "donor" / "runs.csv")
    assert row["status"] == "done" and row["reused_from"] == str(donor)
    for key in ("score", "score_last", "chosen_step", "steps", "params"):
        assert row[key] == donor_row[key], key
    run_dir = out / spec.name
    for name in ("agent.zip", "agent_init.zip", "heldout.npz", "metrics.csv"):
        assert (run_dir / name).read_bytes() == (donor / name).read_bytes(), name
    assert json.loads((run_dir / "config.json").read_text())["config"]["out"] == str(run_dir)
    assert tree_digest(donor) == before
