"""``make_data``: a :class:`~trm_rl.data.dataset.PuzzleData` from a :class:`DataConfig`, cached.

How each family of sources keeps its val/test puzzles unseen:

- ``sudoku-4x4`` (grids): the 288 solution grids are split with the seed, ``heldout_grids`` for
  validation and as many for test; held-out puzzles are dug from those grids and training
  puzzles, on the fly, from the others, so no training puzzle shares a solution with a held-out
  one. Augmentation is off by default: it maps a grid to another grid, held-out ones included
  (switched on, such draws are drawn again).
- ``sudoku-6x6``/``sudoku-9x9`` (the shipped pools) and CSV files (finite): the distinct puzzles
  are permuted with the seed; the test split takes the first ones, validation the next, training
  the rest. Each held-out split is capped at ``max_heldout_fraction`` of the distinct puzzles.
- ``maze-HxW`` (generated): held-out mazes come from their own seeded streams (test first, then
  validation, each without repeats); training mazes are fresh draws of the sampler's generator.

In every case a training draw (after augmentation) equal to a held-out puzzle is drawn again
(:meth:`PuzzleData.draw`). Symmetric variants of a held-out puzzle may still be trained on, as
in the official recipe, except for sudoku-4x4 whose held-out grids are never trained on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial

import numpy as np

from envs.maze.generator import RandomMazeGenerator
from envs.sudoku.config import DEFAULT_GIVENS, SudokuConfig
from envs.sudoku.pool import build_pool
from envs.sudoku.rules import to_tokens
from envs.sudoku.types import vocab_size
from trm_rl.data.augment import augment_maze, augment_sudoku
from trm_rl.data.config import DataConfig, Kind, Source, check_givens, givens_bounds
from trm_rl.data.dataset import PuzzleData, Split
from trm_rl.data.files import load_maze, load_sudoku, signature, sniff
from trm_rl.data.maze_targets import distance_labels, target_vocab_size
from trm_rl.data.streams import MazeStream, PoolStream, SudokuGridStream
from trm_rl.data.sudoku_grids import all_grids, split_grids

# Seeds of held-out draws: [config.seed, _HELDOUT, split tag]. Training streams use two-word
# seeds [seed, rank], so the two never share a random stream.
_HELDOUT, _TEST, _VAL, _PERMUTE = 0x7E57, 1, 2, 3


def make_data(config: DataConfig) -> PuzzleData:
    """The dataset ``config`` describes; built once per process for each config (and, for a
    file, each version of it on disk).

    :raises ValueError: naming the problem: an unreadable or malformed file, options that do not
        fit it, or too few distinct puzzles for the requested splits.
    """
    if not isinstance(config, DataConfig):
        raise ValueError(f"make_data takes a DataConfig, got {type(config).__name__}")
    source = config.source
    key = signature(config.name) if source.family == "file" else None
    return _make_data(config, key)


@lru_cache(maxsize=16)
def _make_data(config: DataConfig, key: tuple | None) -> PuzzleData:
    """``key`` (a file's path, modification time and size) only keys the cache: a file
    rewritten on disk is read again."""
    source = config.source
    if source.family == "sudoku-grids":
        return _sudoku_grids(config)
    if source.family == "sudoku-pool":
        return _sudoku_pool(config, source)
    if source.family == "maze-generated":
        return _maze_generated(config, source)
    return _from_file(config)


def _sudoku_data(config: DataConfig, size: int, **kwargs) -> PuzzleData:
    augmenter = partial(augment_sudoku, size=size)
    return PuzzleData(
        config=config,
        kind="sudoku",
        grid_shape=(size, size),
        vocab_size=vocab_size(size),
        augmenter=augmenter,
        **kwargs,
    )


def _sudoku_grids(config: DataConfig) -> PuzzleData:
    givens = givens_bounds(config.givens) or DEFAULT_GIVENS[4]
    train, val, test = split_grids(config.seed, config.heldout_grids)
    hint = "lower the split size or raise heldout_grids"
    draw_test, draw_val = (SudokuGridStream(ids, givens).draw for ids in (test, val))
    test_split = _unique(draw_test, config.test_size, _seed(config, _TEST), (), 16, hint)
    val_split = _unique(draw_val, config.val_size, _seed(config, _VAL), test_split[0], 16, hint)
    augment = False if config.augment is None else config.augment
    return _sudoku_data(
        config,
        4,
        val=val_split,
        test=test_split,
        stream=SudokuGridStream(train, givens),
        augment=augment,
        num_train=None,
        heldout_labels=to_tokens(all_grids()[np.concatenate([val, test])]),
        description=(
            f"sudoku-4x4: puzzles with {givens[0]}-{givens[1]} givens dug on the fly from "
            f"{len(train)} training solution grids; val {len(val_split[0])} and test "
            f"{len(test_split[0])} puzzles from {len(val)} + {len(test)} held-out grids; "
            f"augment {'on' if augment else 'off'}"
        ),
    )


def _sudoku_pool(config: DataConfig, source: Source) -> PuzzleData:
    size = int(source.size)  # type: ignore[arg-type]
    pool = build_pool(
        SudokuConfig(
            size=size,  # type: ignore[arg-type]
            givens=config.givens,
            pool_size=config.pool_size,
            pool_seed=config.seed,
        )
    )
    inputs = to_tokens(pool.puzzles).reshape(len(pool), -1)
    labels = to_tokens(pool.solutions).reshape(len(pool), -1)
    what = f"the shipped {size}x{size} pool" + (
        f" (givens {config.givens})" if config.givens else ""
    )
    return _finite(config, "sudoku", (size, size), inputs, labels, what)


def _from_file(config: DataConfig) -> PuzzleData:
    kind, size = sniff(config.name)
    if kind == "maze":
        if config.givens is not None:
            raise ValueError(f"givens applies to Sudoku files; {config.name!r} holds mazes")
        inputs, labels, shape = load_maze(config.name)
        if config.maze_target == "distance":
            labels = distance_labels(inputs, shape)
        return _finite(config, "maze", shape, inputs, labels, f"maze file {config.name!r}")
    _check_sudoku_file(config)
    puzzles, solutions = load_sudoku(config.name, size)  # type: ignore[arg-type]
    what = f"Sudoku file {config.name!r}"
    if config.givens is not None:
        lo, hi = givens_bounds(check_givens(config.givens, size))  # type: ignore[arg-type,misc]
        count = np.count_nonzero(puzzles.reshape(len(puzzles), -1), axis=1)
        keep = (count >= lo) & (count <= hi)
        if not keep.any():
            raise ValueError(
                f"no puzzle of {what} has {lo}-{hi} givens (they have {count.min()}-"
                f"{count.max()}); change givens"
            )
        puzzles, solutions, what = puzzles[keep], solutions[keep], f"{what} (givens {lo}-{hi})"
    inputs = to_tokens(puzzles).reshape(len(puzzles), -1)
    labels = to_tokens(solutions).reshape(len(puzzles), -1)
    return _finite(config, "sudoku", puzzles.shape[1:], inputs, labels, what)  # type: ignore[arg-type]


def _check_sudoku_file(config: DataConfig) -> None:
    """Refuse a maze-only option on a CSV that turned out to hold Sudoku puzzles."""
    if config.maze_target != "path":
        raise ValueError(
            f"maze_target={config.maze_target!r} applies to mazes; {config.name!r} holds Sudoku "
            "puzzles: leave it at its default ('path')"
        )


def _finite(
    config: DataConfig,
    kind: Kind,
    shape: tuple[int, int],
    inputs: np.ndarray,
    labels: np.ndarray,
    what: str,
) -> PuzzleData:
    """Split the distinct puzzles of a finite source: test first, then val, the rest trains."""
    _, first = np.unique(inputs, axis=0, return_index=True)
    rows = np.sort(first)  # distinct puzzles, in source order
    count = len(rows)
    cap = max(1, int(config.max_heldout_fraction * count))
    n_test, n_val = min(config.test_size, cap), min(config.val_size, cap)
    if count - n_test - n_val < 1:
        raise ValueError(
            f"{what} has {count} distinct puzzle(s): too few to hold out {n_test} for test and "
            f"{n_val} for validation and train on the rest; use a larger source"
        )
    rows = rows[np.random.default_rng(_seed(config, _PERMUTE)).permutation(count)]
    test, val, train = rows[:n_test], rows[n_test : n_test + n_val], rows[n_test + n_val :]
    augment = True if config.augment is None else config.augment
    common = dict(
        val=(inputs[val], labels[val]),
        test=(inputs[test], labels[test]),
        stream=PoolStream(inputs[train], labels[train]),
        augment=augment,
        num_train=len(train),
        description=(
            f"{config.name}: {len(train)} training, {n_val} val and {n_test} test puzzles of "
            f"{what}; augment {'on' if augment else 'off'}"
        ),
    )
    if kind == "sudoku":
        return _sudoku_data(config, shape[0], **common)  # type: ignore[arg-type]
    return _maze_data(config, shape, **common)  # type: ignore[arg-type]


def _maze_data(config: DataConfig, shape: tuple[int, int], **kwargs) -> PuzzleData:
    if config.maze_target != "path":
        kwargs["description"] += f"; {config.maze_target} labels"
    return PuzzleData(
        config=config,
        kind="maze",
        grid_shape=shape,
        vocab_size=target_vocab_size(config.maze_target),
        augmenter=partial(augment_maze, shape=shape),
        **kwargs,
    )


def _maze_generated(config: DataConfig, source: Source) -> PuzzleData:
    generator = RandomMazeGenerator(
        size=source.size,  # type: ignore[arg-type]
        algorithm=config.algorithm,
        braid=config.braid,
        min_path_length=config.min_path_length,
        wall_density=config.wall_density,
    )
    stream = MazeStream(generator, config.maze_target)
    hint = "lower the split size, or generate larger or more varied mazes"
    h, w = generator.shape
    test = _unique(stream.draw, config.test_size, _seed(config, _TEST), (), h * w, hint)
    val = _unique(stream.draw, config.val_size, _seed(config, _VAL), test[0], h * w, hint)
    augment = True if config.augment is None else config.augment
    if config.algorithm == "obstacles":
        kind = f"wall density {config.wall_density}"
    else:
        kind = f"braid {config.braid}"
    return _maze_data(
        config,
        (h, w),
        val=val,
        test=test,
        stream=stream,
        augment=augment,
        num_train=None,
        description=(
            f"{config.name}: {config.algorithm} mazes ({kind}, shortest path >= "
            f"{config.min_path_length}) generated on the fly; val {len(val[0])} and test "
            f"{len(test[0])} mazes from held-out seeds; augment {'on' if augment else 'off'}"
        ),
    )


def _seed(config: DataConfig, tag: int) -> list[int]:
    return [config.seed, _HELDOUT, tag]


def _unique(
    draw: Callable[[np.random.Generator, int], Split],
    count: int,
    seed: list[int],
    exclude: np.ndarray | tuple,
    width: int,
    hint: str,
) -> Split:
    """``count`` distinct examples from ``draw`` (seeded), none with an input in ``exclude``.

    :raises ValueError: when the source runs out of new puzzles (``hint`` says what to change).
    """
    rng = np.random.default_rng(seed)
    seen = {row.tobytes() for row in exclude}
    inputs: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    drawn = 0
    while len(inputs) < count:
        if drawn > 20 * count + 1000:
            raise ValueError(
                f"found only {len(inputs)} distinct held-out puzzles of {count} wanted after "
                f"{drawn} draws; {hint}"
            )
        batch = max(count - len(inputs), 16)
        x, y = draw(rng, batch)
        drawn += batch
        for row_x, row_y in zip(x, y, strict=True):
            key = row_x.tobytes()
            if key not in seen and len(inputs) < count:
                seen.add(key)
                inputs.append(row_x)
                labels.append(row_y)
    if not inputs:
        return np.zeros((0, width), np.uint8), np.zeros((0, width), np.uint8)
    return np.stack(inputs), np.stack(labels)


@dataclass(frozen=True)
class GridInfo:
    """The token grid a source produces: what a model must be built for."""

    kind: Kind
    vocab_size: int
    rows: int
    cols: int

    @property
    def cells(self) -> int:
        """Tokens per example."""
        return self.rows * self.cols


def grid_info(config: DataConfig) -> GridInfo:
    """The game, vocabulary and grid shape of ``config``'s puzzles, without building the data
    (a CSV file is read only for its first row; Maze-Hard is 30x30).

    :raises ValueError: for a file that is not in a known format.
    """
    source = config.source
    kind, size = source.kind, source.size
    if source.family == "file":
        kind, side = sniff(config.name)
        if kind == "sudoku":
            _check_sudoku_file(config)
        size = side if kind == "sudoku" else (30 if config.name == "maze-hard" else None)
        if size is None:  # a maze CSV of any size: the first row tells
            data = make_data(config)
            return GridInfo("maze", data.vocab_size, *data.grid_shape)
    rows, cols = (size, size) if isinstance(size, int) else size  # type: ignore[misc]
    vocab = target_vocab_size(config.maze_target) if kind == "maze" else int(rows) + 2
    return GridInfo(kind, vocab, int(rows), int(cols))  # type: ignore[arg-type]
