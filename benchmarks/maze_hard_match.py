"""Do our random-obstacle mazes match Maze-Hard? Its statistics beside generated sets.

Measures :func:`envs.maze.stats.maze_statistics` on the bundled Maze-Hard split and on sets of
generated mazes, with their generation speed, in one table:

- ``obstacles`` 30x30, path >= 109, wall density drawn per maze in (0.3, 0.5) (the default);
- the same with one fixed density (0.37, Maze-Hard's mean): the i.i.d. alternative;
- perfect DFS mazes 30x30 with path >= 111 (the corridor recipe used before), for contrast;
- ``obstacles`` at smaller sizes (15x15, 11x11), minimum path scaled by the number of cells
  (:func:`envs.maze.obstacles.scaled_min_path_length`: 27 and 15), for a curriculum.

    python benchmarks/maze_hard_match.py                  # 1000 mazes per set, writes results/
    python benchmarks/maze_hard_match.py --count 50 --out-dir None   # quick look
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import tyro

from envs.maze.generator import RandomMazeGenerator, generate_mazes
from envs.maze.io import MAZE_HARD, read_maze_csv, resolve_dataset
from envs.maze.obstacles import MAZE_HARD_MIN_PATH_LENGTH, scaled_min_path_length
from envs.maze.stats import DESCRIPTIONS, maze_statistics
from envs.utils import atomic_write


@dataclass
class Args:
    """Options of the Maze-Hard match benchmark."""

    count: int = 1000
    """Mazes per generated set (Maze-Hard has 1000)."""
    fixed_density: float = 0.37
    """The fixed wall density compared with the default per-maze range."""
    small_sizes: tuple[int, ...] = (15, 11)
    """Sides of the smaller obstacle sets (minimum path scaled by cells)."""
    seed: int = 0
    """Dataset seed of every generated set (maze ``i`` from ``default_rng([seed, i])``)."""
    out_dir: Path | None = Path("results/benchmarks")
    """Where maze_hard_match.md and maze_hard_match.json are written (None: print only)."""


def generated_set(name: str, generator: RandomMazeGenerator, count: int, seed: int) -> dict:
    """Statistics and speed of ``count`` mazes of ``generator``."""
    start = time.perf_counter()
    mazes = generate_mazes(generator, count, seed)
    seconds = time.perf_counter() - start
    return {
        "name": name,
        "generator": {k: v for k, v in asdict(generator).items() if k != "max_tries"},
        "seconds": seconds,
        "mazes_per_s": count / seconds,
        "stats": maze_statistics(mazes),
    }


def generators(args: Args) -> list[tuple[str, RandomMazeGenerator]]:
    """The generated sets, in table order."""
    need = MAZE_HARD_MIN_PATH_LENGTH
    fixed = args.fixed_density
    return [
        ("obstacles 30 (0.3-0.5)", RandomMazeGenerator(30, "obstacles", min_path_length=need)),
        (
            f"obstacles 30 p={fixed}",
            RandomMazeGenerator(30, "obstacles", min_path_length=need, wall_density=fixed),
        ),
        ("dfs 30 (corridors)", RandomMazeGenerator(30, "dfs", min_path_length=111)),
        *(
            (
                f"obstacles {side} (0.3-0.5)",
                RandomMazeGenerator(
                    side, "obstacles", min_path_length=scaled_min_path_length((side, side))
                ),
            )
            for side in args.small_sizes
        ),
    ]


def sets(args: Args) -> list[dict]:
    """Maze-Hard's statistics, then each generated set's."""
    hard = {
        "name": "Maze-Hard",
        "generator": None,
        "stats": maze_statistics(read_maze_csv(resolve_dataset(MAZE_HARD))),
    }
    return [hard] + [generated_set(n, g, args.count, args.seed) for n, g in generators(args)]


def _fmt(key: str, value: float) -> str:
    if key in ("mazes", "path_length_min", "path_length_median", "path_length_max"):
        return f"{value:.0f}"
    if key in ("path_length_mean", "manhattan_mean", "detour_mean", "shortest_paths_log10_median"):
        return f"{value:.1f}"
    return f"{value:.3f}"


def table_rows(results: list[dict]) -> list[list[str]]:
    """One row per statistic (name, meaning, a value per set), then generation speed."""
    rows = [
        [key, text, *(_fmt(key, r["stats"][key]) for r in results)]
        for key, text in DESCRIPTIONS.items()
    ]
    rows.append(
        [
            "mazes_per_s",
            "generation speed, mazes/s (one core)",
            *("-" if r["generator"] is None else f"{r['mazes_per_s']:,.1f}" for r in results),
        ]
    )
    return rows


def machine_info() -> dict:
    return {
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "loadavg_1min": os.getloadavg()[0],
    }


def to_markdown(results: list[dict], info: dict, args: Args) -> str:
    names = [r["name"] for r in results]
    lines = [
        "# Maze-Hard vs generated mazes",
        "",
        f"{args.count} mazes per generated set (seed {args.seed}); Maze-Hard is the bundled "
        "1000-maze training split. 30x30 sets keep draws with a shortest path >= "
        f"{MAZE_HARD_MIN_PATH_LENGTH} (dfs: >= 111); smaller obstacle sets >= round(109 * H * W "
        "/ 900). Obstacle sets draw the wall density per maze in (0.3, 0.5) unless a fixed p is "
        f"named. Machine: {info['cpu_count']} cores ({info['machine']}), numpy {info['numpy']}, "
        f"load average {info['loadavg_1min']:.2f}.",
        "",
        "| statistic | meaning | " + " | ".join(names) + " |",
        "|---|---|" + "---:|" * len(names),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(results)]
    lines += ["", "Reproduce: `python benchmarks/maze_hard_match.py`."]
    return "\n".join(lines) + "\n"


def main(args: Args) -> None:
    from rich.console import Console
    from rich.table import Table

    results = sets(args)
    info = machine_info()
    table = Table(title="Maze-Hard vs generated mazes")
    table.add_column("statistic", no_wrap=True)
    for r in results:
        table.add_column(r["name"], justify="right")
    for row in table_rows(results):
        table.add_row(row[0], *row[2:])
    console = Console()
    console.print(table)
    if args.out_dir is not None:
        payload = {
            "args": {**asdict(args), "out_dir": str(args.out_dir)},
            "machine": info,
            "descriptions": DESCRIPTIONS,
            "sets": results,
        }
        with atomic_write(args.out_dir / "maze_hard_match.json") as f:
            f.write(json.dumps(payload, indent=2))
        with atomic_write(args.out_dir / "maze_hard_match.md") as f:
            f.write(to_markdown(results, info, args))
        console.print(f"wrote {args.out_dir}/maze_hard_match.{{md,json}}")


if __name__ == "__main__":
    main(tyro.cli(Args))
