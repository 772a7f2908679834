"""The flagship table: rendered from its CSV rows alone, and refused without its markers."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments import cpu_flagship
from trm_rl.data.config import DataConfig


def rows() -> list[dict[str, str]]:
    out = []
    for seed, (exact, halt) in enumerate([(0.9, 0.85), (0.8, 0.75)]):
        out.append({"run": f"s{seed}", "seed": str(seed), "set": "test", "puzzles": "600",
                    "exact": str(exact), "exact_se": "0.0122", "exact_halt": str(halt),
                    "steps_halt": "3.0", "token_accuracy": "0.98", "steps": "16",
                    "minutes": "1"})  # fmt: skip
    return out


def test_table_gives_mean_and_range_over_runs_per_set() -> None:
    text = cpu_flagship.table(rows(), "sudoku-9x9")
    lines = text.splitlines()
    assert len(lines) == 3  # header, rule, the one set present
    assert lines[2] == (
        "| the run's own test split (unseen) | 2 | 600 | 85.0 [80.0, 90.0] | 1.2% | "
        "80.0 [75.0, 85.0] | 3.0 |"
    )


def test_render_replaces_only_the_block_and_needs_the_markers(tmp_path: Path) -> None:
    begin, end = cpu_flagship.markers("sudoku-9x9")
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{begin}\nold\n{end}\nafter\n")
    text = cpu_flagship.render(readme, "sudoku-9x9", rows())
    assert text.startswith(f"intro\n{begin}\n| set |") and text.endswith(f"|\n{end}\nafter\n")
    readme.write_text("no markers\n")
    with pytest.raises(
        ValueError, match=r"needs exactly one .<!-- flagship:sudoku-9x9:begin -->. line"
    ):
        cpu_flagship.render(readme, "sudoku-9x9", rows())


def test_unknown_task_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown task 'nope'"):
        cpu_flagship.score_runs("nope", [], tmp_path)


def test_maze_hard_sets_never_score_training_mazes(tmp_path: Path) -> None:
    sets = cpu_flagship.TASKS["maze-hard"]
    generated = DataConfig(name="maze-15x15", algorithm="obstacles", min_path_length=27)
    assert sets["maze-hard-all"](generated, tmp_path) == ("maze-hard", "all")
    with pytest.raises(ValueError, match="trained on maze-hard: score its test split"):
        sets["maze-hard-all"](DataConfig(name="maze-hard"), tmp_path)
    data, split = sets["maze-hard-like"](generated, tmp_path)
    assert split == "test" and data.name == "maze-30x30" and data.algorithm == "obstacles"
    assert data.min_path_length == 109 and data.seed == cpu_flagship.FRESH_SEED != 0
