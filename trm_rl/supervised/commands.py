"""``trm-rl evaluate`` and ``trm-rl solve``: a trained run scored on held-out puzzles, or applied
to a file of puzzles.

Larger grids than the model was trained on get more thinking by default: the number of
supervision steps is scaled with the number of cells (``ceil(halt_max_steps * cells /
trained_cells)``: 64 for a 31x31 maze with an 11x11 model); ``--max-steps`` overrides the
count. ``evaluate`` runs them all (it scores the answer after every step).

``solve`` answers ``--batch-size`` puzzles at a time (default :func:`solve_batch_size`: 32 on
31x31, 256 on small grids) and stops each puzzle as soon as

- (a) its halting head says halt (``q_halt > 0``), on the trained grid size only: the head was
  calibrated there and stops far too early on larger grids. The answers are exactly those of
  the full run at each puzzle's first halting step (``tests/test_solve_stopping.py``);
- (b) its answer has not changed for ``--stop-unchanged`` steps (TRMs; 0 turns it off).

A stopped puzzle leaves the batch (its latents are dropped), so compute drops with it
(``benchmarks/solve_throughput.py``). Rule (b) could change an answer that would move again
later. How often it does, with the shipped models over all their default steps (answers that
differ from those without rule (b), for k = 1 / 2 / 3 / 4 / 5): sudoku-4x4 on 1000 held-out
puzzles 22 / 9 / 4 / 1 / 0, sudoku-6x6 (300) 0 / 0 / 0 / 0 / 0, sudoku-9x9 (600) 26 / 1 / 0 /
0 / 0; maze-11x11 on 1000 held-out 11x11 mazes 3 / 2 / 2 / 2 / 0, on 160 21x21 DFS mazes 4 / 1
/ 0 / 0 / 0, on 88 31x31 ones 2 / 1 / 0 / 0 / 0, on 16 Maze-Hard 30x30 mazes (which it does not
solve) 6 / 2 / 1 / 1 / 0. The default k = 5 changed none of those 3,164 answers and still
stops 21x21 mazes after 15.8 of 30 steps and 31x31 ones after about 36 of 64 on average (the
Sudoku rows mostly halt first, after 1.3-3.2 of 8 steps).

Both take a run directory or the name of a model shipped with the package
(:mod:`trm_rl.pretrained`), never both, and both can sample: ``samples`` solves from perturbed
initial latents, one answer chosen per puzzle (:mod:`trm_rl.supervised.sampling`).

A maze model trained on distance fields (``--data.maze-target distance``) predicts a field; both
commands turn it into the path it decodes to (:func:`trm_rl.data.maze_targets.decode_paths`):
``solve`` writes that path, ``evaluate`` scores it (``valid``, ``path_exact``) beside the field's
own accuracies, and sampled answers are decoded before they are compared or voted on.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from envs.maze.rules import parse_puzzle as parse_maze
from envs.sudoku.rules import check_givens as check_sudoku_givens
from envs.sudoku.solver import count_solutions
from envs.utils import atomic_write, check_int
from trm_rl import pretrained, runs
from trm_rl.data.build import grid_info, make_data
from trm_rl.data.config import DataConfig
from trm_rl.data.dataset import PuzzleData
from trm_rl.data.maze_targets import answers_as_paths, path_labels
from trm_rl.data.text import from_text, read_puzzle_file, to_text
from trm_rl.model.checkpoint import load_checkpoint
from trm_rl.model.trm import TRM
from trm_rl.supervised import state as run_state
from trm_rl.supervised.env_play import play_in_env
from trm_rl.supervised.evaluate import model_inputs, predict, score
from trm_rl.supervised.sampling import (
    DEFAULT_NOISE,
    SamplingConfig,
    check_model,
    latent_positions,
    predict_samples,
    sample_start,
    sampled_scores,
    select,
)
from trm_rl.supervised.trajectory import write_trajectory_gif
from trm_rl.supervised.warm_start import run_game
from trm_rl.utils import resolve_device, torch_threads

#: Cells ``solve`` runs together by default: 32 31x31 mazes, about 0.5 GB at the peak with the
#: shipped maze model (memory grows with batch x cells; the time per cell hardly changes).
SOLVE_BATCH_CELLS = 32 * 31 * 31
#: The most puzzles in one default batch (small grids: enough to amortise the per-call cost).
SOLVE_MAX_BATCH = 256
#: Default ``stop_unchanged`` of ``solve`` with a TRM (see the module doc for the measurement).
STOP_UNCHANGED = 5


def load_run(
    run_dir: str | Path, device: str = "auto", snapshot: int | None = None
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The evaluated weights (EMA when the run kept one) and ``config.json`` of a run.

    :param snapshot: the step of a snapshot the run kept (``keep_every``) to load instead of
        its last checkpoint.
    :raises ValueError: when the folder is not a run, has no checkpoint yet, or no snapshot of
        that step.
    """
    run_dir = Path(run_dir)
    config = runs.read_config(run_dir, "supervised")
    if snapshot is not None:
        kept = dict(run_state.snapshots(run_dir))
        if snapshot not in kept:
            raise ValueError(
                f"run {str(run_dir)!r} kept no snapshot of step {snapshot}; it has "
                f"{sorted(kept) or 'none'} (train with --keep-every N to keep them)"
            )
        model = load_checkpoint(kept[snapshot], resolve_device(device))
        return model.eval(), config
    folder = run_state.latest_checkpoint(run_dir)
    if folder is None:
        raise ValueError(
            f"run {str(run_dir)!r} has no checkpoint yet; wait for the first one (written every "
            "--checkpoint-seconds) or resume the run"
        )
    model = load_checkpoint(folder, resolve_device(device))
    model.eval()
    return model, config


