"""The ``trm-rl`` command line: every command runs on a tiny budget; bad input fails cleanly."""

from __future__ import annotations

import re

import pytest

from experiments.cli import main
from trm_rl.demo import run_demo


@pytest.mark.parametrize(
    "env_id",
    ["trm_rl/Maze-5x5-v0", "trm_rl/MazeHard-v0", "trm_rl/Sudoku-4x4-v0", "trm_rl/SudokuExtreme-v0"],
)
def test_oracle_demo_solves_every_episode(env_id: str, capsys) -> None:
    stats = run_demo(env_id, episodes=2, policy="oracle", seed=0, render="ansi")
    assert [s["success"] for s in stats] == [True, True]
    if "Maze" in env_id:  # the oracle walks a shortest path
        assert all(s["steps"] == s["shortest_path_length"] for s in stats)
    out = capsys.readouterr().out
    assert "episode 1: end" in out


def test_random_demo_runs_through_the_cli(capsys) -> None:
    main(
        [
            "demo",
            "--env-id",
            "trm_rl/Sudoku-4x4-v0",
            "--policy",
            "random",
            "--episodes",
            "2",
            "--render",
            "none",
        ]
    )
    assert capsys.readouterr().out.count("'episode'") == 2


def test_envs_command_lists_ids(capsys) -> None:
    main(["envs"])
    out = capsys.readouterr().out
    assert "trm_rl/MazeHard-v0" in out and "trm_rl/SudokuExtreme-v0" in out


def test_unknown_env_id_exits_with_the_list_of_ids(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as info:
        main(["demo", "--env-id", "nope"])
    assert info.value.code == 2
    assert re.search(r"unknown env id 'nope'.*trm_rl/Maze-9x9-v0", capsys.readouterr().err)
