"""The supervised trainer, its optimisers, resume, data parallel, evaluate and solve commands."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from experiments.cli import main
from trm_rl.runs import read_config
from trm_rl.supervised import trainer as trainer_module
from trm_rl.supervised.commands import evaluate_run, load_run, solve_file
from trm_rl.supervised.config import (
    OptimConfig,
    TrainArgs,
    TrainConfig,
    resolve_train,
    stored_train_config,
    train_args,
)
from trm_rl.supervised.optim import EMA, AdamAtan2, lr_at
from trm_rl.supervised.trainer import train

# A tiny 4x4 Sudoku TRM: trains a step in a few milliseconds.
TINY = ("hidden_size=16", "num_heads=2", "H_cycles=2", "L_cycles=1", "halt_max_steps=3")
SMALL_DATA = ("val_size=16", "test_size=16")


OPTIM_FIELDS = {f.name for f in dataclasses.fields(OptimConfig)}


def tiny_args(out: Path, **changes) -> TrainArgs:
    """The user's options of a tiny run; optimiser fields (``batch_size``, ``lr``, ...) may be
    given flat and go to ``optim``."""
    fields = dict(
        data="sudoku-4x4",
        out=out,
        steps=6,
        model_set=TINY,
        data_set=SMALL_DATA,
        eval_every=3,
        progress=False,
        tensorboard=False,
        checkpoint_seconds=0.0,
        threads=1,
    )
    optim = {"batch_size": 8}
    for key, value in changes.items():
        (optim if key in OPTIM_FIELDS else fields)[key] = value
    data = fields.pop("data")
    return train_args(data, optim=optim, **fields)


def tiny_run(out: Path, **changes) -> TrainConfig:
    return resolve_train(tiny_args(out, **changes))


def weights(run_dir: Path, name: str = "model") -> dict[str, torch.Tensor]:
    state = torch.load(run_dir / "checkpoint" / "train_state_rank0.pt", weights_only=True)
    return state[name]


# ----------------------------------------------------------------------------- optimisers
def test_adam_atan2_follows_its_formula() -> None:
    torch.manual_seed(0)
    p = torch.nn.Parameter(torch.randn(5))
    ref = p.detach().clone()
    opt = AdamAtan2([p], lr=0.1, betas=(0.9, 0.95), weight_decay=0.5)
    m, v = torch.zeros(5), torch.zeros(5)
    for t in range(1, 4):
        grad = torch.randn(5)
        p.grad = grad.clone()
        opt.step()
        ref = ref * (1 - 0.1 * 0.5)
        m = 0.9 * m + 0.1 * grad
        v = 0.95 * v + 0.05 * grad * grad
        ref = ref - 0.1 / (1 - 0.9**t) * torch.atan2(m, (v / (1 - 0.95**t)).sqrt())
        torch.testing.assert_close(p.detach(), ref)


def test_schedule_warms_up_then_decays_to_the_minimum_ratio() -> None:
    assert lr_at(0, 1.0, 10, 110, 0.1) == pytest.approx(0.1)
    assert lr_at(9, 1.0, 10, 110, 0.1) == pytest.approx(1.0)
    assert lr_at(60, 1.0, 10, 110, 0.1) == pytest.approx(0.55)
    assert lr_at(110, 1.0, 10, 110, 0.1) == pytest.approx(0.1)
    assert lr_at(60, 1.0, 10, 110, 1.0) == pytest.approx(1.0)  # ratio 1: constant, as upstream


def test_ema_averages_and_round_trips() -> None:
    model = torch.nn.Linear(2, 2)
    ema = EMA(model, decay=0.5)
    before = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(2.0)
    ema.update(model)  # warm-up: d = min(0.5, 2 / 11)
    torch.testing.assert_close(ema.shadow["weight"], before + 2.0 * 9 / 11)
    for _ in range(30):  # from t = 8 on, d = 0.5 (the decay): shadow -> the weights
        ema.update(model)
    torch.testing.assert_close(ema.shadow["weight"], before + 2.0, atol=1e-6, rtol=0)
    with torch.no_grad():
        model.weight.sub_(2.0)
    ema.update(model)
    torch.testing.assert_close(ema.shadow["weight"], before + 1.0)
    other = EMA(model, decay=0.5)
    other.load_state_dict(ema.state_dict())
    copy = torch.nn.Linear(2, 2)
    other.copy_to(copy)
    torch.testing.assert_close(copy.weight, before + 1.0)
    with pytest.raises(ValueError, match="does not match the model"):
        other.load_state_dict({"weight": before})


# ----------------------------------------------------------------------------- the trainer
def test_train_writes_a_complete_run(tmp_path: Path) -> None:
    run = train(tiny_run(tmp_path / "run", tensorboard=True))
    config = json.loads((run / "config.json").read_text())
    assert config["format"] == 2 and config["regime"] == "supervised"
    assert config["config"]["data"]["name"] == "sudoku-4x4" and config["model"]["hidden_size"] == 16
    assert config["config"]["optim"]["batch_size"] == 8
    assert stored_train_config(read_config(run, "supervised")).optim.batch_size == 8
    with (run / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [3, 6]
    for row in rows:
        assert 0.0 <= float(row["val/exact_accuracy"]) <= 1.0
        assert math.isfinite(float(row["train/loss"])) and float(row["lr"]) > 0
    assert list(run.glob("events.out.tfevents*")), "TensorBoard events are written"
    files = {p.name for p in (run / "checkpoint").iterdir()}
    assert {"model.safetensors", "config.json", "train_state_rank0.pt"} <= files
    state = torch.load(run / "checkpoint" / "train_state_rank0.pt", weights_only=True)
    assert state["step"] == 6 and set(state["optimizer"]) == {"state", "param_groups"}
    # The evaluated weights are the EMA weights, not the raw ones.
    saved = load_file(str(run / "checkpoint" / "model.safetensors"))
    name = next(k for k in state["ema"] if k != "__updates__")
    torch.testing.assert_close(saved[name], state["ema"][name])


def test_learns_4x4_sudoku_cells_it_never_saw(tmp_path: Path) -> None:
    """150 steps (~5 s): held-out cell accuracy climbs well above copying the givens (~45%)."""
    model = ("hidden_size=32", *TINY[1:])
    run = train(
        tiny_run(tmp_path / "run", steps=150, batch_size=32, eval_every=50, lr=3e-3,
                 model_set=model, data_set=("val_size=64", "test_size=16"))
    )  # fmt: skip
    with (run / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    loss = [float(r["train/loss"]) for r in rows]
    val = [float(r["val/token_accuracy"]) for r in rows]
    assert loss[-1] < 0.7 * loss[0], loss
    assert val[-1] > 0.6 and val[-1] > val[0] + 0.2, val


def test_same_seed_same_weights_and_other_seed_differs(tmp_path: Path) -> None:
    a = weights(train(tiny_run(tmp_path / "a")))
    b = weights(train(tiny_run(tmp_path / "b")))
    c = weights(train(tiny_run(tmp_path / "c", seed=1)))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_resume_after_a_kill_reaches_the_uninterrupted_weights(tmp_path, monkeypatch) -> None:
    whole = weights(train(tiny_run(tmp_path / "whole", steps=8)))

    calls = {"n": 0}
    original = trainer_module._accumulate

    def killed_after_five(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 6:  # step 6 computed but not counted: the process dies here
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(trainer_module, "_accumulate", killed_after_five)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_run(tmp_path / "split", steps=8))
    monkeypatch.setattr(trainer_module, "_accumulate", original)
    state = torch.load(tmp_path / "split/checkpoint/train_state_rank0.pt", weights_only=True)
    assert state["step"] == 5
    resumed = weights(train(tiny_run(tmp_path / "split", steps=8, resume=True)))
    for key in whole:
        assert torch.equal(whole[key], resumed[key]), key
    with (tmp_path / "split/metrics.csv").open() as f:
        steps = [int(r["step"]) for r in csv.DictReader(f)]
    assert steps == [3, 6, 8]


def test_run_directories_are_never_overwritten(tmp_path: Path) -> None:
    train(tiny_run(tmp_path / "run"))
    with pytest.raises(ValueError, match="already holds a run; pass --resume"):
        train(tiny_run(tmp_path / "run"))
    with pytest.raises(ValueError, match="already finished its budget"):
        train(tiny_run(tmp_path / "run", resume=True))
    with pytest.raises(ValueError, match=r"these differ: optim\.batch_size"):
        train(tiny_run(tmp_path / "run", batch_size=16, resume=True))
    with pytest.raises(ValueError, match=r"--resume: .* holds no run"):
        train(tiny_run(tmp_path / "empty", resume=True))


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="exactly one budget"):
        resolve_train(train_args("sudoku-4x4", steps=10, minutes=1.0))
    with pytest.raises(ValueError, match="maze-hard has no recipe budget: give --steps"):
        resolve_train(train_args("maze-hard"))
    with pytest.raises(ValueError, match="KEY=VALUE"):
        resolve_train(train_args(steps=1, model_set=("hidden_size",)))
    with pytest.raises(ValueError, match="lr_min_ratio must be in"):
        resolve_train(train_args(steps=1, optim={"lr_min_ratio": 1.5}))


def test_a_data_names_recipe_sets_its_budget_data_and_validation_points() -> None:
    """``--data sudoku-9x9`` alone is the recipe that produced the quoted number."""
    cfg = resolve_train(train_args("sudoku-9x9"))
    assert (cfg.steps, cfg.eval_every, cfg.minutes) == (800, 80, None)
    assert (cfg.data.givens, cfg.data.pool_size) == ((30, 35), 6000)
    assert cfg.model.mixer == "units"
    # What the user sets wins; a CSV or another name keeps its own fields.
    cfg = resolve_train(train_args("sudoku-9x9", steps=40, data_fields={"givens": (22, 29)}))
    assert (cfg.steps, cfg.eval_every, cfg.data.givens, cfg.data.pool_size) == (
        40,
        4,
        (22, 29),
        6000,
    )
    assert resolve_train(train_args("sudoku-4x4")).steps == 600
    assert resolve_train(train_args("sudoku-4x4", minutes=1.0)).eval_every is None


def test_unknown_preset_and_override_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown preset 'nope'"):
        train(tiny_run(tmp_path / "a", preset="nope"))
    with pytest.raises(ValueError, match="unknown"):
        train(tiny_run(tmp_path / "b", model_set=("hidden_sise=3",)))


# ----------------------------------------------------------------------- evaluate and solve
@pytest.fixture(scope="module")
def sudoku_run(tmp_path_factory) -> Path:
    return train(tiny_run(tmp_path_factory.mktemp("runs") / "s4"))


def test_evaluate_reports_both_regimes_and_env_success(sudoku_run: Path) -> None:
    result = evaluate_run(sudoku_run, env_episodes=4)
    for key in ("token_accuracy", "exact_accuracy", "exact_accuracy_halt", "halt_accuracy"):
        assert 0.0 <= result[key] <= 1.0
    assert 1.0 <= result["steps_halt"] <= result["steps_no_halt"] == 3
    assert result["count"] == 16 and result["env"]["episodes"] == 4
    assert 0.0 <= result["env"]["success"] <= 1.0
    by_step = result["exact_by_step"]
    assert len(by_step) == 3 and by_step[-1] == result["exact_accuracy"]


def test_exact_by_step_scores_the_answer_after_each_step() -> None:
    from trm_rl.supervised.evaluate import score

    labels = np.array([[1, 2], [3, 4]])
    predictions = np.array([[[1, 0], [3, 0]], [[1, 2], [3, 0]], [[1, 2], [3, 4]]])  # [S, N, L]
    out = score(labels * 0, labels, predictions, np.zeros((3, 2)), "sudoku", (1, 2))
    assert out["exact_by_step"] == [0.0, 0.5, 1.0] and out["exact_accuracy"] == 1.0


def test_solve_answers_in_input_order_and_names_bad_lines(sudoku_run, tmp_path) -> None:
    puzzles = [
        "1.3...1.3.2...4.",
        "0000341221430000",
        "12..............",
    ]
    path = tmp_path / "in.txt"
    path.write_text("\n".join(puzzles) + "\n")
    out = tmp_path / "out.jsonl"
    gif = tmp_path / "t.gif"
    assert solve_file(sudoku_run, path, out, trajectory=gif) == 3
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["puzzle"] for x in lines] == puzzles
    for x in lines:
        assert len(x["solution"]) == 16 and set(x["solution"]) <= set("01234.")
        assert 0.0 <= x["confidence"] <= 1.0 and 1 <= x["steps"] <= 3
    assert gif.read_bytes()[:6] in (b"GIF87a", b"GIF89a")
    bad = tmp_path / "bad.txt"
    bad.write_text("1.3...1.3.2...4.\n1.3...1.3.2...x.\n")
    with pytest.raises(ValueError, match="line 2"):
        solve_file(sudoku_run, bad, tmp_path / "o.jsonl")
    big = tmp_path / "big.txt"
    big.write_text("0" * 81 + "\n")
    with pytest.raises(ValueError, match="line 1: a 9x9 grid"):
        solve_file(sudoku_run, big, tmp_path / "o.jsonl")


def test_cli_runs_train_evaluate_and_solve(tmp_path: Path, capsys) -> None:
    run = tmp_path / "cli"
    main(["train-supervised", "--data", "sudoku-4x4", "--steps", "2", "--out", str(run),
          "--seed", "3", "--optim.batch-size", "4", "--model-set", *TINY, "--data-set", *SMALL_DATA,
          "--no-progress", "--no-tensorboard", "--threads", "1"])  # fmt: skip
    assert "run written to" in capsys.readouterr().out
    main(["evaluate", "--run", str(run), "--env-episodes", "2"])
    assert json.loads(capsys.readouterr().out)["count"] == 16
    # A usage error: exit code 2 and one line on stderr naming the problem.
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--run", str(tmp_path / "nothing")])
    assert exit_info.value.code == 2
    assert re.search(r"trm-rl evaluate: .*is not a folder", capsys.readouterr().err)
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--run", str(tmp_path / "empty")])
    assert exit_info.value.code == 2
    assert re.search(r"trm-rl evaluate: .*not a run directory", capsys.readouterr().err)
    with pytest.raises(SystemExit) as exit_info:
        main(["train-supervised", "--steps", "1", "--out", str(run), "--no-progress"])
    assert exit_info.value.code == 2
    assert "already holds a run" in capsys.readouterr().err


# --------------------------------------------------------------------------- data parallel
def test_two_processes_train_what_one_trains(tmp_path: Path) -> None:
    """torchrun with 2 CPU processes (gloo) at global batch 8 == 1 process at batch 8."""
    common = ["--data", "sudoku-4x4", "--steps", "4", "--optim.batch-size", "8", "--seed", "0",
              "--model-set", *TINY, "halt_exploration_prob=0.0", "--data-set", *SMALL_DATA,
              "--no-progress", "--no-tensorboard", "--threads", "1", "--eval-every", "100"]  # fmt: skip
    main(["train-supervised", "--out", str(tmp_path / "one"), *common])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "experiments.cli", "train-supervised", "--out", str(tmp_path / "two"), *common]  # fmt: skip
    subprocess.run(cmd, check=True, env=env, capture_output=True, timeout=300)
    one, two = weights(tmp_path / "one"), weights(tmp_path / "two")
    for key in one:
        torch.testing.assert_close(one[key], two[key], rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------------ the paper presets
@pytest.mark.slow
@pytest.mark.parametrize(
    ("data", "preset"), [("sudoku-extreme", "paper-sudoku-mlp"), ("maze-hard", "paper-maze-att")]
)
def test_paper_presets_train_a_few_steps_on_cpu(tmp_path: Path, data: str, preset: str) -> None:
    """The paper models (5-7M parameters) on their benchmarks, float32 on CPU, batch 2; the
    evaluation is cut to 2 supervision steps (the paper's 16 take minutes on 2 cores)."""
    run = train(
        tiny_run(tmp_path / preset, data=data, preset=preset, steps=2, batch_size=2,
                 model_set=("forward_dtype=float32", "halt_max_steps=2"), data_set=(),
                 eval_every=2, eval_size=2, threads=2)
    )  # fmt: skip
    config = json.loads((run / "config.json").read_text())
    assert config["resolved"]["parameters"] > 5_000_000
    with (run / "metrics.csv").open() as f:
        row = list(csv.DictReader(f))[-1]
    assert int(row["step"]) == 2 and math.isfinite(float(row["train/loss"]))


def test_results_collector_writes_summary_curves_and_plot(sudoku_run: Path, tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))
    try:
        import supervised_results
    finally:
        sys.path.pop(0)
    out = tmp_path / "results"
    supervised_results.main(
        supervised_results.Args(runs=(sudoku_run,), out_dir=out, env_episodes=2, device="cpu")
    )
    with (out / "summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1 and rows[0]["data"] == "sudoku-4x4"
    assert 0.0 <= float(rows[0]["exact_accuracy"]) <= 1.0
    with (out / "curves.csv").open() as f:
        assert {r["metric"] for r in csv.DictReader(f)} >= {"val/exact_accuracy"}
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / f"{sudoku_run.name}.json").read_text())["sudoku-4x4"]["count"] == 16


