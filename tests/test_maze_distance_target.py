"""The distance-field maze target: labels, vocabulary, augmentation, the greedy-walk decode,
scoring, config scope, and a tiny train -> evaluate -> solve run."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from envs.maze.generator import RandomMazeGenerator
from envs.maze.obstacles import draw_obstacle_maze
from envs.maze.solver import bfs, is_valid_shortest_path, label_answer
from envs.maze.types import GOAL, OPEN, PATH, START, WALL, MazePuzzle
from experiments.cli import main
from trm_rl.data import DataConfig, make_data
from trm_rl.data.augment import augment_maze, dihedral
from trm_rl.data.build import grid_info
from trm_rl.data.maze_targets import (
    DIST0,
    DISTANCE_VOCAB_SIZE,
    WALK_ORDER,
    decode_paths,
    distance_labels,
    path_labels,
)
from trm_rl.data.text import from_text, to_text
from trm_rl.runs import read_config
from trm_rl.supervised.commands import evaluate_run, heldout_puzzles, load_source, solve_file
from trm_rl.supervised.config import TrainConfig, resolve_train, train_args
from trm_rl.supervised.evaluate import score

SMALL = {"val_size": 8, "test_size": 8}


def obstacle_mazes(count: int, shape: tuple[int, int], seed: int) -> list[MazePuzzle]:
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        maze, _ = draw_obstacle_maze(rng, shape, (0.3, 0.5), min_path_length=shape[0])
        if maze is not None:
            out.append(maze)
    return out


def corridor_mazes(count: int, size: int | tuple[int, int], seed: int, **kw) -> list[MazePuzzle]:
    generator = RandomMazeGenerator(size=size, **kw)
    rng = np.random.default_rng(seed)
    return [generator(rng) for _ in range(count)]


def tokens(mazes: list[MazePuzzle]) -> np.ndarray:
    return np.stack([m.grid.reshape(-1) for m in mazes]).astype(np.uint8)


def walk_reference(question: np.ndarray, field: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The greedy walk written plainly, one maze at a time (what decode_paths batches)."""
    h, w = shape
    q, f = question.reshape(h, w), field.reshape(h, w).astype(np.int64)
    out = q.astype(np.uint8).copy()
    if not (q == START).any() or not (q == GOAL).any():
        return out.reshape(question.shape)
    cur = tuple(int(v) for v in np.argwhere(q == START)[0])
    goal = tuple(int(v) for v in np.argwhere(q == GOAL)[0])
    seen = {cur}
    for _ in range(h * w):
        if cur == goal:
            break
        k = f[cur] - DIST0 if DIST0 <= f[cur] < DIST0 + 3 else None
        options = []
        for dr, dc in WALK_ORDER:
            r, c = cur[0] + dr, cur[1] + dc
            if 0 <= r < h and 0 <= c < w and q[r, c] not in (WALL, 0) and (r, c) not in seen:
                options.append((r, c))
        nxt = goal if goal in options else None
        if nxt is None and k is not None:
            nxt = next((o for o in options if f[o] - DIST0 == (k - 1) % 3), None)
        if nxt is None:
            break
        cur = nxt
        seen.add(cur)
    for cell in seen:
        if q[cell] not in (START, GOAL):
            out[cell] = PATH
    return out.reshape(question.shape)


# ------------------------------------------------------------------------------- labels
@pytest.mark.parametrize("kind", ["obstacles", "dfs", "prim-braided"])
def test_labels_are_the_bfs_distance_to_the_goal_mod_3(kind: str) -> None:
    if kind == "obstacles":
        mazes = obstacle_mazes(20, (12, 12), seed=1)
    else:
        algorithm = kind.split("-")[0]
        mazes = corridor_mazes(20, (9, 13), 2, algorithm=algorithm, braid=0.3 * (kind != "dfs"))
    shape = mazes[0].shape
    labels = distance_labels(tokens(mazes), shape)
    assert labels.dtype == np.uint8 and labels.shape == (20, shape[0] * shape[1])
    for maze, label in zip(mazes, labels, strict=True):
        dist = bfs(maze, source=maze.goal)[0]
        expected = np.where(dist >= 0, DIST0 + dist % 3, maze.grid)
        np.testing.assert_array_equal(label.reshape(shape), expected)
        assert label.reshape(shape)[maze.goal] == DIST0  # G is class 0
        assert set(np.unique(label)) <= {WALL, OPEN, DIST0, DIST0 + 1, DIST0 + 2}


