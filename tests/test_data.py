"""Supervised datasets (``trm_rl.data``): shapes and vocabularies, label validity, held-out
puzzles never trained on, augmentation, determinism, resumable and per-rank samplers, CSV
sources and their errors, puzzle text."""

from __future__ import annotations

import json

import numpy as np
import pytest

from envs.maze import RandomMazeGenerator, is_valid_shortest_path, label_answer, write_maze_csv
from envs.maze.types import OPEN, PATH
from envs.sudoku import SudokuPool, count_solutions, shipped_pool, write_sudoku_csv
from envs.sudoku.rules import from_tokens, is_solved, to_tokens
from trm_rl.data import (
    KNOWN_NAMES,
    DataConfig,
    from_text,
    make_data,
    read_puzzle_file,
    to_text,
)
from trm_rl.data.augment import augment_maze, augment_sudoku
from trm_rl.data.build import _make_data
from trm_rl.data.sudoku_grids import all_grids, grid_index

SMALL = dict(val_size=16, test_size=32)
# name -> (kind, grid shape, vocab size)
SOURCES = {
    "sudoku-4x4": ("sudoku", (4, 4), 6),
    "sudoku-6x6": ("sudoku", (6, 6), 8),
    "sudoku-9x9": ("sudoku", (9, 9), 11),
    "sudoku-extreme": ("sudoku", (9, 9), 11),
    "maze-9x9": ("maze", (9, 9), 6),
    "maze-11x11": ("maze", (11, 11), 6),
    "maze-hard": ("maze", (30, 30), 6),
}


def data_for(name: str, **changes):
    return make_data(DataConfig(name=name, **{**SMALL, **changes}))


def rows(a: np.ndarray) -> set[bytes]:
    return {r.tobytes() for r in a}


def check_sudoku(inputs: np.ndarray, labels: np.ndarray, size: int) -> None:
    """Givens equal the labels where given, labels are solved grids, blanks are token 1."""
    assert inputs.min() >= 1 and labels.min() >= 2 and labels.max() <= size + 1
    given = inputs > 1
    assert np.array_equal(inputs[given], labels[given])
    assert is_solved(from_tokens(labels)).all()
    assert (~given).any(axis=1).all()  # every puzzle has a blank


def check_maze(inputs: np.ndarray, labels: np.ndarray, shape: tuple[int, int]) -> None:
    for x, y in zip(inputs, labels, strict=True):
        assert is_valid_shortest_path(x.reshape(shape), y.reshape(shape))


@pytest.mark.parametrize("name", list(SOURCES))
def test_sources_shapes_dtypes_and_labels(name):
    kind, shape, vocab = SOURCES[name]
    data = data_for(name)
    assert (data.kind, data.grid_shape, data.vocab_size, data.name) == (kind, shape, vocab, name)
    assert data.seq_len == shape[0] * shape[1]
    batches = [data.split("val"), data.split("test"), data.train_sampler(seed=0).sample(24)]
    for inputs, labels in batches:
        assert inputs.dtype == labels.dtype == np.uint8
        assert inputs.shape == labels.shape and inputs.shape[1] == data.seq_len
        assert inputs.min() >= 1 and max(inputs.max(), labels.max()) < vocab
        if kind == "sudoku":
            check_sudoku(inputs, labels, shape[0])
        else:
            check_maze(inputs[:8], labels[:8], shape)
    assert len(data.split("val")[0]) == 16 and len(data.split("test")[0]) == 32


def test_generated_maze_labels_follow_the_official_rule():
    data = data_for("maze-9x9")
    inputs, labels = data.split("test")
    for x, y in zip(inputs[:16], labels[:16], strict=True):
        assert to_text("maze", y, (9, 9)) == label_answer(to_text("maze", x, (9, 9)))


def test_maze_hard_labels_are_the_bundled_answers():
    inputs, labels = data_for("maze-hard").split("val")
    check_maze(inputs[:4], labels[:4], (30, 30))
    assert all(label_answer(to_text("maze", x, (30, 30))) == to_text("maze", y, (30, 30))
               for x, y in zip(inputs[:4], labels[:4], strict=True))  # fmt: skip


