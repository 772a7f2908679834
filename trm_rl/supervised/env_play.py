"""A supervised model acting in the Gymnasium envs, so supervised and RL runs share one metric.

- Sudoku: the model's answer after its supervision steps gives a digit distribution per cell;
  the agent fills the blank cells in order of confidence (highest probability first), each
  with its most probable digit that is still legal (the env's action mask).
- Maze: the agent walks from ``S`` along the predicted path: at each step to an unvisited
  neighbour the model marked as path (or ``G``); it stops when there is none.

Success is the env's ``is_success`` at the end of the episode; for mazes also success within
twice the optimal length and the mean length / optimal of successful episodes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from envs.maze import MazeEnv
from envs.maze.types import GOAL, MOVES, PATH
from envs.sudoku import SudokuEnv
from trm_rl.supervised.evaluate import model_inputs, predict


@torch.no_grad()
def cell_probabilities(
    model: nn.Module, inputs: np.ndarray, grid_shape: tuple[int, int], steps: int
) -> np.ndarray:
    """[N, L, V] softmax of the logits after ``steps`` supervision steps (at most the model's
    ``halt_max_steps``: in eval mode a row restarts after it)."""
    device = next(model.parameters()).device
    tokens = torch.as_tensor(inputs, device=device).long()
    batch = {"inputs": model_inputs(model, tokens, grid_shape)}
    carry = model.initial_carry(batch)
    steps = max(1, min(steps, int(getattr(model.config, "halt_max_steps", 1))))
    model.eval()
    for _ in range(steps):
        carry, outputs = model(carry, batch)
    return torch.softmax(outputs["logits"].float(), dim=-1).cpu().numpy()


def play_sudoku(
    env: SudokuEnv, probs: np.ndarray, question: np.ndarray, answer: np.ndarray
) -> bool:
    """One episode of ``env`` driven by per-cell probabilities; True if solved."""
    size = env.unwrapped.size
    digits = lambda tokens: "".join(str(max(int(t) - 1, 0)) for t in tokens)  # noqa: E731
    env.reset(seed=0, options={"puzzle": digits(question), "solution": digits(answer)})
    digit_probs = probs[:, 2 : 2 + size]  # tokens 2..N+1 are digits 1..N
    blanks = np.flatnonzero(question == 1)
    order = blanks[np.argsort(-digit_probs[blanks].max(1), kind="stable")]
    info: dict[str, Any] = {"is_success": False}
    for cell in order:
        mask = env.action_masks()
        choices = np.argsort(-digit_probs[cell], kind="stable")
        legal = [d for d in choices if mask[cell * size + d]]
        if not legal:
            break
        _, _, terminated, truncated, info = env.step(int(cell * size + legal[0]))
        if terminated or truncated:
            break
    return bool(info["is_success"])


def play_maze(env: MazeEnv, prediction: np.ndarray, question: np.ndarray) -> dict:
    """One episode of ``env`` following the predicted path.

    :return: ``success``, ``length`` (steps taken), ``optimal`` (BFS length).
    """
    h, w = env.unwrapped.shape
    grid = "".join("# SGo"[int(t) - 1] for t in question)
    _, info = env.reset(seed=0, options={"puzzle": grid})
    marks = prediction.reshape(h, w)
    on_path = (marks == PATH) | (question.reshape(h, w) == GOAL)
    visited = np.zeros((h, w), dtype=bool)
    pos = env.unwrapped.state.position
    visited[pos] = True
    steps, optimal = 0, info["shortest_path_length"]
    while True:
        options = [
            a
            for a, (dr, dc) in enumerate(MOVES.tolist())
            if 0 <= pos[0] + dr < h
            and 0 <= pos[1] + dc < w
            and on_path[pos[0] + dr, pos[1] + dc]
            and not visited[pos[0] + dr, pos[1] + dc]
        ]
        if not options:
            return {"success": False, "length": steps, "optimal": optimal}
        _, _, terminated, truncated, info = env.step(options[0])
        steps += 1
        pos = env.unwrapped.state.position
        visited[pos] = True
        if terminated or truncated:
            return {"success": bool(info["is_success"]), "length": steps, "optimal": optimal}


def play_in_env(
    model: nn.Module,
    data: Any,
    inputs: np.ndarray,
    labels: np.ndarray,
    steps: int,
    answers: np.ndarray | None = None,
) -> dict[str, Any]:
    """Play every puzzle of ``inputs`` in its env; success rates (see the module docstring).

    :param answers: [N, L] the model's final answers when already computed (mazes use them).
    """
    if data.kind == "sudoku":
        probs = cell_probabilities(model, inputs, data.grid_shape, steps)
        sudoku = SudokuEnv(size=data.grid_shape[0])
        solved = [
            play_sudoku(sudoku, p, q, a) for p, q, a in zip(probs, inputs, labels, strict=True)
        ]
        return {"episodes": len(solved), "success": float(np.mean(solved))}
    if answers is None:
        device = next(model.parameters()).device
        answers = predict(model, inputs, data.grid_shape, steps, device)["predictions"][-1]
    h, w = data.grid_shape
    maze = MazeEnv(size=(h, w), pool_size=1, max_steps=4 * h * w)
    games = [play_maze(maze, p, q) for p, q in zip(answers, inputs, strict=True)]
    wins = [g for g in games if g["success"]]
    return {
        "episodes": len(games),
        "success": float(np.mean([g["success"] for g in games])),
        "success_within_2x_optimal": float(
            np.mean([g["success"] and g["length"] <= 2 * g["optimal"] for g in games])
        ),
        "length_over_optimal": (
            float(np.mean([g["length"] / g["optimal"] for g in wins])) if wins else None
        ),
    }
