"""Seeded maze generators: callables ``(np.random.Generator) -> MazePuzzle``.

- :class:`RandomMazeGenerator`: perfect mazes (DFS backtracker or randomised Prim) on a cell
  lattice, optional braiding (dead ends removed, so several routes exist), S/G placement with a
  minimum shortest-path length by rejection sampling; or, with ``algorithm="obstacles"``,
  Maze-Hard's kind of maze: independent random walls, S and G at least ``min_path_length``
  apart (:mod:`envs.maze.obstacles`).
- :class:`DatasetGenerator`: the mazes of a Maze-Hard-format CSV (``"maze-hard"`` is the bundled
  1000-maze training split), read lazily.
- :class:`FixedGenerator`: always the same maze (tests, demos).

All are frozen dataclasses, hence hashable: :mod:`envs.maze.pool` caches pools by generator.

As a command it writes a Maze-Hard-format dataset from our generators. Mazes of Maze-Hard's
kind and statistics (random walls, shortest path >= 109 steps; 2-3 mazes/s on one core)::

    python -m envs.maze.generator --algorithm obstacles --size 30 --min-path-length 109 \\
        --count 1000 --seed 0 --out maze_hard_like_30x30.csv

Perfect DFS mazes with as long a path (corridors: another distribution)::

    python -m envs.maze.generator --size 30 --min-path-length 111 --count 1000 --seed 0 \\
        --out mazes_30x30.csv

Maze ``i`` is drawn from ``np.random.default_rng([seed, i])``: a file is reproducible and any
prefix is the same whatever ``--count``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from envs.maze.config import ALGORITHMS, MazeConfig
from envs.maze.io import MAZE_HARD, read_maze_csv, resolve_dataset, write_maze_csv
from envs.maze.obstacles import MAX_DRAWS, MAZE_HARD_WALL_DENSITY, draw_obstacle_maze
from envs.maze.rules import longest_shortest_path, parse_puzzle
from envs.maze.solver import bfs_flat
from envs.maze.types import GOAL, OPEN, START, WALL, MazePuzzle
from envs.utils import check_int, file_signature


def _lattice_shape(size: int) -> int:
    """Number of lattice cells along an axis of ``size`` grid cells (odd part, cells on evens)."""
    return (size - 1) // 2 + 1


def _pick(u: Iterator[float], n: int) -> int:
    """A uniform index in ``[0, n)`` from the next pre-drawn uniform number."""
    return min(int(next(u) * n), n - 1)


@dataclass(frozen=True)
class RandomMazeGenerator:
    """Random perfect (or braided) mazes, or random-obstacle mazes, with S and G at least
    ``min_path_length`` apart.

    Carved mazes (``dfs``, ``prim``): lattice cells sit on even (row, column) coordinates of the
    grid and passages between them on the odd ones; the grid edge acts as the outer wall. Even
    sizes use the odd part and a wall row/column at the bottom/right. With ``braid=0`` the open
    cells form a tree (exactly one simple path between any two cells).

    Obstacle mazes (``obstacles``): every cell is a wall with probability ``wall_density``
    independently, S and G are two distinct open cells drawn uniformly, and the whole draw is
    kept only when the shortest S->G path has at least ``min_path_length`` steps (Maze-Hard's
    recipe and statistics, :mod:`envs.maze.obstacles`).

    :param size: side of the square grid (>= 5), or an (H, W) tuple.
    :param algorithm: ``"dfs"`` (recursive backtracker: long winding corridors), ``"prim"``
        (randomised Prim: many short branches) or ``"obstacles"`` (random walls, like
        Maze-Hard).
    :param braid: carved mazes only: probability in [0, 1] that each dead end is opened into a
        neighbour cell, creating loops; 1 removes every dead end.
    :param min_path_length: minimum S->G shortest-path length in steps (rejection sampling).
    :param wall_density: obstacle mazes only: wall probability in (0, 1), or a (lo, hi) range
        drawn uniformly per maze (default: Maze-Hard's (0.3, 0.5)).
    :param max_tries: draws per call before giving up with a ``ValueError``: carved mazes (S/G
        placed by a double sweep in each), or obstacle mazes with their S and G; None: 1000
        carved mazes or :data:`~envs.maze.obstacles.MAX_DRAWS` obstacle draws.
    """

    size: int | tuple[int, int] = 9
    algorithm: str = "dfs"
    braid: float = 0.0
    min_path_length: int = 0
    wall_density: float | tuple[float, float] = MAZE_HARD_WALL_DENSITY
    max_tries: int | None = None

    def __post_init__(self) -> None:
        # Validated through the one config rule; a tuple keeps the dataclass hashable.
        config = MazeConfig(
            size=self.size,
            algorithm=self.algorithm,
            braid=self.braid,
            min_path_length=self.min_path_length,
            wall_density=self.wall_density,
        )
        object.__setattr__(self, "size", config.size)
        object.__setattr__(self, "braid", config.braid)
        object.__setattr__(self, "wall_density", config.wall_density)
        if self.max_tries is None:
            tries = MAX_DRAWS if self.algorithm == "obstacles" else 1000
            object.__setattr__(self, "max_tries", tries)
        object.__setattr__(self, "max_tries", check_int("max_tries", self.max_tries, low=1))

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of the generated grids."""
        s = self.size
        return (int(s), int(s)) if np.isscalar(s) else (int(s[0]), int(s[1]))  # type: ignore[index]

    @property
    def max_path_length_bound(self) -> int:
        """An upper bound on any S->G shortest path: open cells of a perfect maze minus one
        (carved mazes), the cells minus one (obstacle mazes)."""
        if self.algorithm == "obstacles":
            return self.shape[0] * self.shape[1] - 1
        return longest_shortest_path(self.shape)

    def __call__(self, rng: np.random.Generator) -> MazePuzzle:
        """Draw one maze; raises ``ValueError`` after ``max_tries`` draws too short."""
        if self.algorithm == "obstacles":
            return self._obstacles(rng)
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

    def _obstacles(self, rng: np.random.Generator) -> MazePuzzle:
        maze, longest = draw_obstacle_maze(
            rng, self.shape, self.wall_density, self.min_path_length, self.max_tries
        )
        if maze is not None:
            return maze
        h, w = self.shape
        raise ValueError(
            f"could not draw a {h}x{w} obstacles maze (wall_density={self.wall_density}) with a "
            f"shortest path >= {self.min_path_length} in {self.max_tries:,} tries (longest seen "
            f"{longest}): random walls this seldom leave S and G that far apart; lower "
            "min_path_length (Maze-Hard's 109 on 30x30 keeps about 1 draw in 60,000), raise "
            "max_tries, or grow the size"
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

    def _place(self, grid: np.ndarray, rng: np.random.Generator) -> tuple[MazePuzzle | None, int]:
        """S uniform over open cells; G uniform over cells >= ``min_path_length`` from S. If no
        cell is that far, S moves to the farthest cell from it first (a double sweep)."""
        h, w = grid.shape
        flat = grid.ravel()
        open_idx = np.flatnonzero(flat == OPEN)
        open_cells = (flat != WALL).tolist()
        need = max(self.min_path_length, 1)
        start = int(open_idx[rng.integers(len(open_idx))])
        dist = np.array(bfs_flat(open_cells, h, w, start)[0])
        if dist.max() < need:
            start = int(np.argmax(dist))
            dist = np.array(bfs_flat(open_cells, h, w, start)[0])
        far = np.flatnonzero(dist >= need)
        if len(far) == 0:
            return None, int(dist.max())
        goal = int(far[rng.integers(len(far))])
        grid = grid.copy()
        grid.flat[start], grid.flat[goal] = START, GOAL
        return MazePuzzle(grid=grid, start=divmod(start, w), goal=divmod(goal, w)), int(dist[goal])


@dataclass(frozen=True)
class DatasetGenerator:
    """Mazes of a Maze-Hard-format CSV, read on first use.

    Calling it draws a uniformly random row; iterating yields the rows in file order.

    :param dataset: ``"maze-hard"`` (the bundled 30x30 training split) or a CSV path.
    """

    dataset: str = MAZE_HARD
    #: (path, mtime_ns, size) of the file when the generator was made: part of the pool cache
    #: key, so a file rewritten on disk gives a new pool.
    signature: tuple = ()

    def __post_init__(self) -> None:
        path = resolve_dataset(self.dataset)
        object.__setattr__(self, "dataset", str(path))
        object.__setattr__(self, "signature", file_signature(path))

    @property
    def puzzles(self) -> tuple[MazePuzzle, ...]:
        """Every maze of the file, in order."""
        return read_maze_csv(self.dataset)

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of the mazes."""
        return self.puzzles[0].shape

    def __len__(self) -> int:
        return len(self.puzzles)

    def __iter__(self) -> Iterator[MazePuzzle]:
        return iter(self.puzzles)

    def __call__(self, rng: np.random.Generator) -> MazePuzzle:
        """A uniformly random maze of the file."""
        return self.puzzles[int(rng.integers(len(self.puzzles)))]


@dataclass(frozen=True)
class FixedGenerator:
    """Always returns the same maze.

    :param puzzle: a puzzle string (see :func:`envs.maze.rules.parse_puzzle`) or a ``MazePuzzle``.
    """

    puzzle: str | MazePuzzle

    def __post_init__(self) -> None:
        object.__setattr__(self, "puzzle", parse_puzzle(self.puzzle))

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of the maze."""
        return self.puzzle.shape  # type: ignore[union-attr]

    def __call__(self, rng: np.random.Generator) -> MazePuzzle:
        """The fixed maze (``rng`` is unused)."""
        return self.puzzle  # type: ignore[return-value]


def generate_mazes(
    generator: Callable[[np.random.Generator], MazePuzzle], count: int, seed: int
) -> list[MazePuzzle]:
    """``count`` mazes of a generator; maze ``i`` from ``np.random.default_rng([seed, i])``, so
    any prefix is the same whatever ``count`` (:func:`envs.maze.pool.generate_pool` packs them
    into a pool).

    :param generator: a ``(np.random.Generator) -> MazePuzzle`` callable.
    :param count: number of mazes.
    :param seed: the dataset seed (>= 0).
    """
    return [generator(np.random.default_rng([seed, i])) for i in range(count)]


def main(argv: list[str] | None = None) -> None:
    """Command line: generate mazes and write them as a Maze-Hard-format CSV."""
    parser = argparse.ArgumentParser(
        prog="python -m envs.maze.generator",
        description="Generate random mazes and write them as a Maze-Hard-format CSV "
        "(index,question,answer,source,path_len) with BFS labels.",
    )
    parser.add_argument("--size", type=int, default=30, help="grid side, >= 5 (default: 30)")
    parser.add_argument(
        "--algorithm",
        choices=ALGORITHMS,
        default="dfs",
        help="dfs or prim (perfect mazes carved on a lattice) or obstacles (random walls, the "
        "kind of Maze-Hard) (default: dfs)",
    )
    parser.add_argument(
        "--braid",
        type=float,
        default=0.0,
        help="dfs/prim: probability in [0, 1] of opening each dead end into a loop (default: 0)",
    )
    parser.add_argument(
        "--min-path-length",
        type=int,
        default=0,
        help="minimum S->G shortest path in steps; Maze-Hard's are 109-146 on 30x30 (default: 0)",
    )
    parser.add_argument(
        "--wall-density",
        type=float,
        nargs="+",
        metavar="P",
        default=None,
        help="obstacles: wall probability, or LO HI to draw it per maze "
        f"(default: {' '.join(map(str, MAZE_HARD_WALL_DENSITY))}, like Maze-Hard)",
    )
    parser.add_argument("--count", type=int, default=1000, help="number of mazes (default: 1000)")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed, >= 0 (default: 0)")
    parser.add_argument("--out", type=Path, required=True, help="output CSV path")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be >= 1")
    if args.seed < 0:
        parser.error("--seed must be >= 0")
    density = MAZE_HARD_WALL_DENSITY if args.wall_density is None else tuple(args.wall_density)
    try:
        generator = RandomMazeGenerator(
            size=args.size,
            algorithm=args.algorithm,
            braid=args.braid,
            min_path_length=args.min_path_length,
            wall_density=density,
        )
        mazes = generate_mazes(generator, args.count, args.seed)
    except ValueError as e:
        parser.error(str(e))
    shape = f"trm-rl {args.size}x{args.size} {args.algorithm}"
    if args.algorithm == "obstacles":
        shape += f" wall_density={generator.wall_density}"
    else:
        shape += f" braid={args.braid}"
    source = f"{shape} min_path={args.min_path_length} seed={args.seed}"
    n = write_maze_csv(mazes, args.out, source)
    print(f"wrote {n} mazes to {args.out}")


if __name__ == "__main__":
    main()
