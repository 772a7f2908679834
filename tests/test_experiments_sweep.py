"""The sweep runner: study expansion, dry run, local pool, resumption, failures, Ray, CLI."""

from __future__ import annotations

import csv
import dataclasses
import functools
import json
from pathlib import Path
from typing import Any

import pytest

from experiments import sweep
from experiments.studies import STUDIES, RunSpec, get_study
from experiments.sweep import RUN_FIELDS, check_spec, expand, run_one, run_specs
from trm_rl.model import build_model
from trm_rl.model.config import TRMConfig
from trm_rl.policies.config import ppo_args, resolve_ppo
from trm_rl.supervised.config import resolve_train, train_args

ALL_PRESETS = [(s.name, p) for s in STUDIES.values() for p in s.presets]
TINY_MODEL = ("hidden_size=16", "H_cycles=1", "L_cycles=1", "halt_max_steps=2")


def tiny_specs(study: str = "tiny") -> list[RunSpec]:
    """A supervised and a PPO run of a hidden-16 TRM on 4x4 Sudoku, a few steps each."""
    common: dict[str, Any] = {"device": "cpu", "tensorboard": False, "model_set": TINY_MODEL}
    sup = RunSpec(
        study=study, name="sup-sudoku-4x4-trm-K1-s0", regime="supervised", task="sudoku-4x4",
        variant="TRM H1/L1", group="K=1", K=1, seed=0,
        config=resolve_train(
            train_args("sudoku-4x4", steps=4, optim={"batch_size": 8}, eval_size=16,
                       eval_every=2, keep_every=2, data_set=("val_size=16", "test_size=32"),
                       **common)
        ),
        eval_episodes=8, eval_limit=32,
    )  # fmt: skip
    ppo = RunSpec(
        study=study, name="ppo-sudoku-4x4-trm-K1-s0", regime="ppo", task="sudoku-4x4",
        variant="TRM H1/L1", group="K=1", K=1, seed=0,
        config=resolve_ppo(
            ppo_args("trm_rl/Sudoku-4x4-v0", policy="trm", timesteps=64,
                     ppo={"n_envs": 8, "n_steps": 8, "batch_size": 32, "n_epochs": 1},
                     val_episodes=8, test_episodes=16, **common)
        ),
        eval_episodes=16,
    )  # fmt: skip
    return [sup, ppo]


def unfit_model(spec: RunSpec) -> RunSpec:
    """``spec`` with a model built for 20 cells, which 4x4 Sudoku (16 cells) cannot feed."""
    config = dataclasses.replace(spec.config, model=spec.config.model.replace(seq_len=20))
    return dataclasses.replace(spec, config=config)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def check_cache() -> dict:
    return {}


@pytest.fixture(scope="module")
def pool_sweep(tmp_path_factory) -> Path:
    """The tiny sweep run once on a 2-process pool."""
    out = tmp_path_factory.mktemp("sweep") / "tiny"
    run_specs(tiny_specs(), out, workers=2, preset="tiny")
    return out


# ------------------------------------------------------------------------------ expansion
@pytest.mark.parametrize(("study", "preset"), ALL_PRESETS)
def test_every_study_preset_expands_into_valid_configs(study, preset, check_cache) -> None:
    specs = expand(study, preset)
    names = [s.name for s in specs]
    assert specs and len(names) == len(set(names))
    assert {s.study for s in specs} == {study}
    for spec in specs:
        assert RunSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
        assert spec.config.minutes is None and spec.est_minutes > 0  # budgets in steps
        check_spec(spec, check_cache)  # config, data, model (or policy TRM config), env
    # Every run of a task has the same step budget (and supervised runs the same validation
    # and snapshot points: keep_points of them).
    budgets: dict[tuple[str, str], set] = {}
    for spec in specs:
        budgets.setdefault((spec.regime, spec.task), set()).add(budget_of(spec))
    for (regime, task), found in budgets.items():
        assert len(found) == 1, (regime, task, found)
        steps, every = next(iter(found))
        assert steps > 0
        if regime == "supervised":
            assert every == steps // 10, (task, steps, every)
    assert all(s.budget.endswith("steps") and " min" not in s.budget for s in specs)


