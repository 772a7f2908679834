"""A PPO run keeps its step-0 agent and the agent of its best validation beside its last one,
validates each at the env step it was made at, and the studies score the one chosen on
validation with the last beside it."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from experiments.cli import main
from experiments.ppo_results import run_rows
from tests.test_ppo_train import tiny_run
from trm_rl.policies import train as train_module
from trm_rl.policies.paired import PUZZLES_KEY
from trm_rl.policies.train import BEST_AGENT, evaluate_ppo, load_agent, read_best, train_ppo

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def scripted_validation(monkeypatch: pytest.MonkeyPatch, scores: list[float]) -> None:
    """Validation returns ``scores`` in turn (the policy is not played)."""
    left = iter(scores)
    monkeypatch.setattr(
        train_module,
        "run_episodes",
        lambda *a, **k: SimpleNamespace(success_2x=next(left), length_ratio=1.0),
    )


@pytest.fixture
def scripted_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A 128-step run (64 env steps a rollout) validated at 0 (0.2), 64 (0.9) and at its end,
    128 (0.1): its best agent is the one of step 64."""
    out = tmp_path / "run"
    scripted_validation(monkeypatch, [0.2, 0.9, 0.1])
    train_ppo(tiny_run(out, timesteps=128))
    monkeypatch.undo()
    return out


def test_the_best_validation_is_kept_and_survives_a_resume(
    scripted_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = scripted_run
    assert read_best(out) == {"val/success_2x": 0.9, "timesteps": 64}
    with (out / "metrics.csv").open() as f:  # each validation is written at its own env step
        val = [(float(r["time/total_timesteps"]), float(r["val/success_2x"]))
               for r in csv.DictReader(f) if r["val/success_2x"]]  # fmt: skip
    assert val == [(0, 0.2), (64, 0.9), (128, 0.1)]
    assert load_agent(out, device="cpu", checkpoint="best").num_timesteps == 64
    assert load_agent(out, device="cpu").num_timesteps == 128
    # a resume compares with the stored best: 0.5 at 192 does not replace it, 0.9 at 256 does
    # (the latest of equals)
    scripted_validation(monkeypatch, [0.5, 0.9])
    train_ppo(tiny_run(out, timesteps=256, resume=True))
    assert read_best(out) == {"val/success_2x": 0.9, "timesteps": 256}


def test_evaluate_ppo_plays_the_chosen_checkpoint(scripted_run: Path) -> None:
    out = scripted_run
    best = evaluate_ppo(out, episodes=4, device="cpu", stochastic=False, checkpoint="best")
    last = evaluate_ppo(out, episodes=4, device="cpu", stochastic=False)
    assert (best["checkpoint"], best["train_timesteps"]) == ("best", 64)
    assert (last["checkpoint"], last["train_timesteps"]) == ("last", 128)
    init = evaluate_ppo(out, episodes=4, device="cpu", stochastic=False, checkpoint="init")
    assert (init["checkpoint"], init["train_timesteps"]) == ("init", 0)
    assert init[PUZZLES_KEY] == last[PUZZLES_KEY]  # the same puzzles: a paired comparison
    before = load_agent(out, device="cpu", checkpoint="init").policy.state_dict()
    after = load_agent(out, device="cpu").policy.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)  # PPO moved the policy
    with pytest.raises(ValueError, match="checkpoint must be one of"):
        evaluate_ppo(out, episodes=4, device="cpu", checkpoint="first")
    (out / BEST_AGENT).unlink()
    with pytest.raises(ValueError, match=r"kept no agent_best.zip .*--checkpoint last"):
        load_agent(out, device="cpu", checkpoint="best")


def test_the_command_line_plays_the_step_0_agent(scripted_run: Path, capsys) -> None:
    main(["evaluate-ppo", "--run", str(scripted_run), "--checkpoint", "init", "--episodes", "4",
          "--device", "cpu", "--no-stochastic"])  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert (report["checkpoint"], report["train_timesteps"]) == ("init", 0)


def test_run_rows_put_the_last_agent_beside_the_chosen_one(tmp_path: Path) -> None:
    out = tmp_path / "run"
    train_ppo(tiny_run(out, timesteps=128))
    best = evaluate_ppo(out, episodes=4, device="cpu", stochastic=False, checkpoint="best")
    last = evaluate_ppo(out, episodes=4, device="cpu", stochastic=False)
    last["deterministic"]["success_2x"] = 0.25  # told apart from the chosen agent's score
    (tmp_path / "run.json").write_text(json.dumps(best))
    (tmp_path / "run.last.json").write_text(json.dumps(last))
    rows, _ = run_rows(out, "study")
    assert len(rows) == 1  # the last agent's report is no row of its own
    (row,) = rows
    assert row["chosen_step"] == best["train_timesteps"] and row["steps"] == 128
    assert row["score_last"] == 0.25


def test_evaluate_ppo_plays_on_the_threads_it_is_given(
    scripted_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """evaluate_ppo plays with ``threads`` torch threads (1 by default: 64-env waves are too
    small for a second thread) and gives the caller's count back, also when it fails."""
    out = scripted_run
    seen: list[int] = []
    play = train_module.play_episodes

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return play(*args, **kwargs)

    monkeypatch.setattr(train_module, "play_episodes", spy)
    torch.set_num_threads(2)
    try:
        evaluate_ppo(out, episodes=2, device="cpu", stochastic=False)
        assert seen and set(seen) == {1}
        assert torch.get_num_threads() == 2  # restored
        seen.clear()
        evaluate_ppo(out, episodes=2, device="cpu", stochastic=False, threads=None)
        assert set(seen) == {2}  # None: the caller's
        with pytest.raises(ValueError, match="threads"):
            evaluate_ppo(out, episodes=2, device="cpu", threads=0)
        with pytest.raises(ValueError, match="checkpoint must be one of"):
            evaluate_ppo(out, episodes=2, device="cpu", threads=1, checkpoint="first")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)
