"""Pure-numpy renderers: a text board (``ansi``) and an RGB image (``rgb_array``).

Givens are drawn in black (plain text in ``ansi``), digits placed by the agent in blue (cyan)
and, when the solution is known, placements that contradict it in red. Digits use a built-in
3x5 bitmap font, so no GUI or font library is needed.
"""

from __future__ import annotations

import numpy as np

from envs.sudoku.rules import box_shape

# 3x5 bitmap font for the digits 0-9, one string of 15 bits per digit (rows of 3).
_FONT_ROWS = {
    0: "111101101101111",
    1: "010110010010111",
    2: "111001111100111",
    3: "111001111001111",
    4: "101101111001001",
    5: "111100111001111",
    6: "111100111101111",
    7: "111001001001001",
    8: "111101111101111",
    9: "111101111001111",
}
FONT = np.array([[c == "1" for c in _FONT_ROWS[d]] for d in range(10)]).reshape(10, 5, 3)

GIVEN_RGB = (20, 20, 20)
PLACED_RGB = (30, 90, 210)
WRONG_RGB = (210, 40, 40)
GIVEN_CELL_RGB = (228, 228, 228)
THIN_RGB = (170, 170, 170)

_ANSI_PLACED, _ANSI_WRONG, _ANSI_RESET = "\x1b[36m", "\x1b[31m", "\x1b[0m"


def _colour_codes(board: np.ndarray, puzzle: np.ndarray, solution: np.ndarray | None) -> np.ndarray:
    """0 blank, 1 given, 2 placed, 3 placed but contradicting the solution: (N, N) int8."""
    kind = np.where(board == 0, 0, np.where(puzzle != 0, 1, 2)).astype(np.int8)
    if solution is not None:
        kind[(kind == 2) & (board != solution)] = 3
    return kind


def render_ansi(
    board: np.ndarray,
    puzzle: np.ndarray,
    solution: np.ndarray | None = None,
    colour: bool = True,
) -> str:
    """Text board with box separators, ``.`` for blanks.

    :param board: (N, N) digits now on the board, 0 = blank.
    :param puzzle: (N, N) the givens.
    :param solution: (N, N) to colour wrong placements red; None to skip.
    :param colour: use ANSI colour codes for placed digits.
    """
    size = board.shape[0]
    br, bc = box_shape(size)
    kind = _colour_codes(board, puzzle, solution)
    rule = "+" + "+".join(["-" * (2 * bc + 1)] * (size // bc)) + "+"
    lines = [rule]
    for r in range(size):
        parts = ["|"]
        for c in range(size):
            text = "." if board[r, c] == 0 else str(board[r, c])
            if colour and kind[r, c] >= 2:
                code = _ANSI_WRONG if kind[r, c] == 3 else _ANSI_PLACED
                text = f"{code}{text}{_ANSI_RESET}"
            parts.append(" " + text)
            if (c + 1) % bc == 0:
                parts.append(" |")
        lines.append("".join(parts))
        if (r + 1) % br == 0:
            lines.append(rule)
    return "\n".join(lines) + "\n"


def render_rgb(
    board: np.ndarray,
    puzzle: np.ndarray,
    solution: np.ndarray | None = None,
    cell_px: int = 24,
) -> np.ndarray:
    """RGB image of the board: (H, W, 3) uint8 with ``H = W = N * cell_px + 3``."""
    size = board.shape[0]
    br, bc = box_shape(size)
    side = size * cell_px + 3
    img = np.full((side, side, 3), 255, dtype=np.uint8)
    kind = _colour_codes(board, puzzle, solution)
    scale = max(1, cell_px // 8)
    gh, gw = 5 * scale, 3 * scale
    colours = {1: GIVEN_RGB, 2: PLACED_RGB, 3: WRONG_RGB}
    for r in range(size):
        for c in range(size):
            y0, x0 = r * cell_px, c * cell_px
            if kind[r, c] == 1:
                img[y0 : y0 + cell_px, x0 : x0 + cell_px] = GIVEN_CELL_RGB
            if kind[r, c] == 0:
                continue
            glyph = np.kron(FONT[board[r, c]], np.ones((scale, scale), dtype=bool))
            gy, gx = y0 + (cell_px + 2 - gh) // 2, x0 + (cell_px + 2 - gw) // 2
            img[gy : gy + gh, gx : gx + gw][glyph] = colours[int(kind[r, c])]
    for thick in (False, True):  # thin lines first, so box lines stay black where they cross
        for k in range(size + 1):
            p, width = k * cell_px, 3 if thick else 1
            if (k % br == 0) == thick:
                img[p : p + width, :] = 0 if thick else THIN_RGB
            if (k % bc == 0) == thick:
                img[:, p : p + width] = 0 if thick else THIN_RGB
    return img
