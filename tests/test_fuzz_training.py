"""Probes of the training surfaces as a new user meets them: every bad input ends in one line
that names the problem (exit code 2, no traceback) and nothing a user has is overwritten."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from experiments.cli import main

SUP = ["--data", "sudoku-4x4", "--steps", "6", "--eval-size", "8", "--no-progress"]
PPO = ["--env", "trm_rl/Sudoku-4x4-v0", "--timesteps", "32", "--no-progress",
       "--val-episodes", "4", "--test-episodes", "8", "--ppo.n-envs", "4", "--ppo.n-steps", "8",
       "--ppo.batch-size", "16", "--model.hidden-size", "16"]  # fmt: skip


def run_cli(capsys: pytest.CaptureFixture, *argv: str) -> str:
    """Run the CLI, expect exit code 2 and return the one-line message."""
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in argv])
    assert info.value.code == 2, info.value
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A finished supervised run and a PPO run initialised from it (tiny)."""
    root = tmp_path_factory.mktemp("runs")
    sup, ppo = root / "sup", root / "ppo"
    main(["train-supervised", *SUP, "--out", str(sup), "--model.hidden-size", "16"])
    main(["train-ppo", *PPO, "--out", str(ppo)])
    return {"sup": sup, "ppo": ppo, "root": root}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train-supervised", "--data", "nope", "--steps", "5"], "unknown data name 'nope'"),
        (["train-supervised", "--steps", "0"], "steps must be >= 1"),
        (["train-supervised", "--steps", "-3"], "steps must be >= 1"),
        (["train-supervised", "--minutes", "nan"], "minutes must be finite"),
        (["train-supervised", "--data", "maze-hard"], "maze-hard has no recipe budget"),
        (["train-supervised", "--steps", "5", "--minutes", "1"], "give exactly one budget"),
        (["train-supervised", "--steps", "5", "--preset", "nope"], "unknown preset 'nope'"),
        (["train-supervised", "--steps", "5", "--model-set", "foo=1"], "unknown field 'foo'"),
        (["train-supervised", "--steps", "5", "--model-set", "H_cycles=x"], "not an int"),
        (["train-supervised", "--steps", "5", "--model.seq-len", "50"], "contradicts the data"),
        (
            ["train-supervised", "--steps", "5", "--model.kind", "mlp", "--model.H-cycles", "2"],
            "has no field(s) ['H_cycles']",
        ),
        (
            ["train-supervised", "--steps", "5", "--preset", "trm-h1l1", "--model.H-cycles", "3"],
            "give it once",
        ),
        (["train-supervised", "--steps", "5", "--data.braid", "0.5"], "applies to generated"),
        (["train-supervised", "--steps", "5", "--optim.lr-min-ratio", "2"], "lr_min_ratio"),
        (["train-ppo", "--env", "nope", "--timesteps", "5"], "unknown env id 'nope'"),
        (["train-ppo", "--policy", "nope", "--timesteps", "5"], "policy must be one of"),
        (["train-ppo", "--timesteps", "0"], "timesteps must be >= 1"),
        (["train-ppo", "--policy", "mlp", "--freeze-trm", "--timesteps", "5"], "freeze-trm"),
        (
            ["train-ppo", "--policy", "trm", "--think-rounds", "3", "--timesteps", "5"],
            "needs --policy trm-carry",
        ),
        (
            [
                "train-ppo",
                "--env",
                "trm_rl/Sudoku-4x4-v0",
                "--env.braid",
                "0.2",
                "--timesteps",
                "5",
            ],
            "has no option(s) ['braid']",
        ),
        (
            ["train-ppo", "--env", "trm_rl/Maze-9x9-v0", "--env.size", "11", "--timesteps", "5"],
            "registered with size=9",
        ),
        (["train-ppo", "--timesteps", "5", "--ppo.gamma", "2"], "gamma"),
        (["sweep", "nope", "--preset", "cpu-quick", "--dry-run"], "unknown study 'nope'"),
        (["sweep", "k_cycles", "--preset", "nope", "--dry-run"], "has no preset 'nope'"),
    ],
)
def test_bad_options_are_refused_in_one_line(
    capsys: pytest.CaptureFixture, tmp_path: Path, argv: list[str], message: str
) -> None:
    err = run_cli(capsys, *argv, *(["--out", tmp_path / "run"] if argv[0] != "sweep" else []))
    assert message in err
    assert not (tmp_path / "run").exists()


