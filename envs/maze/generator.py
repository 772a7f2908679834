"""Seeded maze generators: callables ``(np.random.Generator) -> MazeState``.

- :class:`RandomMazeGenerator`: perfect mazes (DFS backtracker or randomised Prim) on a cell
  lattice, optional braiding (dead ends removed, so several routes exist), S/G placement with a
  minimum shortest-path length by rejection sampling.
- :class:`DatasetGenerator`: the mazes of a Maze-Hard-format CSV (``"maze-hard"`` is the bundled
  1000-maze training split), read lazily.
- :class:`FixedGenerator`: always the same maze (tests, demos).

All are frozen dataclasses, hence hashable: :mod:`envs.maze.pool` caches pools by generator.
"""

from __future__ import annotations

import csv
import functools
import importlib.resources
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from envs.maze.rules import bfs_flat, parse_puzzle
from envs.maze.types import GOAL, OPEN, START, WALL, MazeState

MAZE_HARD = "maze-hard"
_MAZE_HARD_FILE = "maze_hard_30x30_train.csv"
_CSV_FIELDS = ["index", "question", "answer", "source", "path_len"]


def _lattice_shape(size: int) -> int:
    """Number of lattice cells along an axis of ``size`` grid cells (odd part, cells on evens)."""
    return (size - 1) // 2 + 1


def _pick(u: Iterator[float], n: int) -> int:
    """A uniform index in ``[0, n)`` from the next pre-drawn uniform number."""
    return min(int(next(u) * n), n - 1)