def default_steps(model: torch.nn.Module, cells: int) -> int:
    """Supervision steps for a grid of ``cells`` cells: the trained ``halt_max_steps``, scaled up
    with the number of cells when the grid is larger than the trained one."""
    cfg = model.config
    base = int(getattr(cfg, "halt_max_steps", 1))
    trained = int(getattr(cfg, "seq_len", cells))
    return max(base, math.ceil(base * cells / max(trained, 1)))


def _check_size(model: torch.nn.Module, grid_shape: tuple[int, int], where: str) -> None:
    cfg = model.config
    cells = grid_shape[0] * grid_shape[1]
    size_free = bool(getattr(cfg, "any_grid_size", False))
    if cells != getattr(cfg, "seq_len", cells) and not size_free:
        raise ValueError(
            f"{where}: a {grid_shape[0]}x{grid_shape[1]} grid ({cells} cells), but this model "
            f"was built for {cfg.seq_len} cells and its mixer ({getattr(cfg, 'mixer', '?')}) "
            "cannot take another size; use a model with mixer='conv' (preset cpu-maze-conv) to "
            "run on larger grids"
        )


def load_source(
    run: str | Path | None, model: str | None, device: str = "auto", snapshot: int | None = None
) -> tuple[torch.nn.Module, str, dict[str, Any]]:
    """The model of a run directory or of a shipped model (exactly one of the two), its game
    ("sudoku" or "maze") and the fields of the data it was trained on.

    :raises ValueError: for both or neither, an unknown name, or a snapshot of a shipped model.
    """
    if (run is None) == (model is None):
        raise ValueError(
            "give either a run directory (--run DIR) or a shipped model (--model NAME, see "
            f"trm-rl models), not {'both' if run is not None else 'neither'}"
        )
    if model is not None:
        if snapshot is not None:
            raise ValueError(f"--snapshot needs a run; the shipped model {model!r} has none")
        net = pretrained.load_pretrained(model, device)
        info = pretrained.card(model)
        return net, str(info["game"]), dict(info["data"])
    net, config = load_run(run, device, snapshot)  # type: ignore[arg-type]
    return net, run_game(config), dict(config["data"])