def test_unreachable_open_cells_keep_their_token_and_bad_questions_are_refused() -> None:
    maze = MazePuzzle(
        grid=np.array([[START, OPEN, WALL, OPEN], [WALL, GOAL, WALL, OPEN]], np.uint8),
        start=(0, 0),
        goal=(1, 1),
    )
    label = distance_labels(maze.grid.reshape(1, -1), (2, 4)).reshape(2, 4)
    np.testing.assert_array_equal(label, [[DIST0 + 2, DIST0 + 1, WALL, OPEN], [WALL, DIST0, 1, 2]])
    with pytest.raises(ValueError, match="exactly one"):
        distance_labels(np.full((1, 8), OPEN, np.uint8), (2, 4))


def test_distance_data_has_vocab_9_and_the_model_gets_it() -> None:
    path = DataConfig(name="maze-7x7", **SMALL)
    dist = path.replace(maze_target="distance")
    assert path.maze_target == "path" and grid_info(path).vocab_size == 6
    assert grid_info(dist).vocab_size == DISTANCE_VOCAB_SIZE == 9
    data = make_data(dist)
    assert data.vocab_size == 9
    inputs, labels = data.split("val")
    np.testing.assert_array_equal(labels, distance_labels(inputs, (7, 7)))
    assert inputs.max() <= GOAL  # questions are unchanged
    model = resolve_train(
        train_args("maze-7x7", steps=1, data_fields={"maze_target": "distance", **SMALL})
    ).model
    assert model.vocab_size == 9
    hard = DataConfig(name="maze-hard", maze_target="distance")
    assert grid_info(hard).vocab_size == 9 and make_data(hard).vocab_size == 9
    inputs, labels = make_data(hard).split("test")
    np.testing.assert_array_equal(labels[:10], distance_labels(inputs[:10], (30, 30)))


def test_augmented_fields_are_the_fields_of_the_augmented_mazes() -> None:
    mazes = obstacle_mazes(6, (9, 9), seed=3)
    inputs = tokens(mazes)
    labels = distance_labels(inputs, (9, 9))
    for k in range(8):  # every dihedral transform keeps distances
        moved = dihedral(inputs.reshape(-1, 9, 9), k)
        np.testing.assert_array_equal(
            dihedral(labels.reshape(-1, 9, 9), k), distance_labels(moved, (9, 9))
        )
    x, y = augment_maze(np.random.default_rng(0), inputs, labels, (9, 9))
    np.testing.assert_array_equal(y, distance_labels(x, (9, 9)))
    data = make_data(DataConfig(name="maze-6x8", maze_target="distance", **SMALL))
    assert data.augment
    x, y = data.train_sampler(seed=1).sample(64)  # non-square: the 4 shape-keeping transforms
    np.testing.assert_array_equal(y, distance_labels(x, (6, 8)))


# ------------------------------------------------------------------------------- decode
@pytest.mark.parametrize(
    "mazes",
    [
        pytest.param(lambda: obstacle_mazes(60, (13, 13), seed=4), id="obstacles-13x13"),
        pytest.param(lambda: obstacle_mazes(20, (8, 15), seed=5), id="obstacles-8x15"),
        pytest.param(lambda: corridor_mazes(40, 11, 6, algorithm="dfs"), id="dfs-11x11"),
        pytest.param(lambda: corridor_mazes(40, 9, 7, algorithm="prim", braid=0.5), id="prim"),
    ],
)
def test_the_true_field_decodes_to_the_label_path(mazes) -> None:
    """A perfect field decodes to a shortest path, and to the Maze-Hard label path itself."""
    mazes = mazes()
    shape = mazes[0].shape
    questions = tokens(mazes)
    answers = decode_paths(questions, distance_labels(questions, shape), shape)
    labels = path_labels(questions, shape)
    for maze, answer, label in zip(mazes, answers, labels, strict=True):
        assert is_valid_shortest_path(maze, answer.reshape(shape))
        assert (answer == label).all()
        assert (label == from_text("maze", label_answer(maze), shape)[0]).all()
    grids = decode_paths(questions.reshape(-1, *shape), labels.reshape(-1, *shape) * 0, shape)
    assert grids.shape == (len(mazes), *shape)  # (B, H, W) in, (B, H, W) out


