"""Property tests of the pure Maze rules and of the BFS oracle."""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envs.maze import (
    MazeConfig,
    MazeEnv,
    RandomMazeGenerator,
    make_pool,
    parse_puzzle,
    sample_legal_actions,
)
from envs.maze.batch import MazeBatch
from envs.maze.solver import (
    bfs,
    distance_maps,
    free_cells,
    is_valid_shortest_path,
    label_answer,
    label_path,
    shortest_path_length,
)
from envs.maze.types import MOVES, WALL

MAZE_HARD = Path(__file__).resolve().parents[1] / "envs" / "data" / "maze_hard_30x30_train.csv"


@cache
def maze(seed: int, size: int, algorithm: str, braid: float):
    return RandomMazeGenerator(size=size, algorithm=algorithm, braid=braid)(
        np.random.default_rng(seed)
    )


mazes = st.builds(
    maze,
    seed=st.integers(0, 10_000),
    size=st.integers(5, 16),
    algorithm=st.sampled_from(["dfs", "prim"]),
    braid=st.sampled_from([0.0, 0.5, 1.0]),
)


@settings(max_examples=60, deadline=None)
@given(state=mazes, actions=st.lists(st.integers(0, 3), min_size=1, max_size=60))
def test_moves_never_enter_walls_and_mask_agrees(state, actions):
    pool = make_pool([state])
    h, w = state.shape
    # The transition both envs step through (envs.maze.batch), on a batch of one.
    batch = MazeBatch(1, state.shape, MazeConfig(size=state.shape))
    batch.load(np.zeros(1, dtype=np.int64), pool, np.zeros(1, dtype=np.int64))
    pos = batch.pos.copy()
    for a in actions:
        mask = batch.action_masks()[0]
        batch.step(np.array([a], dtype=np.int64))
        new = batch.pos.copy()
        r, c = divmod(int(pos[0]), w)
        dr, dc = MOVES[a]
        inside = 0 <= r + dr < h and 0 <= c + dc < w
        legal = inside and state.grid[r + dr, c + dc] != WALL
        assert mask[a] == legal
        assert int(new[0]) == ((r + dr) * w + c + dc if legal else int(pos[0]))
        assert state.grid.flat[int(new[0])] != WALL
        pos = new


@settings(max_examples=40, deadline=None)
@given(state=mazes)
def test_distance_drops_by_one_along_label_path(state):
    path = label_path(state)
    dist_to_goal = make_pool([state]).dist[0].reshape(state.shape)
    assert path[0] == state.start and path[-1] == state.goal
    values = [int(dist_to_goal[cell]) for cell in path]
    assert values == list(range(len(path) - 1, -1, -1))
    assert shortest_path_length(state) == len(path) - 1
    assert is_valid_shortest_path(state, label_answer(state))


@settings(max_examples=40, deadline=None)
@given(state=mazes, seed=st.integers(0, 1000), gamma=st.sampled_from([1.0, 0.9]))
def test_shaping_telescopes(state, seed, gamma):
    """sum_t gamma^t F_t = gamma^T phi(s_T) - phi(s_0): with gamma = 1 the shaped return is the
    plain return plus phi(s_T) - phi(s_0)."""
    kwargs = dict(size=state.shape, max_steps=40, pool_size=1)
    plain = MazeEnv(**kwargs)
    shaped = MazeEnv(shaping=True, shaping_gamma=gamma, **kwargs)
    _, info = plain.reset(options={"puzzle": state})
    shaped.reset(options={"puzzle": state})
    scale = 1.0 / sum(state.shape)
    rng = np.random.default_rng(seed)
    diff, t = 0.0, 0
    while True:
        a = int(rng.integers(4))
        p, s = plain.step(a), shaped.step(a)
        diff += gamma**t * (s[1] - p[1])
        t += 1
        if p[2] or p[3]:
            break
    phi_0 = -scale * info["distance_to_goal"]
    phi_t = -scale * p[4]["distance_to_goal"]
    assert diff == pytest.approx(gamma**t * phi_t - phi_0, abs=1e-9)


def test_sample_legal_actions_only_picks_legal_moves():
    rng = np.random.default_rng(0)
    masks = rng.random((4096, 4)) < 0.5
    masks[:, 2] |= ~masks.any(axis=1)  # at least one legal move per row
    actions = sample_legal_actions(masks, rng)
    assert masks[np.arange(len(masks)), actions].all()
    counts = np.bincount(sample_legal_actions(np.ones((40_000, 4), bool), rng), minlength=4)
    assert counts.min() > 9_000  # roughly uniform


def test_parse_puzzle_clears_path_markers_and_accepts_any_square():
    state = parse_puzzle("So  " + "  o " + "  oG" + "    ")
    assert state.shape == (4, 4) and state.to_string() == "S   " + "    " + "   G" + "    "
    with pytest.raises(ValueError, match="not a square"):
        parse_puzzle("S G")


def read_maze_hard():
    with MAZE_HARD.open(newline="") as f:
        return list(csv.DictReader(f))


def test_bfs_reproduces_every_maze_hard_label():
    rows = read_maze_hard()
    assert len(rows) == 1000
    for row in rows:
        state = parse_puzzle(row["question"])
        assert label_answer(state) == row["answer"], row["index"]
        assert shortest_path_length(state) == int(row["path_len"])


def test_valid_shortest_path_checker():
    row = read_maze_hard()[0]
    question, answer = row["question"], row["answer"]
    assert is_valid_shortest_path(question, answer)
    first_o = answer.index("o")
    assert not is_valid_shortest_path(question, answer[:first_o] + " " + answer[first_o + 1 :])
    assert not is_valid_shortest_path(question, question)  # no path marked
    open_cell = next(i for i, c in enumerate(answer) if c == " ")
    assert not is_valid_shortest_path(question, answer[:open_cell] + "o" + answer[open_cell + 1 :])
    assert not is_valid_shortest_path(question, answer[:-1])


def test_batched_distance_maps_match_bfs():
    states = [maze(s, 15, "dfs", 0.5) for s in range(5)]
    grids = np.stack([s.grid for s in states])
    sources = np.array([s.start[0] * 15 + s.start[1] for s in states])
    batched = distance_maps(free_cells(grids), sources)
    for state, dist in zip(states, batched, strict=True):
        np.testing.assert_array_equal(dist, bfs(state)[0])
