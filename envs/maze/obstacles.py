"""Random-obstacle mazes like Maze-Hard: independent walls, S and G far apart.

Maze-Hard (the bundled ``maze_hard_30x30_train.csv``) is no corridor maze. Measured with
:func:`envs.maze.stats.maze_statistics` (``python benchmarks/maze_hard_match.py``):

- walls are independent: P(wall | left neighbour is a wall) = 0.372, P(wall | upper neighbour is
  a wall) = 0.372, the same as the density 0.371, at every lattice parity;
- the density varies more between mazes (std 0.027) than 900 cells of one density would
  (0.016): each maze has its own wall fraction;
- the edge is more open than the centre (0.36 vs 0.39), S and G sit near the edge more often
  than uniform cells, the shortest path runs 109-146 steps (mode 109) and S's component holds
  88% of the open cells.

All of it is what rejection sampling gives, with no extra rule:
:func:`draw_obstacle_maze` draws a wall fraction ``p`` uniform in :data:`MAZE_HARD_WALL_DENSITY`
per maze, makes each cell a wall with probability ``p``, puts S and G on two distinct open cells
uniformly at random and keeps the draw only when the shortest S->G path has at least
``min_path_length`` steps (Maze-Hard: 109, :data:`MAZE_HARD_MIN_PATH_LENGTH`). A fixed ``p``
matches the mean density and every other statistic but gives half the spread of densities.
The lower density of the edge and the edge-bound S and G come from the selection alone: a long
path must go around a blocked centre. (The recipe is inferred from these statistics; Maze-Hard's
own generator does not ship with the data.)

The rejection is exact, not a shortcut, and it is rare: at 30x30 with a 109-step minimum about
1 draw in 60,000 is kept (1 in 20,000 with a fixed density of 0.37), so a maze takes 0.3-0.4 s
of one core (0.15 s at 0.37); 15x15 and 11x11 with minimum paths scaled by cells take
milliseconds. Draws are therefore made in blocks and tested together: walls as bit rows (one
32-bit word per row at 30x30), S and G flooded one layer at a time from both ends until the two
balls touch (that layer count is the distance) or one of them stops growing (no path).
"""

from __future__ import annotations

import numpy as np

from envs.maze.types import GOAL, OPEN, START, WALL, MazePuzzle

#: Range of the per-maze wall fraction that reproduces Maze-Hard (mean and spread of densities).
MAZE_HARD_WALL_DENSITY: tuple[float, float] = (0.3, 0.5)
#: Fewest S->G steps of a Maze-Hard maze (the bundled split runs 109-146, 154 of them at 109).
MAZE_HARD_MIN_PATH_LENGTH = 109
#: Draws (mazes with S and G) per call before giving up: about 35 times the draws one kept
#: 30x30 Maze-Hard-like maze takes (some 15 s of one core).
MAX_DRAWS = 2_000_000
#: Wall probabilities are drawn to this resolution (16-bit random integers per cell).
_RESOLUTION = 1 << 16
#: Largest block of candidate draws, in grid cells; blocks start small and double.
_BLOCK_CELLS = 1 << 22
_FIRST_BLOCK = 16


def scaled_min_path_length(shape: tuple[int, int]) -> int:
    """Maze-Hard's minimum path scaled to another grid by its number of cells,
    ``round(109 * H * W / 900)``, so that the label path covers the same share of the grid
    (about 12%, the share of path tokens a model predicts): 11x11 -> 15, 15x15 -> 27,
    30x30 -> 109. Smaller grids then keep a larger share of their draws: such mazes are less
    selected, with shorter detours, than Maze-Hard's (``benchmarks/maze_hard_match.py``)."""
    h, w = shape
    return round(MAZE_HARD_MIN_PATH_LENGTH * h * w / 900)


