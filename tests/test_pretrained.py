"""Pretrained models shipped in the package: every one loads by name and scores what its card
says on a sample of its held-out split; ``trm-rl models`` and ``solve --model``; packaging."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path

import pytest

import trm_rl
from experiments.cli import main
from experiments.pretrain import PretrainArgs, model_card_markdown, package_run
from trm_rl.model import TRM
from trm_rl.model.checkpoint import load_checkpoint
from trm_rl.pretrained import MAX_BYTES, MODELS, card, headline, list_models, load_pretrained
from trm_rl.supervised.commands import evaluate_run, solve_file
from trm_rl.supervised.config import resolve_train, train_args
from trm_rl.supervised.trainer import train

pytestmark = pytest.mark.usefixtures("one_torch_thread")
#: Puzzles of the held-out split each shipped model is checked on.
SAMPLE = 200


def test_sudoku_4x4_is_shipped_and_only_complete_models_are_listed() -> None:
    assert "sudoku-4x4" in list_models()
    assert list_models() == sorted(MODELS)
    for name in list_models():
        folder = MODELS[name]
        for file in ("model.safetensors", "config.json", "card.json", "README.md"):
            assert (folder / file).is_file(), f"{name} lacks {file}"
        assert (folder / "model.safetensors").stat().st_size <= MAX_BYTES


@pytest.mark.parametrize("name", list_models())
def test_each_shipped_model_scores_its_card_on_a_held_out_sample(name: str) -> None:
    info = card(name)
    for key in ("name", "game", "grid", "data", "command", "budget", "machine", "scores"):
        assert key in info, f"card of {name} lacks {key}"
    assert info["name"] == name and info["budget"]["steps"] >= 1
    assert "/" not in json.dumps(info["machine"])  # no paths on the card
    top = headline(info)
    assert top["split"] == "test" and top["data"] == info["data"]["name"]
    model = load_pretrained(name, device="cpu")
    assert not model.training and model.num_parameters() == info["parameters"]
    # The first test puzzles ship beside the weights: no data to rebuild (a 9x9 pool takes
    # minutes); they are the same puzzles the card's score starts with.
    sample = MODELS[name] / info["heldout_sample"]
    result = evaluate_run(
        None, model=name, data=str(sample), split="all", limit=min(SAMPLE, top["n"]),
        max_steps=top["max_steps"], device="cpu",
    )  # fmt: skip
    assert result["count"] == min(SAMPLE, top["n"])
    p = top["value"]
    se = math.sqrt(max(p * (1 - p), 1e-4) / result["count"])  # binomial SE of the sample
    assert result[top["metric"]] >= p - 3 * se, (name, result[top["metric"]], p)


def test_load_pretrained_by_name_and_refuse_an_unknown_one() -> None:
    model = trm_rl.load_pretrained("sudoku-4x4", device="cpu")
    assert isinstance(model, TRM) and model.config.seq_len == 16
    with pytest.raises(ValueError, match=r"no pretrained model named 'sudoku-99x99'.*sudoku-4x4"):
        load_pretrained("sudoku-99x99")


def test_models_command_lists_the_shipped_models(capsys) -> None:
    main(["models"])
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:5] == ["name", "game", "grid", "params", "MB"]
    row = next(line for line in lines if line.startswith("sudoku-4x4 "))
    value = headline(card("sudoku-4x4"))["value"]
    assert re.search(rf"sudoku\s+4x4\s+[\d,]+\s+[\d.]+\s+exact_accuracy {value:.3f}", row)
    assert len(lines) == 1 + len(list_models())


def test_solve_with_a_shipped_model_answers_a_file(tmp_path: Path, capsys) -> None:
    puzzles = tmp_path / "in.txt"
    puzzles.write_text("1.3...1.3.2...4.\n0000341221430000\n")
    out = tmp_path / "out.jsonl"
    main(["solve", "--model", "sudoku-4x4", "--input", str(puzzles), "--output", str(out)])
    assert "wrote 2 answers" in capsys.readouterr().out
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    for row in rows:
        assert len(row["solution"]) == 16 and set(row["solution"]) <= set("1234")
    # the model solves the first one (a unique-solution puzzle): the givens are kept
    assert rows[0]["solution"][0] == "1" and rows[0]["solution"][2] == "3"


def test_solve_refuses_both_or_neither_source_and_another_game(tmp_path: Path, capsys) -> None:
    puzzles = tmp_path / "in.txt"
    puzzles.write_text("1.3...1.3.2...4.\n")
    out = tmp_path / "o.jsonl"
    io = ["--input", str(puzzles), "--output", str(out)]
    for extra, match in (
        (["--run", str(tmp_path), "--model", "sudoku-4x4"], "not both"),
        ([], "not neither"),
        (["--model", "sudoku-16x16"], "no pretrained model named 'sudoku-16x16'"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(["solve", *io, *extra])
        assert exit_info.value.code == 2
        assert re.search(rf"trm-rl solve: .*{match}", capsys.readouterr().err)
    assert not out.exists()
    big = tmp_path / "big.txt"
    big.write_text("0" * 81 + "\n")
    with pytest.raises(ValueError, match="line 1: a 9x9 grid"):
        solve_file(None, big, out, model="sudoku-4x4")
    maze = tmp_path / "maze.txt"
    maze.write_text("#####\n#S G#\n#####\n".replace("\n", "") + "\n")
    with pytest.raises(ValueError, match="line 1"):
        solve_file(None, maze, out, model="sudoku-4x4")
    with pytest.raises(ValueError, match="--snapshot needs a run"):
        evaluate_run(None, model="sudoku-4x4", snapshot=5)


def test_pretrain_packages_a_finished_run_with_its_own_scores(tmp_path: Path) -> None:
    tiny = {"hidden_size": 16, "num_heads": 2, "H_cycles": 2, "L_cycles": 1, "halt_max_steps": 2}
    run = tmp_path / "run"
    args = train_args(
        "sudoku-4x4", out=run, steps=2, model=tiny, optim={"batch_size": 4},
        data_fields={"val_size": 16, "test_size": 16}, progress=False, tensorboard=False,
        checkpoint_seconds=0.0, threads=1,
    )  # fmt: skip
    train(resolve_train(args))
    command = "trm-rl train-supervised --data sudoku-4x4 --steps 2 --out runs/tiny"
    out = tmp_path / "models" / "tiny"
    folder = package_run(PretrainArgs(run=run, name="tiny", command=command, limit=8, out=out))
    info = json.loads((folder / "card.json").read_text())
    assert info["budget"]["steps"] == 2 and info["command"] == command
    assert info["game"] == "sudoku" and info["grid"] == [4, 4]
    assert [s["n"] for s in info["scores"]] == [8, 8, 8]
    scored = evaluate_run(run, limit=8, device="cpu")
    assert info["scores"][0]["value"] == round(scored["exact_accuracy"], 4)
    assert (folder / "README.md").read_text() == model_card_markdown(info)
    for bad, match in (
        (dict(command=command), "exists; pass --force"),
        (dict(command="python train.py", force=True), "must be the trm-rl train-supervised"),
        (dict(command=command.replace("runs/tiny", "/home/x/tiny"), force=True), "absolute"),
        (dict(command=command.replace("2", "3"), force=True), "--steps 2"),
    ):
        with pytest.raises(ValueError, match=match):
            package_run(PretrainArgs(run=run, name="tiny", limit=8, out=out, **bad))


def test_a_warm_started_run_is_packaged_with_its_whole_chain(tmp_path: Path, monkeypatch) -> None:
    """A curriculum (9x9 then 11x11 mazes, --init-from) ships with every stage's command; the
    earlier commands must match the chain's --out folders and steps."""
    monkeypatch.chdir(tmp_path)  # the chain's folders are relative, as a user writes them
    tiny = {"hidden_size": 16, "num_heads": 2, "H_cycles": 1, "L_cycles": 1, "halt_max_steps": 2}
    quiet = {"progress": False, "tensorboard": False, "checkpoint_seconds": 0.0, "threads": 1}
    small = {"val_size": 8, "test_size": 8}
    train(
        resolve_train(
            train_args(
                "maze-9x9",
                out=Path("runs/a"),
                steps=2,
                model=tiny,
                optim={"batch_size": 4},
                data_fields=small,
                **quiet,
            )
        )
    )
    train(resolve_train(train_args("maze-11x11", out=Path("runs/b"), steps=3, init_from="runs/a",
                                   optim={"batch_size": 4}, data_fields=small, **quiet)))  # fmt: skip
    first = "trm-rl train-supervised --data maze-9x9 --steps 2 --out runs/a"
    last = "trm-rl train-supervised --data maze-11x11 --init-from runs/a --steps 3 --out runs/b"
    args = PretrainArgs(run=Path("runs/b"), name="chain", command=last, limit=4,
                        out=Path("models/chain"), before=(first,))  # fmt: skip
    with pytest.raises(ValueError, match="warm-starts from 1 earlier run"):
        package_run(dataclasses.replace(args, before=()))
    with pytest.raises(ValueError, match="does not train 'runs/a'"):
        package_run(dataclasses.replace(args, before=(first.replace("runs/a", "runs/z"),)))
    with pytest.raises(ValueError, match="--steps 2"):
        package_run(dataclasses.replace(args, before=(first.replace("2", "5"),)))
    folder = package_run(args)
    info = json.loads((folder / "card.json").read_text())
    assert [s["command"] for s in info["stages"]] == [first, last]
    assert [s["steps"] for s in info["stages"]] == [2, 3]
    assert info["train_seconds"] == pytest.approx(sum(s["train_seconds"] for s in info["stages"]))
    text = (folder / "README.md").read_text()
    assert first in text and last in text and "a curriculum of 2 runs" in text
    assert load_checkpoint(folder).config.seq_len == 121


def test_a_distance_field_model_heads_its_card_with_valid_paths() -> None:
    scores = [{"metric": "exact_accuracy", "value": 0.07}, {"metric": "valid", "value": 0.38}]
    field = {"data": {"maze_target": "distance"}, "scores": scores}
    assert headline(field) == scores[1]
    assert headline({"data": {"maze_target": "path"}, "scores": scores}) == scores[0]
    assert headline({"scores": []}) == {}
