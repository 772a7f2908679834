"""Pure renderers of a Maze token grid: text and RGB arrays (numpy only, no GUI dependency)."""

from __future__ import annotations

import numpy as np

from envs.maze.types import GOAL, START, TOKEN_CHARS, VOCAB_SIZE

#: RGB colour of each token id: pad, wall, open, agent (S), goal (G), trail/path (o).
PALETTE = np.array(
    [
        [128, 128, 128],  # pad: grey
        [40, 40, 48],  # wall: near black
        [245, 245, 240],  # open: off-white
        [220, 50, 47],  # agent: red
        [40, 170, 80],  # goal: green
        [250, 200, 90],  # trail: amber
    ],
    dtype=np.uint8,
)
assert len(PALETTE) == VOCAB_SIZE


def render_ansi(grid: np.ndarray) -> str:
    """The grid in the Maze-Hard alphabet (``#`` wall, `` `` open, ``S`` agent, ``G`` goal,
    ``o`` trail), one line per row, framed so that edge cells stay visible."""
    grid = np.asarray(grid)
    w = grid.shape[1]
    rows = ["".join(TOKEN_CHARS[t] for t in row) for row in grid.tolist()]
    edge = "+" + "-" * w + "+"
    return "\n".join([edge, *(f"|{row}|" for row in rows), edge]) + "\n"


def render_rgb(
    grid: np.ndarray, goal: tuple[int, int] | None = None, cell_px: int = 16
) -> np.ndarray:
    """The grid as an image, one ``cell_px`` square per cell.

    :param grid: (H, W) token grid (the observation's ``grid``).
    :param goal: (row, column) of the goal; when the agent stands on it the cell is drawn as the
        agent with a goal-coloured border.
    :param cell_px: side of a cell in pixels (>= 1).
    :return: (H * cell_px, W * cell_px, 3) uint8.
    """
    if cell_px < 1:
        raise ValueError(f"cell_px must be >= 1, got {cell_px}")
    grid = np.asarray(grid)
    image = PALETTE[grid].repeat(cell_px, axis=0).repeat(cell_px, axis=1)
    if goal is not None and grid[goal] == START and cell_px >= 3:
        r, c = goal[0] * cell_px, goal[1] * cell_px
        ring = image[r : r + cell_px, c : c + cell_px]
        ring[[0, -1], :] = PALETTE[GOAL]
        ring[:, [0, -1]] = PALETTE[GOAL]
    return image