def heldout_puzzles(
    net: torch.nn.Module,
    kind: str,
    fields: dict[str, Any],
    label: str,
    data: str | DataConfig | None = None,
    split: str = "test",
    limit: int | None = None,
) -> tuple[PuzzleData, np.ndarray, np.ndarray]:
    """The data, questions and answers a model of :func:`load_source` is scored on.

    :param kind: the model's game and ``fields`` its training data, as :func:`load_source` gives.
    :param label: how error messages name the model (its run directory or shipped name).
    :param data: a data name or CSV (default: ``fields``, with its split seed), or a whole
        :class:`~trm_rl.data.DataConfig`.
    :param split: "test", "val" or "all" (every puzzle of a file or pool the model never
        trained on; refused for its own training data).
    :param limit: only the first ``limit`` puzzles of the split.
    :return: ``(data, inputs [N, L], labels [N, L])``; maze labels in the model's format
        (``maze_target`` of ``fields``, whatever ``data`` says).
    :raises ValueError: for data of the other game or a grid size the model cannot take.
    """
    own = data is None or (not isinstance(data, DataConfig) and data == fields["name"])
    if split == "all" and own:  # a DataConfig of the same source is the caller's choice
        raise ValueError(
            f"split 'all' would score the puzzles {label!r} trained on; pass --data with a "
            "file or pool it never saw (e.g. sudoku-extreme), or score --split test"
        )
    target = model_target(kind, fields)
    if isinstance(data, DataConfig):  # another distribution, e.g. braided mazes
        config = data
    elif own:
        config = DataConfig.from_dict(fields)
    else:
        config = DataConfig(name=data, seed=fields.get("seed", 0))
    if config.maze_target != target and grid_info(config).kind == "maze":
        config = config.replace(maze_target=target)  # labels in the format the model writes
    data_obj = make_data(config)
    if data_obj.kind != kind:
        raise ValueError(
            f"--data {data_obj.name!r} holds {data_obj.kind} puzzles, but {label!r} was trained "
            f"on {kind} puzzles; score it on {kind} data"
        )
    _check_size(net, data_obj.grid_shape, f"data {data_obj.name!r}")
    inputs, labels = data_obj.split(split)
    if limit is not None:
        inputs, labels = inputs[:limit], labels[:limit]
    return data_obj, inputs, labels


def evaluate_run(
    run: str | Path | None,
    data: str | DataConfig | None = None,
    split: str = "test",
    max_steps: int | None = None,
    device: str = "auto",
    batch_size: int = 256,
    env_episodes: int = 0,
    limit: int | None = None,
    snapshot: int | None = None,
    *,
    model: str | None = None,
    samples: int = 1,
    seed: int = 0,
    noise: float = DEFAULT_NOISE,
) -> dict[str, Any]:
    """Score a run or a shipped model on a held-out split (see
    :mod:`trm_rl.supervised.evaluate` for the metrics).

    :param run: the run directory (None with ``model``).
    :param data: a data name or CSV (default: the run's data, with the run's split seed), or a
        whole :class:`~trm_rl.data.DataConfig` (e.g. braided or Prim mazes: a shifted
        distribution).
    :param split: "test", "val" or "all" (every puzzle of a file the model never trained on).
    :param max_steps: supervision steps (default: scaled with the grid, see the module doc).
    :param env_episodes: also play this many of the puzzles in the Gymnasium env.
    :param limit: score only the first ``limit`` puzzles of the split (large grids are slow).
    :param snapshot: score the snapshot kept at this step instead of the last checkpoint.
    :param model: the name of a shipped model to score instead of a run.
    :param samples: also solve every puzzle this many times from perturbed initial latents and
        report, under ``"sampling"``, the accuracy of the confidence and the vote selections
        beside the single sample's (1: no sampling, the output of earlier releases). For a
        distance-target maze model the samples' decoded paths are voted on and their
        ``exact_accuracy_*`` compares them with the BFS label path.
    :param seed: seed of the noise draws.
    :param noise: std of the noise added to the initial latents.
    :return: JSON-ready metrics.
    """
    sampling = SamplingConfig(samples=samples, seed=seed, noise=noise)
    net, kind, fields = load_source(run, model, device, snapshot)
    check_model(net, samples)
    label = str(run) if run is not None else f"model {model}"
    data_obj, inputs, labels = heldout_puzzles(net, kind, fields, label, data, split, limit)
    steps = max_steps or default_steps(net, data_obj.seq_len)
    dev = next(net.parameters()).device
    net.eval()
    traj = predict(net, inputs, data_obj.grid_shape, steps, dev, batch_size)
    target = data_obj.config.maze_target
    shape = data_obj.grid_shape
    metrics = score(
        inputs, labels, traj["predictions"], traj["halt_probs"], data_obj.kind, shape, target
    )
    source = {"run": str(run)} if run is not None else {"model": model}
    out = {**source, "data": data_obj.name, "split": split, **metrics}
    if target != "path":
        out["maze_target"] = target
    out["steps_no_halt"] = steps
    if samples > 1:
        answers, confidence = predict_samples(
            net, inputs, shape, steps, dev, sampling, batch_size, first=traj
        )
        if target != "path":  # vote on (and score) the decoded paths, against the BFS labels
            answers = np.stack([answers_as_paths(target, inputs, a, shape) for a in answers])
            labels = path_labels(inputs, shape)
        out["sampling"] = sampled_scores(inputs, labels, answers, confidence, kind, shape, sampling)
    if env_episodes:
        n = min(env_episodes, len(inputs))
        final = traj["predictions"][-1][:n]  # mazes follow the scored answers: no second pass
        if data_obj.kind == "maze":
            final = answers_as_paths(target, inputs[:n], final, shape)
        out["env"] = play_in_env(net, data_obj, inputs[:n], labels[:n], steps, final)
    return out


