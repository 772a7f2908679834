"""Random-obstacle mazes (``algorithm="obstacles"``): seeded, of the configured density, long
enough, labelled, usable by the env and the supervised data, and refusing bad options."""

from __future__ import annotations

import csv
import hashlib
import itertools
import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers the ids)
from envs.maze import MazeConfig, MazeEnv, RandomMazeGenerator
from envs.maze.generator import generate_mazes, main
from envs.maze.io import read_maze_csv
from envs.maze.obstacles import (
    MAX_DRAWS,
    MAZE_HARD_WALL_DENSITY,
    _candidates,
    _first_far_enough,
    scaled_min_path_length,
)
from envs.maze.solver import (
    bfs_flat,
    is_valid_shortest_path,
    label_answer,
    label_path,
    shortest_path_length,
)
from envs.maze.stats import maze_statistics
from envs.maze.types import GOAL, START, WALL, MazePuzzle, as_puzzle
from trm_rl.data import DataConfig
from trm_rl.data.build import make_data


def obstacles(size=15, **kwargs) -> RandomMazeGenerator:
    return RandomMazeGenerator(size=size, algorithm="obstacles", **kwargs)


def densities(mazes: list[MazePuzzle]) -> np.ndarray:
    return np.array([(m.grid == WALL).mean() for m in mazes])


def test_same_seed_same_mazes_and_prefix_stable() -> None:
    gen = obstacles(min_path_length=27)
    first = generate_mazes(gen, 6, seed=3)
    assert first == generate_mazes(gen, 6, seed=3)
    assert generate_mazes(gen, 2, seed=3) == first[:2]
    assert first != generate_mazes(gen, 6, seed=4)
    assert len({m.to_string() for m in first}) == 6


@pytest.mark.parametrize("density", [0.2, 0.3])
def test_density_is_the_configured_one(density: float) -> None:
    # 300 mazes x 225 cells: the mean's standard error is under 0.002, so 0.015 is > 7 errors
    # (only "S and G connected" selects here, which shifts the mean by well under 0.005).
    found = densities(generate_mazes(obstacles(wall_density=density), 300, seed=0))
    assert abs(found.mean() - density) < 0.015
    assert found.std() < 0.04  # one density: binomial spread (0.027 at 0.2, 0.031 at 0.3)


def test_density_range_is_drawn_per_maze() -> None:
    found = densities(generate_mazes(obstacles(wall_density=(0.1, 0.3)), 300, seed=0))
    assert abs(found.mean() - 0.2) < 0.015
    assert found.std() > 0.05  # uniform over the range on top of the binomial: about 0.06


@pytest.mark.parametrize(("size", "minimum"), [(11, 15), (15, 27), ((9, 14), 20)])
def test_every_maze_is_solvable_and_long_enough(size, minimum) -> None:
    gen = obstacles(size, min_path_length=minimum)
    for maze in generate_mazes(gen, 25, seed=1):
        assert maze.grid.shape == gen.shape
        assert (maze.grid == START).sum() == 1 and (maze.grid == GOAL).sum() == 1
        assert maze.grid[maze.start] == START and maze.grid[maze.goal] == GOAL
        assert shortest_path_length(maze) >= minimum


def test_labels_are_valid_shortest_paths_in_maze_hard_order() -> None:
    for maze in generate_mazes(obstacles(min_path_length=27), 10, seed=2):
        path = label_path(maze)
        assert path[0] == maze.start and path[-1] == maze.goal
        assert len(path) - 1 == shortest_path_length(maze)
        steps = {(b[0] - a[0], b[1] - a[1]) for a, b in itertools.pairwise(path)}
        assert steps <= {(1, 0), (-1, 0), (0, 1), (0, -1)}
        assert all(maze.grid[cell] != WALL for cell in path)
        answer = label_answer(maze)
        assert is_valid_shortest_path(maze, answer)
        assert answer.count("o") == len(path) - 2


@pytest.mark.parametrize("shape", [(5, 8), (7, 13), (30, 30), (9, 70)])
def test_bit_flood_agrees_with_the_bfs(shape) -> None:
    # Every word width: 8, 16, 32 and two 64-bit words per row.
    h, w = shape
    free, start, goal = _candidates(np.random.default_rng(0), 200, shape, (0.2, 0.5))
    dist = np.array(
        [
            bfs_flat(free[i, :, :w].ravel().tolist(), h, w, int(s))[0][g] if s >= 0 else -1
            for i, (s, g) in enumerate(zip(start, goal, strict=True))
        ]
    )
    for need in (1, 5, 12, 30):
        far = np.flatnonzero(dist >= need)
        found, longest = _first_far_enough(free, start, goal, w, need)
        assert found == (int(far[0]) if len(far) else -1)
        if found < 0:
            assert longest == max(dist[dist < need].max(), 0)


def test_env_runs_obstacle_mazes_and_passes_the_checker() -> None:
    env = MazeEnv(
        config=MazeConfig(size=11, algorithm="obstacles", min_path_length=15, pool_size=32)
    )
    check_env(env, skip_render_check=True)
    _, info = env.reset(seed=0)
    assert info["shortest_path_length"] >= 15
    made = gym.make("trm_rl/Maze-v0", size=9, algorithm="obstacles", wall_density=0.3, pool_size=16)
    obs, _ = made.reset(seed=1)
    assert obs["grid"].shape == (9, 9)
    made.step(int(np.flatnonzero(obs["action_mask"])[0]))


