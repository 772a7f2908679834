"""The README's commands are the routes of the numbers beside them.

- A ``readme-*`` job of ``experiments/claims.toml`` runs a README command as printed: apart from
  ``--seed``, where it writes (``--out``, ``--run`` folders, ``> FILE``), each of its commands is
  one of README.md's.
- A recipe command (``trm-rl train-supervised --data NAME``, no budget flag) trains exactly the
  study cell whose numbers the README quotes for it (same data, model, optimiser, steps,
  validation; only where it writes, its snapshots and the device name differ).

Nothing trains: configs are resolved and compared.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments.claims import ROOT, bash_commands, load_registry
from experiments.cli import _parse, edge_argv, resolve_train
from experiments.reproduce import steps
from experiments.reuse import training_key
from experiments.studies import get_study

README = ROOT / "README.md"
#: Fields a study sets for its own bookkeeping: snapshots to choose on validation (the test
#: score of the last weights is reported beside), and the device ('auto' is 'cpu' there).
BOOKKEEPING = ("keep_every", "device")
#: The README's supervised recipe commands -> the study cell (study, preset, run) it quotes.
CELLS = {
    "sudoku-4x4": ("k_cycles", "cpu-quick", "sup-sudoku-4x4-trm-K2-s0"),
    "sudoku-6x6": ("k_cycles", "cpu-full", "sup-sudoku-6x6-trm-K2-s0"),
    "maze-11x11": ("k_cycles", "cpu-full", "sup-maze-11x11-trm-K2-s0"),
}
PLACE_FLAGS = ("--out", "--run", "--seed")


def _normal(argv: list[str]) -> tuple[str, ...]:
    """``argv`` without where it writes or reads its own run (and without ``--seed``)."""
    out, skip = [], False
    for token in argv:
        if skip:
            skip = False
            continue
        if token in PLACE_FLAGS:
            skip = True
            continue
        if token.startswith(tuple(f + "=" for f in PLACE_FLAGS)):
            continue
        out.append(token)
    return tuple(out)


def _readme_commands() -> set[tuple[str, ...]]:
    return {_normal(argv) for _, argv in bash_commands(README)}


def test_every_readme_job_runs_a_readme_command_as_printed() -> None:
    registry = load_registry()
    jobs = [job for name, job in registry.jobs.items() if name.startswith("readme-")]
    assert jobs, "experiments/claims.toml has no readme-* job"
    printed = _readme_commands()
    bad = []
    for job in jobs:
        for step in steps(job, Path("runs/reproduce"), registry, strict=False):
            if _normal(list(step.argv)) not in printed:
                bad.append(f"[jobs.{job.name}] {step.text}")
    assert not bad, (
        "readme-* jobs whose command README.md does not print (apart from --seed, --out, "
        "--run): the README must show the route of its numbers:\n" + "\n".join(bad)
    )


def _diff(a: object, b: object, path: str = "") -> dict[str, tuple[object, object]]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: dict[str, tuple[object, object]] = {}
        for key in sorted(set(a) | set(b)):
            out.update(_diff(a.get(key), b.get(key), f"{path}.{key}"))
        return out
    return {} if a == b else {path: (a, b)}


def _recipe_commands() -> dict[str, list[str]]:
    """README.md's ``train-supervised --data NAME`` commands with no budget flag, by NAME."""
    found = {}
    for _, argv in bash_commands(README):
        if argv[1:2] != ["train-supervised"] or {"--steps", "--minutes"} & set(argv):
            continue
        if "--data" in argv and "--init-from" not in argv:
            found[argv[argv.index("--data") + 1]] = argv
    return found


def test_the_readme_shows_the_recipe_commands() -> None:
    assert {"sudoku-4x4", "maze-11x11"} <= set(_recipe_commands())


@pytest.mark.parametrize("data", sorted(CELLS))
def test_a_readme_recipe_command_trains_its_study_cell(data: str) -> None:
    argv = _recipe_commands().get(data, ["trm-rl", "train-supervised", "--data", data])
    mine = resolve_train(_parse(edge_argv([*argv[1:], "--seed", "0"])))
    study, preset, run = CELLS[data]
    (cell,) = [s for s in get_study(study).expand(preset) if s.name == run]
    differ = _diff(json.loads(training_key(mine)), json.loads(training_key(cell.config)))
    differ = {k: v for k, v in differ.items() if k.strip(".") not in BOOKKEEPING}
    assert not differ, f"{' '.join(argv)} is not {study} {preset}'s {run}: {differ}"
