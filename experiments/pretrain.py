"""Package a finished supervised run as a pretrained model shipped inside ``trm_rl``.

    python -m experiments.pretrain RUN_DIR --name sudoku-4x4 \\
        --command "trm-rl train-supervised --data sudoku-4x4 --steps 600 --out runs/s4 --no-progress"

writes ``trm_rl/pretrained/models/<name>/``: the run's evaluated weights (EMA) as
``model.safetensors`` + ``config.json``, and a model card as ``card.json`` (machine-readable, see
:mod:`trm_rl.pretrained`) and ``README.md``. The scores on the card are computed here, on the
run's held-out test split (the first ``--limit`` puzzles) and on the public benchmark of the same
game and grid where one exists (Sudoku-Extreme 9x9, Maze-Hard 30x30). Refused: a run that has not
finished its step budget, a run budgeted in minutes (cards give budgets in steps), weights over
5 MB, a command with an absolute path, and an existing model folder without ``--force``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import platform
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import torch
import tyro

from envs.maze.io import write_maze_csv
from envs.maze.rules import parse_puzzle
from envs.sudoku.io import write_sudoku_csv
from envs.sudoku.pool import SudokuPool
from envs.sudoku.types import from_tokens
from envs.utils import atomic_write
from trm_rl import __version__
from trm_rl.data.build import grid_info, make_data
from trm_rl.data.config import DataConfig
from trm_rl.model.checkpoint import WEIGHTS_NAME, save_checkpoint
from trm_rl.pretrained import CARD_NAME, MAX_BYTES, MODELS_DIR
from trm_rl.runs import read_config
from trm_rl.supervised.commands import evaluate_run, load_run
from trm_rl.supervised.config import stored_train_config
from trm_rl.supervised.trainer import steps_done

#: The public benchmark of each game, scored when its grid fits the model.
PUBLIC_SETS = {"sudoku": "sudoku-extreme", "maze": "maze-hard"}
#: Metrics written to the card, the headline first.
CARD_METRICS = ("exact_accuracy", "exact_accuracy_halt", "token_accuracy")
#: Maze scores written beside CARD_METRICS when the evaluation gives them: a valid shortest path
#: and the label path, decoded from the answer (for a distance-target model the exact accuracy
#: measures its field, these measure its paths).
MAZE_CARD_METRICS = ("valid", "path_exact")
#: The held-out test puzzles shipped beside the weights (the first ``SAMPLE_SIZE`` of the run's
#: test split), so the card can be checked without rebuilding the data (a 9x9 pool takes
#: minutes to generate).
SAMPLE_NAME, SAMPLE_SIZE = "heldout.csv", 200


@dataclass
class PretrainArgs:
    """Turn a finished supervised run into a pretrained model folder with a model card."""

    run: tyro.conf.Positional[Annotated[Path, tyro.conf.arg(metavar="RUN_DIR")]]
    """The finished run directory (the --out of train-supervised)."""
    name: str
    """The model's name (its folder; what load_pretrained and solve --model take)."""
    command: str
    """The exact command that trained the run, with a relative --out (written on the card)."""
    limit: int = 1000
    """Score the first N puzzles of the run's test split (and of a public set)."""
    out: Path | None = None
    """Where to write the model folder (default: trm_rl/pretrained/models/<name>)."""
    device: str = "cpu"
    """Device of the scoring ('cpu' keeps the card's numbers reproducible anywhere)."""
    force: bool = False
    """Replace an existing model folder of that name."""
    before: tuple[str, ...] = ()
    """The train-supervised commands of the runs this one warm-starts from (its --init-from
    chain of run folders), the first stage first; the card gives the whole chain, and its
    training time is the chain's."""