def test_solve_thinks_longer_on_a_larger_maze(tmp_path: Path) -> None:
    """A conv TRM trained on 9x9 answers a 13x13 maze with all its scaled steps."""
    import numpy as np

    from envs.maze import RandomMazeGenerator

    run = train(
        tiny_run(tmp_path / "m9", data="maze-9x9", preset="cpu-maze-conv", steps=2,
                 model_set=("hidden_size=16", "num_heads=2", "H_cycles=1", "L_cycles=1",
                            "halt_max_steps=2"), data_set=SMALL_DATA)
    )  # fmt: skip
    mazes = tmp_path / "mazes.txt"
    mazes.write_text(
        RandomMazeGenerator(size=9)(np.random.default_rng(0)).to_string()
        + "\n"
        + RandomMazeGenerator(size=13)(np.random.default_rng(1)).to_string()
        + "\n"
    )
    solve_file(run, mazes, tmp_path / "out.jsonl")
    small, large = (json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines())
    assert len(large["solution"]) == 169 and set(large["solution"]) <= set("# SGo.")
    assert large["steps"] == math.ceil(2 * 169 / 81) == 5  # scaled, never halted early
    assert 1 <= small["steps"] <= 2


def test_snapshots_are_kept_at_every_keep_step_and_survive_a_kill(tmp_path, monkeypatch) -> None:
    """keep_every=2 over 5 steps keeps steps 2, 4 and the end (5); a run killed at step 4 and
    resumed keeps the same snapshots as one that ran through; none without keep_every."""
    from trm_rl.supervised.commands import load_run
    from trm_rl.supervised.state import snapshots

    whole = train(tiny_run(tmp_path / "whole", steps=5, keep_every=2, checkpoint_seconds=0.0))
    kept = snapshots(whole)
    assert [step for step, _ in kept] == [2, 4, 5]
    final = load_file(str(whole / "checkpoint" / "model.safetensors"))
    at = {step: load_file(str(path / "model.safetensors")) for step, path in kept}
    assert all(torch.equal(final[k], at[5][k]) for k in final)  # the end: the final weights
    assert not all(torch.equal(at[2][k], at[5][k]) for k in final)

    calls = {"n": 0}
    original = trainer_module._accumulate

    def killed_at_four(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(trainer_module, "_accumulate", killed_at_four)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_run(tmp_path / "split", steps=5, keep_every=2, checkpoint_seconds=0.0))
    monkeypatch.setattr(trainer_module, "_accumulate", original)
    assert [step for step, _ in snapshots(tmp_path / "split")] == [2]
    resumed = train(
        tiny_run(tmp_path / "split", steps=5, keep_every=2, checkpoint_seconds=0.0, resume=True)
    )
    again = snapshots(resumed)
    assert [step for step, _ in again] == [2, 4, 5]
    for step, path in again:
        weights_now = load_file(str(path / "model.safetensors"))
        assert all(torch.equal(weights_now[k], at[step][k]) for k in weights_now), step
    model, _ = load_run(resumed, device="cpu", snapshot=4)
    assert all(torch.equal(model.state_dict()[k], at[4][k]) for k in at[4])
    with pytest.raises(ValueError, match=r"no snapshot of step 3; it has \[2, 4, 5\]"):
        load_run(resumed, device="cpu", snapshot=3)

    plain = train(tiny_run(tmp_path / "plain", steps=2))
    assert snapshots(plain) == [] and not (plain / "snapshots").exists()
    with pytest.raises(ValueError, match="it has none"):
        load_run(plain, device="cpu", snapshot=2)


