"""Summary statistics of a set of mazes: how generated mazes compare with Maze-Hard.

:func:`maze_statistics` measures what tells maze families apart: wall density and its spread
between mazes, whether walls are independent (P(wall | neighbour is a wall) equals the density
when they are), the edge against the centre, the share of open cells S can reach, the shortest
path and how far it detours, where S and G sit, and how many shortest paths there are (the
label is only one of them). ``python benchmarks/maze_hard_match.py`` prints it for Maze-Hard and
for generated mazes side by side.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from envs.maze.solver import bfs_flat, free_cells
from envs.maze.types import WALL, MazePuzzle

#: What each statistic of :func:`maze_statistics` means, in its order.
DESCRIPTIONS: dict[str, str] = {
    "mazes": "number of mazes",
    "wall_density_mean": "wall fraction of a maze, mean",
    "wall_density_std": "wall fraction of a maze, std between mazes",
    "wall_density_min": "wall fraction of a maze, min",
    "wall_density_max": "wall fraction of a maze, max",
    "p_wall_after_wall_h": "P(wall) next to a wall on its left",
    "p_wall_after_wall_v": "P(wall) next to a wall above it",
    "wall_density_edge": "wall fraction of the outer ring of cells",
    "wall_density_interior": "wall fraction off the outer ring",
    "wall_density_centre": "wall fraction of the central half (by side)",
    "start_component_fraction": "open cells reachable from S / open cells, mean",
    "path_length_min": "shortest S->G path in steps, min",
    "path_length_mean": "shortest S->G path in steps, mean",
    "path_length_median": "shortest S->G path in steps, median",
    "path_length_max": "shortest S->G path in steps, max",
    "path_cells_fraction": "(path length + 1) / cells, mean",
    "manhattan_mean": "Manhattan distance of S and G, mean",
    "detour_mean": "path length / Manhattan distance, mean",
    "endpoint_edge_depth": "S and G: distance to the edge / distance of the centre, mean",
    "endpoint_on_edge": "S and G on the outer ring, fraction",
    "goal_is_farthest": "G is a farthest cell from S, fraction of mazes",
    "shortest_paths_log10_median": "log10 number of shortest S->G paths, median",
}


def maze_statistics(puzzles: Sequence[MazePuzzle]) -> dict[str, float]:
    """The statistics of :data:`DESCRIPTIONS` over same-shaped mazes.

    :param puzzles: solvable mazes of one shape (H, W >= 3).
    :return: statistic name -> value, in the order of :data:`DESCRIPTIONS`.
    :raises ValueError: for no mazes, mixed shapes, a side below 3 or an unsolvable maze.
    """
    if not puzzles:
        raise ValueError("maze_statistics needs at least one maze")
    h, w = puzzles[0].shape
    if any(p.shape != (h, w) for p in puzzles):
        raise ValueError("maze_statistics needs mazes of one shape; group them by shape first")
    if min(h, w) < 3:
        raise ValueError(f"maze_statistics needs sides >= 3, got {h}x{w}")
    walls = np.stack([p.grid == WALL for p in puzzles])  # (N, H, W) bool
    density = walls.mean(axis=(1, 2))
    depth = _edge_depth(h, w)  # (H, W) steps to the nearest edge
    centre = depth >= min(h, w) // 4
    length, component, farthest, log_paths = np.array([_path_stats(p) for p in puzzles]).T
    ends = np.array([[p.start for p in puzzles], [p.goal for p in puzzles]])  # (2, N, 2)
    manhattan = np.abs(ends[0] - ends[1]).sum(axis=1)
    end_depth = depth[ends[..., 0], ends[..., 1]]
    return {
        "mazes": float(len(puzzles)),
        "wall_density_mean": float(density.mean()),
        "wall_density_std": float(density.std()),
        "wall_density_min": float(density.min()),
        "wall_density_max": float(density.max()),
        "p_wall_after_wall_h": _conditional(walls[:, :, :-1], walls[:, :, 1:]),
        "p_wall_after_wall_v": _conditional(walls[:, :-1, :], walls[:, 1:, :]),
        "wall_density_edge": float(walls[:, depth == 0].mean()),
        "wall_density_interior": float(walls[:, depth > 0].mean()),
        "wall_density_centre": float(walls[:, centre].mean()),
        "start_component_fraction": float(component.mean()),
        "path_length_min": float(length.min()),
        "path_length_mean": float(length.mean()),
        "path_length_median": float(np.median(length)),
        "path_length_max": float(length.max()),
        "path_cells_fraction": float(((length + 1) / (h * w)).mean()),
        "manhattan_mean": float(manhattan.mean()),
        "detour_mean": float((length / manhattan).mean()),
        "endpoint_edge_depth": float((end_depth / ((min(h, w) - 1) / 2)).mean()),
        "endpoint_on_edge": float((end_depth == 0).mean()),
        "goal_is_farthest": float(farthest.mean()),
        "shortest_paths_log10_median": float(np.median(log_paths)),
    }


def _edge_depth(h: int, w: int) -> np.ndarray:
    """(H, W) steps from each cell to the nearest edge row or column (0 on the outer ring)."""
    r, c = np.arange(h), np.arange(w)
    return np.minimum.outer(np.minimum(r, h - 1 - r), np.minimum(c, w - 1 - c))


def _conditional(before: np.ndarray, after: np.ndarray) -> float:
    """P(after is a wall | before is a wall) over aligned neighbour pairs."""
    return float((before & after).sum() / max(int(before.sum()), 1))


def _path_stats(puzzle: MazePuzzle) -> tuple[float, float, float, float]:
    """(shortest S->G steps, share of open cells reachable from S, 1 if G is a farthest cell
    from S else 0, log10 of the number of shortest S->G paths)."""
    h, w = puzzle.shape
    free = free_cells(puzzle.grid).ravel().tolist()
    source = puzzle.start[0] * w + puzzle.start[1]
    dist = bfs_flat(free, h, w, source)[0]
    goal = puzzle.goal[0] * w + puzzle.goal[1]
    if dist[goal] < 0:
        raise ValueError(f"maze with S at {puzzle.start} and G at {puzzle.goal} is unsolvable")
    reached = [i for i, d in enumerate(dist) if d >= 0]
    # Paths counted in BFS order, as logs (counts overflow floats on big open grids).
    log_count = [-math.inf] * (h * w)
    log_count[source] = 0.0
    for cell in sorted(reached, key=dist.__getitem__)[1:]:
        r, c = divmod(cell, w)
        logs = [
            log_count[n]
            for ok, n in (
                (r > 0, cell - w),
                (r + 1 < h, cell + w),
                (c > 0, cell - 1),
                (c + 1 < w, cell + 1),
            )
            if ok and dist[n] == dist[cell] - 1
        ]
        top = max(logs)
        log_count[cell] = top + math.log10(sum(10 ** (x - top) for x in logs))
    return (
        float(dist[goal]),
        len(reached) / sum(free),
        float(dist[goal] == max(dist)),
        log_count[goal],
    )