def package_run(args: PretrainArgs) -> Path:
    """Write the model folder of :class:`PretrainArgs` (see the module docstring).

    :return: the folder.
    :raises ValueError: naming the problem and the fix.
    """
    folder = Path(args.out) if args.out is not None else MODELS_DIR / args.name
    _check_name(args.name)
    words = _check_command(args.command)
    if folder.exists() and not args.force:
        raise ValueError(f"{folder} exists; pass --force to replace it")
    stored = read_config(args.run, "supervised")
    cfg = stored_train_config(stored)
    if cfg.steps is None:
        raise ValueError(
            f"run {str(args.run)!r} was budgeted in minutes; a model card states its budget in "
            "steps: train with --steps N"
        )
    done = steps_done(args.run)
    if done < cfg.steps:
        raise ValueError(
            f"run {str(args.run)!r} has checkpointed {done} of its {cfg.steps} steps; finish it "
            "(trm-rl train-supervised ... --resume) before packaging"
        )
    if ("--steps", str(cfg.steps)) not in _option_pairs(words):
        raise ValueError(
            f"--command does not give the run's budget (--steps {cfg.steps}): {args.command!r}"
        )
    stages = _stages(args, cfg)
    model, _ = load_run(args.run, args.device)
    size = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    if size > MAX_BYTES:
        raise ValueError(
            f"the weights of {str(args.run)!r} take {size / 2**20:.1f} MB; a shipped model may "
            f"take {MAX_BYTES / 2**20:.0f} MB at most: train a smaller model"
        )
    card = _card(args, stored, cfg, model, stages)
    tmp = folder.with_name(folder.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    save_checkpoint(model, tmp)
    write_sample(cfg.data, tmp / SAMPLE_NAME)
    card["heldout_sample"] = SAMPLE_NAME
    weights = tmp / WEIGHTS_NAME
    if weights.stat().st_size > MAX_BYTES:
        shutil.rmtree(tmp)
        raise ValueError(f"{WEIGHTS_NAME} would take more than {MAX_BYTES} bytes; not written")
    card["sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()
    with atomic_write(tmp / CARD_NAME) as f:
        json.dump(card, f, indent=2)
        f.write("\n")
    with atomic_write(tmp / "README.md") as f:
        f.write(model_card_markdown(card))
    for path in tmp.iterdir():  # package data: readable by everyone (atomic writes make 0600)
        path.chmod(0o644)
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)
    return folder


def write_sample(config: DataConfig, path: Path, size: int = SAMPLE_SIZE) -> int:
    """Write the first ``size`` puzzles of the test split of ``config`` to ``path``: a
    Sudoku-Extreme-format CSV (puzzle, solution) or a Maze-Hard-format one.

    :return: the puzzles written.
    """
    source = make_data(config)
    inputs, labels = (a[:size] for a in source.split("test"))
    shape = source.grid_shape
    what = f"the first {len(inputs)} test puzzles of {config.name}"
    if source.kind == "sudoku":
        boards = (from_tokens(a).reshape(len(a), *shape) for a in (inputs, labels))
        write_sudoku_csv(SudokuPool(*boards), path, what)
    else:
        write_maze_csv([parse_puzzle(row.reshape(shape)) for row in inputs], path, what)
    return len(inputs)


def _card(
    args: PretrainArgs,
    stored: dict[str, Any],
    cfg: Any,
    model: torch.nn.Module,
    stages: list[dict[str, Any]],
) -> dict[str, Any]:
    data = DataConfig.from_dict(stored["data"])
    info = grid_info(data)
    shape = (info.rows, info.cols)
    scores = _scores(args, data.name, "test")
    public = PUBLIC_SETS.get(info.kind)
    if public is not None and public != data.name:
        other = grid_info(DataConfig(name=public))
        if (other.rows, other.cols) == shape or getattr(model.config, "any_grid_size", False):
            scores += _scores(args, public, "test")
    return {
        "name": args.name,
        "game": info.kind,
        "grid": list(shape),
        "kind": str(getattr(model.config, "kind", "trm")),
        "parameters": int(model.num_parameters()),
        "data": dataclasses.asdict(data),
        "command": args.command,
        "package_command": _package_command(args),
        "budget": {
            "steps": int(cfg.steps),
            "batch_size": int(cfg.optim.batch_size),
            "examples": int(cfg.steps * cfg.optim.batch_size),
        },
        "machine": machine_summary(),
        "train_seconds": _total_seconds(stages),
        "scores": scores,
        "trm_rl_version": __version__,
        "torch_version": torch.__version__.split("+")[0],
        "stages": stages,
    }


def _scores(args: PretrainArgs, data: str, split: str) -> list[dict[str, Any]]:
    result = evaluate_run(args.run, data, split, device=args.device, limit=args.limit)
    return [
        {
            "data": result["data"],
            "split": split,
            "n": int(result["count"]),
            "metric": metric,
            "value": round(float(result[metric]), 4),
            "max_steps": int(result["steps_no_halt"]),
        }
        for metric in (*CARD_METRICS, *(m for m in MAZE_CARD_METRICS if m in result))
    ]


def machine_summary() -> dict[str, Any]:
    """The machine, without host names or paths: CPU model, cores, architecture, OS, GPU."""
    cpu = platform.processor() or "unknown"
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in lscpu.splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "Model name" and value.strip():
                cpu = value.strip()
                break
    except (OSError, subprocess.SubprocessError):
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu,
        "cores": cores,
        "arch": platform.machine(),
        "os": platform.system(),
        "gpu": gpu,
    }


