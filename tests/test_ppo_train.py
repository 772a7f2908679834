"""``trm-rl train-ppo`` / ``evaluate-ppo`` / ``load_agent`` end to end on tiny budgets."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

import envs  # noqa: F401
from experiments.cli import _parse, edge_argv, main
from trm_rl.policies.config import PPOConfig, ppo_args, recipe_for, resolve_ppo
from trm_rl.policies.train import evaluate_ppo, load_agent, load_heldout, train_ppo

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = ("hidden_size=16", "num_heads=2")
POOL = ("pool_size=300",)  # a small training pool of mazes keeps the tests fast
PPO = dict(n_envs=4, n_steps=16, batch_size=32, n_epochs=1)
FAST = dict(val_episodes=8, test_episodes=16)


def tiny_args(out: Path, env: str = "trm_rl/Sudoku-4x4-v0", **changes):
    options = dict(
        out=out, timesteps=128, progress=False, tensorboard=False, model_set=TINY, ppo=PPO, **FAST
    )
    options.update(changes)
    return ppo_args(env, **options)


def tiny_run(out: Path, env: str = "trm_rl/Sudoku-4x4-v0", **changes) -> PPOConfig:
    return resolve_ppo(tiny_args(out, env, **changes))


@pytest.fixture(scope="module")
def sudoku_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ppo") / "s4"
    train_ppo(tiny_run(out))
    return out


def test_a_run_writes_config_agent_metrics_and_a_heldout_split(sudoku_run: Path) -> None:
    config = json.loads((sudoku_run / "config.json").read_text())
    assert config["algorithm"] == "MaskablePPO" and config["game"] == "sudoku"
    assert config["parameters"] > 0 and config["ppo"]["n_steps"] == 16
    with (sudoku_run / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert rows and {"val/success_2x", "time/total_timesteps", "train/policy_gradient_loss"} <= set(
        rows[0]
    )
    assert any(r["val/success_2x"] for r in rows)
    held = load_heldout(sudoku_run)
    assert len(held["val_puzzles"]) == 8 and len(held["test_puzzles"]) == 16
    # the training CSV never holds a held-out solution grid (4x4: split by solution)
    train_csv = next((sudoku_run / "data").glob("*.csv"))
    train_solutions = {
        line.split(",")[1].strip() for line in train_csv.read_text().splitlines()[1:]
    }
    for solution in held["test_solutions"]:
        assert "".join(map(str, solution.ravel())) not in train_solutions


def test_evaluate_ppo_reports_policy_random_and_oracle(sudoku_run: Path) -> None:
    report = evaluate_ppo(sudoku_run, episodes=16, device="cpu")
    for key in ("deterministic", "stochastic", "random", "oracle"):
        assert report[key]["episodes"] == 16
        assert 0.0 <= report[key]["success_2x"] <= report[key]["success"] <= 1.0
    assert report["oracle"]["success"] == 1.0 and report["oracle"]["length_ratio"] == 1.0
    assert report["train_timesteps"] >= 128


def test_evaluate_ppo_cli_prints_json(sudoku_run: Path, capsys: pytest.CaptureFixture) -> None:
    main(["evaluate-ppo", "--run", str(sudoku_run), "--episodes", "4", "--device", "cpu"])
    report = json.loads(capsys.readouterr().out)
    assert report["oracle"]["episodes"] == 4


def test_load_agent_predicts_on_one_gym_make_env(sudoku_run: Path) -> None:
    agent = load_agent(sudoku_run, device="cpu")
    env = gym.make("trm_rl/Sudoku-4x4-v0")
    obs, _ = env.reset(seed=0)
    mask = env.unwrapped.action_masks()
    action, state = agent.predict(obs, deterministic=True, action_masks=mask)
    assert state is None and mask[int(action)]
    batched, _ = agent.predict(
        {k: v[None] for k, v in obs.items()}, deterministic=True, action_masks=mask[None]
    )
    assert batched.shape == (1,) and int(batched[0]) == int(action)


def test_resume_continues_to_the_full_budget(tmp_path: Path) -> None:
    out = tmp_path / "r"
    train_ppo(tiny_run(out, timesteps=64, checkpoint_seconds=0.0))
    assert load_agent(out, device="cpu").num_timesteps == 64
    train_ppo(tiny_run(out, timesteps=128, resume=True))
    assert load_agent(out, device="cpu").num_timesteps == 128
    with (out / "metrics.csv").open() as f:
        steps = [float(r["time/total_timesteps"]) for r in csv.DictReader(f)]
    assert steps == sorted(steps) and steps[-1] == 128


def test_a_killed_run_resumes_from_its_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trm_rl.policies import train as train_module

    out = tmp_path / "k"
    original = train_module.RunCallback._on_step

    def killed(self) -> bool:
        if self.num_timesteps >= 96:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(train_module.RunCallback, "_on_step", killed)
    with pytest.raises(KeyboardInterrupt):
        train_ppo(tiny_run(out, timesteps=128, checkpoint_seconds=0.0))
    saved = load_agent(out, device="cpu").num_timesteps
    assert 0 < saved < 128  # the last checkpoint, taken between updates
    monkeypatch.setattr(train_module.RunCallback, "_on_step", original)
    train_ppo(tiny_run(out, timesteps=128, resume=True))
    assert load_agent(out, device="cpu").num_timesteps == 128


def test_resume_with_other_options_or_a_fresh_run_on_an_old_dir_is_refused(
    sudoku_run: Path,
) -> None:
    with pytest.raises(ValueError, match="already holds a run"):
        train_ppo(tiny_run(sudoku_run))
    with pytest.raises(ValueError, match="--resume continues a run with its own options"):
        train_ppo(tiny_run(sudoku_run, resume=True, seed=3))


def test_carry_run_and_maze_size_transfer(tmp_path: Path) -> None:
    out = tmp_path / "m"
    short = (*POOL, "max_steps=24")  # untrained policies wander until the step limit
    train_ppo(tiny_run(out, env="trm_rl/Maze-5x5-v0", policy="trm-carry", env_set=short))
    config = json.loads((out / "config.json").read_text())
    assert config["algorithm"] == "CarryMaskablePPO" and config["config"]["model"]["H_cycles"] == 1
    report = evaluate_ppo(out, env="trm_rl/Maze-9x9-v0", episodes=8, device="cpu")
    assert report["env"] == "trm_rl/Maze-9x9-v0" and report["deterministic"]["episodes"] == 8
    assert report["oracle"]["success_2x"] == 1.0


def test_act_thinking_run_reports_thinking_steps_beside_full_thinking(
    tmp_path: Path, sudoku_run: Path
) -> None:
    out = tmp_path / "act"
    short = (*POOL, "max_steps=24")
    train_ppo(
        tiny_run(out, env="trm_rl/Maze-5x5-v0", policy="trm-carry", env_set=short, halt_max_steps=3)
    )
    with (out / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert any(r.get("rollout/think_steps") for r in rows)
    report = evaluate_ppo(out, episodes=8, device="cpu", max_steps=12, stochastic=False)
    assert "stochastic" not in report and report["max_steps"] == 12
    assert report["deterministic_full_thinking"]["think_steps"] == 3.0
    assert 1.0 <= report["deterministic"]["think_steps"] <= 3.0
    assert max(report[k]["mean_length"] for k in ("deterministic", "random", "oracle")) <= 12
    # The thinking-time curve: halting thresholds beside fixed rounds, in one report.
    curve = evaluate_ppo(out, episodes=8, device="cpu", max_steps=12, stochastic=False,
                         halt_thresholds=(0.5, 0.99), fixed_rounds=(1, 3),
                         confidence_thresholds=(0.3, 0.999999))  # fmt: skip
    assert curve["deterministic_rounds_1"]["think_steps"] == 1.0
    assert curve["deterministic_rounds_3"] == curve["deterministic_full_thinking"]
    assert curve["deterministic_halt_0.5"] == curve["deterministic"]
    rounds = [curve[f"deterministic_halt_{t}"]["think_steps"] for t in ("0.5", "0.99")]
    assert 1.0 <= rounds[0] <= rounds[1] <= 3.0  # a higher threshold never thinks less
    # halting by confidence: any legal action is >= 1/4 likely, so 0.3 rarely thinks on
    sure = [curve[f"deterministic_confidence_{t}"]["think_steps"] for t in ("0.3", "0.999999")]
    assert 1.0 <= sure[0] <= sure[1] <= 3.0
    where = curve["deterministic_confidence_0.999999"]["think_steps_by_moves"]
    assert set(where) <= {"1", "2", "3", "4"} and all(
        1 <= v["think_steps"] <= 3 for v in where.values()
    )
    total = sum(v["actions"] * v["think_steps"] for v in where.values()) / sum(
        v["actions"] for v in where.values()
    )
    assert total == pytest.approx(sure[1])  # the buckets add up to the mean rounds
    with pytest.raises(ValueError, match=r"confidence-thresholds must be probabilities"):
        evaluate_ppo(out, episodes=4, device="cpu", confidence_thresholds=(1.0,))
    with pytest.raises(ValueError, match=r"fixed-rounds must be in \[1, 3\]"):
        evaluate_ppo(out, episodes=4, device="cpu", fixed_rounds=(4,))
    with pytest.raises(ValueError, match="trm-carry run with ACT thinking"):
        evaluate_ppo(sudoku_run, episodes=4, device="cpu", halt_thresholds=(0.9,))
    with pytest.raises(ValueError, match="trm-carry"):
        tiny_run(out, halt_max_steps=3)


def test_init_from_copies_the_supervised_trm(tmp_path: Path) -> None:
    from trm_rl.supervised.commands import load_run
    from trm_rl.supervised.config import resolve_train, train_args
    from trm_rl.supervised.trainer import train

    sup = tmp_path / "sup"
    train(
        resolve_train(
            train_args(
                "maze-9x9", out=sup, steps=2, optim={"batch_size": 4}, progress=False,
                tensorboard=False, eval_size=4, model_set=TINY, threads=1,
            )
        )
    )  # fmt: skip
    model, _ = load_run(sup, device="cpu")
    out = tmp_path / "p"
    args = tiny_args(
        out, env="trm_rl/Maze-9x9-v0", timesteps=16, model_set=(), init_from=sup, env_set=POOL
    )
    cfg = resolve_ppo(args)
    from trm_rl.policies.agents import build_agent
    from trm_rl.policies.vec_env import make_sb3_vec_env

    venv = make_sb3_vec_env(cfg.env.id, 4, seed=0, **cfg.env.kwargs)
    agent, info = build_agent(cfg, venv, torch.device("cpu"))
    for key, value in model.state_dict().items():
        torch.testing.assert_close(agent.policy.trm.state_dict()[key], value)
    built = info["policy_kwargs"]["model"]
    assert built["hidden_size"] == 16 and built["H_cycles"] == 2
    assert cfg.model.hidden_size == 16 and cfg.model.H_cycles == 2
    # a pretrained maze policy fine-tunes at the recipe's lower learning rate
    recipe = recipe_for(cfg.env.id, "maze")
    assert cfg.ppo.learning_rate == 3e-5 == recipe.init_learning_rate
    scratch = resolve_ppo(dataclasses.replace(args, init_from=None))
    assert scratch.ppo.learning_rate == 3e-4
    with pytest.raises(ValueError, match="pass the --out folder of a trm-rl train-supervised run"):
        train_ppo(tiny_run(tmp_path / "q", init_from=tmp_path / "missing"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env", "trm_rl/Nope-v0", "--timesteps", "8"], "unknown env id"),
        (["--timesteps", "8", "--minutes", "1"], "exactly one budget"),
        (["--timesteps", "8", "--model-set", "hidden"], "KEY=VALUE"),
    ],
)
def test_train_ppo_cli_errors_are_one_clear_line(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as err:
        main(["train-ppo", "--out", str(tmp_path / "x"), "--no-progress", *args])
    captured = capsys.readouterr()  # tyro prints config errors; ours are the exit message
    assert message in str(err.value) + captured.err
    assert "Traceback" not in captured.err


def test_evaluate_ppo_on_a_folder_that_is_not_a_run(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as err:
        main(["evaluate-ppo", "--run", str(tmp_path)])
    message = str(err.value) + capsys.readouterr().err
    assert "not a run directory" in message and "trm-rl train-ppo" in message
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(SystemExit) as err:
        main(["evaluate-ppo", "--run", str(tmp_path)])
    assert "not the config of a trm-rl run" in str(err.value) + capsys.readouterr().err


def test_agent_act_plays_whole_waves(sudoku_run: Path) -> None:
    from trm_rl.policies.train import agent_act

    act = agent_act(load_agent(sudoku_run, device="cpu"))
    venv = gym.make_vec("trm_rl/Sudoku-4x4-v0", 3, vectorization_mode="vector_entry_point")
    obs, _ = venv.reset(seed=0)
    actions = act(obs, obs["action_mask"].astype(bool), np.ones(3, dtype=bool))
    assert actions.shape == (3,) and obs["action_mask"][np.arange(3), actions].all()


@pytest.mark.parametrize("policy", ["mlp", "conv", "trm-h1l1"])
def test_baseline_policies_train_and_match_the_trm_size(policy: str, tmp_path: Path) -> None:
    out = tmp_path / policy
    sized = ("hidden_size=48", "num_heads=2")  # above the conv baseline's smallest size
    train_ppo(tiny_run(out, policy=policy, timesteps=64, model_set=sized))
    config = json.loads((out / "config.json").read_text())
    trm = tmp_path / "trm"
    train_ppo(tiny_run(trm, timesteps=64, model_set=sized))
    reference = json.loads((trm / "config.json").read_text())["parameters"]
    assert abs(config["parameters"] - reference) <= 0.05 * reference or policy == "trm-h1l1"
    if policy == "trm-h1l1":
        model = config["config"]["model"]
        assert model["H_cycles"] == 1 and model["L_cycles"] == 1
        assert config["parameters"] == reference
    assert evaluate_ppo(out, episodes=4, device="cpu")["deterministic"]["episodes"] == 4


def test_evaluate_ppo_plays_a_puzzle_csv(sudoku_run: Path, tmp_path: Path) -> None:
    from envs.sudoku.io import write_sudoku_csv
    from envs.sudoku.pool import SudokuPool

    held = load_heldout(sudoku_run)
    path = tmp_path / "p.csv"
    write_sudoku_csv(SudokuPool(held["test_puzzles"][:5], held["test_solutions"][:5]), path, "t")
    report = evaluate_ppo(sudoku_run, puzzles=path, episodes=5, device="cpu")
    assert report["puzzles"] == str(path) and report["oracle"]["success"] == 1.0
    with pytest.raises(ValueError, match="does not exist"):
        evaluate_ppo(sudoku_run, puzzles=tmp_path / "missing.csv", episodes=5, device="cpu")


# ------------------------------------------------------------------------------- curriculum
CURRICULUM = dict(env_set=(*POOL, "size=7", "max_steps=24"), curriculum=(5, 6))


def curriculum_run(out: Path, env: str = "trm_rl/Maze-v0", **changes) -> PPOConfig:
    """Maze-v0 at 7x7 after stages of 5x5 and 6x6; rollouts of 4 x 16 = 64 env steps."""
    return tiny_run(out, env=env, **{**CURRICULUM, **changes})


def record_rollouts(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, int]]:
    """``(env steps after the rollout, maze side in the buffer, stage)`` of every rollout."""
    from trm_rl.policies import train as train_module

    seen: list[tuple[int, int, int]] = []
    original = train_module.RunCallback._on_rollout_end

    def spy(self) -> None:
        side = self.model.rollout_buffer.observations["grid"].shape[-1]
        seen.append((self.num_timesteps, side, self.stage.index))
        original(self)

    monkeypatch.setattr(train_module.RunCallback, "_on_rollout_end", spy)
    return seen


def test_curriculum_stages_split_the_budget_at_rollout_boundaries(tmp_path: Path) -> None:
    from trm_rl.policies.train import Stage, curriculum_stages, stage_at

    # 256 steps in thirds (85.3 each) rounded up to whole 64-step rollouts: 0, 128, 192
    stages = curriculum_stages(curriculum_run(tmp_path, timesteps=256))
    assert stages == (Stage(0, 5, 0, 128), Stage(1, 6, 128, 192), Stage(2, 7, 192, None))
    assert [stage_at(stages, n).index for n in (0, 127, 128, 191, 192, 10**6)] == [0, 0, 1, 1, 2, 2]
    # the env's size may be listed; then it is not added again
    listed = curriculum_stages(curriculum_run(tmp_path, timesteps=256, curriculum=(5, 7)))
    assert [(s.size, s.start) for s in listed] == [(5, 0), (7, 128)]
    assert curriculum_stages(tiny_run(tmp_path)) == (Stage(0, None, 0, None),)


@pytest.mark.parametrize("policy", ["trm", "trm-carry", "convnet"])
def test_curriculum_trains_each_size_at_its_env_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy: str
) -> None:
    seen = record_rollouts(monkeypatch)
    out = tmp_path / policy
    train_ppo(curriculum_run(out, timesteps=256, policy=policy))
    assert seen == [(64, 5, 0), (128, 5, 0), (192, 6, 1), (256, 7, 2)]
    with (out / "metrics.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r.get("curriculum/stage")]
    logged = {(float(r["time/total_timesteps"]), float(r["curriculum/size"])) for r in rows}
    assert logged == {(0, 5), (64, 5), (128, 5), (192, 6), (256, 7)}
    # validations at step 0, at the due boundaries and at the end of every stage, each written
    # at its env step, always on the env's own 7x7 mazes
    validated = {float(r["time/total_timesteps"]) for r in rows if r.get("val/success_2x")}
    assert validated == {0, 64, 128, 192, 256}
    assert load_heldout(out)["val_puzzles"].shape[1:] == (7, 7)
    agent = load_agent(out, device="cpu")
    assert agent.num_timesteps == 256 and agent.observation_space["grid"].shape == (7, 7)


def test_a_resumed_curriculum_continues_in_its_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trm_rl.policies import train as train_module

    out = tmp_path / "c"
    # 384 steps: stage 0 [0, 128) 5x5, stage 1 [128, 256) 6x6, stage 2 [256, 384) 7x7
    original = train_module.RunCallback._on_step

    def killed(self) -> bool:
        if self.num_timesteps >= 200:  # in the second rollout of stage 1
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(train_module.RunCallback, "_on_step", killed)
    with pytest.raises(KeyboardInterrupt):
        train_ppo(curriculum_run(out, timesteps=384, checkpoint_seconds=0.0))
    assert load_agent(out, device="cpu").num_timesteps == 192  # checkpoint inside stage 1
    monkeypatch.setattr(train_module.RunCallback, "_on_step", original)
    with pytest.raises(ValueError, match="resume it with that budget"):
        train_ppo(curriculum_run(out, timesteps=512, resume=True))
    seen = record_rollouts(monkeypatch)
    train_ppo(curriculum_run(out, timesteps=384, resume=True))
    assert seen == [(256, 6, 1), (320, 7, 2), (384, 7, 2)]
    assert load_agent(out, device="cpu").num_timesteps == 384


@pytest.mark.parametrize(
    ("env", "changes", "match"),
    [
        ("trm_rl/Sudoku-4x4-v0", {"env_set": (), "curriculum": (5,)}, "plays Sudoku"),
        ("trm_rl/Maze-v0", {"policy": "mlp"}, "the MLP is built for one grid size"),
        ("trm_rl/Maze-v0", {"model_set": (*TINY, "mixer=attention")}, "mixer='attention'"),
        ("trm_rl/Maze-v0", {"curriculum": (6, 5)}, "sizes must increase"),
        ("trm_rl/Maze-v0", {"curriculum": (5, 5)}, "sizes must increase"),
        ("trm_rl/Maze-v0", {"curriculum": (5, 9)}, "at most at the env's size 7"),
        ("trm_rl/Maze-v0", {"curriculum": (3, 5)}, "smallest generated maze is 5x5"),
        ("trm_rl/Maze-v0", {"timesteps": 128}, r"--timesteps >= 192"),
        ("trm_rl/Maze-v0", {"timesteps": None, "minutes": 1.0}, "not --minutes"),
        ("trm_rl/MazeHard-v0", {"env_set": ()}, "square generated mazes"),
    ],
)
def test_curriculum_refusals(tmp_path: Path, env: str, changes: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        curriculum_run(tmp_path, **{"env": env, "timesteps": 256, **changes})


@pytest.mark.parametrize("flag", [["5,7,9"], ["5", "7", "9"], ["5,7", "9"]])
def test_the_curriculum_flag_takes_commas_or_spaces(flag: list[str]) -> None:
    args = _parse(edge_argv(["train-ppo", "--env", "trm_rl/Maze-9x9-v0", "--curriculum", *flag]))
    assert args.curriculum == (5, 7, 9)
    assert _parse(["train-ppo"]).curriculum == ()


def test_a_curriculum_that_is_not_sizes_is_refused_by_name(capsys) -> None:
    with pytest.raises(SystemExit):
        _parse(["train-ppo", "--curriculum", "5,seven"])
    err = capsys.readouterr().err
    assert "'seven' is not a maze size; pass sizes such as" in err and "5,7,9" in err


def test_init_from_takes_a_shipped_model_by_name(tmp_path: Path) -> None:
    """--init-from maze-11x11: the shipped conv TRM initialises a 9x9 maze policy (the conv
    mixer takes any grid), its card's training minutes count as pre-training."""
    from experiments.ppo_results import pretrain_minutes
    from trm_rl.policies.agents import build_agent
    from trm_rl.policies.vec_env import make_sb3_vec_env
    from trm_rl.pretrained import card, load_pretrained

    args = tiny_args(tmp_path / "p", env="trm_rl/Maze-9x9-v0", timesteps=16, model_set=(),
                     init_from=Path("maze-11x11"), env_set=POOL)  # fmt: skip
    cfg = resolve_ppo(args)
    shipped = load_pretrained("maze-11x11", "cpu")
    assert cfg.model.hidden_size == shipped.config.hidden_size and cfg.model.seq_len == 81
    venv = make_sb3_vec_env(cfg.env.id, 2, seed=0, **cfg.env.kwargs)
    agent, _ = build_agent(cfg, venv, torch.device("cpu"))
    for key, value in shipped.state_dict().items():
        torch.testing.assert_close(agent.policy.trm.state_dict()[key], value)
    stored = {"format": 2, "regime": "ppo", "config": cfg.to_dict()}
    assert pretrain_minutes(stored) == pytest.approx(card("maze-11x11")["train_seconds"] / 60)
    with pytest.raises(ValueError, match="trained on sudoku puzzles; this env plays maze"):
        resolve_ppo(dataclasses.replace(args, init_from=Path("sudoku-4x4")))
    with pytest.raises(ValueError, match="neither a run folder nor a shipped model"):
        resolve_ppo(dataclasses.replace(args, init_from=Path("maze-99x99")))


