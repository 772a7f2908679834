"""Early stopping in ``solve``: rows stop when their halting head says so or when their answer
stops changing, stopped rows leave the batch, and ``trm-rl solve`` runs batched with the
``--batch-size`` and ``--stop-unchanged`` options."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_batch, tiny_config

from envs.maze.generator import RandomMazeGenerator, generate_mazes
from experiments.cli import main
from trm_rl.model import TRM, TRMConfig
from trm_rl.model.baselines import MLPConfig, MLPModel
from trm_rl.model.trm import SolveResult
from trm_rl.pretrained import load_pretrained
from trm_rl.supervised.commands import (
    STOP_UNCHANGED,
    solve_batch_size,
    solve_file,
    stop_option,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")
ROOT = Path(__file__).resolve().parents[1]


def conv_config() -> TRMConfig:
    """A tiny conv TRM trained on 5x5 grids (it takes any size)."""
    return tiny_config(seq_len=25, grid_width=5, hidden_size=16, mixer="conv",
                       pos_encodings="none", puzzle_emb_len=0, puzzle_emb_ndim=0, H_cycles=2,
                       halt_max_steps=6)  # fmt: skip


def halting_model(cfg: TRMConfig, std: float = 0.3, bias: float = -1.0, seed: int = 0) -> TRM:
    """A random TRM whose halting head fires on some rows at some steps (``std`` and ``bias``
    of its Q head, chosen per config so the rows stop at several different steps)."""
    torch.manual_seed(seed)
    model = TRM(cfg).eval()
    with torch.no_grad():
        model.q_head.weight.normal_(std=std)
        model.q_head.bias.fill_(bias)
    return model


def first_halting(full: SolveResult) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(answers, halting probabilities, steps)`` at each row's first halting step of a run
    without halting (the last step where none halts)."""
    probs = full.trajectory_halt_probs  # [S, B]
    halts = probs > 0.5
    last = torch.full_like(halts[0], probs.shape[0] - 1, dtype=torch.long)
    index = torch.where(halts.any(0), halts.long().argmax(0), last)
    rows = torch.arange(probs.shape[1])
    return full.trajectory_predictions[index, rows], probs[index, rows], (index + 1).int()


def mazes(size: int, count: int, seed: int = 0) -> np.ndarray:
    """``[count, size * size]`` token grids of generated DFS mazes."""
    grids = generate_mazes(RandomMazeGenerator(size=size), count, seed)
    return np.stack([m.grid.ravel() for m in grids]).astype(np.int64)


class RowCounter:
    """Counts the rows every reasoning-network call runs on (a forward hook)."""

    def __init__(self, model: TRM) -> None:
        self.rows = 0
        self.handle = model.net.register_forward_hook(self)

    def __call__(self, module: torch.nn.Module, args: tuple, output: torch.Tensor) -> None:
        self.rows += output.shape[0]


# ------------------------------------------------------------------------- rule (a): halting
@pytest.mark.parametrize("grid", [None, (7, 9)], ids=["attention", "conv-7x9"])
def test_stopping_at_the_halting_head_gives_the_full_runs_answers(grid) -> None:
    if grid is None:
        cfg = tiny_config(halt_max_steps=6)
        batch = make_batch(cfg, size=16)
        inputs, ids = batch["inputs"], batch["puzzle_identifiers"]
        model = halting_model(cfg)
    else:  # a conv model on a grid larger than its own
        cfg = conv_config()
        inputs = torch.randint(1, 6, (16, *grid), generator=torch.Generator().manual_seed(0))
        ids = None
        model = halting_model(cfg, std=1.0, bias=0.2, seed=1)
    stopped = model.solve(inputs, max_steps=6, halt=True, puzzle_identifiers=ids)
    full = model.solve(inputs, max_steps=6, halt=False, puzzle_identifiers=ids)
    answers, probs, steps = first_halting(full)
    assert len(stopped.steps.unique()) > 2  # rows stopped at several different steps
    assert torch.equal(stopped.steps, steps)
    assert torch.equal(stopped.predictions, answers)
    # The probabilities come from smaller batches once rows stop: equal up to float rounding
    # (some CPUs' kernels round differently by batch size); the answers and steps are exact.
    torch.testing.assert_close(stopped.halt_probs, probs, rtol=1e-5, atol=1e-6)


def test_stopped_rows_leave_the_batch() -> None:
    cfg = tiny_config(halt_max_steps=6)
    model = halting_model(cfg)
    inputs = make_batch(cfg, size=16)["inputs"]
    counter = RowCounter(model)
    stopped = model.solve(inputs, halt=True)
    per_step = cfg.H_cycles * (cfg.L_cycles + 1)  # network calls of one supervision step
    assert counter.rows == per_step * int(stopped.steps.sum())  # only rows still working ran
    assert counter.rows < per_step * 16 * 6
    counter.rows = 0
    model.solve(inputs, halt=False)
    assert counter.rows == per_step * 16 * 6


