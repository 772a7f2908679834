"""``DataConfig``: which puzzles the supervised trainer sees and how the held-out splits are made,
and the table of known source names.

A name is one of :data:`KNOWN_NAMES`, ``maze-HxW`` for any generated maze size (each side >= 5),
or the path of a CSV file. Every field is validated here, once; a bad value raises a
``ValueError`` naming the field, the value and what to pass. tyro builds a command line from it.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from envs.maze.generator import RandomMazeGenerator
from envs.maze.obstacles import MAZE_HARD_WALL_DENSITY
from envs.sudoku.config import DEFAULT_GIVENS, givens_range
from envs.utils import check_bool, check_choice, check_float, check_int
from trm_rl.data.maze_targets import MAZE_TARGETS, MazeTarget

Kind = Literal["sudoku", "maze"]
#: How the puzzles of a source are made; decides the split rule (see :mod:`trm_rl.data.build`).
Family = Literal["sudoku-grids", "sudoku-pool", "maze-generated", "file"]

#: The named sources: name -> (family, board side or None).
SOURCES: dict[str, tuple[Family, int | None]] = {
    "sudoku-4x4": ("sudoku-grids", 4),
    "sudoku-6x6": ("sudoku-pool", 6),
    "sudoku-9x9": ("sudoku-pool", 9),
    "sudoku-extreme": ("file", 9),
    "maze-9x9": ("maze-generated", 9),
    "maze-11x11": ("maze-generated", 11),
    "maze-15x15": ("maze-generated", 15),
    "maze-31x31": ("maze-generated", 31),
    "maze-hard": ("file", 30),
}
KNOWN_NAMES: tuple[str, ...] = tuple(SOURCES)
#: The bundled files behind two of the names (understood by the envs' readers).
BUNDLED_FILES: dict[str, Kind] = {"sudoku-extreme": "sudoku", "maze-hard": "maze"}
#: Fewest givens of a unique-solution puzzle, per board side (4x4: 4, 6x6: 8, 9x9: 17).
MIN_GIVENS: dict[int, int] = {4: 4, 6: 8, 9: 17}
#: Number of 4x4 solution grids (there are exactly 288).
NUM_4X4_GRIDS = 288

_MAZE_NAME = re.compile(r"maze-(\d+)x(\d+)")


@dataclass(frozen=True)
class Source:
    """What a name denotes, resolved without reading any file."""

    name: str
    """The name or path as given."""
    family: Family
    """``sudoku-grids`` (4x4: held-out solution grids), ``sudoku-pool`` (the shipped pools),
    ``maze-generated`` (an endless stream of random mazes) or ``file`` (a finite CSV)."""
    kind: Kind | None
    """``sudoku`` or ``maze``; None for a CSV path until its header is read."""
    size: int | tuple[int, int] | None
    """Board side (Sudoku), side or (H, W) (generated mazes); None for a CSV path."""


def resolve_name(name: Any) -> Source:
    """The source a :attr:`DataConfig.name` denotes.

    :raises ValueError: for an unknown name that is not a CSV path, listing the known names.
    """
    if isinstance(name, os.PathLike):
        name = os.fspath(name)
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"data name must be a non-empty string, got {name!r}; {_known()}")
    if name in SOURCES:
        family, size = SOURCES[name]
        kind: Kind = "maze" if name.startswith("maze") else "sudoku"
        return Source(name, family, kind, size)
    match = _MAZE_NAME.fullmatch(name)
    if match:
        h, w = int(match.group(1)), int(match.group(2))
        return Source(name, "maze-generated", "maze", h if h == w else (h, w))
    if name.lower().endswith(".csv") or os.path.isfile(name):
        return Source(name, "file", None, None)
    raise ValueError(f"unknown data name {name!r}; {_known()}")


def _known() -> str:
    return (
        f"known names are {list(KNOWN_NAMES)}, 'maze-HxW' for any generated size (sides >= 5), "
        "or the path of a CSV file (Sudoku-Extreme puzzle,solution; Hugging Face question,answer; "
        "Maze-Hard index,question,answer,source,path_len)"
    )


@dataclass(frozen=True)
class DataConfig:
    """The supervised dataset: source, splits, augmentation and generator options."""

    name: str = "sudoku-4x4"
    """Source: ``sudoku-4x4``, ``sudoku-6x6``, ``sudoku-9x9``, ``sudoku-extreme`` (the bundled 1k
    file), ``maze-9x9``, ``maze-11x11``, ``maze-15x15``, ``maze-31x31`` (any ``maze-HxW``),
    ``maze-hard`` (the bundled 1000 mazes), or the path of a Sudoku or Maze-Hard CSV."""
    seed: int = 0
    """Seed (>= 0) of the train/val/test split and of the held-out puzzles. The training stream
    has its own seed (``PuzzleData.train_sampler(seed=...)``)."""
    val_size: int = 256
    """Validation puzzles (>= 0). Finite sources (the shipped pools, CSV files) cap each held-out
    split at ``max_heldout_fraction`` of their distinct puzzles (at least 1)."""
    test_size: int = 1024
    """Test puzzles (>= 0), capped like ``val_size``. The test split is drawn first, so it does not
    change with ``val_size``."""
    max_heldout_fraction: float = 0.1
    """Largest fraction, in (0, 0.5], of a finite source's distinct puzzles that the validation and
    the test split may each take (sudoku-extreme and maze-hard: 100 each, 800 for training)."""
    augment: bool | None = None
    """Random symmetries of training examples (Sudoku: digit relabelling, band/stack and row/column
    permutations, transpose for square boxes; Maze: the dihedral transforms). None: on for every
    source but ``sudoku-4x4``, whose held-out solution grids augmentation would reach (with True
    there, augmented examples that land on a held-out grid are drawn again)."""
    givens: int | tuple[int, int] | None = None
    """Sudoku only: number of givens, an int or an inclusive (lo, hi) range, e.g. (30, 35). None:
    4x4 (4, 10); the shipped 6x6/9x9 pools and CSV files unfiltered (6x6: 8-24, 9x9: 22-50)."""
    heldout_grids: int = 32
    """sudoku-4x4 only: solution grids (of the 288) held out for validation and, as many again, for
    test; every puzzle of those grids is unseen in training."""
    pool_size: int | None = None
    """sudoku-6x6/9x9 only: use a ``seed``-seeded subset of this many shipped puzzles matching
    ``givens``; when fewer match, generate them at construction (9x9: about 80 puzzles/s)."""
    algorithm: Literal["dfs", "prim", "obstacles"] = "dfs"
    """Generated mazes only: ``dfs`` (long corridors), ``prim`` (many short branches), both
    perfect mazes, or ``obstacles`` (random walls: Maze-Hard's kind of maze, e.g.
    ``maze-30x30`` with ``min_path_length=109`` for Maze-Hard-like data; such a maze takes about
    0.4 s to draw, so lower ``val_size`` and ``test_size`` there)."""
    braid: float = 0.0
    """Generated ``dfs``/``prim`` mazes only: probability in [0, 1] of opening each dead end
    into a loop."""
    min_path_length: int = 0
    """Generated mazes only: minimum S->G shortest path in steps (Maze-Hard: 109 on 30x30;
    :func:`envs.maze.obstacles.scaled_min_path_length` scales it to other sizes)."""
    wall_density: float | tuple[float, float] = MAZE_HARD_WALL_DENSITY
    """Generated ``obstacles`` mazes only: wall probability in (0, 1), or a (lo, hi) range drawn
    per maze; the default (0.3, 0.5) reproduces Maze-Hard's densities."""
    maze_target: MazeTarget = "path"
    """Mazes only (generated or a maze CSV): what a label is. ``path``: the Maze-Hard answer, the
    question with ``o`` on one BFS shortest path (vocabulary 6). ``distance``: a dense field,
    every cell reachable from G labelled with its BFS distance to G modulo 3 (tokens 6, 7, 8; G is
    class 0), walls and unreachable open cells as in the question (vocabulary 9). Distance-target
    models are scored, evaluated and ``solve``d on the path their field decodes to (a greedy walk
    from S, :mod:`trm_rl.data.maze_targets`); token/exact accuracy then measure the field."""

    @classmethod
    def from_dict(cls, fields: Mapping[str, Any]) -> DataConfig:
        """Build from ``dataclasses.asdict`` output read back from JSON (lists to tuples)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        source = resolve_name(self.name)
        set_(self, "name", source.name)
        set_(self, "seed", check_int("seed", self.seed, low=0))
        set_(self, "val_size", check_int("val_size", self.val_size, low=0))
        set_(self, "test_size", check_int("test_size", self.test_size, low=0))
        frac = check_float("max_heldout_fraction", self.max_heldout_fraction, low=0.0, high=0.5)
        if frac == 0:
            raise ValueError("max_heldout_fraction must be in (0, 0.5], got 0.0")
        set_(self, "max_heldout_fraction", frac)
        if self.augment is not None:
            set_(self, "augment", check_bool("augment", self.augment))
        set_(self, "heldout_grids", check_int("heldout_grids", self.heldout_grids, low=1))
        if self.heldout_grids > (NUM_4X4_GRIDS - 1) // 2:
            raise ValueError(
                f"heldout_grids must be <= {(NUM_4X4_GRIDS - 1) // 2} (twice that many of the "
                f"{NUM_4X4_GRIDS} 4x4 grids are held out), got {self.heldout_grids}"
            )
        set_(self, "pool_size", check_int("pool_size", self.pool_size, low=1, allow_none=True))
        set_(self, "maze_target", check_choice("maze_target", self.maze_target, MAZE_TARGETS))
        self._check_scope(source)
        if self.givens is not None and source.kind == "sudoku":
            set_(self, "givens", check_givens(self.givens, int(source.size)))  # type: ignore[arg-type]
        elif self.givens is not None:  # a CSV: the board side is known once the file is read
            set_(self, "givens", givens_range(self.givens, 9, keep_none=True))
        if source.family == "maze-generated":
            # The one maze rule validates algorithm, braid, min_path_length and wall_density.
            generator = RandomMazeGenerator(
                size=source.size,  # type: ignore[arg-type]
                algorithm=self.algorithm,
                braid=self.braid,
                min_path_length=self.min_path_length,
                wall_density=self.wall_density,
            )
            set_(self, "braid", generator.braid)
            set_(self, "wall_density", generator.wall_density)
            set_(self, "min_path_length", int(generator.min_path_length))

    def _check_scope(self, source: Source) -> None:
        """Refuse options set away from their defaults for a source that ignores them."""
        defaults = {f.name: f.default for f in dataclasses.fields(DataConfig)}
        scopes = {
            "givens": (source.kind in ("sudoku", None), "Sudoku sources"),
            "heldout_grids": (source.family == "sudoku-grids", "sudoku-4x4"),
            "pool_size": (source.family == "sudoku-pool", "sudoku-6x6 and sudoku-9x9"),
            "algorithm": (source.family == "maze-generated", "generated mazes (maze-HxW)"),
            "braid": (source.family == "maze-generated", "generated mazes (maze-HxW)"),
            "min_path_length": (source.family == "maze-generated", "generated mazes (maze-HxW)"),
            "wall_density": (source.family == "maze-generated", "generated mazes (maze-HxW)"),
            "maze_target": (source.kind in ("maze", None), "maze sources"),
        }
        for field, (applies, where) in scopes.items():
            value = getattr(self, field)
            if not applies and value != defaults[field]:
                raise ValueError(
                    f"{field}={value!r} applies to {where} only, not to {self.name!r}; leave it "
                    f"at its default ({defaults[field]!r}) or pick such a source"
                )

    @property
    def source(self) -> Source:
        """What :attr:`name` denotes (family, kind, size)."""
        return resolve_name(self.name)

    def replace(self, **changes: Any) -> DataConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def check_givens(givens: Any, size: int) -> int | tuple[int, int]:
    """Validate a ``givens`` value for an ``size x size`` board: an int or an inclusive (lo, hi)
    pair within ``0..N*N`` that allows a unique solution (at least :data:`MIN_GIVENS`).

    :return: the int, or the pair as a tuple.
    :raises ValueError: naming the value and what to pass.
    """
    value = givens_range(givens, size, keep_none=True)
    hi = value if isinstance(value, int) else value[1]
    if hi < MIN_GIVENS[size]:  # type: ignore[operator]
        raise ValueError(
            f"givens={givens!r} is too few: a {size}x{size} puzzle with a unique solution has at "
            f"least {MIN_GIVENS[size]} givens; pass a value or range reaching "
            f"{MIN_GIVENS[size]} or more (default {DEFAULT_GIVENS[size]})"
        )
    return value  # type: ignore[return-value]


def givens_bounds(givens: int | tuple[int, int] | None) -> tuple[int, int] | None:
    """``givens`` as an inclusive (lo, hi) range, None when unset."""
    if givens is None:
        return None
    return (givens, givens) if isinstance(givens, int) else (givens[0], givens[1])
