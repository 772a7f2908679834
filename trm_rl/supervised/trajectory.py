"""``solve --trajectory out.gif``: a puzzle's answer refined step by step, with the halting
probability under each frame.

Each frame is the answer after one supervision step (Sudoku: the givens in black, predicted
digits in blue; Maze: the predicted path in amber), drawn by the envs' numpy renderers, and a
bar below it filled to ``sigmoid(q_halt)`` (green once above 0.5, where the model would halt),
labelled with the step number. Pillow writes the GIF.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from envs.maze.render import render_rgb as render_maze
from envs.sudoku.render import FONT
from envs.sudoku.render import render_rgb as render_sudoku
from envs.utils import atomic_write_file

BAR_PX = 14


def _text(img: np.ndarray, text: str, y: int, x: int, scale: int = 2) -> None:
    """Draw digits (and spaces) with the envs' 3x5 bitmap font, in place."""
    for ch in text:
        if ch.isdigit():
            glyph = np.kron(FONT[int(ch)], np.ones((scale, scale), dtype=bool))
            h, w = glyph.shape
            if y + h <= img.shape[0] and x + w <= img.shape[1]:
                img[y : y + h, x : x + w][glyph] = (20, 20, 20)
        x += 4 * scale


def render_frame(
    kind: str,
    answer: np.ndarray,
    question: np.ndarray,
    shape: tuple[int, int],
    prob: float,
    step: int,
) -> np.ndarray:
    """One frame: the answer grid above a halting-probability bar.

    :param answer: [H*W] predicted tokens after this step.
    :param question: [H*W] question tokens.
    :return: (height, width, 3) uint8.
    """
    h, w = shape
    if kind == "sudoku":
        digits = np.clip(answer.astype(np.int64) - 1, 0, h).reshape(h, w)
        given = np.clip(question.astype(np.int64) - 1, 0, h).reshape(h, w)
        grid = render_sudoku(digits.astype(np.uint8), given.astype(np.uint8), None)
    else:
        tokens = np.clip(answer.astype(np.int64), 0, 5).reshape(h, w)
        cell = max(4, 240 // max(h, w))
        grid = render_maze(tokens.astype(np.uint8), None, cell)
    width = grid.shape[1]
    bar = np.full((BAR_PX, width, 3), 245, dtype=np.uint8)
    filled = round(width * float(np.clip(prob, 0.0, 1.0)))
    bar[2:-2, :filled] = (40, 170, 80) if prob > 0.5 else (230, 160, 40)
    _text(bar, str(step), 2, 3)
    return np.concatenate([grid, bar], axis=0)


def write_trajectory_gif(
    kind: str,
    predictions: np.ndarray,
    halt_probs: np.ndarray,
    question: np.ndarray,
    shape: tuple[int, int],
    path: str | Path,
    ms_per_frame: int = 500,
) -> Path:
    """Write the GIF of one puzzle's trajectory (atomically).

    :param predictions: [S, H*W] answers after each step.
    :param halt_probs: [S] sigmoid(q_halt) after each step.
    :param question: [H*W] question tokens.
    """
    frames = [
        Image.fromarray(render_frame(kind, predictions[s], question, shape, halt_probs[s], s + 1))
        for s in range(len(predictions))
    ]
    durations = [ms_per_frame] * (len(frames) - 1) + [ms_per_frame * 4]  # hold the last one

    def write(tmp: str) -> None:
        frames[0].save(
            tmp, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0
        )

    return atomic_write_file(path, write)
