"""Warm starts (``train-supervised --init-from``): weights copied, architecture taken from the
source and fitted to the new grid, fresh optimiser, clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from experiments.cli import main
from trm_rl.runs import read_config
from trm_rl.supervised import trainer as trainer_module
from trm_rl.supervised.commands import load_run
from trm_rl.supervised.config import resolve_train, train_args
from trm_rl.supervised.trainer import train
from trm_rl.supervised.warm_start import init_model_config, load_init_weights

MAZE_TINY = {"hidden_size": 16, "num_heads": 2, "H_cycles": 1, "L_cycles": 1, "halt_max_steps": 2}
SMALL = {"val_size": 8, "test_size": 8}
QUIET = {"progress": False, "tensorboard": False, "checkpoint_seconds": 0.0, "threads": 1}


def maze_run(out: Path, data: str = "maze-9x9", **options) -> Path:
    args = train_args(
        data, out=out, steps=options.pop("steps", 2), eval_every=2,
        model=options.pop("model", MAZE_TINY), data_fields=SMALL,
        optim={"batch_size": 4, **options.pop("optim", {})}, **QUIET, **options,
    )  # fmt: skip
    return train(resolve_train(args))


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A tiny conv-mixer maze TRM trained 2 steps on 9x9 mazes."""
    return maze_run(tmp_path_factory.mktemp("warm") / "m9")


def test_the_warm_model_is_the_sources_fitted_to_the_new_grid(source: Path) -> None:
    cfg = resolve_train(train_args("maze-11x11", steps=3, init_from=str(source)))
    old = init_model_config(source)
    assert cfg.model.seq_len == 121 and cfg.model.grid_width == 11
    assert cfg.model.replace(seq_len=old.seq_len, grid_width=old.grid_width) == old
    assert cfg.model.hidden_size == 16  # the source's, not the 11x11 recipe's 64
    # model fields set by the user apply on top of the source's
    deeper = resolve_train(
        train_args("maze-11x11", steps=3, init_from=str(source), model={"halt_max_steps": 5})
    )
    assert deeper.model.halt_max_steps == 5 and deeper.model.hidden_size == 16


def test_a_warm_run_starts_from_the_source_weights(source: Path, tmp_path: Path) -> None:
    """With lr 0 and no EMA one step leaves the weights where the source put them, on a larger
    grid; a fresh run with the same seed starts elsewhere."""
    frozen = {"lr": 0.0, "ema": False, "warmup_steps": 0}
    warm = maze_run(tmp_path / "w", "maze-11x11", steps=1, init_from=str(source), optim=frozen)
    cold = maze_run(tmp_path / "c", "maze-11x11", steps=1, optim=frozen)
    want = load_run(source, device="cpu")[0].state_dict()
    got = load_run(warm, device="cpu")[0].state_dict()
    fresh = load_run(cold, device="cpu")[0].state_dict()
    assert set(got) == set(want)
    assert all(torch.equal(got[k], want[k]) for k in want)
    assert any(not torch.equal(fresh[k], want[k]) for k in want)
    assert read_config(warm, "supervised")["config"]["init_from"] == str(source)


def test_an_interrupted_warm_run_resumes_to_the_uninterrupted_weights(
    source: Path, tmp_path: Path, monkeypatch
) -> None:
    """The resume reads the run's own checkpoint, not the source's weights again."""
    whole = maze_run(tmp_path / "whole", steps=4, init_from=str(source))
    calls = {"n": 0}
    original = trainer_module._accumulate

    def killed_after_two(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(trainer_module, "_accumulate", killed_after_two)
    with pytest.raises(KeyboardInterrupt):
        maze_run(tmp_path / "split", steps=4, init_from=str(source))
    monkeypatch.setattr(trainer_module, "_accumulate", original)
    resumed = maze_run(tmp_path / "split", steps=4, init_from=str(source), resume=True)
    want = torch.load(whole / "checkpoint" / "train_state_rank0.pt", weights_only=True)
    got = torch.load(resumed / "checkpoint" / "train_state_rank0.pt", weights_only=True)
    assert got["step"] == 4
    assert all(torch.equal(got["model"][k], want["model"][k]) for k in want["model"])


def test_weights_that_do_not_fit_are_named(source: Path) -> None:
    other = load_run(source, device="cpu")[0]
    wide = type(other)(other.config.replace(hidden_size=32))
    with pytest.raises(ValueError, match="do not fit the model"):
        load_init_weights(wide, source)


@pytest.mark.parametrize(
    ("data", "options", "message"),
    [
        ("maze-11x11", {"model": {"kind": "mlp"}}, "contradicts --init-from"),
        ("maze-11x11", {"model": {"preset": "cpu-maze-conv"}}, "drop --model.preset"),
        ("sudoku-4x4", {}, "trained on maze puzzles, this data is sudoku"),
    ],
)
def test_contradicting_options_are_refused(source: Path, data, options, message) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_train(train_args(data, steps=3, init_from=str(source), **options))


def test_unknown_source_is_refused_on_the_command_line(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit):
        main(["train-supervised", "--data", "maze-9x9", "--steps", "2",
              "--init-from", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r")])  # fmt: skip
    err = capsys.readouterr().err
    assert "neither a run folder nor a shipped model" in err


def test_a_shipped_model_warm_starts_a_run() -> None:
    cfg = resolve_train(train_args("maze-15x15", steps=3, init_from="maze-11x11"))
    assert cfg.model.seq_len == 225 and cfg.model.mixer == "conv"
