"""``trm-rl test-time``: the score of the shipped sudoku-4x4 model against sampled solves and
test-time steps, read off one solve of the largest N (no training in these tests)."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import pytest
import torch

from experiments import test_time
from experiments.cli import main
from experiments.stats import binomial_se
from experiments.test_time import CSV_NAME, FIELDS, TestTimeArgs, run_test_time
from trm_rl.data.build import make_data
from trm_rl.data.config import DataConfig
from trm_rl.pretrained import card, load_pretrained
from trm_rl.supervised.commands import evaluate_run
from trm_rl.supervised.sampling import SamplingConfig, predict_samples, sampled_scores

pytestmark = pytest.mark.usefixtures("one_torch_thread")
MODEL = "sudoku-4x4"
LIMIT = 24
SAMPLES = (1, 2, 4)
STEPS = (1, 2, 8, 12)  # the model trained with 8; 12 thinks longer


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory, one_torch_thread: None) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("test_time")
    args = TestTimeArgs(model=MODEL, limit=LIMIT, samples=SAMPLES, max_steps=STEPS, out=out,
                        device="cpu")  # fmt: skip
    return run_test_time(args)


def _csv(result: dict[str, Any]) -> list[dict[str, str]]:
    with open(result["csv"], newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == FIELDS
        return list(reader)


def _row(rows: list[dict[str, Any]], axis: str, how: str, n: int, steps: int) -> dict[str, Any]:
    (row,) = [r for r in rows if (r["axis"], r["select"], r["samples"], r["steps"]) ==
              (axis, how, n, steps)]  # fmt: skip
    return row


def test_the_csv_has_one_row_per_cell_of_both_axes(result: dict[str, Any]) -> None:
    rows = _csv(result)
    assert result["csv"] == result["out"] / CSV_NAME
    selects = ("vote", "confidence")
    # samples axis: every (select, N) at the trained 8 steps; steps axis: the single sample and
    # every selection over the largest N at every step count
    assert len(rows) == len(selects) * len(SAMPLES) + len(STEPS) * (1 + len(selects))
    cells = {(r["axis"], r["select"], int(r["samples"]), int(r["steps"])) for r in rows}
    assert len(cells) == len(rows)
    assert {c for c in cells if c[0] == "samples"} == {
        ("samples", s, n, 8) for s in selects for n in SAMPLES
    }
    assert {c for c in cells if c[0] == "steps"} == {
        ("steps", s, n, t) for s, n in (("single", 1), ("vote", 4), ("confidence", 4))
        for t in STEPS
    }  # fmt: skip
    for r in rows:
        assert (r["model"], r["data"], r["split"]) == (MODEL, MODEL, "test")
        assert (float(r["noise"]), int(r["seed"]), int(r["puzzles"])) == (0.5, 0, LIMIT)
        assert r["valid"] == ""  # Sudoku: no maze validity
        score = float(r["score"])
        assert 0.0 <= score <= float(r["any_exact"]) <= 1.0
        assert float(r["score_se"]) == pytest.approx(binomial_se(score, LIMIT))
        seconds = float(r["seconds"])
        assert seconds > 0 and float(r["puzzles_per_s"]) == pytest.approx(LIMIT / seconds)


def test_one_sample_is_the_deterministic_evaluate_score(result: dict[str, Any]) -> None:
    rows = result["rows"]
    plain = evaluate_run(None, model=MODEL, limit=LIMIT, device="cpu", max_steps=max(STEPS))
    at_8 = evaluate_run(None, model=MODEL, limit=LIMIT, device="cpu")  # the trained 8 steps
    for how in ("vote", "confidence"):
        assert _row(rows, "samples", how, 1, 8)["score"] == at_8["exact_accuracy"]
    for steps in STEPS:  # thinking longer: evaluate's exact accuracy after each step
        assert _row(rows, "steps", "single", 1, steps)["score"] == plain["exact_by_step"][steps - 1]


def test_prefixes_of_the_largest_solve_equal_direct_n_sample_solves(
    result: dict[str, Any],
) -> None:
    model = load_pretrained(MODEL, device="cpu")
    inputs, labels = make_data(DataConfig(**card(MODEL)["data"])).split("test")
    inputs, labels = inputs[:LIMIT], labels[:LIMIT]
    for n in SAMPLES[1:]:
        config = SamplingConfig(samples=n, seed=0, noise=0.5)
        answers, confidence = predict_samples(model, inputs, (4, 4), 8, torch.device("cpu"),
                                              config)  # fmt: skip
        direct = sampled_scores(inputs, labels, answers, confidence, "sudoku", (4, 4), config)
        for how in ("vote", "confidence"):
            row = _row(result["rows"], "samples", how, n, 8)
            assert row["score"] == direct[f"exact_accuracy_{how}"]
            assert row["any_exact"] == direct["exact_accuracy_any"]
    # the steps axis at the trained count is the samples axis's largest N
    for how in ("vote", "confidence"):
        assert (_row(result["rows"], "steps", how, 4, 8)["score"] ==
                _row(result["rows"], "samples", how, 4, 8)["score"])  # fmt: skip


def test_both_plots_are_written(result: dict[str, Any]) -> None:
    names = [p.name for p in result["plots"]]
    assert names == ["score_vs_samples.png", "score_vs_steps.png"]
    for path in result["plots"]:
        assert path.parent == result["out"]
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def test_the_command_prints_the_table_and_defaults_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(test_time, "DEFAULT_ROOT", tmp_path)
    main(["test-time", "--model", MODEL, "--limit", "4", "--samples", "2", "--max-steps", "1",
          "--select", "vote", "--device", "cpu"])  # fmt: skip
    out = capsys.readouterr().out
    folder = tmp_path / f"{MODEL}_{MODEL}_first4"
    assert str(folder / CSV_NAME) in out and "exact %" in out
    rows = list(csv.DictReader((folder / CSV_NAME).open(newline="")))
    # N=1 is always scored (the reference line); the steps axis adds 1 step and the trained 8
    assert sorted((r["axis"], r["select"], r["samples"], r["steps"]) for r in rows) == [
        ("samples", "vote", "1", "8"), ("samples", "vote", "2", "8"),
        ("steps", "single", "1", "1"), ("steps", "vote", "2", "1"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--run", "RUN", "--model", MODEL], r"give either a run directory .* not both"),
        (["--model", "nope"], r"no pretrained model named 'nope'"),
        (["--model", MODEL, "--samples", "0"], r"--samples must be >= 1"),
        (["--model", MODEL, "--max-steps", "0"], r"--max-steps must be >= 1"),
        (["--model", MODEL, "--noise", "0"], r"noise must be > 0"),
        (["--model", MODEL, "--threads", "0"], r"--threads must be >= 1"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture, argv: list[str], message: str
) -> None:
    out = tmp_path / "out"
    argv = [str(tmp_path) if a == "RUN" else a for a in argv]
    with pytest.raises(SystemExit) as info:
        main(["test-time", *argv, "--limit", "4", "--out", str(out), "--device", "cpu"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("trm-rl test-time: ")
    assert re.search(message, err)
    assert not out.exists()  # nothing written