def solve_file(
    run: str | Path | None,
    input_path: str | Path,
    output_path: str | Path,
    max_steps: int | None = None,
    device: str = "auto",
    trajectory: str | Path | None = None,
    *,
    model: str | None = None,
    samples: int = 1,
    select_by: str = "vote",
    seed: int = 0,
    noise: float = DEFAULT_NOISE,
    batch_size: int | None = None,
    stop_unchanged: int | None = None,
    threads: int | None = None,
) -> int:
    """Answer every puzzle of a file; one JSON line per puzzle, in input order.

    Puzzles are solved ``batch_size`` at a time, and a row leaves its batch once it stops (see
    the module doc): its halting head says halt (on the trained grid size), or its answer has
    not changed for ``stop_unchanged`` steps, or it reached the step limit.

    :param run: the run directory (None with ``model``).
    :param input_path: a CSV with a ``puzzle`` or ``question`` column, or a text file with one
        puzzle per line.
    :param output_path: the JSONL file (written atomically): ``{"puzzle", "solution",
        "confidence", "steps"}`` (a distance-target maze model's solution is the path its field
        decodes to); with ``samples > 1`` also ``"samples"`` and ``"agreement"``
        (the fraction of samples that gave the chosen answer).
    :param trajectory: also draw the first puzzle's answer being refined step by step (a GIF;
        of the chosen sample).
    :param model: the name of a shipped model to use instead of a run.
    :param samples: solves per puzzle from perturbed initial latents (1: the deterministic
        answer).
    :param select_by: "vote" or "confidence": how the answer is chosen among the samples.
    :param seed: seed of the noise draws.
    :param noise: std of the noise added to the initial latents.
    :param batch_size: puzzles solved together (peak memory grows with it: about 7 MB a puzzle
        on 31x31 mazes with the shipped maze model); None: :func:`solve_batch_size`.
    :param stop_unchanged: stop a puzzle once its answer has not changed for this many steps
        (0: never; None: :data:`STOP_UNCHANGED` for a TRM, 0 for other models, which run every
        step).
    :param threads: torch threads while solving (None: torch's default, one per core). On a
        machine busy with other jobs 1 can be several times faster (31x31 mazes on a loaded
        2-core machine: 54-85 ms per puzzle-step with 1 thread, 127-315 ms with 2).
    :return: the number of puzzles answered.
    :raises ValueError: naming the line of a puzzle the model cannot take, or a bad option.
    """
    sampling = SamplingConfig(samples=samples, select=select_by, seed=seed, noise=noise)
    batch_size = check_int("batch_size", batch_size, low=1, allow_none=True)
    threads = check_int("threads", threads, low=1, allow_none=True)
    net, kind, fields = load_source(run, model, device)
    stop = stop_option(net, stop_unchanged)
    target = model_target(kind, fields)
    check_model(net, samples)
    rows = read_puzzle_file(input_path)
    if not rows:
        raise ValueError(f"{str(input_path)!r} holds no puzzle")
    parsed = []
    for line, text in rows:
        try:
            tokens, shape = from_text(kind, text)
        except ValueError as e:
            raise ValueError(f"{str(input_path)!r}, line {line}: {e}") from None
        _check_size(net, shape, f"{str(input_path)!r}, line {line}")
        try:
            check_solvable(kind, tokens, shape)
        except ValueError as e:
            raise ValueError(
                f"{str(input_path)!r}, line {line}: {e}; fix or drop the puzzle (nothing was "
                "written)"
            ) from None
        parsed.append((text, tokens, shape))
    results: list[dict[str, Any]] = [{} for _ in parsed]
    first_traj = None
    for shape in sorted({p[2] for p in parsed}):
        idx = [i for i, p in enumerate(parsed) if p[2] == shape]
        questions = np.stack([parsed[i][1] for i in idx])
        steps = max_steps or default_steps(net, shape[0] * shape[1])
        with torch_threads(threads):
            solved = solve_puzzles(net, questions, shape, steps, sampling, batch_size, stop)
        answers = np.stack([answers_as_paths(target, questions, a, shape) for a in solved.answers])
        chosen, votes = select(answers, solved.confidence, select_by)
        for j, i in enumerate(idx):
            k = chosen[j]
            results[i] = {
                "puzzle": parsed[i][0],
                "solution": to_text(kind, answers[k, j], shape),
                "confidence": round(float(solved.confidence[k, j]), 6),
                "steps": int(solved.steps[k, j]),
            }
            if samples > 1:
                results[i]["samples"] = samples
                results[i]["agreement"] = round(float(votes[j]) / samples, 6)
        if idx[0] == 0 and trajectory is not None:
            frames, probs = solved.first[chosen[0]]
            question = np.broadcast_to(parsed[0][1], frames.shape)
            paths = answers_as_paths(target, question, frames, shape)
            first_traj = (paths, probs, parsed[0][1], shape)
    with atomic_write(output_path) as f:
        for r in results:
            f.write(json.dumps(r) + "\n")
    if first_traj is not None:
        write_trajectory_gif(kind, *first_traj, path=trajectory)
    return len(results)