@dataclass(frozen=True)
class RandomMazeGenerator:
    """Random perfect (or braided) mazes with S and G at least ``min_path_length`` apart.

    Lattice cells sit on even (row, column) coordinates of the grid and passages between them
    on the odd ones; the grid edge acts as the outer wall. Even sizes use the odd part and a wall
    row/column at the bottom/right. With ``braid=0`` the open cells form a tree (exactly one
    simple path between any two cells).

    :param size: side of the square grid (>= 5), or an (H, W) tuple.
    :param algorithm: ``"dfs"`` (recursive backtracker: long winding corridors) or ``"prim"``
        (randomised Prim: many short branches).
    :param braid: probability in [0, 1] that each dead end is opened into a neighbour cell,
        creating loops; 1 removes every dead end.
    :param min_path_length: minimum S->G shortest-path length in steps (rejection sampling).
    :param max_tries: mazes drawn per call before giving up with a ``ValueError``.
    """

    size: int | tuple[int, int] = 9
    algorithm: str = "dfs"
    braid: float = 0.0
    min_path_length: int = 0
    max_tries: int = 1000

    def __post_init__(self) -> None:
        if not np.isscalar(self.size):  # a tuple keeps the dataclass hashable (pool cache key)
            object.__setattr__(self, "size", tuple(int(s) for s in self.size))  # type: ignore[union-attr]
        h, w = self.shape
        if min(h, w) < 5:
            raise ValueError(f"maze size must be at least 5x5, got {h}x{w}")
        if self.algorithm not in ("dfs", "prim"):
            raise ValueError(f"algorithm must be 'dfs' or 'prim', got {self.algorithm!r}")
        if not 0.0 <= self.braid <= 1.0:
            raise ValueError(f"braid must be in [0, 1], got {self.braid}")
        bound = self.max_path_length_bound
        if self.min_path_length > bound:
            raise ValueError(
                f"min_path_length={self.min_path_length} is impossible on a {h}x{w} maze: "
                f"no shortest path there is longer than {bound} steps; lower it or grow the size"
            )

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of the generated grids."""
        s = self.size
        return (int(s), int(s)) if np.isscalar(s) else (int(s[0]), int(s[1]))  # type: ignore[index]

    @property
    def max_path_length_bound(self) -> int:
        """An upper bound on any S->G shortest path: open cells of a perfect maze minus one."""
        n = _lattice_shape(self.shape[0]) * _lattice_shape(self.shape[1])
        return 2 * n - 1

    def __call__(self, rng: np.random.Generator) -> MazeState:
        """Draw one maze; raises ``ValueError`` after ``max_tries`` mazes too short."""
        longest = 0
        for _ in range(self.max_tries):
            grid = self._carve(rng)
            state, length = self._place(grid, rng)
            if state is not None:
                return state
            longest = max(longest, length)
        h, w = self.shape
        raise ValueError(
            f"could not draw a {h}x{w} {self.algorithm} maze (braid={self.braid}) with a shortest "
            f"path >= {self.min_path_length} in {self.max_tries} tries (longest seen {longest}); "
            "lower min_path_length, use algorithm='dfs', braid=0 or a larger size"
        )

    def _carve(self, rng: np.random.Generator) -> np.ndarray:
        h, w = self.shape
        nr, nc = _lattice_shape(h), _lattice_shape(w)
        n = nr * nc
        grid = np.full((h, w), WALL, dtype=np.uint8)
        grid[0 : 2 * nr - 1 : 2, 0 : 2 * nc - 1 : 2] = OPEN
        nbrs = [[] for _ in range(n)]  # lattice neighbours of each lattice cell
        for i in range(n):
            r, c = divmod(i, nc)
            nbrs[i] = [
                j
                for ok, j in (
                    (r > 0, i - nc),
                    (c + 1 < nc, i + 1),
                    (r + 1 < nr, i + nc),
                    (c > 0, i - 1),
                )
                if ok
            ]
        u = iter(rng.random(8 * n + 8).tolist())  # all draws up front: fewer RNG calls
        links = self._dfs(n, nbrs, u) if self.algorithm == "dfs" else self._prim(n, nbrs, u)
        degree = [0] * n
        for a, b in links:
            degree[a] += 1
            degree[b] += 1
        if self.braid > 0:
            linked = set(links) | {(b, a) for a, b in links}
            for i in rng.permutation(n).tolist():
                if degree[i] != 1 or rng.random() >= self.braid:
                    continue
                closed = [j for j in nbrs[i] if (i, j) not in linked]
                dead = [j for j in closed if degree[j] == 1]
                options = dead or closed
                if options:
                    j = options[int(rng.integers(len(options)))]
                    links.append((i, j))
                    linked |= {(i, j), (j, i)}
                    degree[i] += 1
                    degree[j] += 1
        for a, b in links:
            (ra, ca), (rb, cb) = divmod(a, nc), divmod(b, nc)
            grid[ra + rb, ca + cb] = OPEN  # the passage between lattice cells 2ra,2ca and 2rb,2cb
        return grid

    @staticmethod
    def _dfs(n: int, nbrs: list[list[int]], u: Iterator[float]) -> list[tuple[int, int]]:
        seen = [False] * n
        first = _pick(u, n)
        seen[first] = True
        stack, links = [first], []
        while stack:
            cur = stack[-1]
            fresh = [j for j in nbrs[cur] if not seen[j]]
            if not fresh:
                stack.pop()
                continue
            nxt = fresh[_pick(u, len(fresh))]
            seen[nxt] = True
            links.append((cur, nxt))
            stack.append(nxt)
        return links

    @staticmethod
    def _prim(n: int, nbrs: list[list[int]], u: Iterator[float]) -> list[tuple[int, int]]:
        seen = [False] * n
        first = _pick(u, n)
        seen[first] = True
        edges = [(first, j) for j in nbrs[first]]
        links = []
        while edges:
            k = _pick(u, len(edges))
            edges[k], edges[-1] = edges[-1], edges[k]
            a, b = edges.pop()
            if seen[b]:
                continue
            seen[b] = True
            links.append((a, b))
            edges.extend((b, j) for j in nbrs[b] if not seen[j])
        return links

    def _place(self, grid: np.ndarray, rng: np.random.Generator) -> tuple[MazeState | None, int]:
        """S uniform over open cells; G uniform over cells >= ``min_path_length`` from S. If no
        cell is that far, S moves to the farthest cell from it first (a double sweep)."""
        h, w = grid.shape
        flat = grid.ravel()
        open_idx = np.flatnonzero(flat == OPEN)
        open_cells = (flat != WALL).tolist()
        need = max(self.min_path_length, 1)
        start = int(open_idx[rng.integers(len(open_idx))])
        dist = np.array(bfs_flat(open_cells, h, w, start))
        if dist.max() < need:
            start = int(np.argmax(dist))
            dist = np.array(bfs_flat(open_cells, h, w, start))
        far = np.flatnonzero(dist >= need)
        if len(far) == 0:
            return None, int(dist.max())
        goal = int(far[rng.integers(len(far))])
        grid = grid.copy()
        grid.flat[start], grid.flat[goal] = START, GOAL
        return MazeState(grid=grid, start=divmod(start, w), goal=divmod(goal, w)), int(dist[goal])


def resolve_dataset(dataset: str | Path) -> Path:
    """Path of a Maze-Hard-format CSV: ``"maze-hard"`` is the bundled file, anything else a path."""
    if str(dataset) == MAZE_HARD:
        ref = importlib.resources.files("envs") / "data" / _MAZE_HARD_FILE
        return Path(str(ref))
    path = Path(dataset).expanduser()
    if not path.is_file():
        raise ValueError(
            f"maze dataset {str(path)!r} does not exist; pass 'maze-hard' or the path of a CSV "
            f"with header {','.join(_CSV_FIELDS)}"
        )
    return path


@functools.lru_cache(maxsize=8)
def read_maze_csv(path: str | Path) -> tuple[MazeState, ...]:
    """Read and validate every maze of a Maze-Hard-format CSV (cached per path).

    Solvability is checked in batch when a pool is built (:func:`envs.maze.rules.make_pool`).

    :param path: CSV with header ``index,question,answer,source,path_len``; ``question`` is a
        row-major square grid string.
    :raises ValueError: naming the file and the row when the file is malformed.
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames is None or "question" not in reader.fieldnames:
                raise ValueError(
                    f"maze dataset {str(path)!r} has header {reader.fieldnames}; expected "
                    f"{','.join(_CSV_FIELDS)} (at least a 'question' column)"
                )
            states = []
            for line, row in enumerate(reader, start=2):
                try:
                    states.append(parse_puzzle(row["question"] or "", check_solvable=False))
                except ValueError as e:
                    raise ValueError(f"maze dataset {str(path)!r}, line {line}: {e}") from None
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ValueError(f"cannot read maze dataset {str(path)!r}: {e}") from e
    if not states:
        raise ValueError(f"maze dataset {str(path)!r} has no mazes")
    shapes = {s.shape for s in states}
    if len(shapes) > 1:
        raise ValueError(f"maze dataset {str(path)!r} mixes grid shapes {sorted(shapes)}")
    return tuple(states)