def _train_seconds(run: Path) -> float | None:
    """Wall time of the run's last metrics row (None without one)."""
    path = Path(run) / "metrics.csv"
    try:
        lines = path.read_text().splitlines()
        header, last = lines[0].split(","), lines[-1].split(",")
        return round(float(last[header.index("time_s")]), 1)
    except (OSError, IndexError, ValueError):
        return None


def _stages(args: PretrainArgs, cfg: Any) -> list[dict[str, Any]]:
    """The training stages of the run, first first: the runs its ``init_from`` chain names
    (each with its ``--before`` command, checked), then the run itself.

    :raises ValueError: when ``--before`` does not give one command per earlier run, in order,
        each naming that run's ``--out`` and ``--steps``.
    """
    chain = [(Path(args.run), cfg)]
    while chain[-1][1].init_from is not None and Path(chain[-1][1].init_from).is_dir():
        folder = Path(chain[-1][1].init_from)
        chain.append((folder, stored_train_config(read_config(folder, "supervised"))))
    chain.reverse()
    earlier = [str(folder) for folder, _ in chain[:-1]]
    if len(args.before) != len(earlier):
        raise ValueError(
            f"run {str(args.run)!r} warm-starts from {len(earlier)} earlier run(s) {earlier}; give "
            f"their train-supervised commands with --before, the first stage first (got "
            f"{len(args.before)})"
        )
    for command, (folder, stage) in zip(args.before, chain, strict=False):
        pairs = _option_pairs(_check_command(command))
        outs = [Path(v) for k, v in pairs if k == "--out" and v]
        if not outs or outs[-1] != folder:
            raise ValueError(
                f"--before {command!r} does not train {str(folder)!r} (its --out); give the "
                "commands in the chain's order, the first stage first"
            )
        if ("--steps", str(stage.steps)) not in pairs:
            raise ValueError(f"--before {command!r} does not give its --steps {stage.steps}")
    stages = [
        {"command": command, "data": stage.data.name, "steps": int(stage.steps),
         "batch_size": int(stage.optim.batch_size), "train_seconds": _train_seconds(folder)}
        for command, (folder, stage) in zip([*args.before, args.command], chain, strict=True)
    ]  # fmt: skip
    if chain[0][1].init_from is not None:
        stages[0]["init_from"] = str(chain[0][1].init_from)  # a shipped model starts the chain
    return stages


def _total_seconds(stages: list[dict[str, Any]]) -> float | None:
    """The training seconds of all stages (None when one is unknown)."""
    seconds = [stage["train_seconds"] for stage in stages]
    return None if None in seconds else round(sum(seconds), 1)


def _option_pairs(words: list[str]) -> list[tuple[str, str]]:
    """``(flag, value)`` pairs of a command's words, in both ``--flag value`` and
    ``--flag=value`` spellings (other neighbours pair up too; look pairs up by flag)."""
    return [*itertools.pairwise(words), *(tuple(w.partition("=")[::2]) for w in words)]