def test_split_all_scores_every_puzzle_of_a_file_the_run_never_saw(
    sudoku_run: Path, tmp_path: Path
) -> None:
    from envs.sudoku.io import write_sudoku_csv
    from envs.sudoku.pool import SudokuPool
    from trm_rl.data import DataConfig, make_data
    from trm_rl.supervised.evaluate import predict, score

    # 4x4 puzzles in a file: all 30 distinct rows are scored, in file order of the splits.
    data = make_data(DataConfig(name="sudoku-4x4", seed=7, test_size=30))
    inputs, labels = data.split("test")
    puzzles = (inputs.reshape(-1, 4, 4) - 1).astype("uint8")  # tokens -> digits (0 blank)
    path = tmp_path / "unseen.csv"
    write_sudoku_csv(SudokuPool(puzzles, (labels.reshape(-1, 4, 4) - 1).astype("uint8")), path, "t")
    every = make_data(DataConfig(name=str(path))).split("all")
    assert len(every[0]) == 30 and sorted(map(bytes, every[0])) == sorted(map(bytes, inputs))
    report = evaluate_run(sudoku_run, str(path), split="all", device="cpu")
    assert report["count"] == 30 and report["split"] == "all"
    net, _ = load_run(sudoku_run, "cpu")
    traj = predict(net, every[0], (4, 4), report["steps_no_halt"], torch.device("cpu"), 64)
    direct = score(every[0], every[1], traj["predictions"], traj["halt_probs"], "sudoku", (4, 4))
    assert report["exact_accuracy"] == direct["exact_accuracy"]
    # Never the run's own training data, nor an endless generated source.
    with pytest.raises(ValueError, match="split 'all' would score the puzzles"):
        evaluate_run(sudoku_run, split="all", device="cpu")
    with pytest.raises(ValueError, match="generated without end"):
        make_data(DataConfig(name="maze-9x9", val_size=4, test_size=4)).split("all")
