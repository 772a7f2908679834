"""Token ids, actions and the typed containers of the Maze environment.

The token layout is the one of the official TRM Maze-Hard dataset, so a model trained on that
dataset reads our observations unchanged.
"""

from __future__ import annotations

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


@dataclass(frozen=True, eq=False)
class MazeState:
    """One maze puzzle: the Maze-Hard question grid with its start and goal.

    :param grid: token grid with exactly one ``START`` and one ``GOAL``; every other cell is
        ``WALL`` or ``OPEN`` (read-only).
    :param start: (row, column) of ``S``.
    :param goal: (row, column) of ``G``.
    """

    grid: np.ndarray  # (H, W) uint8 tokens in {WALL, OPEN, START, GOAL}
    start: tuple[int, int]
    goal: tuple[int, int]

    def __post_init__(self) -> None:
        grid = np.array(self.grid, dtype=np.uint8)  # private copy, then frozen
        grid.setflags(write=False)
        object.__setattr__(self, "grid", grid)
        object.__setattr__(self, "start", (int(self.start[0]), int(self.start[1])))
        object.__setattr__(self, "goal", (int(self.goal[0]), int(self.goal[1])))

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
        return "".join(TOKEN_CHARS[t] for t in self.grid.ravel())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MazeState):
            return NotImplemented
        return (
            self.start == other.start
            and self.goal == other.goal
            and np.array_equal(self.grid, other.grid)
        )

    def __hash__(self) -> int:
        return hash((self.grid.shape, self.grid.tobytes(), self.start, self.goal))


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

    @property
    def shortest_path_length(self) -> np.ndarray:
        """(P,) int32 shortest S->G path length in steps."""
        return self.dist[np.arange(len(self)), self.start]