def budget_of(spec: RunSpec) -> tuple[int, int | None]:
    """(steps or env steps, validation/snapshot interval) of a run."""
    if spec.regime == "supervised":
        assert spec.config.eval_every == spec.config.keep_every
        return spec.config.steps, spec.config.keep_every
    return spec.config.timesteps, None


def params(spec: RunSpec) -> int:
    return _params(spec.config.model)


@functools.cache
def _params(model: Any) -> int:
    return build_model(model).num_parameters()


def check_controls(specs: list[RunSpec], controls: set[str]) -> dict[str, int]:
    """Check the supervised controls of every task and seed against that task's TRM.

    :return: per task, the K of the TRM the controls are built from (the recipe's).
    """
    cells: dict[tuple[str, int], dict[str, RunSpec]] = {}
    for s in specs:
        if s.regime == "supervised":
            cells.setdefault((s.task, s.seed), {})[s.variant] = s
    assert cells
    base_k: dict[str, set[int]] = {}
    for (task, seed), runs in cells.items():
        trms = [r for r in runs.values() if r.K is not None]
        untied = [r for r in runs.values() if r.variant.startswith("untied")]
        if untied:  # as deep as one supervision step of the recipe's TRM
            depth = 2 * untied[0].config.model.num_layers
            [base] = [r for r in trms if r.config.model.effective_depth == depth]
        else:
            [base] = trms
        base_k.setdefault(task, set()).add(base.K)
        model = base.config.model
        # The K runs change H only.
        assert {r.config.model.replace(H_cycles=1) for r in trms} == {model.replace(H_cycles=1)}
        # The same network applied once: one supervision step of H1/L1.
        once = runs["TRM once (no recursion)"]
        m = once.config.model
        assert (m.H_cycles, m.L_cycles, m.halt_max_steps) == (1, 1, 1) and once.K is None
        assert m == model.replace(H_cycles=1, L_cycles=1, halt_max_steps=1)
        assert params(once) == params(base)
        found = {"once"}
        for variant, r in runs.items():
            assert r.seed == seed and r.config.seed == seed
            # Equal budgets and recipe: only the model differs between the variants.
            assert dataclasses.replace(r.config, model=model) == base.config
            if variant.startswith("untied"):
                m = r.config.model
                assert m.num_layers * 2 == model.effective_depth
                assert variant == f"untied, {2 * m.num_layers} layers" and r.K is None
                assert (m.H_cycles, m.L_cycles, m.halt_max_steps) == (1, 1, 1)  # applied once
                assert m == model.replace(
                    num_layers=m.num_layers, H_cycles=1, L_cycles=1, halt_max_steps=1
                )
                found.add("untied")
            elif variant in BASELINES:
                assert type(r.config.model).__name__ == BASELINES[variant][1]
                assert abs(params(r) - params(base)) <= 0.05 * params(base), (task, variant)
                found.add(BASELINES[variant][0])
        assert found == controls, (task, found)
    assert all(len(k) == 1 for k in base_k.values()), base_k  # the same TRM for every seed
    return {task: k.pop() for task, k in base_k.items()}


#: Baseline variants of k_cycles: (control name, config class).
BASELINES = {
    "MLP": ("mlp", "MLPConfig"),
    "conv net": ("convnet", "ConvNetConfig"),
    "DT-recall": ("dtnet", "DTNetConfig"),
}


