"""Tests of ``experiments/collect.py`` and of the two collectors built on it
(``experiments/ppo_results.py``, ``experiments/supervised_results.py``) on synthetic run folders:
no training, no torch."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from experiments import ppo_results, supervised_results
from experiments.collect import (
    CURVE_FIELDS,
    belongs_to,
    data_game,
    merge_rows,
    read_rows,
    rounded,
    training_minutes,
    write_csv,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_write_and_read_rows(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "a.csv"
    rows = [{"run": "a", "x": 1}, {"run": "b", "y": " 2 ", "x": None}]
    assert write_csv(path, rows) == path
    assert path.read_text().splitlines()[0] == "run,x,y"  # first-seen order of the keys
    assert read_rows(path) == [{"run": "a", "x": "1", "y": ""}, {"run": "b", "x": "", "y": "2"}]
    write_csv(path, rows, ["x", "run"])  # fields given: in that order, other keys left out
    assert read(path) == [{"x": "1", "run": "a"}, {"x": "", "run": "b"}]
    write_csv(path, [{"z": 1, "run": "a", "b": 2}], ["run"], extra=True)  # then the rest, sorted
    assert path.read_text().splitlines() == ["run,b,z", "a,2,1"]
    path.write_text("run,x\n,\na,1\n")  # a line of empty cells is no row
    assert read_rows(path) == [{"run": "a", "x": "1"}]
    with pytest.raises(ValueError, match=r"a\.csv has no column 'score' \(it needs run, score\)"):
        read_rows(path, ["run", "score"])
    path.write_text("")
    with pytest.raises(ValueError, match=r"a\.csv is empty \(no header line\)"):
        read_rows(path)
    with pytest.raises(ValueError, match=r"cannot read .*missing\.csv"):
        read_rows(tmp_path / "missing.csv")
    assert not list(tmp_path.glob("**/*.tmp"))


def test_merge_rows_replaces_the_runs_collected_again(tmp_path: Path) -> None:
    assert belongs_to("m9-s0", {"m9-s0"}) and belongs_to("m9-s0.15x15", {"m9-s0"})
    assert not belongs_to("m9-s01", {"m9-s0"}) and not belongs_to("m9", {"m9-s0"})
    path = tmp_path / "runs.csv"
    first = [{"run": r, "score": 0.1} for r in ("a", "a.big", "ab", "b")]
    assert merge_rows(path, first, set(), ["run", "score"]) == first
    again = merge_rows(path, [{"run": "a", "score": 0.9}], {"a"}, ["run", "score"])
    assert [r["run"] for r in again] == ["ab", "b", "a"]
    assert read(path) == [{"run": "ab", "score": "0.1"}, {"run": "b", "score": "0.1"},
                          {"run": "a", "score": "0.9"}]  # fmt: skip
    assert merge_rows(tmp_path / "none.csv", [], {"a"}) == []  # no rows, no fields: no file
    assert not (tmp_path / "none.csv").exists()
    merge_rows(tmp_path / "header.csv", [], {"a"}, CURVE_FIELDS)
    assert (tmp_path / "header.csv").read_text().strip() == ",".join(CURVE_FIELDS)
    (tmp_path / "foreign.csv").write_text("name,score\nmine,0.5\n")
    with pytest.raises(ValueError, match=r"foreign\.csv has no column 'run' .*another --out-dir"):
        merge_rows(tmp_path / "foreign.csv", first, {"a"})
    assert (tmp_path / "foreign.csv").read_text() == "name,score\nmine,0.5\n"


def test_training_minutes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"no metrics\.csv in .*--out folder"):
        training_minutes(tmp_path)
    (tmp_path / "metrics.csv").write_text("")
    assert training_minutes(tmp_path) == 0.0
    (tmp_path / "metrics.csv").write_text("step,time_s\n")
    assert training_minutes(tmp_path) == 0.0
    (tmp_path / "metrics.csv").write_text("step,time_s\n1,30\n2,90\n")
    assert training_minutes(tmp_path) == 1.5
    (tmp_path / "metrics.csv").write_text("step,time_s\n1,soon\n")
    with pytest.raises(ValueError, match="time_s 'soon' is not a number"):
        training_minutes(tmp_path)


def test_rounded_and_data_game(tmp_path: Path) -> None:
    assert rounded(None) == "" and rounded(0.123456) == 0.1235 and rounded("2") == 2.0
    assert data_game("maze-11x11") == data_game("maze-hard") == data_game("maze-7x9") == "maze"
    assert data_game("sudoku-4x4") == data_game("sudoku-extreme") == "sudoku"
    mazes = tmp_path / "mazes.csv"
    mazes.write_text("question,answer\n#####S  G#####,#####SooG#####\n")
    assert data_game(str(mazes)) == "maze"
    with pytest.raises(ValueError, match="unknown data name 'chess'"):
        data_game("chess")
    # A supervised run's game: what its config.json records, else its data name's.
    recorded = {"resolved": {"kind": "maze"}, "data": {"name": str(tmp_path / "gone.csv")}}
    assert supervised_results.game_of_run(recorded) == "maze"
    assert supervised_results.game_of_run({"data": {"name": "sudoku-6x6"}}) == "sudoku"


# --------------------------------------------------------------------------------- ppo_results
def fake_ppo_run(root: Path, name: str, seed: int, success: float) -> Path:
    """A train-ppo folder (config.json, metrics.csv) and its evaluate-ppo JSON beside it; seed 1
    has a format-1 config.json (flat options), the others format 2 (the config tree)."""
    run = root / name
    run.mkdir(parents=True)
    env, model = "trm_rl/Sudoku-4x4-v0", {"H_cycles": 2}
    config: dict = {"game": "sudoku", "parameters": 1234}
    if seed == 1:
        config |= {"model": model, "options": {"policy": "trm", "seed": seed, "env": env}}
    else:
        tree = {"policy": "trm", "seed": seed, "env": {"id": env, "kwargs": {}}, "model": model}
        config |= {"format": 2, "regime": "ppo", "config": tree}
    (run / "config.json").write_text(json.dumps(config))
    (run / "metrics.csv").write_text(
        "time/train_minutes,time/total_timesteps,val/success_2x\n0.5,64,0.1\n1.0,128,0.3\n"
    )
    result = {"success_2x": success, "success": success, "length_ratio": 1.0, "think_steps": 4,
              "episodes": 16}  # fmt: skip
    report = {"env": "trm_rl/Sudoku-4x4-v0", "train_minutes": 1.0, "train_timesteps": 128,
              "deterministic": result, "stochastic": None, "random": {"success_2x": 0.05},
              "oracle": {"success_2x": 1.0}}  # fmt: skip
    (root / f"{name}.json").write_text(json.dumps(report))
    return run


def test_ppo_results_collects_merges_and_plots(tmp_path: Path) -> None:
    runs = [fake_ppo_run(tmp_path / "runs", f"s4-trm-s{s}", s, 0.2 * s) for s in range(3)]
    out = tmp_path / "results"
    ppo_results.main(ppo_results.Args(runs=tuple(runs), out_dir=out))
    rows = read(out / "runs.csv")
    assert list(rows[0]) == ppo_results.RUN_FIELDS
    assert [r["run"] for r in rows] == ["s4-trm-s0", "s4-trm-s1", "s4-trm-s2"]
    assert rows[1]["score"] == "0.2" and rows[1]["variant"] == "TRM" and rows[1]["K"] == "2"
    assert [(r["variant"], r["K"], r["seed"]) for r in rows] == [
        ("TRM", "2", str(s)) for s in range(3)
    ]
    assert rows[1]["stochastic_score"] == "" and rows[1]["status"] == "done"
    curves = read(out / "curves.csv")
    assert list(curves[0]) == CURVE_FIELDS and len(curves) == 6
    assert (out / "s4-trm-s0.metrics.csv").read_text() == (runs[0] / "metrics.csv").read_text()
    assert (out / "report.md").read_text().startswith("# ppo report\n\n3 runs: 3 done, 0 failed.")
    assert (out / "plots" / "curves_steps_sudoku-4x4_ppo.png").read_bytes()[:8] == PNG_MAGIC
    # Collecting one run again replaces its rows; the others stay.
    ppo_results.main(ppo_results.Args(runs=(runs[1],), out_dir=out))
    assert [r["run"] for r in read(out / "runs.csv")] == ["s4-trm-s0", "s4-trm-s2", "s4-trm-s1"]
    assert len(read(out / "curves.csv")) == 6
    assert not list(out.glob("**/*.tmp"))


def test_ppo_run_options_read_both_config_formats(tmp_path: Path) -> None:
    tree = {"policy": "trm-carry", "seed": 3, "env": {"id": "trm_rl/Maze-5x5-v0"},
            "init_from": None, "freeze_trm": True, "think_rounds": 4, "model": {"H_cycles": 3}}  # fmt: skip
    new = {"format": 2, "regime": "ppo", "config": tree}
    old = {"options": {"policy": "trm-carry", "seed": 3, "env": "trm_rl/Maze-5x5-v0",
                       "freeze_trm": True, "halt_max_steps": 4}, "model": {"H_cycles": 3}}  # fmt: skip
    for config in (new, old):
        options = ppo_results.run_options(config)
        assert (options["env"], options["think_rounds"], options["model"]) == (
            "trm_rl/Maze-5x5-v0", 4, {"H_cycles": 3})  # fmt: skip
        assert ppo_results.variant_of(config) == "TRM carry, frozen reasoning + ACT (<= 4 rounds)"
    with pytest.raises(ValueError, match=r"not a PPO run config .*train-ppo"):
        ppo_results.run_options({"format": 2, "config": {"seed": 0}})


def test_ppo_results_leaves_a_foreign_runs_csv_alone(tmp_path: Path) -> None:
    run = fake_ppo_run(tmp_path / "runs", "s4-trm-s0", 0, 0.5)
    out = tmp_path / "results"
    out.mkdir()
    (out / "runs.csv").write_text("name,score\nmine,0.5\n")
    with pytest.raises(SystemExit, match=r"ppo_results: .*runs\.csv has no column 'run'"):
        ppo_results.main(ppo_results.Args(runs=(run,), out_dir=out))
    assert (out / "runs.csv").read_text() == "name,score\nmine,0.5\n"


# -------------------------------------------------------------------------- supervised_results
@pytest.fixture
def fake_evaluate(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """A stand-in for ``trm_rl.supervised.commands`` (no torch, no model): ``evaluate_run``
    answers from the run's config.json, and its calls are recorded."""
    calls: list[tuple] = []

    def evaluate_run(run, data=None, env_episodes=0, device="auto", limit=None):
        config = json.loads((Path(run) / "config.json").read_text())
        calls.append((Path(run).name, data, limit))
        name = data or config["data"]["name"]
        result = {"data": name, "exact_accuracy": 0.5, "count": 8, "env": {"success": 0.75}}
        return result | ({"valid": 0.6} if name.startswith("maze") else {})

    monkeypatch.setattr(supervised_results, "evaluate_run", evaluate_run)
    return calls


