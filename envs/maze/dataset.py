"""Write Maze-Hard-format datasets from our generators (the reader is ``read_maze_csv``).

Each row is ``index,question,answer,source,path_len`` exactly as in the Maze-Hard benchmark:
``question`` the row-major grid (``#`` wall, space, ``S``, ``G``), ``answer`` the same grid
with ``o`` on the label path (the BFS rule of :mod:`baselines.bfs`), ``path_len`` the
shortest-path length in steps. A Maze-Hard-like set (30x30, path > 110)::

    python -m envs.maze.dataset --size 30 --min-path-length 111 --count 1000 --seed 0 \\
        --out mazes_30x30.csv

Maze ``i`` is drawn from ``np.random.default_rng([seed, i])``: a file is reproducible and any
prefix is the same whatever ``--count``.
"""

from __future__ import annotations

import argparse
import csv
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from envs.maze.generator import RandomMazeGenerator
from envs.maze.types import MazeState

FIELDS = ("index", "question", "answer", "source", "path_len")


def write_maze_csv(states: Iterable[MazeState], path: str | Path, source: str) -> int:
    """Write mazes with their BFS labels as a Maze-Hard-format CSV (atomically).

    :param states: the mazes.
    :param path: output file; written to a temporary file first, then renamed.
    :param source: value of the ``source`` column.
    :return: the number of rows written.
    """
    from baselines.bfs import label_answer, shortest_path_length

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    count = 0
    with tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(FIELDS)
        for count, state in enumerate(states, start=1):
            writer.writerow(
                [
                    count - 1,
                    state.to_string(),
                    label_answer(state),
                    source,
                    shortest_path_length(state),
                ]
            )
    os.replace(tmp, path)
    return count


def generate(generator: RandomMazeGenerator, count: int, seed: int) -> list[MazeState]:
    """``count`` mazes; maze ``i`` from ``np.random.default_rng([seed, i])``."""
    return [generator(np.random.default_rng([seed, i])) for i in range(count)]


def main(argv: list[str] | None = None) -> None:
    """Command line: generate mazes and write them as a Maze-Hard-format CSV."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=30, help="grid side, >= 5 (default: 30)")
    parser.add_argument(
        "--algorithm", choices=("dfs", "prim"), default="dfs", help="maze algorithm (default: dfs)"
    )
    parser.add_argument(
        "--braid",
        type=float,
        default=0.0,
        help="probability in [0, 1] of opening each dead end into a loop (default: 0)",
    )
    parser.add_argument(
        "--min-path-length",
        type=int,
        default=0,
        help="minimum S->G shortest path in steps; Maze-Hard uses > 110 on 30x30 (default: 0)",
    )
    parser.add_argument("--count", type=int, default=1000, help="number of mazes (default: 1000)")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed (default: 0)")
    parser.add_argument("--out", type=Path, required=True, help="output CSV path")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be >= 1")
    try:
        generator = RandomMazeGenerator(
            size=args.size,
            algorithm=args.algorithm,
            braid=args.braid,
            min_path_length=args.min_path_length,
        )
    except ValueError as e:
        parser.error(str(e))
    source = (
        f"trm-rl {args.size}x{args.size} {args.algorithm} braid={args.braid} "
        f"min_path={args.min_path_length} seed={args.seed}"
    )
    n = write_maze_csv(generate(generator, args.count, args.seed), args.out, source)
    print(f"wrote {n} mazes to {args.out}")


if __name__ == "__main__":
    main()