def test_k_cycles_grids() -> None:
    quick = expand("k_cycles", "cpu-quick")
    assert len(quick) == 3 * 3  # (TRM H2/L2, once, MLP) x seeds
    assert {(s.regime, s.task) for s in quick} == {("supervised", "sudoku-4x4")}
    assert {s.K for s in quick} == {2, None}
    assert {s.seed for s in quick} == {0, 1, 2}
    assert {s.variant for s in quick} == {"TRM H2/L2", "TRM once (no recursion)", "MLP"}
    assert {s.group for s in quick} == {"K=2", "TRM once (no recursion)", "MLP"}
    assert {(s.config.steps, s.config.eval_every, s.config.keep_every) for s in quick} == {
        (600, 60, 60)
    }
    assert {s.eval_limit for s in quick} == {1000}  # >= 1,000 test puzzles (STUDIES.md)
    assert sweep.wall_estimate([s.est_minutes for s in quick], 2) <= 10.0
    assert check_controls(quick, {"once", "mlp"}) == {"sudoku-4x4": 2}
    full = expand("k_cycles", "cpu-full")
    assert len(full) == 2 * 5 * (3 + 5)  # tasks x seeds x (K=1..3 + five controls)
    assert {s.K for s in full} == {1, 2, 3, None}
    assert {s.seed for s in full} == {0, 1, 2, 3, 4}
    assert {"MLP", "conv net", "DT-recall", "TRM once (no recursion)"} <= {s.variant for s in full}
    assert 6 * 60 <= sweep.wall_estimate([s.est_minutes for s in full], 2) <= 10 * 60
    assert {(s.regime, s.task) for s in full} == {
        ("supervised", "maze-11x11"),
        ("supervised", "sudoku-6x6"),
    }
    assert {s.config.steps for s in full} == {2000}
    maze = {t for s in full if s.task == "maze-11x11" for t, _ in s.also}
    assert maze >= {"maze-15x15", "maze-21x21"}  # extrapolation beyond the training size
    # a fixed-size model (the MLP baseline) is scored on its own size only; the others on all
    scored = {s.name: {t for t, _ in sweep.scorable_targets(s)} for s in full}
    assert scored["sup-maze-11x11-mlp-s0"] == set()
    assert scored["sup-maze-11x11-conv-s0"] == scored["sup-maze-11x11-trm-K2-s0"] == maze
    mlp = next(s for s in full if s.name == "sup-maze-11x11-mlp-s0")
    shifted = dataclasses.replace(mlp, also=(("maze-15x15", 8), ("maze-11x11-braid", 8)))
    assert sweep.scorable_targets(shifted) == (("maze-11x11-braid", 8),)  # same size: scored
    controls = {"once", "untied", "dtnet", "convnet", "mlp"}
    assert check_controls(full, controls) == {"maze-11x11": 2, "sudoku-6x6": 2}
    # K runs change H only
    assert all(s.config.model.H_cycles == s.K for s in full if s.K)
    assert all(s.group == f"K={s.K}" for s in full if s.K)
    base_l = {s.task: s.config.model.L_cycles for s in full if s.group == "K=1"}
    assert all(s.config.model.L_cycles == base_l[s.task] for s in full if s.K)
    paper = expand("k_cycles", "gpu-paper")
    fitted = {"H_cycles", "seq_len", "grid_width", "vocab_size"}  # K and the grid's fields
    presets = set()
    for s in paper:
        if not s.K:
            continue
        name = "paper-maze-att" if s.task.startswith("maze") else "paper-sudoku-mlp"
        preset = TRMConfig.preset(name)
        differ = {
            f.name
            for f in dataclasses.fields(preset)
            if getattr(preset, f.name) != getattr(s.config.model, f.name)
        }
        assert differ <= fitted, (s.name, differ)
        presets.add(name)
    assert presets == {"paper-maze-att", "paper-sudoku-mlp"}
    assert all(s.config.device == "auto" for s in paper)
    assert check_controls(paper, controls) == {"maze-hard": 3, "sudoku-extreme": 3}


