"""``trm-rl tune-ppo``: the grid, equal-FLOP budgets, the choice on validation, resume."""

from __future__ import annotations

import csv
import json

import pytest

from experiments.cli import main
from experiments.tune_ppo import TuneArgs, grid_settings, summarise, tune


def test_the_grid_is_the_product_of_its_items() -> None:
    settings = grid_settings(("n_epochs=1,2", "batch-size=64,128,256"))
    assert len(settings) == 6
    assert settings[0] == {"n_epochs": 1, "batch_size": 64}
    assert {"n_epochs": 2, "batch_size": 256} in settings
    assert grid_settings(("learning_rate=3e-4",)) == [{"learning_rate": 3e-4}]


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        (("n_epochs",), "is not FIELD=V1,V2"),
        (("epochs=1,2",), "is not a PPO setting"),
        (("n_epochs=1", "n_epochs=2"), "twice"),
        (("n_epochs=0,1",), "n_epochs"),
    ],
)
def test_a_bad_grid_is_refused_with_its_reason(grid, message) -> None:
    with pytest.raises(ValueError, match=message):
        TuneArgs(grid=grid)


def trial(setting: str, seed: int, final: float, cost: float, episodes: int = 0) -> dict:
    return {"setting": setting, "seed": seed, "val_final": final, "val_best": final,
            "timesteps": 100, "flops_per_env_step": cost, "env_steps_per_s": 1 / cost,
            "val_episodes": episodes}  # fmt: skip


def test_the_cheapest_setting_within_one_standard_error_of_the_best_is_chosen() -> None:
    rows = summarise([trial("a", 0, 0.5, 4.0), trial("a", 1, 0.7, 4.0),
                      trial("b", 0, 0.55, 1.0), trial("b", 1, 0.55, 1.0),
                      trial("c", 0, 0.2, 0.5), trial("c", 1, 0.3, 0.5)])  # fmt: skip
    by = {r["setting"]: r for r in rows}
    assert by["a"]["val_mean"] == pytest.approx(0.6) and by["a"]["val_se"] == pytest.approx(0.1)
    # b is within one s.e. of a's 0.6 and cheaper; c is cheaper still but worse by more
    assert by["b"]["chosen"] and not by["a"]["chosen"] and not by["c"]["chosen"]


def test_a_better_setting_wins_when_the_difference_exceeds_the_noise() -> None:
    rows = summarise([trial("slow", 0, 0.9, 4.0, 1000), trial("slow", 1, 0.9, 4.0, 1000),
                      trial("fast", 0, 0.8, 1.0, 1000), trial("fast", 1, 0.8, 1.0, 1000)])  # fmt: skip
    by = {r["setting"]: r for r in rows}
    # the seeds agree (seed s.e. 0), so the binomial s.e. of 2,000 episodes is the noise
    assert by["slow"]["val_se"] == pytest.approx((0.9 * 0.1 / 2000) ** 0.5)
    assert by["slow"]["chosen"] and not by["fast"]["chosen"]
    close = summarise([trial("slow", 0, 0.9, 4.0, 20), trial("fast", 0, 0.85, 1.0, 20)])
    assert next(r for r in close if r["chosen"])["setting"] == "fast"  # within 0.067 of 0.9


def test_a_tiny_tuning_gives_each_setting_the_same_flops_and_resumes(tmp_path, monkeypatch):
    args = TuneArgs(
        env="trm_rl/Maze-v0", env_set=("size=5",), policy="mlp", flops=2e8,
        grid=("n_epochs=1,4", "n_envs=4", "n_steps=16", "batch_size=32"), seeds=(0, 1),
        val_episodes=8, evals=2, out=tmp_path / "out", runs_dir=tmp_path / "runs",
    )  # fmt: skip
    result = tune(args)
    trials = result["trials"]
    assert len(trials) == 4
    one, four = (
        next(t for t in trials if t["setting"].startswith(f"n_epochs={k} ")) for k in (1, 4)
    )
    assert four["flops_per_env_step"] > 2 * one["flops_per_env_step"]  # more epochs cost more
    assert one["timesteps"] > four["timesteps"]  # ... so they see fewer env steps
    for t in trials:  # each within one rollout (64 env steps) of the budget
        assert 2e8 - 64 * t["flops_per_env_step"] <= t["flops"] <= 2e8
        assert 0.0 <= t["val_final"] <= t["val_best"] <= 1.0
    with (tmp_path / "out" / "summary.csv").open() as f:
        summary = list(csv.DictReader(f))
    assert [r["n"] for r in summary] == ["2", "2"]
    best = json.loads((tmp_path / "out" / "best.json").read_text())
    chosen = next(r for r in summary if r["chosen"] == "True")
    assert best["chosen"]["n_epochs"] == int(chosen["setting"].split()[0].split("=")[1])
    assert best["command"].startswith("trm-rl tune-ppo --env trm_rl/Maze-v0 --env-set size=5")

    def no_training(cfg):
        raise AssertionError(f"{cfg.out} was finished and should be read back")

    import trm_rl.policies.train as train_module

    monkeypatch.setattr(train_module, "train_ppo", no_training)
    again = tune(args)
    assert [t["val_final"] for t in again["trials"]] == [t["val_final"] for t in trials]


def test_the_command_line_refuses_bad_input_without_a_traceback(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["tune-ppo", "--flops", "-1"])
    assert exit_info.value.code == 2
    assert "--flops" in capsys.readouterr().err
