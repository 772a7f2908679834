"""The thinking-time collector: evaluate-ppo reports -> tidy CSV, README table and plot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments import thinking_time as tt


def _result(success: float, rounds: float | None, ratio: float = 1.05, n: int = 100) -> dict:
    return {"episodes": n, "success_2x": success, "length_ratio": ratio, "think_steps": rounds}


def report(run: str, shift: float = 0.0) -> dict:
    return {
        "run": run,
        "env": "trm_rl/Maze-9x9-v0",
        "deterministic": _result(0.97, 1.0),
        "stochastic": _result(0.9, 1.0),
        "deterministic_full_thinking": _result(1.0, 4.0, 1.003),
        "deterministic_halt_0.5": _result(0.97, 1.0, 1.13),
        "deterministic_confidence_0.99": _result(0.99 + shift, 1.06, 1.04),
        "deterministic_confidence_0.9999": _result(1.0, 1.12, 1.03),
        "deterministic_rounds_1": _result(0.97, 1.0, 1.13),
        "deterministic_rounds_4": _result(1.0, 4.0, 1.003),
        "random": _result(0.064, None, 12.0),
        "oracle": _result(1.0, None, 1.0),
    }


def test_points_read_every_way_of_thinking_and_nothing_else() -> None:
    rows = tt.points(report("r0"), "r0", seed=3)
    keys = {(r["criterion"], r["threshold"]) for r in rows}
    assert keys == {("head", "0.5"), ("confidence", "0.99"), ("confidence", "0.9999"),
                    ("fixed", "1"), ("fixed", "4")}  # fmt: skip
    conf = next(r for r in rows if r["threshold"] == "0.99")
    assert conf["rounds"] == 1.06 and conf["success_2x"] == 0.99 and conf["seed"] == 3
    assert conf["success_2x_se"] == pytest.approx((0.99 * 0.01 / 100) ** 0.5, abs=1e-4)
    assert conf["random_success_2x"] == 0.064 and conf["oracle_success_2x"] == 1.0
    # full thinking stands for the fixed point at the cap when that was not played itself
    partial = {k: v for k, v in report("r0").items() if k != "deterministic_rounds_4"}
    fixed = {
        r["threshold"]: r["success_2x"]
        for r in tt.points(partial, "r0")
        if r["criterion"] == "fixed"
    }
    assert fixed == {"1": 0.97, "4": 1.0}
    plain = {k: v for k, v in report("r0").items() if not k.startswith("deterministic_")}
    with pytest.raises(ValueError, match="no thinking-time variant"):
        tt.points(plain, "r0")


def test_table_averages_runs_in_order_with_random_and_oracle_lines() -> None:
    rows = [{k: str(v) for k, v in r.items()} for r in
            tt.points(report("r0"), "r0", 0) + tt.points(report("r1", -0.02), "r1", 1)]  # fmt: skip
    text = tt.table(rows)
    lines = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    labels = [line.split(" | ")[0][2:] for line in lines[1:]]
    assert labels == ["fixed rounds", "fixed rounds", "learnt halting head",
                      "policy confidence", "policy confidence", "random legal policy",
                      "oracle (BFS)"]  # fmt: skip
    conf = lines[4].split(" | ")
    assert conf[1:6] == ["0.99", "2", "1.06", "98.0 [97.0, 99.0]", "1.4"]
    assert "| random legal policy | - | - | - | 6.4 [6.4, 6.4] |" in text


def test_cli_writes_csv_plot_and_readme_block(tmp_path: Path) -> None:
    for i in range(2):
        (tmp_path / f"r{i}.json").write_text(json.dumps(report(f"runs/r{i}", -0.01 * i)))
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{tt.BEGIN}\nSTALE\n{tt.END}\n\ntail\n")
    out = tmp_path / "out"
    tt.main([str(tmp_path / "r0.json"), str(tmp_path / "r1.json"), "--out", str(out),
             "--readme", str(readme)])  # fmt: skip
    rows = tt.read_rows(out / "thinking_time.csv")
    assert {r["run"] for r in rows} == {"r0", "r1"} and len(rows) == 10
    assert (out / "plots" / "thinking_time.png").stat().st_size > 0
    text = readme.read_text()
    assert "STALE" not in text and text.endswith("\n\ntail\n") and tt.render(readme, rows) == text
    # a run collected again replaces its rows; the others stay
    (tmp_path / "r0.json").write_text(json.dumps(report("runs/r0", -0.5)))
    tt.main([str(tmp_path / "r0.json"), "--out", str(out)])
    again = tt.read_rows(out / "thinking_time.csv")
    assert len(again) == 10 and {r["success_2x"] for r in again if r["run"] == "r0"} >= {"0.49"}
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(SystemExit, match="not an evaluate-ppo JSON"):
        tt.main([str(bad), "--out", str(out)])
    readme.write_text("no markers\n")
    with pytest.raises(SystemExit, match=r"needs exactly one .<!-- thinking:begin -->. line"):
        tt.main(["--out", str(out), "--readme", str(readme)])