def _check_name(name: str) -> None:
    if not name or not all(c.isalnum() or c in "-_." for c in name) or name.startswith("."):
        raise ValueError(
            f"model name {name!r} must be letters, digits, '-', '_' or '.' (e.g. sudoku-4x4)"
        )


def _check_command(command: str) -> list[str]:
    words = shlex.split(command)
    if words[:2] != ["trm-rl", "train-supervised"]:
        raise ValueError(
            f"--command must be the trm-rl train-supervised command that trained the run, got "
            f"{command!r}"
        )
    absolute = [w for w in words if os.path.isabs(w.partition("=")[2] or w)]
    if absolute:
        raise ValueError(
            f"--command holds absolute paths {absolute}; write the --out folder relative (e.g. "
            "runs/NAME) so the card names no machine's folders"
        )
    return words


def _package_command(args: PretrainArgs) -> str:
    words = ["python", "-m", "experiments.pretrain", "RUN_DIR", "--name", args.name]
    words += ["--command", args.command, "--limit", str(args.limit), "--device", args.device]
    return shlex.join(words)


def model_card_markdown(card: dict[str, Any]) -> str:
    """The human model card (``README.md``) of a ``card.json`` dict."""
    grid = "x".join(str(v) for v in card["grid"])
    m, b = card["machine"], card["budget"]
    rows = "\n".join(
        f"| {s['data']} | {s['split']} | {s['n']} | {s['metric']} | {s['value']:.4f} | "
        f"{s['max_steps']} |"
        for s in card["scores"]
    )
    minutes = card["train_seconds"]
    stages = card.get("stages") or [{"command": card["command"]}]
    took = f"; the training loop took about {minutes / 60:.0f} minutes" if minutes else ""
    if len(stages) > 1:
        steps = " + ".join(f"{st['steps']:,} ({st['data']})" for st in stages)
        took = f"; a curriculum of {len(stages)} runs of {steps} optimiser steps" + (
            f"; the training loops took about {minutes / 60:.0f} minutes in all" if minutes else ""
        )
    commands = "\n".join(st["command"] for st in stages)
    return f"""# {card["name"]}

A {card["kind"].upper()} ({card["parameters"]:,} parameters) that solves {grid} {card["game"]}
puzzles, trained by deep supervision with `trm-rl train-supervised`.

## Use

```bash
trm-rl solve --model {card["name"]} --input puzzles.txt --output answers.jsonl
```

```python
import trm_rl

model = trm_rl.load_pretrained("{card["name"]}")
```

## Data

`{card["data"]["name"]}` with split seed {card["data"]["seed"]}: the held-out splits are rebuilt
from the data fields of `card.json` (`DataConfig(**card["data"])`); no held-out puzzle was trained
on.

## Training

```bash
{commands}
```

Budget: {b["steps"]} optimiser steps of {b["batch_size"]} puzzles ({b["examples"]:,} examples)
on {m["cores"]} {m["arch"]} CPU cores ({m["cpu"]}; GPU: {m["gpu"]}; {m["os"]}){took}.
Packaged with `{card["package_command"]}`.

## Scores

Exact accuracy is the fraction of puzzles whose whole answer is right after all `max_steps`
supervision steps (the official metric); `_halt` stops each puzzle at the halting head's signal.

| data | split | n | metric | value | max_steps |
|---|---|---|---|---|---|
{rows}

Reproduce: `trm-rl evaluate --model {card["name"]} --limit {card["scores"][0]["n"]}
--env-episodes 0`.

weights sha256: `{card.get("sha256", "")}`
"""


def main(argv: list[str] | None = None) -> None:
    """Entry point: ``python -m experiments.pretrain RUN_DIR --name NAME --command CMD``."""
    args = tyro.cli(PretrainArgs, args=argv, description=__doc__)
    try:
        folder = package_run(args)
    except (ValueError, FileNotFoundError) as err:
        raise SystemExit(f"experiments.pretrain: {err}") from None
    print(f"wrote {folder}")
    print((folder / "README.md").read_text())


if __name__ == "__main__":
    main()