def test_ablation_and_think_longer_grids() -> None:
    groups = {(s.regime, s.task, s.group) for s in expand("ablations", "cpu-full")}
    for group in ("base", "act=off", "ema=off", "mlp=relu", "mixer=attention", "mixer=conv",
                  "single_z=on", "separate_networks=on", "full_backprop=on"):  # fmt: skip
        assert ("supervised", "sudoku-6x6", group) in groups
    assert ("supervised", "maze-11x11", "act=on") in groups  # the maze recipe trains without ACT
    assert ("supervised", "maze-11x11", "mixer=mlp") in groups
    assert ("supervised", "sudoku-6x6", "mixer=units") in groups  # the Sudoku unit mixer
    assert ("supervised", "maze-11x11", "mixer=units") not in groups  # Sudoku only
    for group in ("base", "carry=on", "carry+act", "shaping=off"):
        assert ("ppo", "maze-9x9", group) in groups
    assert ("ppo", "sudoku-4x4", "shaping=off") not in groups
    think = expand("think_longer", "cpu-full")
    assert {s.variant for s in think} == {"TRM H2/L3 (conv mixer)", "DT-recall", "conv net"}
    assert len(think) == 3 * 5 and {s.seed for s in think} == {0, 1, 2, 3, 4}
    assert all(s.config.data.name == "maze-11x11" for s in think)
    assert {t for s in think for t, _ in s.also} >= {
        "maze-15x15",
        "maze-21x21",
        "maze-31x31",
        "maze-hard",
    }  # larger grids (and other generators)
    trm = next(s for s in think if s.K is not None)
    assert trm.config.model.mixer == "conv"
    for s in think:  # the baselines are matched in parameters to the TRM
        assert abs(params(s) - params(trm)) <= 0.05 * params(trm), s.variant


def test_unknown_study_or_preset_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"k_cycles .*cpu-quick"):
        get_study("k-cycles")
    with pytest.raises(ValueError, match="cpu-full"):
        expand("ablations", "cpu-quick")
    with pytest.raises(ValueError, match="letters, digits and dashes"):
        RunSpec("s", "bad name", "ppo", "t", "v", "g", None, 0, {})


def test_a_bad_override_fails_the_check() -> None:
    spec = tiny_specs()[0]
    stored = spec.to_dict()
    with pytest.raises(ValueError, match=r"unknown fields \['x'\]"):
        RunSpec.from_dict(
            {
                **stored,
                "config": {**stored["config"], "model": {**stored["config"]["model"], "x": 1}},
            }
        )
    with pytest.raises(ValueError, match="--model-set 'x=1': unknown field 'x'"):
        resolve_train(train_args("sudoku-4x4", steps=4, model_set=("x=1",)))
    with pytest.raises(ValueError, match=f"run {spec.name}: the model is built for 20 cells"):
        check_spec(unfit_model(spec))


# ----------------------------------------------------------------------------------- runs
def test_pool_sweep_writes_csvs_report_and_plots(pool_sweep: Path) -> None:
    rows = read_csv(pool_sweep / "runs.csv")
    assert list(rows[0])[: len(RUN_FIELDS)] == RUN_FIELDS
    assert [r["run"] for r in rows] == ["ppo-sudoku-4x4-trm-K1-s0", "sup-sudoku-4x4-trm-K1-s0"]
    assert all(r["status"] == "done" for r in rows)
    for r in rows:
        assert 0 <= float(r["score"]) <= 1 and int(r["params"]) > 0 and r["K"] == "1"
        assert (r["study"], r["task"], r["group"]) == ("tiny", "sudoku-4x4", "K=1")
    ppo = rows[0]
    assert ppo["regime"] == "ppo" and ppo["random_score"] and ppo["oracle_score"] == "1.0"
    assert ppo["score_name"] == "puzzles solved" and int(ppo["steps"]) >= 64
    assert rows[1]["score_name"] == "exact accuracy (test)" and rows[1]["steps"] == "4"
    # Validated and kept at steps 2 and 4: the best on validation is scored, the last beside it.
    assert rows[1]["chosen_step"] in {"2", "4"} and rows[1]["puzzles"] == "32"
    assert 0 <= float(rows[1]["score_last"]) <= 1 and float(rows[1]["score_se"]) >= 0
    # PPO runs: the agent of the best validation scored, the last one beside it
    assert 0 < int(rows[0]["chosen_step"]) <= int(rows[0]["steps"])
    assert 0 <= float(rows[0]["score_last"]) <= 1
    curves = read_csv(pool_sweep / "curves.csv")
    assert {c["run"] for c in curves} == {r["run"] for r in rows}
    assert {c["metric"] for c in curves} == {"val/score", "test/exact_by_steps"}
    val = [c for c in curves if c["run"] == rows[1]["run"] and c["metric"] == "val/score"]
    assert [(c["step"], c["split"]) for c in val] == [("2", "val"), ("4", "val")]
    best = max(val, key=lambda c: (float(c["value"]), int(c["step"])))
    assert rows[1]["chosen_step"] == best["step"]  # chosen on validation, latest of ties
    assert all(float(c["flops"]) > 0 for c in val)
    assert float(val[1]["flops"]) == pytest.approx(2 * float(val[0]["flops"]), rel=1e-3)
    by_steps = [c for c in curves if c["metric"] == "test/exact_by_steps"]
    assert {c["run"] for c in by_steps} == {rows[1]["run"]}  # supervised runs only
    assert [int(c["step"]) for c in by_steps] == list(range(1, int(rows[1]["think_steps"]) + 1))
    assert float(by_steps[-1]["value"]) == float(rows[1]["score"])
    report = (pool_sweep / "report.md").read_text()
    assert "2 runs: 2 done, 0 failed" in report
    assert list((pool_sweep / "plots").glob("*.png"))
    for r in rows:
        result = json.loads((pool_sweep / r["run"] / "result.json").read_text())
        assert result["status"] == "done" and result["rows"][0]["run"] == r["run"]
        assert read_csv(pool_sweep / r["run"] / "rows.csv") == [r]  # the run's tidy rows
    assert (pool_sweep / "ppo-sudoku-4x4-trm-K1-s0.json").is_file()  # evaluate-ppo, beside
    # Estimated FLOPs: training (per-step count x steps) on every row, one test puzzle on the
    # supervised row.
    assert all(float(r["flops"]) > 0 for r in rows)
    assert float(rows[1]["eval_flops"]) > 0 and rows[0]["eval_flops"] == ""