def test_a_small_decode_by_hand() -> None:
    # S . .      distances to G:  6 5 4     field: 6 + distance % 3 on reachable cells
    # # # .                       # # 3
    # G . .                       0 1 2
    question = np.array([[START, OPEN, OPEN], [WALL, WALL, OPEN], [GOAL, OPEN, OPEN]], np.uint8)
    field = distance_labels(question.reshape(1, -1), (3, 3))
    np.testing.assert_array_equal(
        field.reshape(3, 3),
        [[DIST0, DIST0 + 2, DIST0 + 1], [WALL, WALL, DIST0], [DIST0, DIST0 + 1, DIST0 + 2]],
    )
    answer = decode_paths(question.reshape(-1), field.reshape(-1), (3, 3)).reshape(3, 3)
    np.testing.assert_array_equal(
        answer, [[START, PATH, PATH], [WALL, WALL, PATH], [GOAL, PATH, PATH]]
    )
    broken = field.reshape(3, 3).copy()
    broken[1, 2] = OPEN  # no class on the path: the walk stops at (0, 2), far from G
    answer = decode_paths(question, broken, (3, 3))
    np.testing.assert_array_equal(
        answer, [[START, PATH, PATH], [WALL, WALL, OPEN], [GOAL, OPEN, OPEN]]
    )
    assert not is_valid_shortest_path(question, answer)


def test_flipping_a_class_on_a_unique_path_always_breaks_the_decode() -> None:
    """Perfect (dfs) mazes have one S->G path: any wrong class on it, S included, stops or
    misleads the walk; G's class is never read (G is taken whenever it is a neighbour)."""
    mazes = corridor_mazes(30, 9, 8, algorithm="dfs")
    questions = tokens(mazes)
    fields = distance_labels(questions, (9, 9))
    labels = path_labels(questions, (9, 9))
    rng = np.random.default_rng(0)
    for question, field, label in zip(questions, fields, labels, strict=True):
        if not (label == PATH).any():
            continue  # S next to G: G is always taken, whatever the classes
        on_path = np.flatnonzero((label == PATH) | (question == START))
        goal = int(np.flatnonzero(question == GOAL)[0])
        for cell in on_path:
            for shift in (1, 2):
                bad = field.copy()
                bad[cell] = DIST0 + (bad[cell] - DIST0 + shift) % 3
                answer = decode_paths(question, bad, (9, 9))
                np.testing.assert_array_equal(answer, walk_reference(question, bad, (9, 9)))
                assert not is_valid_shortest_path(question.reshape(9, 9), answer.reshape(9, 9))
        bad = field.copy()
        bad[goal] = rng.integers(0, 9)
        np.testing.assert_array_equal(decode_paths(question, bad, (9, 9)), label)


def test_corrupted_fields_decode_as_the_plain_walk_and_are_valid_only_when_shortest() -> None:
    mazes = obstacle_mazes(40, (11, 11), seed=9)
    questions = tokens(mazes)
    fields = distance_labels(questions, (11, 11))
    rng = np.random.default_rng(1)
    corrupted = fields.copy()
    for row in corrupted:  # a few cells get another token (a class or not)
        cells = rng.choice(row.size, size=rng.integers(1, 6), replace=False)
        row[cells] = rng.integers(0, 9, size=len(cells))
    answers = decode_paths(questions, corrupted, (11, 11))
    kept, broken = 0, 0
    for question, bad, answer in zip(questions, corrupted, answers, strict=True):
        np.testing.assert_array_equal(answer, walk_reference(question, bad, (11, 11)))
        marked = (answer == PATH) | (question == START) | (question == GOAL)
        grid = question.reshape(11, 11)
        dist = bfs(grid, source=tuple(np.argwhere(grid == GOAL)[0]))[0]
        # Valid exactly when the walk reached G going one step closer each time.
        walked = sorted(dist.reshape(-1)[marked])
        shortest = walked == list(range(int(dist.reshape(-1)[question == START][0]) + 1))
        valid = is_valid_shortest_path(question.reshape(11, 11), answer.reshape(11, 11))
        assert valid == shortest
        kept, broken = kept + valid, broken + (not valid)
    assert kept and broken  # both outcomes occur


def test_garbage_never_crashes_and_returns_the_question_plus_marks() -> None:
    rng = np.random.default_rng(2)
    questions = tokens(obstacle_mazes(10, (7, 7), seed=3))
    for dtype, high in ((np.uint8, 256), (np.int64, 12), (np.int32, 9)):
        garbage = rng.integers(0, high, size=questions.shape).astype(dtype)
        answers = decode_paths(questions, garbage, (7, 7))
        assert answers.dtype == np.uint8 and answers.shape == questions.shape
        changed = answers != questions
        assert (answers[changed] == PATH).all() and (questions[changed] == OPEN).all()
        for question, field, answer in zip(questions, garbage, answers, strict=True):
            np.testing.assert_array_equal(answer, walk_reference(question, field, (7, 7)))
    # Questions without S or G come back unchanged; an empty batch is fine.
    empty = np.full((2, 49), OPEN, np.uint8)
    np.testing.assert_array_equal(decode_paths(empty, garbage[:2], (7, 7)), empty)
    assert decode_paths(questions[:0], questions[:0], (7, 7)).shape == (0, 49)
    with pytest.raises(ValueError, match="match"):
        decode_paths(questions, questions[:5], (7, 7))
    with pytest.raises(ValueError, match="integer"):
        decode_paths(questions.astype(float), questions, (7, 7))