def test_the_288_grids_and_dug_puzzles_agree_with_the_solver():
    grids = all_grids()
    assert len(rows(grids)) == 288 and is_solved(grids).all()
    assert count_solutions(np.zeros((4, 4), np.uint8), limit=1000, size=4) == 288
    assert np.array_equal(grid_index(grids), np.arange(288))
    assert grid_index(np.ones((1, 16), np.uint8))[0] == -1
    inputs, _ = data_for("sudoku-4x4", givens=(4, 6)).train_sampler(3).sample(64)
    givens = np.count_nonzero(from_tokens(inputs), axis=1)
    assert givens.min() >= 4 and givens.max() <= 6
    assert all(count_solutions(from_tokens(x).reshape(4, 4), size=4) == 1 for x in inputs)


def test_4x4_held_out_grids_never_trained_on():
    data = data_for("sudoku-4x4", heldout_grids=40)
    held = {s: grid_index(from_tokens(data.split(s)[1])) for s in ("val", "test")}
    assert set(held["val"]).isdisjoint(held["test"])
    assert len(set(held["val"])) <= 40 and len(set(held["test"])) <= 40
    heldout_puzzles = rows(data.split("val")[0]) | rows(data.split("test")[0])
    for augment in (False, True):
        augmented = data.config.replace(augment=augment)
        inputs, labels = make_data(augmented).train_sampler(1).sample(4000)
        trained = set(grid_index(from_tokens(labels)))
        assert (
            -1 not in trained
            and trained.isdisjoint(held["val"])
            and trained.isdisjoint(held["test"])
        )
        assert len(trained) == 288 - 80  # every training grid is reached
        assert rows(inputs).isdisjoint(heldout_puzzles)
        check_sudoku(inputs, labels, 4)
    assert not data.augment


@pytest.mark.parametrize("name", ["sudoku-6x6", "maze-5x5"])
def test_held_out_puzzles_never_trained_on(name):
    data = data_for(name, val_size=64, test_size=64)
    held = rows(data.split("val")[0]) | rows(data.split("test")[0])
    assert len(held) == 128  # distinct, and val and test disjoint
    inputs, _ = data.train_sampler(0).sample(3000 if name.startswith("sudoku") else 600)
    assert rows(inputs).isdisjoint(held)


def test_augmented_draws_that_hit_held_out_puzzles_are_redrawn(tmp_path):
    # 40 symmetric variants of one 4x4 puzzle: augmenting a training one often gives a held-out
    # one, so the redraw must kick in.
    pool = shipped_pool(4)
    x, y = to_tokens(pool.puzzles[:1]).reshape(1, -1), to_tokens(pool.solutions[:1]).reshape(1, -1)
    rng = np.random.default_rng(0)
    xs, ys = augment_sudoku(rng, np.repeat(x, 400, 0), np.repeat(y, 400, 0), 4)
    _, keep = np.unique(xs, axis=0, return_index=True)
    keep = np.sort(keep)[:40]
    path = tmp_path / "variants.csv"
    write_sudoku_csv(SudokuPool(from_tokens(xs[keep]).reshape(-1, 4, 4),
                                from_tokens(ys[keep]).reshape(-1, 4, 4)), path, "test")  # fmt: skip
    data = make_data(DataConfig(name=str(path), val_size=4, test_size=4, max_heldout_fraction=0.5))
    held = rows(data.split("val")[0]) | rows(data.split("test")[0])
    raw = data._stream.draw(np.random.default_rng(1), 500)
    hits = rows(augment_sudoku(np.random.default_rng(2), *raw, 4)[0]) & held
    assert hits  # without the check, training would see held-out puzzles
    inputs, labels = data.train_sampler(0).sample(500)
    assert rows(inputs).isdisjoint(held)
    check_sudoku(inputs, labels, 4)


@pytest.mark.parametrize("size", [4, 6, 9])
def test_sudoku_augmentation_keeps_validity_and_changes_grids(size):
    pool = shipped_pool(size)
    x = to_tokens(pool.puzzles[:200]).reshape(200, -1)
    y = to_tokens(pool.solutions[:200]).reshape(200, -1)
    ax, ay = augment_sudoku(np.random.default_rng(0), x, y, size)
    check_sudoku(ax, ay, size)
    assert np.array_equal(np.count_nonzero(ax > 1, 1), np.count_nonzero(x > 1, 1))
    assert (ay != y).any(axis=1).mean() > 0.95
    again = augment_sudoku(np.random.default_rng(0), x, y, size)
    assert np.array_equal(again[0], ax) and np.array_equal(again[1], ay)