def test_flops_per_step_times_steps_and_backfill(pool_sweep: Path, tmp_path) -> None:
    from trm_rl.flops import run_flops

    sup, _ = tiny_specs()
    result = json.loads((pool_sweep / sup.name / "result.json").read_text())
    row = result["rows"][0]
    expected = run_flops("supervised", sweep.build_config(sup), int(row["steps"]))
    assert row["flops"] == pytest.approx(expected, rel=1e-3)
    # A finished run written without the estimate gets it when the sweep runs again.
    out = tmp_path / "tiny"
    run_specs([sup], out, workers=1, preset="tiny")
    stored = json.loads((out / sup.name / "result.json").read_text())
    stored["rows"][0]["flops"] = stored["rows"][0]["eval_flops"] = ""
    (out / sup.name / "result.json").write_text(json.dumps(stored))
    run_specs([sup], out, workers=1, preset="tiny", runner=lambda *a: pytest.fail("re-ran"))
    [again] = read_csv(out / "runs.csv")
    assert float(again["flops"]) == pytest.approx(expected, rel=1e-3)


def test_rerun_resumes_only_missing_runs_and_reports_failures(tmp_path, capsys) -> None:
    out = tmp_path / "tiny"
    sup, ppo = tiny_specs()
    bad = dataclasses.replace(unfit_model(sup), name="sup-sudoku-4x4-bad-s0", group="bad")
    calls: list[str] = []

    def interrupted(spec, out_dir):
        calls.append(spec.name)
        if spec.name == ppo.name:
            raise KeyboardInterrupt  # Ctrl-C while the PPO run starts
        return run_one(spec, out_dir)

    with pytest.raises(KeyboardInterrupt):
        run_specs([sup, ppo, bad], out, workers=1, preset="tiny", runner=interrupted)
    assert calls == [sup.name, ppo.name]
    assert [r["run"] for r in read_csv(out / "runs.csv")] == [sup.name]

    def counting(spec, out_dir):
        calls.append(spec.name)
        return run_one(spec, out_dir)

    calls.clear()
    run_specs([sup, ppo, bad], out, workers=1, preset="tiny", runner=counting)
    assert calls == [ppo.name, bad.name]  # the finished run is skipped
    rows = {r["run"]: r for r in read_csv(out / "runs.csv")}
    assert sorted(rows) == sorted([sup.name, ppo.name, bad.name])
    assert rows[sup.name]["status"] == rows[ppo.name]["status"] == "done"
    status = rows[bad.name]["status"]
    assert status.startswith("failed: ValueError: ") and "seq_len" in status
    assert "3 runs: 2 done, 1 failed" in (out / "report.md").read_text()

    # A run killed after training, before its result: its trainer continues the run (here
    # finished already), then it is evaluated. Failed runs are tried again.
    (out / ppo.name / "result.json").unlink()
    calls.clear()
    run_specs([sup, ppo, bad], out, workers=1, preset="tiny", runner=counting)
    assert calls == [ppo.name, bad.name]
    rows = {r["run"]: r for r in read_csv(out / "runs.csv")}
    assert rows[ppo.name]["status"] == "done" and rows[ppo.name]["steps"] == "64"
    # The sweep ends with the table of the done runs and the paths of the report and plots.
    printed = capsys.readouterr().out
    assert "3 runs, 1 already done, 2 to run" in printed
    assert "sudoku-4x4 — ppo" in printed and "puzzles solved" in printed
    assert "| TRM H1/L1 | 1 |" in printed and "FAILED sup-sudoku-4x4-bad-s0" in printed
    assert f"report: {out / 'report.md'}" in printed and "plot: " in printed


