"""``--wandb``: every metrics.csv row and the config also go to a W&B run (offline here)."""

from __future__ import annotations

import csv
import dataclasses
import sys
import types
from pathlib import Path

import pytest

from experiments.cli import main as cli_main
from experiments.sweep import run_specs
from tests.test_ppo_train import tiny_run
from tests.test_sweep_reuse import read_csv, tiny_spec
from trm_rl import tracking
from trm_rl.policies.train import train_ppo
from trm_rl.supervised.config import resolve_train, train_args
from trm_rl.supervised.trainer import train

TINY_MODEL = ("hidden_size=16", "H_cycles=1", "L_cycles=1", "halt_max_steps=2")


@pytest.fixture
def offline(monkeypatch, tmp_path: Path) -> None:
    """W&B on disk only, quiet, with its settings and cache in the test's folder."""
    pytest.importorskip("wandb")  # installed with the dev extra
    for key, value in {"WANDB_MODE": "offline", "WANDB_SILENT": "true",
                       "WANDB_CONFIG_DIR": tmp_path / "wandb-config",
                       "WANDB_CACHE_DIR": tmp_path / "wandb-cache",
                       "WANDB_DATA_DIR": tmp_path / "wandb-data"}.items():  # fmt: skip
        monkeypatch.setenv(key, str(value))


def offline_record(run_dir: Path) -> bytes:
    """The bytes of the run's one offline W&B run file (its history and config records)."""
    [record] = list((run_dir / "wandb").glob("offline-run-*/run-*.wandb"))
    run_id = (run_dir / tracking.ID_FILE).read_text().strip()
    assert record.name == f"run-{run_id}.wandb"
    return record.read_bytes()


def test_a_supervised_run_logs_its_metrics_and_config(offline, tmp_path: Path) -> None:
    args = train_args("sudoku-4x4", steps=4, optim={"batch_size": 8}, eval_size=16, eval_every=2,
                      data_set=("val_size=16", "test_size=32"), device="cpu", model_set=TINY_MODEL,
                      tensorboard=False, progress=False, out=tmp_path / "run")  # fmt: skip
    cfg = resolve_train(args)
    run_dir = train(dataclasses.replace(cfg, wandb=True, wandb_project="trm-rl-test"))
    record = offline_record(run_dir)
    with (run_dir / "metrics.csv").open(newline="") as f:
        logged = {k for row in csv.DictReader(f) for k, v in row.items() if v not in ("", None)}
    assert {"train/loss", "val/exact_accuracy", "lr"} <= logged
    for key in ("train/loss", "val/exact_accuracy", "lr"):  # the same names as metrics.csv
        assert key.encode() in record, key
    assert b"trm-rl-test" in record and b"halt_max_steps" in record  # project and config


def test_a_ppo_run_logs_its_metrics(offline, tmp_path: Path) -> None:
    cfg = dataclasses.replace(tiny_run(tmp_path / "ppo"), wandb=True, tensorboard=False)
    run_dir = train_ppo(cfg)
    record = offline_record(run_dir)
    for key in ("val/success_2x", "time/total_timesteps", "train/policy_gradient_loss"):
        assert key.encode() in record, key


class _FakeRun:
    def __init__(self, **kwargs) -> None:
        self.id, self.kwargs, self.logged, self.finished = kwargs["id"], kwargs, [], False

    def log(self, values, step):
        self.logged.append((values, step))

    def finish(self):
        self.finished = True


def test_the_run_id_is_kept_for_resume_and_only_numbers_are_logged(monkeypatch, tmp_path):
    fake = types.SimpleNamespace(init=lambda **kwargs: _FakeRun(**kwargs))
    monkeypatch.setitem(sys.modules, "wandb", fake)
    first = tracking.WandbRun(tmp_path, {"out": tmp_path, "steps": 4}, "p", "supervised")
    again = tracking.WandbRun(tmp_path, {"out": tmp_path, "steps": 4}, "p", "supervised")
    assert first.id == again.id == (tmp_path / tracking.ID_FILE).read_text().strip()
    kwargs = first._run.kwargs
    assert kwargs["resume"] == "allow" and kwargs["dir"] == str(tmp_path)
    assert kwargs["config"] == {"out": str(tmp_path), "steps": 4}  # paths as text
    first.log({"step": "2", "val/exact_accuracy": "0.5", "lr": "", "note": "x",
               "train/loss": float("nan")}, 2)  # fmt: skip
    assert first._run.logged == [({"step": 2.0, "val/exact_accuracy": 0.5}, 2)]
    first.finish()
    assert first._run.finished


def test_without_wandb_the_run_fails_before_writing(monkeypatch, tmp_path: Path, capsys) -> None:
    real = tracking.importlib.util.find_spec
    monkeypatch.setattr(tracking.importlib.util, "find_spec",
                        lambda name, *a: None if name == "wandb" else real(name, *a))  # fmt: skip
    out = tmp_path / "run"
    with pytest.raises(SystemExit):
        cli_main(["train-supervised", "--data", "sudoku-4x4", "--steps", "2", "--wandb",
                  "--out", str(out)])  # fmt: skip
    assert "pip install -e '.[wandb]'" in capsys.readouterr().err
    assert not out.exists()  # nothing written: the same command works once wandb is installed


def test_a_sweep_with_wandb_logs_each_run_to_the_studys_project(offline, tmp_path: Path) -> None:
    spec = tiny_spec("toy")
    out = run_specs([spec], tmp_path / "toy", workers=1, preset="tiny", wandb=True)
    [row] = read_csv(out / "runs.csv")
    assert row["status"] == "done"
    assert b"trm-rl-toy" in offline_record(out / spec.name)  # project trm-rl-<study>
