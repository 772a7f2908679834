"""Token ids, actions, the typed containers of the Maze environment and their text form.

The token layout is the one of the official TRM Maze-Hard dataset, so a model trained on that
dataset reads our observations unchanged. :func:`to_string` writes a grid as a Maze-Hard string
and :func:`as_puzzle` reads one back (well formed, solvability unchecked: that needs the BFS,
see :func:`envs.maze.rules.parse_puzzle`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Token ids (official TRM Maze dataset: characters "# SGo" are ids 1..5, 0 is padding).
PAD, WALL, OPEN, START, GOAL, PATH = 0, 1, 2, 3, 4, 5
VOCAB_SIZE = 6
#: Character of each token id; PAD never appears in a puzzle string.
TOKEN_CHARS = ".# SGo"
#: Characters accepted in puzzle strings and the token each one maps to (path markers are open).
CHAR_TO_TOKEN = {"#": WALL, " ": OPEN, "S": START, "G": GOAL, "o": PATH}

# Actions, in jumanji's order. Moving into a wall or off the grid leaves the agent in place.
UP, RIGHT, DOWN, LEFT = 0, 1, 2, 3
ACTION_NAMES = ("up", "right", "down", "left")
#: (row, column) displacement of each action.
MOVES = np.array([[-1, 0], [0, 1], [1, 0], [0, -1]], dtype=np.int64)
#: dtype of the step counters and the step limit of the batched transition; ``max_steps`` of a
#: :class:`~envs.maze.config.MazeConfig` is at most its largest value.
STEP_DTYPE = np.int64

_ALLOWED = "".join(CHAR_TO_TOKEN)
# Lookup from byte value to token id (PAD marks a bad character).
_BYTE_TO_TOKEN = np.zeros(256, dtype=np.uint8)
for _char, _token in CHAR_TO_TOKEN.items():
    _BYTE_TO_TOKEN[ord(_char)] = _token


def to_string(grid: np.ndarray) -> str:
    """Row-major string of a token grid in the Maze-Hard alphabet (``PAD`` shown as ``.``)."""
    return "".join(TOKEN_CHARS[t] for t in np.asarray(grid).ravel().tolist())


def _where(grid: np.ndarray, token: int) -> list[tuple[int, int]]:
    return [(int(r), int(c)) for r, c in zip(*np.nonzero(grid == token), strict=True)]


def as_puzzle(
    puzzle: str | np.ndarray | Sequence | MazePuzzle, shape: tuple[int, int] | None = None
) -> MazePuzzle:
    """Read a maze puzzle as a well-formed :class:`MazePuzzle`, without the solvability check
    (:func:`envs.maze.rules.parse_puzzle` adds it).

    :param puzzle: a string of ``H*W`` characters from ``"# SG"`` (``"o"`` path markers are read
        as open), an (H, W) array of such characters or of tokens 1..5, or a ``MazePuzzle``.
    :param shape: the (H, W) the puzzle must have; ``None`` accepts any square string or any
        array shape.
    :return: the puzzle with path markers cleared (a ``MazePuzzle`` is returned as is).
    :raises ValueError: naming the problem: wrong length/shape, bad characters or tokens, or a
        missing or duplicate S/G.
    """
    if isinstance(puzzle, MazePuzzle):
        # Well formed by construction; the shape still depends on the caller.
        if shape is not None and puzzle.shape != tuple(shape):
            raise ValueError(
                f"maze puzzle is {puzzle.shape[0]}x{puzzle.shape[1]}, expected "
                f"{shape[0]}x{shape[1]} (this env's grid)"
            )
        return puzzle
    if isinstance(puzzle, str):
        n = len(puzzle)
        if shape is None:
            side = round(n**0.5)
            if side * side != n or n == 0:
                raise ValueError(
                    f"maze puzzle string has {n} characters, which is not a square grid; "
                    "pass H*W characters row-major or an (H, W) array"
                )
            shape = (side, side)
        if n != shape[0] * shape[1]:
            raise ValueError(
                f"maze puzzle string has {n} characters, expected {shape[0] * shape[1]} "
                f"for a {shape[0]}x{shape[1]} grid (row-major)"
            )
        bad = sorted(set(puzzle) - set(_ALLOWED))
        if bad:
            raise ValueError(
                f"maze puzzle has bad characters {bad}; allowed are {list(_ALLOWED)} "
                "(wall '#', open ' ', start 'S', goal 'G', path 'o')"
            )
        grid = _BYTE_TO_TOKEN[np.frombuffer(puzzle.encode("ascii"), dtype=np.uint8)]
        grid = grid.reshape(shape)
    else:
        arr = np.asarray(puzzle)
        if arr.ndim != 2 or (shape is not None and arr.shape != tuple(shape)):
            want = f"{shape[0]}x{shape[1]}" if shape is not None else "2-D (H, W)"
            raise ValueError(f"maze puzzle array has shape {arr.shape}, expected {want}")
        if arr.dtype.kind in "US":
            chars = arr.astype(str)
            bad = sorted(set(chars.ravel().tolist()) - set(_ALLOWED))
            if bad:
                raise ValueError(
                    f"maze puzzle has bad characters {bad}; allowed are {list(_ALLOWED)}"
                )
            return as_puzzle("".join(chars.ravel().tolist()), arr.shape)
        if arr.dtype.kind not in "iu" or arr.size == 0:
            raise ValueError(f"maze puzzle array has dtype {arr.dtype}; use tokens 1..5 or chars")
        bad = sorted(set(np.unique(arr).tolist()) - {WALL, OPEN, START, GOAL, PATH})
        if bad:
            raise ValueError(
                f"maze puzzle has bad tokens {bad}; allowed are 1 '#', 2 ' ', 3 'S', 4 'G', 5 'o'"
            )
        grid = arr.astype(np.uint8)
    grid = np.where(grid == PATH, OPEN, grid).astype(np.uint8)
    found = {}
    for token, name in ((START, "start 'S'"), (GOAL, "goal 'G'")):
        cells = _where(grid, token)
        if len(cells) != 1:
            what = "no" if not cells else f"{len(cells)} ({', '.join(map(str, cells))})"
            raise ValueError(f"maze puzzle has {what} {name}; it needs exactly one")
        found[token] = cells[0]
    return MazePuzzle(grid=grid, start=found[START], goal=found[GOAL])


@dataclass(frozen=True, eq=False)
class MazePuzzle:
    """One maze puzzle: the Maze-Hard question grid with its start and goal.

    Construction validates the puzzle (any ``MazePuzzle`` is well formed): a 2-D grid of the
    tokens ``WALL``, ``OPEN``, ``START`` and ``GOAL`` only, with exactly one ``START`` at
    ``start`` and one ``GOAL`` at ``goal``. Solvability is checked where puzzles enter an env
    (:func:`envs.maze.rules.parse_puzzle`, :func:`envs.maze.pool.make_pool`).

    :param grid: token grid (copied and made read-only).
    :param start: (row, column) of ``S``.
    :param goal: (row, column) of ``G``.
    :raises ValueError: naming the problem (shape, bad tokens, S/G missing or misplaced).
    """

    grid: np.ndarray  # (H, W) uint8 tokens in {WALL, OPEN, START, GOAL}
    start: tuple[int, int]
    goal: tuple[int, int]

    def __post_init__(self) -> None:
        raw = np.asarray(self.grid)
        if raw.ndim != 2 or raw.size == 0:
            raise ValueError(f"MazePuzzle grid must be a non-empty (H, W) array, got {raw.shape}")
        if raw.dtype.kind not in "iu":
            raise ValueError(f"MazePuzzle grid must hold integer tokens, got dtype {raw.dtype}")
        bad = sorted(set(np.unique(raw).tolist()) - {WALL, OPEN, START, GOAL})
        if bad:
            raise ValueError(
                f"MazePuzzle grid has tokens {bad}; allowed are 1 '#', 2 ' ', 3 'S', 4 'G' "
                "(build puzzles with envs.maze.rules.parse_puzzle, which also reads 'o' marks)"
            )
        grid = raw.astype(np.uint8)  # private copy, then frozen
        grid.setflags(write=False)
        object.__setattr__(self, "grid", grid)
        for name, token, char in (("start", START, "S"), ("goal", GOAL, "G")):
            cell = getattr(self, name)
            try:
                r, c = (int(v) for v in cell)
            except (TypeError, ValueError):
                raise ValueError(
                    f"MazePuzzle {name} must be a (row, column) pair, got {cell!r}"
                ) from None
            cells = np.argwhere(grid == token)
            if len(cells) != 1 or (r, c) != tuple(cells[0].tolist()):
                where = [tuple(x) for x in cells.tolist()]
                raise ValueError(
                    f"MazePuzzle {name}={(r, c)} but the grid has {char!r} at {where}; "
                    f"a puzzle needs exactly one {char!r}, at {name}"
                )
            object.__setattr__(self, name, (r, c))

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of the grid."""
        return self.grid.shape  # type: ignore[return-value]

    @property
    def walls(self) -> np.ndarray:
        """(H, W) bool, True on walls."""
        return self.grid == WALL

    def to_string(self) -> str:
        """The puzzle as a Maze-Hard question string (H*W characters, row-major)."""
        return to_string(self.grid)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MazePuzzle):
            return NotImplemented
        return (
            self.start == other.start
            and self.goal == other.goal
            and np.array_equal(self.grid, other.grid)
        )

    def __hash__(self) -> int:
        return hash((self.grid.shape, self.grid.tobytes(), self.start, self.goal))