def fake_supervised_run(root: Path, name: str, data: str, kind: str | None) -> Path:
    """A train-supervised folder: config.json (format 2 with the game as ``resolved.kind``;
    format 1 without ``kind``) and metrics.csv."""
    run = root / name
    run.mkdir(parents=True)
    resolved = {"parameters": 999} | ({"kind": kind} if kind else {})
    options = {"seed": 0, "preset": None}
    config = {"data": {"name": data}, "model": {"kind": "trm"}, "resolved": resolved}
    config |= (
        {"format": 2, "regime": "supervised", "config": options} if kind else {"train": options}
    )
    (run / "config.json").write_text(json.dumps(config))
    metric = "val/valid" if data.startswith("maze") else "val/exact_accuracy"
    (run / "metrics.csv").write_text(
        f"step,time_s,val/exact_accuracy,{metric}\n10,60,,\n20,120,0.2,0.3\n40,240,0.4,0.6\n"
    )
    return run


def test_supervised_results_collects_and_plots(tmp_path: Path, fake_evaluate) -> None:
    maze = fake_supervised_run(tmp_path / "runs", "m11-trm-s0", "maze-11x11", "maze")
    sudoku = fake_supervised_run(tmp_path / "runs", "s4-trm-s0", "sudoku-4x4", None)  # format 1
    out = tmp_path / "results"
    args = supervised_results.Args(runs=(maze, sudoku), also=("maze-15x15",), out_dir=out)
    supervised_results.main(args)
    assert fake_evaluate == [("m11-trm-s0", None, None), ("m11-trm-s0", "maze-15x15", 256),
                               ("s4-trm-s0", None, None)]  # --also: maze runs only  # fmt: skip
    summary = read(out / "summary.csv")
    assert [(r["run"], r["data"]) for r in summary] == [
        ("m11-trm-s0", "maze-11x11"), ("m11-trm-s0", "maze-15x15"), ("s4-trm-s0", "sudoku-4x4")]  # fmt: skip
    assert summary[0]["train_minutes"] == "4.0" and summary[2]["valid"] == ""
    curves = read(out / "curves.csv")
    assert list(curves[0]) == ["run", "data", "preset", "seed", "step", "time_s", "metric",
                               "value"]  # fmt: skip
    assert {(c["run"], c["metric"]) for c in curves} == {
        ("m11-trm-s0", "val/exact_accuracy"), ("m11-trm-s0", "val/valid"),
        ("s4-trm-s0", "val/exact_accuracy")}  # fmt: skip
    assert (out / "curves.png").read_bytes()[:8] == PNG_MAGIC
    assert set(json.loads((out / "m11-trm-s0.json").read_text())) == {"maze-11x11", "maze-15x15"}
    supervised_results.main(supervised_results.Args(runs=(sudoku,), out_dir=out))
    assert len(read(out / "summary.csv")) == 3 and len(read(out / "curves.csv")) == len(curves)
    assert not list(out.glob("**/*.tmp"))