def test_an_exception_in_the_runner_is_a_failed_row(tmp_path) -> None:
    def crash(spec, out_dir):
        raise RuntimeError("worker\nlost")

    run_specs(tiny_specs()[:1], tmp_path, workers=1, preset="tiny", runner=crash)
    [row] = read_csv(tmp_path / "runs.csv")
    assert row["status"] == "failed: RuntimeError: worker lost"
    assert "Failed runs" in (tmp_path / "report.md").read_text()


def test_results_without_a_manifest_are_not_overwritten(tmp_path) -> None:
    (tmp_path / "runs.csv").write_text("run,score\nmine,0.5\n")
    with pytest.raises(ValueError, match=r"no sweep\.json.*another --out"):
        run_specs(tiny_specs()[:1], tmp_path, workers=1, preset="tiny")
    assert (tmp_path / "runs.csv").read_text() == "run,score\nmine,0.5\n"


def test_another_preset_in_the_same_directory_is_refused(pool_sweep: Path) -> None:
    with pytest.raises(ValueError, match="another --out"):
        run_specs(tiny_specs(), pool_sweep, preset="cpu-quick", dry_run=True)
    changed = tiny_specs()
    changed[0] = RunSpec.from_dict({**changed[0].to_dict(), "seed": 5})
    with pytest.raises(ValueError, match="config has changed"):
        run_specs(changed, pool_sweep, preset="tiny", dry_run=True)


def test_ray_path_on_a_local_instance(tmp_path) -> None:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        run_specs(tiny_specs()[:1], tmp_path / "ray", ray_address="local", preset="tiny")
    finally:
        ray.shutdown()
    rows = read_csv(tmp_path / "ray" / "runs.csv")
    assert [r["status"] for r in rows] == ["done"]
    assert (tmp_path / "ray" / "report.md").is_file()