def test_sudoku_transpose_only_for_square_boxes():
    # A transposed 6x6 grid has 3x2 boxes, so it would not be a valid 2x3-box grid.
    solutions = to_tokens(shipped_pool(6).solutions[:300]).reshape(300, -1)
    transposed = solutions.reshape(300, 6, 6).transpose(0, 2, 1).reshape(300, -1)
    assert not is_solved(from_tokens(transposed)).all()  # so validity below is meaningful
    _, ay = augment_sudoku(np.random.default_rng(0), solutions, solutions, 6)
    assert is_solved(from_tokens(ay)).all()


def test_maze_augmentation_keeps_shortest_paths_and_uses_all_8_transforms():
    x, y = data_for("maze-9x9").split("val")
    ax, ay = augment_maze(np.random.default_rng(0), x, y, (9, 9))
    check_maze(ax, ay, (9, 9))
    assert (ax != x).any(axis=1).mean() > 0.7
    grid = x[0].reshape(9, 9)
    variants = {np.rot90(g, k).tobytes() for g in (grid, grid[:, ::-1]) for k in range(4)}
    copies = np.repeat(x[:1], 200, axis=0)
    assert rows(augment_maze(np.random.default_rng(1), copies, copies, (9, 9))[0]) == variants
    # A non-square grid gets only the 4 transforms that keep its shape.
    tall = np.arange(12, dtype=np.uint8).reshape(1, 12).repeat(50, 0)
    assert len(rows(augment_maze(np.random.default_rng(0), tall, tall, (3, 4))[0])) == 4


@pytest.mark.parametrize("name", ["sudoku-4x4", "sudoku-9x9", "maze-9x9", "maze-hard"])
def test_same_seed_same_batches_and_different_seeds_differ(name):
    data = data_for(name)
    one, two = data.train_sampler(seed=5), data.train_sampler(seed=5)
    for _ in range(2):
        assert all(map(np.array_equal, one.sample(16), two.sample(16)))
    assert not np.array_equal(one.sample(16)[0], data.train_sampler(seed=6).sample(16)[0])
    _make_data.cache_clear()  # a rebuilt dataset has the same splits, another seed others
    assert all(map(np.array_equal, data.split("test"), data_for(name).split("test")))
    assert not np.array_equal(data_for(name, seed=1).split("test")[0], data.split("test")[0])


def test_sampler_state_round_trip_continues_identically():
    data = data_for("sudoku-6x6")
    sampler = data.train_sampler(seed=2, rank=1, world_size=2)
    sampler.sample(10)
    state = json.loads(json.dumps(sampler.state_dict()))
    expected = [sampler.sample(32) for _ in range(3)]
    resumed = data.train_sampler(seed=2, rank=1, world_size=2)
    resumed.load_state_dict(state)
    for want, got in zip(expected, [resumed.sample(32) for _ in range(3)], strict=True):
        assert np.array_equal(want[0], got[0]) and np.array_equal(want[1], got[1])
    assert resumed.examples == sampler.examples == 106
    with pytest.raises(ValueError, match="rank"):
        data.train_sampler(seed=2, rank=0, world_size=2).load_state_dict(state)
    with pytest.raises(ValueError, match="keys"):
        resumed.load_state_dict({"name": "sudoku-6x6"})
    with pytest.raises(ValueError, match="name"):
        data_for("sudoku-9x9").train_sampler(rank=1, world_size=2).load_state_dict(state)


def test_rank_streams_differ_and_rank_0_is_the_plain_stream():
    data = data_for("maze-9x9")
    plain = data.train_sampler(seed=3).sample(8)[0]
    assert np.array_equal(data.train_sampler(3, rank=0, world_size=1).sample(8)[0], plain)
    assert np.array_equal(data.train_sampler(3, rank=0, world_size=4).sample(8)[0], plain)
    assert not np.array_equal(data.train_sampler(3, rank=1, world_size=4).sample(8)[0], plain)
    for bad in (dict(rank=2, world_size=2), dict(rank=-1), dict(world_size=0)):
        with pytest.raises(ValueError):
            data.train_sampler(3, **bad)