def solve_batch_size(cells: int) -> int:
    """The default batch of ``solve`` for grids of ``cells`` cells: as many puzzles as make
    :data:`SOLVE_BATCH_CELLS` cells (32 31x31 mazes, 69 21x21 ones), at most
    :data:`SOLVE_MAX_BATCH`, at least 1."""
    return max(1, min(SOLVE_MAX_BATCH, SOLVE_BATCH_CELLS // max(int(cells), 1)))


def stop_option(model: torch.nn.Module, stop_unchanged: int | None) -> int:
    """The ``stop_unchanged`` a model's ``solve`` gets: :data:`STOP_UNCHANGED` for a TRM and 0
    for other models when None, else the given value (checked).

    :raises ValueError: for a value that is not an int >= 0, or one > 0 for a model whose
        ``solve`` cannot stop rows (not a TRM).
    """
    if stop_unchanged is None:
        return STOP_UNCHANGED if isinstance(model, TRM) else 0
    value = check_int("stop_unchanged", stop_unchanged, low=0)
    if value and not isinstance(model, TRM):
        what = getattr(model.config, "kind", type(model).__name__)
        raise ValueError(
            f"--stop-unchanged {value} stops the rows of a TRM, but this model is a {what!r} "
            "model whose solve runs every step; use --stop-unchanged 0 or leave it out"
        )
    return value


@dataclass
class Solved:
    """The answers of every sample to puzzles of one grid size (:func:`solve_puzzles`)."""

    answers: np.ndarray  # [samples, N, cells] the model's answers (fields for a distance model)
    confidence: np.ndarray  # [samples, N] sigmoid(q_halt) at each row's last step
    steps: np.ndarray  # [samples, N] supervision steps each row ran
    first: list[tuple[np.ndarray, np.ndarray]]  # per sample: row 0's [S, cells] answers, [S] probs


@torch.no_grad()
def solve_puzzles(
    net: torch.nn.Module,
    questions: np.ndarray,
    shape: tuple[int, int],
    max_steps: int,
    sampling: SamplingConfig | None = None,
    batch_size: int | None = None,
    stop_unchanged: int = 0,
) -> Solved:
    """Every sample of ``net.solve`` on puzzles of one grid size, ``batch_size`` at a time.

    Halting is on only on the grid size the model was trained on (its halting head is
    calibrated there and stops far too early on larger grids: ``results/supervised``).

    :param questions: ``[N, cells]`` token grids.
    :param max_steps: supervision steps at most.
    :param sampling: how many perturbed solves (default: one deterministic solve).
    :param batch_size: puzzles per batch (None: :func:`solve_batch_size`).
    :param stop_unchanged: passed to a TRM's ``solve`` (0: not passed).
    """
    sampling = sampling or SamplingConfig()
    cells = shape[0] * shape[1]
    batch_size = batch_size or solve_batch_size(cells)
    halt = cells <= int(getattr(net.config, "seq_len", cells))
    options = {"stop_unchanged": stop_unchanged} if stop_unchanged else {}
    dev = next(net.parameters()).device
    n, samples = len(questions), sampling.samples
    answers = np.zeros((samples, n, cells), dtype=np.int64)
    confidence = np.zeros((samples, n), dtype=np.float32)
    steps = np.zeros((samples, n), dtype=np.int64)
    first: list[tuple[np.ndarray, np.ndarray]] = []
    for start in range(0, n, batch_size):
        rows = slice(start, start + batch_size)
        tokens = torch.as_tensor(questions[rows], device=dev).long()
        inputs = model_inputs(net, tokens, shape)
        for k in range(samples):
            with sample_start(net, latent_positions(net, cells), k, sampling):
                result = net.solve(inputs, max_steps=max_steps, halt=halt, **options)
            answers[k, rows] = result.predictions.reshape(len(tokens), -1).cpu().numpy()
            confidence[k, rows] = result.halt_probs.cpu().numpy()
            steps[k, rows] = result.steps.cpu().numpy()
            if start == 0:
                traj = result.trajectory_predictions[:, 0].reshape(-1, cells).cpu().numpy()
                first.append((traj, result.trajectory_halt_probs[:, 0].cpu().numpy()))
    return Solved(answers=answers, confidence=confidence, steps=steps, first=first)


def check_solvable(kind: str, tokens: np.ndarray, shape: tuple[int, int]) -> None:
    """Refuse a puzzle that has no answer: contradictory Sudoku givens or no solution, a maze
    without a path from S to G (a model would still write an 'answer').

    :raises ValueError: naming the problem.
    """
    if kind == "sudoku":
        board = np.where(tokens >= 2, tokens.astype(np.int64) - 1, 0).reshape(shape)
        check_sudoku_givens(board)
        if count_solutions(board, limit=1) == 0:
            raise ValueError("the Sudoku has no solution")
    else:
        parse_maze(tokens.reshape(shape), check_solvable=True)


def model_target(kind: str, fields: dict[str, Any]) -> str:
    """The label format a model of ``kind`` trained on data ``fields`` writes: the
    ``maze_target`` of a maze run (``"path"`` for runs from before that field), else
    ``"path"``."""
    return str(fields.get("maze_target", "path")) if kind == "maze" else "path"