def test_the_walk_stops_after_h_times_w_steps_and_never_revisits() -> None:
    # An open 6x6 room whose classes descend along a snake through every cell: the walk follows
    # the classes it is shown, never steps on a cell twice, and ends within H * W steps.
    h = w = 6
    question = np.full((h, w), OPEN, np.uint8)
    question[0, 0], question[h - 1, w - 1] = START, GOAL
    field = np.full((h, w), DIST0, np.int64)
    order = [(r, c if r % 2 == 0 else w - 1 - c) for r in range(h) for c in range(w)]
    for i, cell in enumerate(order):  # a snake through every cell, each a class lower
        field[cell] = DIST0 + (-i) % 3
    answer = decode_paths(question[None], field[None], (h, w))[0]
    np.testing.assert_array_equal(answer, walk_reference(question, field, (h, w)))
    assert (answer == PATH).sum() > h + w  # a long detour: the walk went where it was told
    assert not is_valid_shortest_path(question, answer)


# ------------------------------------------------------------------------------- scoring
def test_score_reports_path_exact_for_both_targets() -> None:
    mazes = obstacle_mazes(8, (9, 9), seed=11)
    inputs = tokens(mazes)
    paths, fields = path_labels(inputs, (9, 9)), distance_labels(inputs, (9, 9))
    halts = np.zeros((2, 8))
    # Path target: path_exact is exact accuracy (the labels are the BFS paths).
    wrong = paths.copy()
    wrong[:3] = inputs[:3]
    out = score(inputs, paths, np.stack([wrong, wrong]), halts, "maze", (9, 9))
    assert out["path_exact"] == out["exact_accuracy"] == out["valid"] == 5 / 8
    # Distance target: accuracies on the field, path metrics on the decoded path.
    noisy = fields.copy()
    noisy[0, np.flatnonzero(inputs[0] == START)[0]] = OPEN  # S without a class: no walk
    noisy[1, np.flatnonzero(inputs[1] == WALL)[0]] = DIST0  # a wrong token off the path
    preds = np.stack([fields, noisy])
    out = score(inputs, fields, preds, halts, "maze", (9, 9), target="distance")
    assert out["exact_accuracy"] == 6 / 8 and out["exact_by_step"] == [1.0, 6 / 8]
    assert out["token_accuracy"] == 1 - 2 / fields.size
    assert out["valid"] == out["path_exact"] == 7 / 8
    assert out["valid_halt"] == 7 / 8  # no row halts: the last step is used
    with pytest.raises(ValueError, match="applies to mazes"):
        score(inputs, fields, preds, halts, "sudoku", (9, 9), target="distance")
    with pytest.raises(ValueError, match="target must be one of"):
        score(inputs, fields, preds, halts, "maze", (9, 9), target="field")


# ------------------------------------------------------------------------------- config
def test_maze_target_is_refused_away_from_mazes(tmp_path: Path) -> None:
    for name in ("sudoku-4x4", "sudoku-9x9", "sudoku-extreme"):
        with pytest.raises(ValueError, match="maze_target='distance' applies to maze sources"):
            DataConfig(name=name, maze_target="distance")
    with pytest.raises(ValueError, match="maze_target must be one of"):
        DataConfig(name="maze-9x9", maze_target="field")
    sudoku = tmp_path / "s.csv"
    sudoku.write_text("puzzle,solution\n1000000000000000,1234341221434321\n")
    for build in (make_data, grid_info):
        with pytest.raises(ValueError, match="holds Sudoku puzzles"):
            build(DataConfig(name=str(sudoku), maze_target="distance"))


def test_run_configs_store_the_target_and_old_ones_default_to_path() -> None:
    cfg = resolve_train(
        train_args("maze-7x7", steps=1, data_fields={"maze_target": "distance", **SMALL})
    )
    stored = json.loads(json.dumps(cfg.to_dict()))
    assert stored["data"]["maze_target"] == "distance"
    assert TrainConfig.from_dict(stored) == cfg
    del stored["data"]["maze_target"]  # a run written before the field
    old = TrainConfig.from_dict(stored)
    assert old.data.maze_target == "path"