@dataclass(frozen=True)
class DatasetGenerator:
    """Mazes of a Maze-Hard-format CSV, read on first use.

    Calling it draws a uniformly random row; iterating yields the rows in file order.

    :param dataset: ``"maze-hard"`` (the bundled 30x30 training split) or a CSV path.
    """

    dataset: str = MAZE_HARD

    def __post_init__(self) -> None:
        object.__setattr__(self, "dataset", str(resolve_dataset(self.dataset)))

    @property
    def mazes(self) -> tuple[MazeState, ...]:
        """Every maze of the file, in order."""
        return read_maze_csv(self.dataset)

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of the mazes."""
        return self.mazes[0].shape

    def __len__(self) -> int:
        return len(self.mazes)

    def __iter__(self) -> Iterator[MazeState]:
        return iter(self.mazes)

    def __call__(self, rng: np.random.Generator) -> MazeState:
        """A uniformly random maze of the file."""
        return self.mazes[int(rng.integers(len(self.mazes)))]


@dataclass(frozen=True)
class FixedGenerator:
    """Always returns the same maze.

    :param puzzle: a puzzle string (see :func:`envs.maze.rules.parse_puzzle`) or a ``MazeState``.
    """

    puzzle: str | MazeState

    def __post_init__(self) -> None:
        object.__setattr__(self, "puzzle", parse_puzzle(self.puzzle))

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of the maze."""
        return self.puzzle.shape  # type: ignore[union-attr]

    def __call__(self, rng: np.random.Generator) -> MazeState:
        """The fixed maze (``rng`` is unused)."""
        return self.puzzle  # type: ignore[return-value]
