"""The benchmark scripts run end to end on tiny budgets and write their tables."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(script: str, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_env_throughput_writes_its_tables(tmp_path: Path) -> None:
    _run(
        "env_throughput.py",
        "--env-ids", "trm_rl/Maze-5x5-v0", "trm_rl/Sudoku-4x4-v0",
        "--batch-size", "16",
        "--seconds", "0.05",
        "--generation-seconds", "0.01",
        "--out-dir", str(tmp_path),
    )  # fmt: skip
    payload = json.loads((tmp_path / "env_throughput.json").read_text())
    assert [r["env_id"] for r in payload["envs"]] == ["trm_rl/Maze-5x5-v0", "trm_rl/Sudoku-4x4-v0"]
    for row in payload["envs"]:
        assert row["single_steps_per_s"] > 0 and row["batched_steps_per_s"] > 0
        assert row["sb3_adapter_steps_per_s"] > 0
    assert all(g["puzzles_per_s"] > 0 for g in payload["generation"])
    assert "| `trm_rl/Maze-5x5-v0` |" in (tmp_path / "env_throughput.md").read_text()


def test_model_throughput_writes_its_tables(tmp_path: Path) -> None:
    _run(
        "model_throughput.py",
        "--presets", "cpu-sudoku-4x4",
        "--batch-size", "4",
        "--repeats", "1",
        "--warmup", "0",
        "--no-memory",
        "--dtypes", "float32",
        "--variants", "ours-eager",
        "--out-dir", str(tmp_path),
    )  # fmt: skip
    text = (tmp_path / "model_throughput.md").read_text()
    assert "| cpu-sudoku-4x4 | 4 | float32 | ours-eager |" in text
    assert (tmp_path / "model_throughput.json").exists()


def test_ppo_throughput_writes_its_tables(tmp_path: Path) -> None:
    _run(
        "ppo_throughput.py",
        "--env", "trm_rl/Maze-5x5-v0",
        "--policies", "naive", "trm", "trm-carry",
        "--n-envs", "4",
        "--n-steps", "8",
        "--n-epochs", "1",
        "--batch-size", "16",
        "--iterations", "1",
        "--rounds", "1",
        "--bare-steps", "2",
        "--out-dir", str(tmp_path),
    )  # fmt: skip
    payload = json.loads((tmp_path / "ppo_throughput.json").read_text())
    rows = {r["policy"]: r for r in payload["rows"]}
    assert list(rows) == ["naive", "trm", "trm-carry"]
    for row in rows.values():
        assert row["env_steps_per_s"] > 0 and row["flops_per_env_step"] > 0
        assert row["bare_gflops"] > 0
    assert rows["naive"]["batch_size"] == 64 and rows["trm"]["batch_size"] == 16
    assert all(row["n_epochs"] == 1 for row in rows.values())  # --n-epochs sets every policy's
    assert rows["trm-carry"]["carry_bytes_per_step"] > 0
    assert rows["trm"]["carry_bytes_per_step"] == 0
    assert "| trm-carry |" in (tmp_path / "ppo_throughput.md").read_text()


def test_maze_hard_match_writes_its_table(tmp_path: Path) -> None:
    _run("maze_hard_match.py", "--count", "2", "--small-sizes", "11", "--out-dir", str(tmp_path))
    payload = json.loads((tmp_path / "maze_hard_match.json").read_text())
    names = [s["name"] for s in payload["sets"]]
    assert names[0] == "Maze-Hard" and "obstacles 11 (0.3-0.5)" in names
    assert payload["sets"][0]["stats"]["path_length_min"] == 109
    assert all(s["mazes_per_s"] > 0 for s in payload["sets"][1:])
    assert "| path_length_min |" in (tmp_path / "maze_hard_match.md").read_text()