# -------------------------------------------------------------- rule (b): unchanged answers
@pytest.mark.parametrize("k", [1, 2])
def test_stop_unchanged_stops_a_row_after_k_steps_without_change(k: int) -> None:
    model = load_pretrained("maze-11x11", "cpu")  # a trained model: answers settle at various steps
    inputs = torch.as_tensor(mazes(11, 12))
    full = model.solve(inputs, max_steps=8, halt=False)
    counter = RowCounter(model)
    stopped = model.solve(inputs, max_steps=8, halt=False, stop_unchanged=k)
    traj = full.trajectory_predictions  # [8, 12, cells]
    for row in range(12):
        same = [bool(torch.equal(traj[t, row], traj[t - 1, row])) for t in range(1, 8)]
        # first step s (1-based) after which the answer was the same for k steps in a row
        expected = next((s for s in range(k + 1, 9) if all(same[s - k - 1 : s - 1])), 8)
        assert int(stopped.steps[row]) == expected
        assert torch.equal(stopped.predictions[row], traj[expected - 1, row])
    assert int(stopped.steps.min()) < 8 and len(stopped.steps.unique()) > 1
    per_step = model.config.H_cycles * (model.config.L_cycles + 1)
    assert counter.rows == per_step * int(stopped.steps.sum())


def test_option_validation() -> None:
    cfg = tiny_config()
    model = TRM(cfg).eval()
    inputs = make_batch(cfg)["inputs"]
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="stop_unchanged must be"):
            model.solve(inputs, stop_unchanged=bad)
    assert stop_option(model, None) == STOP_UNCHANGED and stop_option(model, 0) == 0
    assert stop_option(model, 3) == 3
    with pytest.raises(ValueError, match="stop_unchanged must be >= 0"):
        stop_option(model, -2)
    mlp = MLPModel(MLPConfig(vocab_size=6, seq_len=16, grid_width=4, embed_dim=8, hidden_size=64))
    assert stop_option(mlp, None) == 0 and stop_option(mlp, 0) == 0
    with pytest.raises(ValueError, match=r"--stop-unchanged 3 stops the rows of a TRM.*'mlp'"):
        stop_option(mlp, 3)
    # the default batch: 32 31x31 grids' worth of cells, 1 to 256 puzzles
    assert [solve_batch_size(c) for c in (31 * 31, 21 * 21, 11 * 11, 16, 10**6)] == [
        32, 69, 254, 256, 1]  # fmt: skip


# ------------------------------------------------------------------------------- solve_file
def _answers(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_solve_file_batches_stop_and_the_cli_options(tmp_path: Path, capsys) -> None:
    grids = generate_mazes(RandomMazeGenerator(size=13), 7, 0)  # larger than the trained 11x11:
    text = tmp_path / "mazes.txt"  # 12 steps at most, no halting head
    text.write_text("".join(m.to_string() + "\n" for m in grids))

    def solve(name: str, **options) -> list[dict]:
        out = tmp_path / f"{name}.jsonl"
        assert solve_file(None, text, out, model="maze-11x11", device="cpu", **options) == 7
        return _answers(out)

    whole = solve("whole", batch_size=100, stop_unchanged=0)
    assert solve("batched", batch_size=3, stop_unchanged=0) == whole  # batching changes nothing
    assert {r["steps"] for r in whole} == {12}
    stopped = solve("stopped", batch_size=3, stop_unchanged=1)
    assert min(r["steps"] for r in stopped) < 12
    default = solve("default", batch_size=3)
    assert default == solve("explicit", batch_size=3, stop_unchanged=STOP_UNCHANGED)
    assert solve("all-defaults") == default  # one batch of 7 (up to 181 13x13 mazes)
    before = torch.get_num_threads()
    assert solve("threads", threads=2) == default and torch.get_num_threads() == before
    out = tmp_path / "cli.jsonl"
    main(["solve", "--model", "maze-11x11", "--input", str(text), "--output", str(out),
          "--batch-size", "2", "--stop-unchanged", "1", "--device", "cpu"])  # fmt: skip
    assert _answers(out) == stopped
    for flag, value, message in (("--batch-size", "0", "batch_size must be >= 1"),
                                 ("--stop-unchanged", "-1", "stop_unchanged must be >= 0"),
                                 ("--threads", "0", "threads must be >= 1")):  # fmt: skip
        with pytest.raises(SystemExit) as info:
            main(["solve", "--model", "maze-11x11", "--input", str(text), "--output",
                  str(tmp_path / "bad.jsonl"), flag, value])  # fmt: skip
        assert info.value.code == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "bad.jsonl").exists()


def test_solve_throughput_benchmark_writes_its_tables(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "solve_throughput.py"), "--tasks", "maze-11",
         "sudoku-4", "--puzzles", "4", "--out-dir", str(tmp_path)],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    payload = json.loads((tmp_path / "solve_throughput.json").read_text())
    rows = {r["task"]: r for r in payload["rows"]}
    assert list(rows) == ["maze-11", "sudoku-4"]
    for row in rows.values():
        assert row["before_puzzles_per_s"] > 0 and row["after_puzzles_per_s"] > 0
        assert 0 <= row["identical"] <= 1 and row["puzzles"] == 4
    assert (
        "| maze 11x11 | maze-11x11 | 4 | 4 → 4 |" in (tmp_path / "solve_throughput.md").read_text()
    )
