"""The flagship table: rendered from its CSV rows alone, and refused without its markers."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments import cpu_flagship
from trm_rl.data.config import DataConfig
from trm_rl.supervised.config import resolve_train, train_args
from trm_rl.supervised.trainer import train


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


def test_mixer_table_groups_runs_by_mixer_and_scored_step() -> None:
    base = rows()
    mixers = [
        {**base[0], "mixer": "units", "snapshot": "400"},
        {**base[1], "mixer": "units", "snapshot": "400"},
        {**base[0], "run": "m", "mixer": "mlp", "snapshot": "400", "exact": "0.1",
         "exact_halt": "0.05"},
        {**base[0], "mixer": "units", "snapshot": ""},
        {**base[0], "set": "fresh-30-35", "mixer": "mlp", "snapshot": "400"},
    ]  # fmt: skip
    lines = cpu_flagship.table(mixers, "sudoku-9x9-mixers").splitlines()
    assert lines[0].startswith("| mixer | optimiser steps | runs |")
    assert lines[2:] == [
        "| units | 400 | 2 | 600 | 85.0 [80.0, 90.0] | 1.2% | 80.0 [75.0, 85.0] | 3.0 |",
        "| mlp | 400 | 1 | 600 | 10.0 [10.0, 10.0] | 1.2% | 5.0 [5.0, 5.0] | 3.0 |",
        "| units | last | 1 | 600 | 90.0 [90.0, 90.0] | 1.2% | 85.0 [85.0, 85.0] | 3.0 |",
    ]


def test_score_runs_scores_a_snapshot_beside_the_last_checkpoint_and_resumes(
    tmp_path: Path,
) -> None:
    config = resolve_train(
        train_args("sudoku-4x4", steps=4, optim={"batch_size": 8}, eval_size=16, eval_every=2,
                   keep_every=2, data_set=("val_size=16", "test_size=32"), device="cpu",
                   tensorboard=False, out=str(tmp_path / "run"),
                   model_set=("hidden_size=16", "H_cycles=1", "L_cycles=1", "halt_max_steps=2"))
    )  # fmt: skip
    run = train(config)
    out = tmp_path / "out"
    at_2 = cpu_flagship.score_runs("sudoku-9x9-mixers", [run], out, snapshot=2)
    last = cpu_flagship.score_runs("sudoku-9x9-mixers", [run], out)
    assert [(r["snapshot"], r["mixer"]) for r in last] == [
        ("2", config.model.mixer),
        ("", config.model.mixer),
    ]
    assert len(at_2) == 1 and int(last[0]["puzzles"]) == 32
    again = cpu_flagship.score_runs("sudoku-9x9-mixers", [run], out, snapshot=2)
    assert len(again) == 2  # read back from the CSV, not scored again
    with pytest.raises(ValueError, match="kept no snapshot of step 3"):
        cpu_flagship.score_runs("sudoku-9x9-mixers", [run], out, snapshot=3)