def test_csv_sources(tmp_path):
    pool = shipped_pool(6)
    ours = tmp_path / "six.csv"
    write_sudoku_csv(pool.select(np.arange(60)), ours, "test")
    data = make_data(DataConfig(name=str(ours), val_size=3, test_size=100))
    summary = (data.kind, data.grid_shape, data.vocab_size, data.num_train)
    assert summary == ("sudoku", (6, 6), 8, 60 - 6 - 3)
    assert len(data.split("test")[0]) == 6  # capped at 10% of 60
    check_sudoku(*data.train_sampler().sample(50), 6)
    # The Hugging Face layout: source,question,answer,rating with '.' blanks.
    hf = tmp_path / "hf.csv"
    puzzles, solutions = shipped_pool(9).puzzles[:30], shipped_pool(9).solutions[:30]
    lines = ["source,question,answer,rating"] + [
        f"x,{''.join(map(str, p.ravel())).replace('0', '.')},{''.join(map(str, s.ravel()))},0"
        for p, s in zip(puzzles, solutions, strict=True)
    ]
    hf.write_text("\n".join(lines) + "\n")
    data = make_data(DataConfig(name=str(hf), val_size=2, test_size=2))
    assert (data.kind, data.vocab_size, data.num_train) == ("sudoku", 11, 26)
    union = np.concatenate([data.split("val")[0], data.split("test")[0]])
    assert rows(union) <= rows(to_tokens(puzzles).reshape(30, -1))
    # A Maze-Hard-format file of generated mazes.
    generator = RandomMazeGenerator(size=7)
    mazes = [generator(np.random.default_rng(i)) for i in range(40)]
    maze_csv = tmp_path / "mazes.csv"
    write_maze_csv(mazes, maze_csv, "test")
    data = make_data(DataConfig(name=str(maze_csv), val_size=4, test_size=4))
    assert (data.kind, data.grid_shape, data.vocab_size) == ("maze", (7, 7), 6)
    check_maze(*data.split("test"), (7, 7))
    check_maze(*data.train_sampler().sample(20), (7, 7))
    # Questions only: labels by the Maze-Hard BFS rule.
    questions = tmp_path / "questions.csv"
    questions.write_text("question\n" + "".join(f"{m.to_string()}\n" for m in mazes))
    _, labels = make_data(DataConfig(name=str(questions), val_size=4, test_size=4)).split("val")
    assert rows(labels) <= rows(np.stack([from_text("maze", label_answer(m))[0] for m in mazes]))


def test_malformed_csv_sources_raise_clear_errors(tmp_path):
    def fails(text: str, match: str, **kwargs) -> None:
        path = tmp_path / f"bad{len(list(tmp_path.iterdir()))}.csv"
        path.write_text(text)
        with pytest.raises(ValueError, match=match) as info:
            make_data(DataConfig(name=str(path), **kwargs))
        assert path.name in str(info.value)

    fails("a,b\n1,2\n", "header")
    fails("puzzle,solution\n", "no rows")
    fails("question,answer\nxyz,abc\n", "neither")
    fails("puzzle,solution\n1234,1234\n", "16, 36 or 81")
    fails("puzzle,solution\n" + "1" * 16 + "," + "1" * 16 + "\n", "line 2")
    fails("question\nSS#G\n", "line 2")
    fails("question\n S#G\n", "too few")
    maze = RandomMazeGenerator(size=7)(np.random.default_rng(0))
    answer = label_answer(maze)
    wrong = answer.replace("o", " ", 1)
    fails(f'question,answer\n"{maze.to_string()}","{wrong}"\n', "shortest")
    fails(f'question,answer\n"{maze.to_string()}","{answer}"\n', "givens", givens=5)
    with pytest.raises(ValueError, match=r"missing\.csv"):
        make_data(DataConfig(name=str(tmp_path / "missing.csv")))