def test_ray_path_without_ray_names_the_extra(tmp_path, monkeypatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray":
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(ImportError, match=r"pip install -e '\.\[ray\]'"):
        run_specs(tiny_specs()[:1], tmp_path, ray_address="auto", preset="tiny")


# ------------------------------------------------------------------------------------ CLI
def test_cli_dry_run_prints_the_plan(capsys, tmp_path) -> None:
    from experiments.cli import main

    main(["sweep", "k_cycles", "--preset", "cpu-quick", "--dry-run", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert out.count(" 600 steps ") == 9 and "sup-sudoku-4x4-mlp-s2" in out
    assert "9 runs" in out and "budgets in steps" in out and "CPU time" in out
    assert "with 2 workers" in out
    assert not any(tmp_path.iterdir())  # a dry run writes nothing
    with pytest.raises(SystemExit) as err:
        main(["sweep", "think_longer", "--preset", "cpu-quick", "--dry-run"])
    assert err.value.code == 2  # a usage error: one line on stderr, no traceback
    assert "has no preset" in capsys.readouterr().err


def test_cli_plot_and_study_script(pool_sweep: Path, capsys) -> None:
    from experiments.cli import main

    main(["plot", str(pool_sweep)])
    assert "report.md" in capsys.readouterr().out
    sweep.script_main("ablations", ["--preset", "cpu-full", "--dry-run", "--out", "/nonexistent"])
    assert "140 runs" in capsys.readouterr().out


def test_the_ppo_k_cycles_preset_compares_every_policy_at_equal_env_steps() -> None:
    specs = expand("k_cycles", "cpu-ppo")
    assert {s.config.timesteps for s in specs} == {100_000}
    assert {s.seed for s in specs} == {0, 1, 2, 3, 4} and len(specs) == 35
    assert {s.config.env.id for s in specs} == {"trm_rl/Maze-7x7-v0"}
    assert {s.config.heldout_by for s in specs} == {"layout"}  # 7x7 layouts are held out
    by_group = {s.group: s.config for s in specs if s.seed == 0}
    assert [by_group[f"K={k}"].model.H_cycles for k in (1, 2, 3)] == [1, 2, 3]
    once = by_group["TRM once (no recursion)"]
    assert (once.policy, once.model.H_cycles, once.model.L_cycles) == ("trm", 1, 1)
    assert by_group["carry"].policy == "trm-carry"
    assert (by_group["MLP"].policy, by_group["conv net"].policy) == ("mlp", "convnet")
    assert all(s.eval_episodes == 1000 for s in specs)


def test_a_preset_may_write_to_its_own_study_directory() -> None:
    study = get_study("k_cycles")
    assert study.default_out("cpu-ppo") == Path("results/k_cycles-ppo")
    assert study.default_out("cpu-full") == Path("results/k_cycles")
    assert get_study("ablations").default_out("cpu-core") == Path("results/ablations")
    assert get_study("ablations").default_out("cpu-ppo") == Path("results/ablations-ppo")


def test_the_ppo_ablations_share_their_base_and_carry_runs_with_k_cycles() -> None:
    specs = expand("ablations", "cpu-ppo")
    assert {s.seed for s in specs} == {0, 1, 2, 3, 4} and len(specs) == 25
    assert {s.config.timesteps for s in specs} == {100_000}
    by_group = {s.group: s.config for s in specs if s.seed == 0}
    assert set(by_group) == {"base", "carry=on", "carry, 4 epochs", "carry+act", "shaping=off"}
    assert by_group["carry+act"].think_rounds == 4
    # the carry's default is one epoch; the control differs from it in that alone
    four = by_group["carry, 4 epochs"]
    assert (by_group["carry=on"].ppo.n_epochs, four.ppo.n_epochs) == (1, 4)
    assert (
        dataclasses.replace(four, ppo=dataclasses.replace(four.ppo, n_epochs=1))
        == by_group["carry=on"]
    )
    assert (by_group["shaping=off"].env.config.shaping, by_group["base"].env.config.shaping) == (
        False,
        True,
    )
    # the base and the carry are k_cycles cpu-ppo's runs (so --reuse copies them)
    k_cycles = {s.group: s.config for s in expand("k_cycles", "cpu-ppo") if s.seed == 0}
    base = by_group["base"]
    assert base == k_cycles[f"K={base.model.H_cycles}"]
    assert by_group["carry=on"] == k_cycles["carry"]


def test_the_ppo_1m_pilot_is_cpu_ppo_at_ten_times_the_env_steps() -> None:
    specs = expand("k_cycles", "cpu-ppo-1m")
    assert [s.variant for s in specs] == ["TRM H1/L3", "TRM once (no recursion)", "conv net", "MLP"]
    assert {s.seed for s in specs} == {0} and {s.config.timesteps for s in specs} == {1_000_000}
    assert get_study("k_cycles").default_out("cpu-ppo-1m") == Path("results/k_cycles-ppo-1m")
    short = {s.variant: s for s in expand("k_cycles", "cpu-ppo") if s.seed == 0}
    for spec in specs:
        same = short[spec.variant]
        assert spec.name == same.name and spec.eval_episodes == same.eval_episodes == 1000
        for field in ("model", "policy", "ppo", "env", "seed"):
            assert getattr(spec.config, field) == getattr(same.config, field), field