# ------------------------------------------------------------------------------- end to end
TINY = ("hidden_size=16", "num_heads=2", "H_cycles=1", "L_cycles=1", "halt_max_steps=2")


def test_train_evaluate_and_solve_a_distance_run(tmp_path: Path, capsys) -> None:
    run = tmp_path / "dist"
    main(["train-supervised", "--data", "maze-7x7", "--data.maze-target", "distance",
          "--steps", "4", "--eval-every", "2", "--out", str(run), "--optim.batch-size", "8",
          "--model-set", *TINY, "--data-set", "val_size=8", "test_size=8", "--no-progress",
          "--no-tensorboard", "--threads", "1", "--checkpoint-seconds", "0"])  # fmt: skip
    capsys.readouterr()
    config = read_config(run, "supervised")
    assert config["data"]["maze_target"] == "distance"
    assert config["model"]["vocab_size"] == 9
    with (run / "metrics.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["val/valid"]]
    assert [int(r["step"]) for r in rows] == [2, 4]
    for row in rows:
        assert 0.0 <= float(row["val/valid"]) <= 1.0 and 0.0 <= float(row["val/path_exact"]) <= 1.0

    out = evaluate_run(run, device="cpu", env_episodes=2, samples=2)
    assert out["maze_target"] == "distance" and out["count"] == 8
    assert 0.0 <= out["path_exact"] <= out["valid"] <= 1.0
    assert set(out["sampling"]) >= {"valid_vote", "exact_accuracy_vote"}
    # Another maze distribution is scored against fields too (the model writes fields).
    net, kind, fields = load_source(run, None, "cpu")
    other = DataConfig(name="maze-7x7", algorithm="prim", **SMALL)
    data, inputs, labels = heldout_puzzles(net, kind, fields, str(run), other)
    assert data.config.maze_target == "distance"
    np.testing.assert_array_equal(labels, distance_labels(inputs, (7, 7)))

    mazes = corridor_mazes(3, 7, 12, algorithm="dfs")
    puzzles = tmp_path / "mazes.txt"
    puzzles.write_text("".join(m.to_string() + "\n" for m in mazes))
    main(["solve", "--run", str(run), "--input", str(puzzles), "--output",
          str(tmp_path / "out.jsonl"), "--trajectory", str(tmp_path / "t.gif")])  # fmt: skip
    answers = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(answers) == 3
    for maze, answer in zip(mazes, answers, strict=True):
        solution = answer["solution"]
        assert len(solution) == 49 and set(solution) <= set("# SGo")
        question = from_text("maze", maze.to_string(), (7, 7))[0]
        marked = from_text("maze", solution, (7, 7))[0]
        changed = marked != question
        assert (marked[changed] == PATH).all() and (question[changed] == OPEN).all()
    assert (tmp_path / "t.gif").read_bytes()[:6] == b"GIF89a"
    # solve_file writes the path the model's own field decodes to.
    assert solve_file(run, puzzles, tmp_path / "again.jsonl", device="cpu") == 3
    again = [json.loads(x)["solution"] for x in (tmp_path / "again.jsonl").read_text().splitlines()]
    questions = np.stack([from_text("maze", m.to_string(), (7, 7))[0] for m in mazes])
    result = net.solve(torch.as_tensor(questions).long(), max_steps=2, halt=True)
    fields_out = result.predictions.reshape(3, -1).numpy()
    expected = decode_paths(questions, fields_out, (7, 7))
    assert again == [to_text("maze", row, (7, 7)) for row in expected]

    # test-time scaling scores the decoded paths too (score and any_exact compare the fields).
    from experiments.test_time import TestTimeArgs, run_test_time

    tt = run_test_time(TestTimeArgs(run=run, samples=(1, 2), max_steps=(1, 2), out=tmp_path / "tt",
                                    device="cpu"))  # fmt: skip
    single = [
        r for r in tt["rows"] if (r["axis"], r["select"], r["steps"]) == ("steps", "single", 2)
    ]
    assert len(single) == 1
    field_score = evaluate_run(run, device="cpu")
    assert single[0]["score"] == pytest.approx(field_score["exact_accuracy"])
    assert single[0]["valid"] == pytest.approx(field_score["valid"])
    assert single[0]["path_exact"] == pytest.approx(field_score["path_exact"])