def test_runs_of_the_other_regime_or_game_are_refused(
    capsys: pytest.CaptureFixture, runs: dict[str, Path], tmp_path: Path
) -> None:
    sup, ppo = runs["sup"], runs["ppo"]
    assert "is a ppo run" in run_cli(capsys, "evaluate", "--run", ppo)
    assert "is a supervised run" in run_cli(capsys, "evaluate-ppo", "--run", sup)
    err = run_cli(capsys, "train-ppo", "--env", "trm_rl/Maze-9x9-v0", "--timesteps", "8",
                  "--init-from", sup, "--out", tmp_path / "p")  # fmt: skip
    assert "trained on sudoku puzzles" in err
    err = run_cli(capsys, "evaluate", "--run", sup, "--data", "maze-9x9")
    assert "holds maze puzzles" in err
    err = run_cli(capsys, "train-ppo", *PPO, "--init-from", ppo, "--out", tmp_path / "q")
    assert "is a ppo run" in err


def test_bad_puzzle_files_are_refused_and_nothing_is_written(
    capsys: pytest.CaptureFixture, runs: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "answers.jsonl"
    cases = {
        "1100000000000000\n": "contradictory givens",
        "123\n": "has 3 characters",
        "": "holds no puzzle",
        "12a4000000000000\n": "bad character 'a'",
        "0" * 81 + "\n": "built for 16 cells",
        "0000001200210300\n": "no solution",
    }
    for text, message in cases.items():
        path = tmp_path / "puzzles.txt"
        path.write_text(text)
        err = run_cli(capsys, "solve", "--run", runs["sup"], "--input", path, "--output", out)
        assert message in err, (text, err)
        assert not out.exists()
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("question,answer\n" + "#" * 20 + ",x\n")
    err = run_cli(capsys, "evaluate-ppo", "--run", runs["ppo"], "--puzzles", bad_csv)
    assert "bad.csv" in err


def test_damaged_runs_are_named_not_crashed_on(
    capsys: pytest.CaptureFixture, runs: dict[str, Path], tmp_path: Path
) -> None:
    sup, ppo = tmp_path / "sup", tmp_path / "ppo"
    shutil.copytree(runs["sup"], sup)
    shutil.copytree(runs["ppo"], ppo)
    weights = sup / "checkpoint" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:500])
    assert "truncated or corrupt" in run_cli(capsys, "evaluate", "--run", sup)
    (sup / "config.json").write_text("{bad")
    assert "the file is damaged" in run_cli(capsys, "evaluate", "--run", sup)
    (sup / "config.json").unlink()
    assert "no config.json" in run_cli(capsys, "evaluate", "--run", sup)
    agent = ppo / "agent.zip"
    original = agent.read_bytes()
    agent.write_bytes(original[: len(original) // 3])
    assert "agent.zip" in run_cli(capsys, "evaluate-ppo", "--run", ppo, "--episodes", "2")
    agent.write_bytes(original)
    config = json.loads((ppo / "config.json").read_text())
    config["config"]["model"]["hidden_size"] = 8
    (ppo / "config.json").write_text(json.dumps(config))
    err = run_cli(capsys, "evaluate-ppo", "--run", ppo, "--episodes", "2")
    assert "does not fit the run's config.json" in err


def test_resume_refuses_what_is_not_a_run_or_is_finished(
    capsys: pytest.CaptureFixture, runs: dict[str, Path], tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "holds no run" in run_cli(capsys, "train-supervised", *SUP, "--out", empty, "--resume")
    sup = tmp_path / "sup"
    shutil.copytree(runs["sup"], sup)
    before = (sup / "config.json").read_text()
    err = run_cli(capsys, "train-supervised", *SUP, "--out", sup, "--resume",
                  "--model.hidden-size", "16")  # fmt: skip
    assert "already finished its budget" in err
    err = run_cli(capsys, "train-supervised", *SUP, "--out", sup, "--model.hidden-size", "16")
    assert "already holds a run" in err
    err = run_cli(capsys, "train-supervised", *SUP, "--out", sup, "--resume")
    assert "these differ" in err
    assert (sup / "config.json").read_text() == before


def test_plot_and_sweep_refuse_folders_that_are_not_theirs(
    capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    assert "no runs.csv" in run_cli(capsys, "plot", tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    (other / "sweep.json").write_text(json.dumps({"study": "ablations", "preset": "cpu-full"}))
    err = run_cli(capsys, "sweep", "k_cycles", "--preset", "cpu-quick", "--out", other)
    assert "ablations" in err