def test_supervised_data_of_obstacle_mazes() -> None:
    config = DataConfig(name="maze-15x15", algorithm="obstacles", val_size=8, test_size=8)
    data = make_data(config)
    assert data.grid_shape == (15, 15) and data.seq_len == 225
    for split in ("val", "test"):
        inputs, labels = data.split(split)
        assert inputs.shape == labels.shape == (8, 225)
    inputs, labels = data.draw(np.random.default_rng(0), 4)
    assert inputs.shape == labels.shape == (4, 225)
    assert "obstacles mazes (wall density (0.3, 0.5)" in data.description
    longer = DataConfig(name="maze-11x11", algorithm="obstacles", min_path_length=15)
    assert longer.wall_density == MAZE_HARD_WALL_DENSITY


@pytest.mark.parametrize(
    "density", [0, 1, 1.5, -0.1, math.nan, (0.5, 0.3), (0.1, 0.2, 0.3), (0.0, 0.4), "0.3", True]
)
def test_bad_densities_are_refused(density) -> None:
    with pytest.raises(ValueError, match="wall_density"):
        MazeConfig(algorithm="obstacles", wall_density=density)


def test_options_of_the_other_kind_are_refused() -> None:
    with pytest.raises(ValueError, match=r"braid=0\.2 applies to carved mazes"):
        obstacles(braid=0.2)
    with pytest.raises(ValueError, match=r"wall_density=0\.3 applies to algorithm='obstacles'"):
        RandomMazeGenerator(size=9, algorithm="prim", wall_density=0.3)
    with pytest.raises(ValueError, match="wall_density"):
        DataConfig(name="maze-9x9", wall_density=0.3)  # dfs
    with pytest.raises(ValueError, match="applies to generated mazes"):
        DataConfig(name="maze-hard", wall_density=0.3)


def test_impossible_and_infeasible_min_path_lengths() -> None:
    with pytest.raises(ValueError, match=r"impossible on a 9x9 maze.*80 steps"):
        obstacles(9, min_path_length=81)
    gen = obstacles(9, min_path_length=60, max_tries=5000)
    with pytest.raises(ValueError, match=r"could not draw a 9x9 obstacles maze .* 5,000 tries"):
        gen(np.random.default_rng(0))


def test_defaults_and_normalised_values() -> None:
    assert RandomMazeGenerator(9).max_tries == 1000
    assert obstacles().max_tries == MAX_DRAWS
    assert obstacles(wall_density=[0.25, 0.25]).wall_density == 0.25
    assert obstacles(wall_density=[0.2, 0.4]) == obstacles(wall_density=(0.2, 0.4))
    assert hash(obstacles(wall_density=[0.2, 0.4])) == hash(obstacles(wall_density=(0.2, 0.4)))
    assert [scaled_min_path_length((s, s)) for s in (11, 15, 30)] == [15, 27, 109]


def test_carved_mazes_are_unchanged() -> None:
    # dfs/prim mazes of a seed must stay byte-identical (pools, held-out splits and stored
    # datasets depend on them): a digest of a few configurations, pinned.
    digest = hashlib.sha256()
    for size, algorithm, braid, minimum in [(9, "dfs", 0.0, 0), ((7, 13), "prim", 0.3, 10)]:
        gen = RandomMazeGenerator(size, algorithm, braid=braid, min_path_length=minimum)
        for maze in generate_mazes(gen, 20, seed=7):
            digest.update(maze.grid.tobytes())
    assert digest.hexdigest()[:16] == "a7c0796b139c707a"


def test_statistics_of_a_small_known_maze() -> None:
    maze = as_puzzle("S  " + "   " + "  G")  # open 3x3: 6 shortest paths of 4 steps
    stats = maze_statistics([maze])
    assert stats["wall_density_mean"] == 0 and stats["path_length_mean"] == 4
    assert stats["shortest_paths_log10_median"] == pytest.approx(math.log10(6))
    assert stats["start_component_fraction"] == 1 and stats["goal_is_farthest"] == 1
    assert stats["detour_mean"] == 1 and stats["endpoint_on_edge"] == 1


def test_obstacle_walls_are_independent_unlike_corridors() -> None:
    stats = maze_statistics(generate_mazes(obstacles(wall_density=0.35), 200, seed=0))
    assert abs(stats["p_wall_after_wall_h"] - stats["wall_density_mean"]) < 0.02
    assert abs(stats["p_wall_after_wall_v"] - stats["wall_density_mean"]) < 0.02
    carved = maze_statistics(generate_mazes(RandomMazeGenerator(15), 50, seed=0))
    assert carved["p_wall_after_wall_h"] - carved["wall_density_mean"] > 0.05


def test_command_writes_obstacle_mazes(tmp_path) -> None:
    out = tmp_path / "hard_like.csv"
    main(
        [
            "--algorithm", "obstacles", "--size", "11", "--min-path-length", "15",
            "--wall-density", "0.3", "0.45", "--count", "5", "--out", str(out),
        ]
    )  # fmt: skip
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(read_maze_csv(out)) == 5
    assert all(int(r["path_len"]) >= 15 for r in rows)
    assert rows[0]["source"] == (
        "trm-rl 11x11 obstacles wall_density=(0.3, 0.45) min_path=15 seed=0"
    )
    with pytest.raises(SystemExit):
        main(["--algorithm", "obstacles", "--braid", "0.3", "--out", str(out)])
