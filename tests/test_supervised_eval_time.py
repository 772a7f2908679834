"""The supervised trainer logs the wall time it spends validating, as PPO runs do, across resumes."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.test_supervised import tiny_run
from trm_rl.supervised import trainer as trainer_module
from trm_rl.supervised.metrics import COLUMNS
from trm_rl.supervised.trainer import train

EVAL_MINUTES, EVAL_FRACTION = "time/eval_minutes", "time/eval_fraction"
STATE = Path("checkpoint") / "train_state_rank0.pt"


def _rows(run: Path) -> list[dict[str, str]]:
    with (run / "metrics.csv").open() as f:
        return list(csv.DictReader(f))


def _check_times(rows: list[dict[str, str]]) -> list[float]:
    """Every row's eval fraction lies in [0, 1] and the eval minutes never go down; returns them."""
    minutes = [float(r[EVAL_MINUTES]) for r in rows]
    for row in rows:
        assert 0.0 <= float(row[EVAL_FRACTION]) <= 1.0, row
    assert minutes == sorted(minutes), minutes
    return minutes


def _kill_after_five(monkeypatch: pytest.MonkeyPatch, out: Path) -> None:
    """Run ``out`` (8 steps) until the process 'dies' in step 6; the checkpoint holds step 5."""
    calls = {"n": 0}
    original = trainer_module._accumulate

    def killed(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(trainer_module, "_accumulate", killed)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_run(out, steps=8))
    monkeypatch.setattr(trainer_module, "_accumulate", original)


def test_every_validation_row_logs_the_eval_time_so_far(tmp_path: Path) -> None:
    assert COLUMNS[-2:] == (EVAL_MINUTES, EVAL_FRACTION)  # last: older columns keep their places
    run = train(tiny_run(tmp_path / "run", tensorboard=True))
    rows = _rows(run)
    assert [int(r["step"]) for r in rows] == [3, 6]  # the end of the run is a validation row
    minutes = _check_times(rows)
    assert minutes[-1] > 0  # validation took some time
    state = torch.load(run / STATE, weights_only=True)
    assert state["step"] == 6
    assert math.isclose(state["eval_time"], minutes[-1] * 60, rel_tol=1e-4)
    events = EventAccumulator(str(run))
    events.Reload()
    assert {EVAL_MINUTES, EVAL_FRACTION} <= set(events.Tags()["scalars"])  # PPO's tags
    assert [e.step for e in events.Scalars(EVAL_FRACTION)] == [3, 6]


def test_a_resumed_run_continues_the_eval_time(tmp_path, monkeypatch) -> None:
    out = tmp_path / "split"
    _kill_after_five(monkeypatch, out)
    state = torch.load(out / STATE, weights_only=True)
    assert state["step"] == 5
    first = _rows(out)[0]  # step 3: the only validation before the checkpoint
    assert math.isclose(state["eval_time"], float(first[EVAL_MINUTES]) * 60, rel_tol=1e-4)
    # Ten minutes of validation before the kill: the resumed rows count on from there.
    state["eval_time"] = 600.0
    torch.save(state, out / STATE)
    train(tiny_run(out, steps=8, resume=True))
    rows = _rows(out)
    assert [int(r["step"]) for r in rows] == [3, 6, 8]
    minutes = _check_times(rows)
    assert minutes[1] > 10.0 and minutes[2] > minutes[1]
    assert float(rows[-1][EVAL_FRACTION]) > 0.5  # 10 minutes against a few seconds of training
    assert torch.load(out / STATE, weights_only=True)["eval_time"] > 600.0


def test_a_checkpoint_from_before_the_eval_time_resumes_from_zero(tmp_path, monkeypatch) -> None:
    out = tmp_path / "old"
    _kill_after_five(monkeypatch, out)
    state = torch.load(out / STATE, weights_only=True)
    del state["eval_time"]
    torch.save(state, out / STATE)
    train(tiny_run(out, steps=8, resume=True))
    rows = _rows(out)
    assert [int(r["step"]) for r in rows] == [3, 6, 8]
    assert _check_times(rows[1:])[-1] > 0