def check_wall_density(value: object) -> float | tuple[float, float]:
    """Validate a wall density: a probability in (0, 1), or an inclusive range ``(lo, hi)``
    within (0, 1) drawn uniformly per maze; a range with ``lo == hi`` becomes that float.

    :raises ValueError: naming the value and what to pass.
    """
    hint = (
        "pass a probability in (0, 1) such as 0.37, or a (lo, hi) range within (0, 1) drawn per "
        f"maze; Maze-Hard is {MAZE_HARD_WALL_DENSITY}"
    )
    values = value if isinstance(value, list | tuple) else (value,)
    if len(values) not in (1, 2):
        raise ValueError(
            f"wall_density must be one value or a (lo, hi) pair, got {value!r}; {hint}"
        )
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
            raise ValueError(f"wall_density must be a number, got {v!r}; {hint}")
        if not 0.0 < float(v) < 1.0:  # NaN fails too
            raise ValueError(f"wall_density={value!r} is outside (0, 1); {hint}")
        out.append(float(v))
    if len(out) == 1 or out[0] == out[1]:
        return out[0]
    if out[0] > out[1]:
        raise ValueError(f"wall_density range {value!r} has lo > hi; {hint}")
    return (out[0], out[1])


def draw_obstacle_maze(
    rng: np.random.Generator,
    shape: tuple[int, int],
    density: float | tuple[float, float],
    min_path_length: int,
    max_draws: int = MAX_DRAWS,
) -> tuple[MazePuzzle | None, int]:
    """One random-obstacle maze with a shortest S->G path of at least ``min_path_length`` steps,
    by rejection (see the module docstring).

    :param rng: the only source of randomness.
    :param shape: (H, W) of the grid.
    :param density: wall probability, or a (lo, hi) range it is drawn from per maze.
    :param min_path_length: fewest S->G steps (0 and 1 only ask for a path).
    :param max_draws: candidate draws before giving up.
    :return: the maze (None after ``max_draws`` rejected draws) and the longest shortest path
        seen among the rejected draws.
    """
    h, w = shape
    need = max(int(min_path_length), 1)
    cap = max(_FIRST_BLOCK, _BLOCK_CELLS // (h * w))
    drawn, longest, block = 0, 0, _FIRST_BLOCK
    while drawn < max_draws:
        count = min(block, cap, max_draws - drawn)
        free, start, goal = _candidates(rng, count, (h, w), density)
        found, seen = _first_far_enough(free, start, goal, w, need)
        drawn += count
        longest = max(longest, seen)
        if found >= 0:
            grid = np.where(free[found, :, :w], OPEN, WALL).astype(np.uint8)
            s, g = int(start[found]), int(goal[found])
            grid.flat[s], grid.flat[g] = START, GOAL
            return MazePuzzle(grid=grid, start=divmod(s, w), goal=divmod(g, w)), longest
        block *= 2
    return None, longest


def _word_bits(w: int) -> int:
    """Bits of the words a grid row is stored in: the smallest unsigned type that holds it, else
    several 64-bit words."""
    return next((bits for bits in (8, 16, 32) if w <= bits), 64)


def _candidates(
    rng: np.random.Generator,
    count: int,
    shape: tuple[int, int],
    density: float | tuple[float, float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``count`` draws: open cells (count, H, W') bool, rows padded with walls to a whole number
    of words, and the flat (``r * W + c``) S and G cells (count,), distinct and uniform among
    the open cells (-1 for both where fewer than two cells are open)."""
    h, w = shape
    bits = _word_bits(w)
    wp = -(-w // bits) * bits
    if isinstance(density, tuple):
        p = rng.uniform(density[0], density[1], size=count)
    else:
        p = np.full(count, density)
    threshold = np.minimum(np.round(p * _RESOLUTION), _RESOLUTION - 1).astype(np.uint16)
    free = (
        rng.integers(0, _RESOLUTION, size=(count, h, wp), dtype=np.uint16)
        >= threshold[:, None, None]
    )  # P(wall) = threshold / 2**16
    free[..., w:] = False
    flat_free = free.reshape(count, h * wp)
    n = np.count_nonzero(flat_free, axis=1)
    u = rng.random((count, 2))
    k_start = np.minimum((u[:, 0] * n).astype(np.int64), np.maximum(n - 1, 0))
    k_goal = np.minimum((u[:, 1] * (n - 1)).astype(np.int64), np.maximum(n - 2, 0))
    k_goal += k_goal >= k_start  # the k-th open cell other than S
    cells = np.flatnonzero(flat_free)  # open cells of every draw, draw after draw
    first = np.cumsum(n) - n  # where each draw's open cells begin in ``cells``
    ok = np.flatnonzero(n >= 2)
    start, goal = np.full(count, -1), np.full(count, -1)
    for out, k in ((start, k_start), (goal, k_goal)):
        r, c = np.divmod(cells[first[ok] + k[ok]] - ok * (h * wp), wp)
        out[ok] = r * w + c
    return free, start, goal


def _pack(free: np.ndarray) -> np.ndarray:
    """(B, H, W') bool, rows a whole number of words -> (H, words, B) bit rows, the draws on the
    last (contiguous) axis so that a layer is a few whole-array operations; column ``c`` is bit
    ``c % bits`` of word ``c // bits`` (:func:`_word_bits`)."""
    b, h, wp = free.shape
    nbytes = _word_bits(wp) // 8
    packed = np.packbits(free.reshape(-1), bitorder="little").reshape(b, h, wp // 8)
    rows = packed.view(f"<u{nbytes}").astype(f"=u{nbytes}", copy=False)
    return np.ascontiguousarray(rows.transpose(1, 2, 0))


def _spread(front: np.ndarray) -> np.ndarray:
    """The cells next to ``front`` (bit rows, walls not removed): one BFS layer."""
    out = front << 1  # column c -> c + 1
    out |= front >> 1  # column c -> c - 1
    if front.shape[1] > 1:  # carries between the (64-bit) words of a row
        out[:, 1:] |= front[:, :-1] >> 63
        out[:, :-1] |= front[:, 1:] << 63
    out[1:] |= front[:-1]  # row r -> r + 1
    out[:-1] |= front[1:]  # row r -> r - 1
    return out


def _nonzero(rows: np.ndarray) -> np.ndarray:
    """(B,) True where a draw's bit rows have any bit set."""
    return np.bitwise_or.reduce(rows.reshape(-1, rows.shape[2]), axis=0) != 0


def _bit(like: np.ndarray, cells: np.ndarray, w: int) -> np.ndarray:
    """Bit rows shaped like ``like`` with one cell set per draw (flat index ``cells``)."""
    out = np.zeros_like(like)
    bits = 8 * out.itemsize
    r, c = np.divmod(cells, w)
    out[r, c // bits, np.arange(out.shape[2])] = np.left_shift(1, c % bits).astype(out.dtype)
    return out


def _first_far_enough(
    free: np.ndarray, start: np.ndarray, goal: np.ndarray, w: int, need: int
) -> tuple[int, int]:
    """The first draw whose S->G distance is >= ``need`` (-1 if none) and the longest distance
    below ``need`` among the others.

    Both ends are flooded in turn (S on odd layers, G on even ones); the first layer ``t`` at
    which the two balls touch is the distance, and a ball that stops growing first means that
    S and G are not connected. Decided draws leave the batch.
    """
    b = len(free)
    ids = np.flatnonzero(start >= 0)
    if len(ids) == 0:
        return -1, 0
    rows = _pack(free[ids])
    front = [_bit(rows, start[ids], w), _bit(rows, goal[ids], w)]
    seen = [front[0].copy(), front[1].copy()]
    left = [rows & ~front[0], rows & ~front[1]]  # open cells each ball has not reached
    active = np.ones(len(ids), dtype=bool)
    best, longest, t = b, 0, 0
    while active.any():
        t += 1
        side = (t - 1) % 2
        layer = _spread(front[side])
        layer &= left[side]
        left[side] ^= layer
        seen[side] |= layer
        front[side] = layer
        met = _nonzero(layer & seen[1 - side]) & active
        stuck = ~_nonzero(layer) & active & ~met
        if met.any():
            if t >= need:
                best = min(best, int(ids[met].min()))
            else:
                longest = t
        active &= ~(met | stuck) & (ids < best)
        if active.sum() <= 0.75 * len(active):  # drop decided draws from the arrays
            keep = active
            ids, active = ids[keep], active[keep]
            front = [a[..., keep] for a in front]
            seen = [a[..., keep] for a in seen]
            left = [a[..., keep] for a in left]
    return (best if best < b else -1), longest
