"""PPO's evaluation sizes: unset ones fit the puzzles available (with a note), set ones are kept
or refused, and a run stores the sizes it used."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import envs  # noqa: F401
from envs.sudoku.config import SudokuConfig
from envs.sudoku.io import write_sudoku_csv
from envs.sudoku.pool import SudokuPool, build_pool
from experiments.cli import main
from trm_rl.policies.agents import supervised_heldout_solutions
from trm_rl.policies.config import PPOConfig, ppo_args, resolve_ppo
from trm_rl.policies.split import heldout_room, heldout_split
from trm_rl.policies.train import (
    evaluate_ppo,
    fit_eval_sizes,
    load_heldout,
    stored_ppo_config,
    train_ppo,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SUDOKU = "trm_rl/Sudoku-4x4-v0"
#: The shipped 4x4 model held out 64 solution grids: 452 of the 2,000 pool puzzles.
EVALUABLE = 452
TINY_PPO = ["--ppo.n-envs", "2", "--ppo.n-steps", "16", "--ppo.batch-size", "32",
            "--ppo.n-epochs", "1", "--no-progress", "--no-tensorboard"]  # fmt: skip


def shipped_4x4(**options) -> PPOConfig:
    return resolve_ppo(ppo_args(SUDOKU, timesteps=32, init_from=Path("sudoku-4x4"), **options))


@pytest.fixture(scope="module")
def allowed() -> np.ndarray:
    return supervised_heldout_solutions("sudoku-4x4")


def test_heldout_room_is_the_largest_split_that_fits(allowed: np.ndarray, tmp_path: Path) -> None:
    room = heldout_room(SUDOKU, {}, 1200, eval_solutions_from=allowed)
    assert room is not None
    assert (room.puzzles, room.allowed, room.most) == (2000, EVALUABLE, EVALUABLE)
    assert room.source == "the 4x4 Sudoku pool"
    split = heldout_split(SUDOKU, {}, room.most, workdir=tmp_path, eval_solutions_from=allowed)
    assert len(split.eval_puzzles) == EVALUABLE
    with pytest.raises(ValueError, match="too few for eval_size=453"):
        heldout_split(SUDOKU, {}, room.most + 1, workdir=tmp_path, eval_solutions_from=allowed)
    # it stops at what is asked for, and generated mazes have no fixed set to run out of
    assert heldout_room(SUDOKU, {}, 300).most == 300  # type: ignore[union-attr]
    assert heldout_room("trm_rl/Maze-9x9-v0", {}, 10**6, by="layout") is None


def test_unset_sizes_shrink_to_the_puzzles_the_init_run_held_out(allowed: np.ndarray) -> None:
    cfg, note = fit_eval_sizes(shipped_4x4(), allowed)
    assert (cfg.val_episodes, cfg.test_episodes) == (75, 377)  # 452 split 1:5 like 200:1000
    assert note == (
        "note: the 4x4 Sudoku pool has 2,000 puzzles, 452 of them evaluable (their solutions "
        "were held out by --init-from sudoku-4x4): --val-episodes 200 -> 75, --test-episodes "
        "1000 -> 377 (defaults reduced to fit, leaving at least half the puzzles to training; "
        "set --val-episodes/--test-episodes to choose, up to 452 in all)"
    )
    # one size set: kept, the other takes the rest
    cfg, note = fit_eval_sizes(shipped_4x4(val_episodes=64), allowed)
    assert (cfg.val_episodes, cfg.test_episodes) == (64, 388)
    assert note is not None and "--test-episodes 1000 -> 388" in note
    assert "--val-episodes 200 ->" not in note
    cfg, note = fit_eval_sizes(shipped_4x4(test_episodes=300), allowed)
    assert (cfg.val_episodes, cfg.test_episodes) == (152, 300)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"val_episodes": 100, "test_episodes": 400},
         "--val-episodes 100 + --test-episodes 400 = 500 held-out puzzles, but the 4x4 Sudoku "
         "pool has 2,000 puzzles, 452 of them evaluable"),
        ({"val_episodes": 200, "test_episodes": 1000}, "at most 452 can be held out"),
        ({"test_episodes": 452}, "--test-episodes 452 leaves no room for the other split"),
    ],
)  # fmt: skip
def test_set_sizes_that_do_not_fit_are_refused(
    options: dict, message: str, allowed: np.ndarray, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match=message.replace("+", r"\+")):
        fit_eval_sizes(shipped_4x4(**options), allowed)
    out = tmp_path / "run"
    with pytest.raises(ValueError, match="lower"):
        train_ppo(shipped_4x4(out=out, **options))
    assert not out.exists()  # refused before the run folder is made


@pytest.mark.parametrize(
    ("env", "sizes", "noted"),
    [
        ("trm_rl/Maze-9x9-v0", (200, 1000), False),  # generated mazes: endless
        ("trm_rl/Maze-5x5-v0", (200, 1000), False),
        (SUDOKU, (200, 1000), False),  # the whole 2,000-puzzle pool holds the defaults
        ("trm_rl/MazeHard-v0", (83, 417), True),  # 1,000 mazes: half stay for training
        ("trm_rl/SudokuExtreme-v0", (83, 417), True),
    ],
)
def test_defaults_stay_where_they_fit(env: str, sizes: tuple, noted: bool) -> None:
    cfg, note = fit_eval_sizes(resolve_ppo(ppo_args(env, timesteps=64)))
    assert (cfg.val_episodes, cfg.test_episodes) == sizes
    assert (note is not None) == noted
    if noted:
        assert "has 1,000 puzzles: --val-episodes 200 -> 83, --test-episodes 1000 -> 417" in note
    set_sizes = resolve_ppo(ppo_args(env, timesteps=64, val_episodes=8, test_episodes=16))
    assert fit_eval_sizes(set_sizes)[0] == set_sizes


def test_a_default_4x4_init_from_run_trains_stores_and_resumes_its_sizes(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "p4"
    command = ["train-ppo", "--env", SUDOKU, "--policy", "trm", "--init-from", "sudoku-4x4",
               "--out", str(out), *TINY_PPO]  # fmt: skip
    main([*command, "--timesteps", "32"])
    err = capsys.readouterr().err
    assert "--val-episodes 200 -> 75, --test-episodes 1000 -> 377" in err
    stored = json.loads((out / "config.json").read_text())
    assert (stored["config"]["val_episodes"], stored["config"]["test_episodes"]) == (75, 377)
    assert stored["heldout_note"] in err
    held = load_heldout(out)
    assert len(held["val_puzzles"]) == 75 and len(held["test_puzzles"]) == 377
    # a resume takes the run's sizes (no new note), and evaluate-ppo plays its test split
    main([*command, "--timesteps", "64", "--resume"])
    assert "note:" not in capsys.readouterr().err
    again = json.loads((out / "config.json").read_text())
    assert (again["config"]["val_episodes"], again["config"]["test_episodes"]) == (75, 377)
    report = evaluate_ppo(out, device="cpu", stochastic=False)
    assert report["deterministic"]["episodes"] == report["oracle"]["episodes"] == 377
    assert report["train_timesteps"] == 64


def test_runs_with_stored_sizes_load_and_resume(tmp_path: Path) -> None:
    """A config.json written before the sizes could be unset holds numbers: they load as they
    are (format 1 without them: the defaults of the day) and a resume keeps them."""
    options = dict(
        out=tmp_path / "r", progress=False, tensorboard=False, model_set=("hidden_size=16",
        "num_heads=2"), ppo=dict(n_envs=2, n_steps=16, batch_size=32, n_epochs=1),
    )  # fmt: skip
    train_ppo(resolve_ppo(ppo_args(SUDOKU, timesteps=32, val_episodes=8, test_episodes=16,
                                   **options)))  # fmt: skip
    tree = json.loads((tmp_path / "r" / "config.json").read_text())["config"]
    old = stored_ppo_config({"format": 2, "regime": "ppo", "config": tree})
    assert (old.val_episodes, old.test_episodes) == (8, 16)
    flat = {"options": {"env": SUDOKU, "policy": "trm", "timesteps": 64}, "ppo": {"n_steps": 16}}
    older = stored_ppo_config(flat)
    assert (older.val_episodes, older.test_episodes) == (200, 1000)
    train_ppo(resolve_ppo(ppo_args(SUDOKU, timesteps=64, resume=True, **options)))
    tree = json.loads((tmp_path / "r" / "config.json").read_text())["config"]
    assert (tree["val_episodes"], tree["test_episodes"]) == (8, 16)
    assert len(load_heldout(tmp_path / "r")["test_puzzles"]) == 16


def test_a_set_too_small_for_any_split_is_refused(tmp_path: Path) -> None:
    pool = build_pool(SudokuConfig(size=6))
    small = tmp_path / "three.csv"
    write_sudoku_csv(SudokuPool(pool.puzzles[:3], pool.solutions[:3]), small, "three puzzles")
    cfg = resolve_ppo(
        ppo_args("trm_rl/Sudoku-6x6-v0", timesteps=64, env_fields={"dataset": str(small)})
    )
    with pytest.raises(ValueError, match="has 3 puzzles: too few to hold out validation and test"):
        fit_eval_sizes(cfg)
    cfg = resolve_ppo(ppo_args("trm_rl/Sudoku-6x6-v0", timesteps=64, val_episodes=1,
                               test_episodes=1, env_fields={"dataset": str(small)}))  # fmt: skip
    assert fit_eval_sizes(cfg) == (cfg, None)  # set sizes that fit: used as given
