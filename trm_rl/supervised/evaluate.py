"""Scoring a model on held-out puzzles: accuracy with and without early halting, maze validity.

One pass of :meth:`TRM.solve` without halting gives the answer after every supervision step and
the halting probability after each; the early-halting answer of a row is the one at the first
step whose ``q_halt > 0`` (or the last step), so both regimes come from the same computation.

Metrics (fractions in [0, 1] unless said otherwise):

- ``token_accuracy``, ``exact_accuracy``: after all ``max_steps`` steps (the official metric);
- ``exact_accuracy_halt``, ``token_accuracy_halt``, ``steps_halt`` (mean steps used): with early
  halting;
- ``halt_accuracy``: at the last step, ``q_halt > 0`` agrees with "the answer is exactly right";
- ``exact_by_step``: exact accuracy after each step 1..``max_steps`` (a list): what thinking
  longer at test time buys;
- mazes: ``valid`` and ``valid_halt``: the answer marks some shortest S->G path through open
  cells (any of them); ``path_exact``: the final answer is the Maze-Hard label path
  (:func:`envs.maze.solver.label_answer` of the question: the published "exact" metric; equal to
  ``exact_accuracy`` for path-target data, whose labels are that path).

Maze data with the ``distance`` target (``DataConfig.maze_target``) is scored on two levels: the
token and exact accuracies (and ``exact_by_step``, ``halt_accuracy``) compare the predicted
*distance field* with the true field; ``valid``, ``valid_halt`` and ``path_exact`` score the path
each predicted field decodes to (:func:`trm_rl.data.maze_targets.decode_paths`), so the path
columns of both targets compare directly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from envs.maze.solver import is_valid_shortest_path
from trm_rl.data.maze_targets import MAZE_TARGETS, answers_as_paths, path_labels


def model_inputs(
    model: nn.Module, tokens: torch.Tensor, grid_shape: tuple[int, int]
) -> torch.Tensor:
    """Tokens shaped for ``model``: ``[B, H, W]`` for a model that takes any grid size (conv)
    when the grid is not the one it was built for, else ``[B, H*W]``."""
    cfg = model.config
    if getattr(cfg, "seq_len", None) == tokens.shape[1]:
        return tokens
    return tokens.view(tokens.shape[0], *grid_shape)


@torch.no_grad()
def predict(
    model: nn.Module,
    inputs: np.ndarray,
    grid_shape: tuple[int, int],
    max_steps: int,
    device: torch.device,
    batch_size: int = 256,
) -> dict[str, np.ndarray]:
    """Run ``model.solve`` without halting over ``inputs`` in batches.

    :return: ``predictions`` [S, N, L] (answer after each step), ``halt_probs`` [S, N].
    """
    preds, probs = [], []
    for start in range(0, len(inputs), batch_size):
        chunk = torch.as_tensor(inputs[start : start + batch_size], device=device).long()
        result = model.solve(
            model_inputs(model, chunk, grid_shape), max_steps=max_steps, halt=False
        )
        preds.append(result.trajectory_predictions.reshape(max_steps, len(chunk), -1).cpu())
        probs.append(result.trajectory_halt_probs.cpu())
    return {
        "predictions": torch.cat(preds, dim=1).numpy(),
        "halt_probs": torch.cat(probs, dim=1).numpy(),
    }


def score(
    inputs: np.ndarray,
    labels: np.ndarray,
    predictions: np.ndarray,
    halt_probs: np.ndarray,
    kind: str,
    grid_shape: tuple[int, int],
    target: str = "path",
) -> dict[str, Any]:
    """Metrics of a trajectory (see the module docstring).

    :param inputs: [N, L] question tokens.
    :param labels: [N, L] answer tokens (distance fields for the ``distance`` target).
    :param predictions: [S, N, L] answers after each step.
    :param halt_probs: [S, N] sigmoid(q_halt) after each step.
    :param kind: "sudoku" or "maze".
    :param target: the maze label format of the data (``DataConfig.maze_target``): ``"path"``
        or ``"distance"`` (predictions are then fields, decoded into paths for the maze metrics).
    :raises ValueError: for an unknown target, or ``"distance"`` with Sudoku.
    """
    check_target(kind, target)
    steps, n = halt_probs.shape
    final = predictions[-1]
    halts = halt_probs > 0.5
    first = np.where(halts.any(0), halts.argmax(0), steps - 1)  # [N] step index used
    chosen = predictions[first, np.arange(n)]
    exact = (final == labels).all(1)
    exact_halt = (chosen == labels).all(1)
    out: dict[str, Any] = {
        "count": int(n),
        "max_steps": int(steps),
        "token_accuracy": float((final == labels).mean()),
        "exact_accuracy": float(exact.mean()),
        "token_accuracy_halt": float((chosen == labels).mean()),
        "exact_accuracy_halt": float(exact_halt.mean()),
        "steps_halt": float((first + 1).mean()),
        "halt_accuracy": float((halts[-1] == exact).mean()),
        "exact_by_step": [float(v) for v in (predictions == labels[None]).all(2).mean(1)],
    }
    if kind == "maze":
        final_path = answers_as_paths(target, inputs, final, grid_shape)
        chosen_path = answers_as_paths(target, inputs, chosen, grid_shape)
        out["valid"] = float(np.mean(maze_valid(inputs, final_path, grid_shape)))
        out["valid_halt"] = float(np.mean(maze_valid(inputs, chosen_path, grid_shape)))
        exact_path = (final_path == path_labels(inputs, grid_shape)).all(1)
        out["path_exact"] = float(exact_path.mean()) if n else float("nan")
    return out


def check_target(kind: str, target: str) -> str:
    """``target`` if it is a maze label format that fits ``kind``.

    :raises ValueError: for an unknown target, or ``"distance"`` with Sudoku.
    """
    if target not in MAZE_TARGETS:
        raise ValueError(f"target must be one of {list(MAZE_TARGETS)}, got {target!r}")
    if target != "path" and kind != "maze":
        raise ValueError(f"target {target!r} applies to mazes, not to {kind} data")
    return target


def maze_valid(inputs: np.ndarray, answers: np.ndarray, grid_shape: tuple[int, int]) -> np.ndarray:
    """[N] bool: each answer marks a shortest S->G path of its question (any one)."""
    h, w = grid_shape
    out = np.zeros(len(inputs), dtype=bool)
    for i, (question, answer) in enumerate(zip(inputs, answers, strict=True)):
        if answer.min() < 1 or answer.max() > 5:
            continue  # pad or unknown tokens: not a maze answer
        out[i] = is_valid_shortest_path(question.reshape(h, w), answer.reshape(h, w))
    return out


def evaluate_model(
    model: nn.Module,
    inputs: np.ndarray,
    labels: np.ndarray,
    kind: str,
    grid_shape: tuple[int, int],
    max_steps: int,
    device: torch.device,
    batch_size: int = 256,
    target: str = "path",
) -> dict[str, Any]:
    """:func:`predict` then :func:`score` (the model is put in eval mode; ``target`` as
    there)."""
    model.eval()
    traj = predict(model, inputs, grid_shape, max_steps, device, batch_size)
    return score(inputs, labels, traj["predictions"], traj["halt_probs"], kind, grid_shape, target)
