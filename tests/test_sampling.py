"""Test-time sampling: perturbed initial latents, confidence and vote selection, and the
``--samples`` options of evaluate and solve."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny_config

from trm_rl.data.build import make_data
from trm_rl.data.config import DataConfig
from trm_rl.model import TRM
from trm_rl.model.baselines import MLPConfig, MLPModel
from trm_rl.pretrained import card, load_pretrained
from trm_rl.supervised.commands import evaluate_run, solve_file
from trm_rl.supervised.sampling import (
    SamplingConfig,
    check_model,
    init_noise,
    perturbed_init,
    predict_samples,
    sample_start,
    sampled_scores,
    select,
    select_confidence,
    select_vote,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")
MODEL = "sudoku-4x4"  # the shipped model: a trained TRM, no training in these tests
PUZZLES = ["1.3...1.3.2...4.", "0000341221430000", "1..4............", "..3..4....1....2"]


def test_confidence_takes_the_surest_sample_and_vote_the_majority() -> None:
    a, b, c, d = [0, 0], [1, 1], [2, 2], [3, 3]
    # answers[k, j]: sample k's answer to puzzle j (N=4 samples, B=3 puzzles, L=2 cells)
    # puzzle 0: a 3-1 majority for a, the lone b is the most confident;
    # puzzle 1: four different answers; puzzle 2: a 2-2 tie, c with more summed confidence,
    # d with the most confident voter.
    answers = np.array([[a, a, c], [a, b, c], [a, c, d], [b, d, d]])
    confidence = np.array([[0.5, 0.1, 0.4], [0.6, 0.2, 0.5], [0.3, 0.8, 0.1], [0.9, 0.3, 0.6]])
    assert select_confidence(answers, confidence).tolist() == [3, 2, 3]
    chosen, votes = select_vote(answers, confidence)
    assert chosen.tolist() == [1, 2, 3]  # a by its surest voter; the surest; d by sample 3
    assert votes.tolist() == [3, 1, 2]
    chosen_c, votes_c = select(answers, confidence, "confidence")
    assert chosen_c.tolist() == [3, 2, 3] and votes_c.tolist() == [1, 1, 2]
    labels = np.array([a, c, c])
    inputs = np.zeros_like(labels)
    scores = sampled_scores(
        inputs, labels, answers, confidence, "sudoku", (1, 2), SamplingConfig(samples=4)
    )
    assert scores["exact_accuracy_single"] == pytest.approx(2 / 3)  # sample 0: a, a, c
    assert scores["exact_accuracy_confidence"] == pytest.approx(1 / 3)  # b, c, d
    assert scores["exact_accuracy_vote"] == pytest.approx(2 / 3)  # a, c, d
    assert scores["exact_accuracy_any"] == 1.0
    with pytest.raises(ValueError, match="select must be one of"):
        select(answers, confidence, "best")
    with pytest.raises(ValueError, match=r"answers must be \[N, B, L\]"):
        select_vote(answers[0], confidence)


def test_bad_sampling_options_are_refused() -> None:
    for bad, match in (
        (dict(samples=0), "samples must be >= 1"),
        (dict(select="mean"), "select must be one of"),
        (dict(noise=0.0), "noise must be > 0"),
        (dict(seed=-1), "seed must be >= 0"),
    ):
        with pytest.raises(ValueError, match=match):
            SamplingConfig(**bad)
    mlp = MLPModel(MLPConfig(vocab_size=6, seq_len=16))
    check_model(mlp, 1)
    with pytest.raises(ValueError, match=r"'mlp' model, which has none.*--samples 1"):
        check_model(mlp, 4)


def test_perturbed_init_changes_the_start_and_restores_the_model() -> None:
    torch.manual_seed(0)
    model = TRM(tiny_config()).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    inputs = torch.randint(1, 6, (3, 16))
    plain = model.solve(inputs, max_steps=3, halt=False)
    eps = init_noise(model, model.config.prefix_len + 16, 1, seed=0, noise=1.0)
    assert eps[0].shape == (model.config.prefix_len + 16, 32)
    with perturbed_init(model, *eps):
        start = model.reset_carry(torch.ones(3, dtype=torch.bool), model.initial_carry(
            {"inputs": inputs}).inner)  # fmt: skip
        noisy = model.solve(inputs, max_steps=3, halt=False)
    assert torch.equal(start.z_H[1], before["H_init"] + eps[0])  # every row the same start
    assert torch.equal(start.z_L[0], before["L_init"] + eps[1])
    assert not torch.equal(plain.trajectory_predictions, noisy.trajectory_predictions)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # buffers restored
    again = model.solve(inputs, max_steps=3, halt=False)
    assert torch.equal(again.trajectory_predictions, plain.trajectory_predictions)
    # the same seed and sample: the same draw; another sample or seed: another one
    same = init_noise(model, 18, 1, seed=0, noise=1.0)[0]
    assert torch.equal(same, eps[0])
    assert not torch.equal(same, init_noise(model, 18, 2, seed=0, noise=1.0)[0])
    assert not torch.equal(same, init_noise(model, 18, 1, seed=1, noise=1.0)[0])
    with sample_start(model, 18, 0, SamplingConfig(4)) as m:  # sample 0 is the plain start
        assert torch.equal(m.H_init, before["H_init"])


def _solve(tmp_path: Path, name: str, **options) -> list[dict]:
    path = tmp_path / "in.txt"
    path.write_text("\n".join(PUZZLES) + "\n")
    out = tmp_path / f"{name}.jsonl"
    assert solve_file(None, path, out, model=MODEL, device="cpu", **options) == len(PUZZLES)
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_solve_samples_1_is_todays_output_and_samples_4_is_seeded(tmp_path: Path) -> None:
    today = _solve(tmp_path, "today")
    assert _solve(tmp_path, "one", samples=1, seed=5) == today  # seed unused, same bytes
    assert all(set(r) == {"puzzle", "solution", "confidence", "steps"} for r in today)
    four = _solve(tmp_path, "four", samples=4, seed=1)  # vote
    assert _solve(tmp_path, "four-again", samples=4, seed=1) == four
    assert [r["puzzle"] for r in four] == PUZZLES
    for r in four:
        assert r["samples"] == 4 and 0.25 <= r["agreement"] <= 1.0
    sure = _solve(tmp_path, "sure", samples=4, seed=1, select_by="confidence")
    # sample 0 is the plain start: the confidence pick is never less sure than today's answer
    assert all(f["confidence"] >= t["confidence"] for f, t in zip(sure, today, strict=True))


def test_perturbed_starts_change_the_shipped_models_answers() -> None:
    model = load_pretrained(MODEL, device="cpu")
    data = make_data(DataConfig(**card(MODEL)["data"]))
    inputs = data.split("test")[0][:64]
    config = SamplingConfig(samples=3, seed=0, noise=1.0)
    answers, confidence = predict_samples(model, inputs, (4, 4), 8, torch.device("cpu"), config)
    assert answers.shape == (3, 64, 16) and confidence.shape == (3, 64)
    again = predict_samples(model, inputs, (4, 4), 8, torch.device("cpu"), config)
    assert np.array_equal(again[0], answers) and np.array_equal(again[1], confidence)
    for k in (1, 2):  # each perturbed sample changes some answer or its confidence
        assert not np.array_equal(answers[k], answers[0])
        assert not np.allclose(confidence[k], confidence[0])


def test_evaluate_reports_both_selections_beside_the_single_sample() -> None:
    plain = evaluate_run(None, model=MODEL, limit=64, device="cpu")
    assert "sampling" not in plain
    out = evaluate_run(None, model=MODEL, limit=64, device="cpu", samples=3, seed=2)
    sampled = out.pop("sampling")
    assert out == plain  # the usual metrics are the single sample's
    assert sampled["samples"] == 3 and sampled["seed"] == 2
    assert sampled["exact_accuracy_single"] == plain["exact_accuracy"]
    for key in ("confidence", "vote"):
        assert sampled[f"exact_accuracy_{key}"] <= sampled["exact_accuracy_any"]
    assert sampled["exact_accuracy_any"] >= plain["exact_accuracy"]
    again = evaluate_run(None, model=MODEL, limit=64, device="cpu", samples=3, seed=2)
    assert again["sampling"] == sampled