def test_unknown_names_and_bad_options():
    with pytest.raises(ValueError) as info:
        DataConfig(name="sudoku-5x5")
    assert all(name in str(info.value) for name in KNOWN_NAMES)
    cases = [
        (dict(seed=-1), "seed"),
        (dict(val_size=1.5), "val_size"),
        (dict(max_heldout_fraction=0.9), "max_heldout_fraction"),
        (dict(augment="yes"), "augment"),
        (dict(givens=3), "at least 4"),
        (dict(givens=(9, 5)), "lo > hi"),
        (dict(name="maze-9x9", givens=30), "givens"),
        (dict(name="sudoku-9x9", braid=0.5), "braid"),
        (dict(name="sudoku-9x9", heldout_grids=8), "heldout_grids"),
        (dict(name="maze-9x9", pool_size=8), "pool_size"),
        (dict(name="maze-9x9", algorithm="kruskal"), "algorithm"),
        (dict(name="maze-9x9", min_path_length=500), "min_path_length"),
        (dict(name="maze-3x3"), "size"),
        (dict(heldout_grids=200), "heldout_grids"),
    ]
    for changes, match in cases:
        with pytest.raises(ValueError, match=match):
            DataConfig(**changes)
    assert DataConfig(name="sudoku-9x9", givens=[30, 35]).givens == (30, 35)
    assert make_data(DataConfig(name="maze-7x9", **SMALL)).grid_shape == (7, 9)
    with pytest.raises(ValueError, match="split"):
        data_for("sudoku-4x4").split("train")


def test_givens_option_filters_every_split():
    data = data_for("sudoku-9x9", givens=(30, 35))
    for inputs, _ in (data.split("val"), data.split("test"), data.train_sampler().sample(200)):
        givens = np.count_nonzero(inputs > 1, axis=1)
        assert givens.min() >= 30 and givens.max() <= 35
    four = data_for("sudoku-4x4", givens=5).split("test")[0]
    assert (np.count_nonzero(four > 1, axis=1) == 5).all()


def test_text_round_trip_and_errors(tmp_path):
    sudoku = "000702005000095080190080067004000600007900020260001000000500000039000008000078400"
    tokens, shape = from_text("sudoku", sudoku)
    assert shape == (9, 9) and from_text("sudoku", "1.3" + "0" * 13)[1] == (4, 4)
    assert tokens.dtype == np.uint8 and tokens.shape == (81,) and tokens[0] == 1 and tokens[3] == 8
    assert to_text("sudoku", tokens, (9, 9)) == sudoku
    assert to_text("sudoku", [0, 1, 2, 3, 4, 5] + [1] * 10, (4, 4)) == ".01234" + "0" * 10
    assert np.array_equal(from_text("sudoku", sudoku.replace("0", "."))[0], tokens)
    maze = label_answer(RandomMazeGenerator(size=7)(np.random.default_rng(0)))
    maze_tokens, shape = from_text("maze", maze)
    assert shape == (7, 7) and from_text("maze", maze, (1, 49))[1] == (1, 49)
    assert (maze_tokens == PATH).any() and (maze_tokens == OPEN).any()
    assert to_text("maze", maze_tokens.reshape(7, 7), (7, 7)) == maze
    errors = [
        (lambda: from_text("sudoku", "12"), "16 .*36.*81"),
        (lambda: from_text("sudoku", "x" + sudoku[1:]), "'x'"),
        (lambda: from_text("maze", maze[:-1]), "square"),
        (lambda: from_text("maze", "X" + maze[1:]), "'X'"),
        (lambda: from_text("maze", maze, (5, 5)), "expected 25"),
        (lambda: from_text("chess", maze), "kind"),
        (lambda: to_text("sudoku", np.full(16, 6), (4, 4)), "token 6 .*vocabulary"),
        (lambda: to_text("maze", np.full(49, 6), (7, 7)), "token 6"),
        (lambda: to_text("maze", maze_tokens, (6, 6)), "expected 36"),
    ]
    for call, match in errors:
        with pytest.raises(ValueError, match=match):
            call()
    text_file = tmp_path / "puzzles.txt"
    text_file.write_text(f"{sudoku}\n\n{sudoku.replace('0', '.')}\n")
    assert read_puzzle_file(text_file) == [(1, sudoku), (3, sudoku.replace("0", "."))]
    csv_file = tmp_path / "mazes.csv"
    write_maze_csv([RandomMazeGenerator(size=7)(np.random.default_rng(i)) for i in range(2)],
                   csv_file, "t")  # fmt: skip
    read = read_puzzle_file(csv_file)
    assert [line for line, _ in read] == [2, 3] and all(len(text) == 49 for _, text in read)
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    for path, match in ((tmp_path / "bad.csv", "column"), (tmp_path / "none.txt", "none.txt")):
        with pytest.raises(ValueError, match=match):
            read_puzzle_file(path)