def test_policy_ppo_defaults_sit_between_the_recipe_and_the_user(monkeypatch) -> None:
    """A policy's tuned PPO defaults replace the recipe's; a value the user sets wins."""
    from trm_rl.policies import config as policy_config

    monkeypatch.setitem(policy_config.POLICY_PPO_DEFAULTS, "trm-carry", {"n_epochs": 1})
    recipe = recipe_for("trm_rl/Maze-9x9-v0", "maze").ppo
    carry = resolve_ppo(ppo_args(policy="trm-carry", timesteps=4096))
    assert carry.ppo.n_epochs == 1 and carry.ppo.batch_size == recipe.batch_size
    mine = resolve_ppo(ppo_args(policy="trm-carry", timesteps=4096, ppo={"n_epochs": 3}))
    assert mine.ppo.n_epochs == 3
    other = resolve_ppo(ppo_args(policy="trm", timesteps=4096))
    assert other.ppo.n_epochs == recipe.n_epochs


def test_a_run_without_a_budget_trains_the_recipes_env_steps() -> None:
    """No --timesteps and no --minutes: the env recipe's step budget (from scratch, or the
    fine-tuning one with --init-from), validated 10 times; either flag set replaces it."""
    recipe = recipe_for("trm_rl/Maze-9x9-v0", "maze")
    scratch = resolve_ppo(ppo_args("trm_rl/Maze-9x9-v0"))
    assert scratch.timesteps == recipe.timesteps and scratch.minutes is None
    assert scratch.eval_every_steps == recipe.timesteps // 10
    tuned = resolve_ppo(ppo_args("trm_rl/Maze-9x9-v0", init_from=Path("maze-11x11")))
    assert tuned.timesteps == recipe.init_timesteps != recipe.timesteps
    assert tuned.eval_every_steps == recipe.init_timesteps // recipe.init_evals
    mine = resolve_ppo(ppo_args("trm_rl/Maze-9x9-v0", init_from=Path("maze-11x11"),
                                eval_every_steps=1024))  # fmt: skip
    assert mine.eval_every_steps == 1024
    sudoku = resolve_ppo(ppo_args("trm_rl/Sudoku-4x4-v0", init_from=Path("sudoku-4x4")))
    assert sudoku.timesteps == recipe_for("trm_rl/Sudoku-4x4-v0", "sudoku").init_timesteps
    assert resolve_ppo(ppo_args("trm_rl/Maze-9x9-v0", timesteps=64)).timesteps == 64
    clock = resolve_ppo(ppo_args("trm_rl/Maze-9x9-v0", minutes=2.0))
    assert clock.timesteps is None and clock.minutes == 2.0