@dataclass(frozen=True)
class MazeState:
    """A snapshot of one episode (``MazeEnv.state`` returns a fresh copy).

    :param grid: the current observation grid (the agent shown as ``S``).
    :param puzzle: the maze of the episode.
    :param position: (row, column) of the agent.
    :param step_count: steps taken this episode.
    :param distance_to_goal: BFS steps from the agent to the goal.
    """

    grid: np.ndarray  # (H, W) uint8 tokens
    puzzle: MazePuzzle
    position: tuple[int, int]
    step_count: int
    distance_to_goal: int


@dataclass(frozen=True, eq=False)
class MazePool:
    """A batch of P same-shaped mazes with the tables the transition needs (all read-only).

    Cells are addressed by their flat index ``r * W + c``; ``H * W`` is a sentinel "outside" cell
    that is never free, so a neighbour lookup never needs a bounds check.

    :param grids: start-of-episode token grids (the puzzles).
    :param free: True where the agent may stand (open, start, goal); last column is the sentinel.
    :param dist: BFS distance (steps) from each cell to the goal; -1 if unreachable or a wall.
    :param start: flat index of S.
    :param goal: flat index of G.
    """

    grids: np.ndarray  # (P, H, W) uint8 tokens
    free: np.ndarray  # (P, H*W + 1) bool
    dist: np.ndarray  # (P, H*W) int32
    start: np.ndarray  # (P,) int64
    goal: np.ndarray  # (P,) int64

    def __post_init__(self) -> None:
        for name in ("grids", "free", "dist", "start", "goal"):
            getattr(self, name).setflags(write=False)

    def __len__(self) -> int:
        return self.grids.shape[0]

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of every maze in the pool."""
        return self.grids.shape[1:]  # type: ignore[return-value]

    def puzzle(self, index: int) -> MazePuzzle:
        """Maze ``index`` of the pool."""
        w = self.shape[1]
        start, goal = divmod(int(self.start[index]), w), divmod(int(self.goal[index]), w)
        return MazePuzzle(grid=self.grids[index], start=start, goal=goal)

    def __iter__(self):
        return (self.puzzle(i) for i in range(len(self)))

    @property
    def shortest_path_length(self) -> np.ndarray:
        """(P,) int32 shortest S->G path length in steps."""
        return self.dist[np.arange(len(self)), self.start]
