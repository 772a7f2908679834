"""Malformed input at every env boundary fails with one clear error; valid input plays exactly.

Boundaries: ``MazeConfig``/``SudokuConfig`` fields, the env constructors (direct, ``gym.make``,
``gym.make_vec``), ``reset(options=...)`` of the single and batched envs, puzzles (strings,
arrays, ``MazePuzzle``), ``step`` actions, and dataset CSVs (cache invalidation, malformed
files). Each error case asserts the error type and a phrase of its message; each property
(observations in ``observation_space``, finite rewards, single == batched transitions, the
puzzle given is the puzzle played, ``state`` consistent with the observation) is checked on
hypothesis-drawn inputs.
"""

from __future__ import annotations

import math
import os
import re

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import envs  # noqa: F401  (registers the ids)
from envs.maze import (
    GOAL,
    OPEN,
    PATH,
    START,
    MazeConfig,
    MazeEnv,
    MazePuzzle,
    MazeVectorEnv,
    RandomMazeGenerator,
    parse_puzzle,
    shortest_path_length,
    write_maze_csv,
)
from envs.maze.rules import longest_shortest_path
from envs.sudoku import (
    SudokuConfig,
    SudokuEnv,
    SudokuPuzzle,
    SudokuVectorEnv,
    encode_action,
    shipped_pool,
    write_sudoku_csv,
)

FAST = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# 5x5 Maze, row-major: S top-left, G bottom-right, one corridor of 16 steps.
MAZE = "S    " "#### " "     " " ####" "    G"  # fmt: skip
MAZE_SOLUTION = [1] * 4 + [2] * 2 + [3] * 4 + [2] * 2 + [1] * 4  # right, down, left, ...
# 4x4 Sudoku with a unique solution; an unsolvable one with consistent givens.
SUDOKU = "1.3.3..2.1.34..1"
SUDOKU_SOLUTION = "1234341221434321"
SUDOKU_UNSOLVABLE = "12........3...4."  # fmt: skip  (r1c3 can be neither 3 nor 4)
# Values of other types that the int fields must refuse, with the type name the message shows.
NOT_INTS = [(True, "bool"), (5.0, "float"), ("9", "str"), (None, "NoneType"), ([5], "list")]


def maze_env(**kwargs) -> MazeEnv:
    return MazeEnv(**{"size": 5, "pool_size": 8, **kwargs})


def maze_venv(num_envs: int, **kwargs) -> MazeVectorEnv:
    return MazeVectorEnv(num_envs, **{"size": 5, "pool_size": 8, **kwargs})


def tokens_of(puzzle: str, shape: tuple[int, int]) -> np.ndarray:
    """Expected first observation of a maze string: 'o' path marks read as open."""
    table = {"#": 1, " ": OPEN, "S": START, "G": GOAL, "o": OPEN}
    return np.array([table[c] for c in puzzle], dtype=np.uint8).reshape(shape)


def digits_of(puzzle: str) -> np.ndarray:
    return np.array([0 if c in ".0" else int(c) for c in puzzle], dtype=np.uint8)


def solve_actions(puzzle: np.ndarray, solution: np.ndarray) -> list[int]:
    """The placements that fill every blank of ``puzzle`` with ``solution``'s digit."""
    n = math.isqrt(puzzle.size)
    puzzle, solution = puzzle.reshape(n, n), solution.reshape(n, n)
    return [
        int(encode_action(r, c, int(solution[r, c]), n))
        for r in range(n)
        for c in range(n)
        if puzzle[r, c] == 0
    ]


# --------------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------------
@st.composite
def open_mazes(draw, shape: tuple[int, int] = (5, 5)) -> str:
    """An always-solvable maze unlike any generated one: open cells, walls only on some (odd,
    odd) pillars, S and G anywhere."""
    h, w = shape
    cells = [(r, c) for r in range(h) for c in range(w)]
    start, goal = draw(st.lists(st.sampled_from(cells), min_size=2, max_size=2, unique=True))
    pillars = draw(
        st.sets(st.sampled_from([(r, c) for r in range(1, h, 2) for c in range(1, w, 2)]))
    )
    grid = [[" "] * w for _ in range(h)]
    for r, c in pillars:
        grid[r][c] = "#"
    grid[start[0]][start[1]], grid[goal[0]][goal[1]] = "S", "G"
    return "".join("".join(row) for row in grid)


@st.composite
def generated_mazes(draw, shape: tuple[int, int]) -> str:
    """A random DFS/Prim maze (optionally braided) of ``shape``, as a string."""
    gen = RandomMazeGenerator(
        size=shape,
        algorithm=draw(st.sampled_from(["dfs", "prim"])),
        braid=draw(st.sampled_from([0.0, 0.5])),
    )
    return gen(np.random.default_rng(draw(st.integers(0, 2**32 - 1)))).to_string()


def with_path_marks(data, puzzle: str) -> str:
    """``puzzle`` with 'o' marks on some open cells (they must be read as open)."""
    chars = list(puzzle)
    for i in data.draw(st.sets(st.sampled_from([i for i, c in enumerate(chars) if c == " "]))):
        chars[i] = "o"
    return "".join(chars)


BAD_MAZE_CHARS = st.characters(codec="utf-8").filter(lambda c: c not in "# SGo")
BAD_SUDOKU_CHARS = st.characters(codec="utf-8").filter(
    lambda c: c not in ".01234" and not c.isspace()
)
NON_ASCII_DIGITS = st.characters(categories=["Nd"]).filter(lambda c: not c.isascii())


# --------------------------------------------------------------------------------------------
# Config fields
# --------------------------------------------------------------------------------------------
MAZE_BAD_FIELDS = [
    ({"size": 4}, "size must be >= 5"),
    ({"size": (5,)}, r"size must be an int or an \(H, W\) pair"),
    ({"size": (5, 5, 5)}, r"size must be an int or an \(H, W\) pair"),
    ({"size": (5, True)}, r"size\[1\] must be an int"),
    ({"size": (5, 4)}, r"size\[1\] must be >= 5"),
    ({"size": np.array([5, 5])}, "size must be an int"),
    ({"algorithm": "DFS"}, "algorithm must be one of"),
    ({"algorithm": None}, "algorithm must be one of"),
    ({"algorithm": ["dfs"]}, "algorithm must be one of"),
    ({"braid": 1.5}, r"braid must be in \[0.0, 1.0\]"),
    ({"braid": -0.1}, r"braid must be in \[0.0, 1.0\]"),
    ({"braid": float("nan")}, "braid must be finite"),
    ({"braid": True}, "braid must be a number"),
    ({"braid": "0.1"}, "braid must be a number"),
    ({"min_path_length": -1}, "min_path_length must be >= 0"),
    ({"min_path_length": 1.0}, "min_path_length must be an int"),
    ({"dataset": ""}, "dataset must be None, 'maze-hard' or a CSV path"),
    ({"dataset": 3}, "dataset must be None, 'maze-hard' or a CSV path"),
    ({"pool_size": 0}, "pool_size must be >= 1"),
    ({"pool_size": True}, "pool_size must be an int or None"),
    ({"pool_seed": -1}, "pool_seed must be >= 0"),
    ({"pool_seed": None}, "pool_seed must be an int"),
    ({"step_cost": float("inf")}, "step_cost must be finite"),
    ({"step_cost": None}, "step_cost must be a number"),
    ({"shaping": 1}, "shaping must be True or False"),
    ({"shaping": "yes"}, "shaping must be True or False"),
    ({"shaping_gamma": 1.01}, r"shaping_gamma must be in \[0.0, 1.0\]"),
    ({"shaping_gamma": float("-inf")}, "shaping_gamma must be finite"),
    ({"max_steps": 0}, "max_steps must be >= 1"),
    ({"max_steps": 2.0}, "max_steps must be an int or None"),
    ({"mark_trail": 0}, "mark_trail must be True or False"),
    ({"cell_px": 0}, "cell_px must be >= 1"),
    ({"cell_px": 1.5}, "cell_px must be an int"),
]


@pytest.mark.parametrize(("fields", "message"), MAZE_BAD_FIELDS)
def test_maze_config_refuses_bad_field(fields, message):
    with pytest.raises(ValueError, match=message):
        MazeConfig(**fields)


SUDOKU_BAD_FIELDS = [
    ({"size": 5}, "unsupported Sudoku size 5"),
    ({"size": True}, "unsupported Sudoku size True"),
    ({"size": 4.0}, "unsupported Sudoku size 4.0"),
    ({"size": "4"}, "unsupported Sudoku size '4'"),
    ({"size": 4, "givens": 17}, r"givens must be in \[0, 16\]"),
    ({"size": 4, "givens": -1}, r"givens must be in \[0, 16\]"),
    ({"size": 4, "givens": 3.0}, "givens must be an int"),
    ({"size": 4, "givens": "5"}, "givens must be an int"),
    ({"size": 4, "givens": (5, 3)}, "has lo > hi"),
    ({"size": 4, "givens": (1, 2, 3)}, r"givens must be an int or a \(lo, hi\) pair"),
    ({"size": 4, "givens": (True, 5)}, r"givens\[0\] must be an int"),
    ({"size": 4, "givens": (4, 17)}, r"givens\[1\] must be in \[0, 16\]"),
    ({"difficulty": "medium"}, "difficulty must be one of"),
    ({"difficulty": 0}, "difficulty must be one of"),
    ({"difficulty": "easy", "dataset": "sudoku-extreme"}, "not available with dataset"),
    ({"dataset": ""}, "dataset must be None, 'sudoku-extreme' or a CSV path"),
    ({"dataset": 5}, "dataset must be None, 'sudoku-extreme' or a CSV path"),
    ({"pool_size": 0}, "pool_size must be >= 1"),
    ({"pool_seed": -3}, "pool_seed must be >= 0"),
    ({"wrong_penalty": float("nan")}, "wrong_penalty must be finite"),
    ({"wrong_penalty": "-1"}, "wrong_penalty must be a number"),
    ({"max_steps": 0}, "max_steps must be >= 1"),
    ({"max_steps": 1.0}, "max_steps must be an int or None"),
]


@pytest.mark.parametrize(("fields", "message"), SUDOKU_BAD_FIELDS)
def test_sudoku_config_refuses_bad_field(fields, message):
    with pytest.raises(ValueError, match=message):
        SudokuConfig(**fields)


INT_FIELD_CASES = [
    (field, value, type_name)
    for field in ("pool_size", "pool_seed", "max_steps", "min_path_length", "cell_px")
    for value, type_name in NOT_INTS
    if not (value is None and field in ("pool_size", "max_steps"))  # None means "default"
]


@pytest.mark.parametrize(("field", "value", "type_name"), INT_FIELD_CASES)
def test_maze_int_fields_refuse_non_ints(field, value, type_name):
    with pytest.raises(ValueError, match=rf"{field} must be an int.*\({type_name}\)"):
        MazeConfig(**{field: value})


@FAST
@given(h=st.integers(5, 40), w=st.integers(5, 40), over=st.integers(0, 3))
def test_maze_min_path_length_bound(h, w, over):
    lattice = ((h - 1) // 2 + 1) * ((w - 1) // 2 + 1)
    bound = 2 * lattice - 2  # a path through every open cell of a perfect maze
    assert longest_shortest_path((h, w)) == bound
    assert MazeConfig(size=(h, w), min_path_length=bound).min_path_length == bound
    with pytest.raises(ValueError, match=rf"min_path_length={bound + over + 1} is impossible"):
        MazeConfig(size=(h, w), min_path_length=bound + over + 1)


@FEW
@given(h=st.integers(5, 16), w=st.integers(5, 16), seed=st.integers(0, 2**32 - 1))
def test_maze_bound_is_open_cells_of_a_perfect_maze_minus_one(h, w, seed):
    maze = RandomMazeGenerator(size=(h, w))(np.random.default_rng(seed))
    assert int((maze.grid != 1).sum()) - 1 == longest_shortest_path((h, w))
    assert shortest_path_length(maze) <= longest_shortest_path((h, w))


@FAST
@given(
    size=st.sampled_from([4, 6, 9]),
    lo=st.integers(-3, 84),
    hi=st.integers(-3, 84),
)
def test_sudoku_givens_range(size, lo, hi):
    cells = size * size
    if 0 <= lo <= hi <= cells:
        assert SudokuConfig(size=size, givens=(lo, hi)).givens == (lo, hi)
    else:
        with pytest.raises(ValueError, match="givens"):
            SudokuConfig(size=size, givens=(lo, hi))


@FAST
@given(value=st.one_of(st.floats(), st.text(max_size=3), st.booleans(), st.none()))
def test_numeric_fields_refuse_non_numbers(value):
    assume(not (isinstance(value, float) and math.isfinite(value) and 0 <= value <= 1))
    with pytest.raises(ValueError, match="braid must be"):
        MazeConfig(braid=value)
    assume(not (isinstance(value, float) and math.isfinite(value)))
    with pytest.raises(ValueError, match="wrong_penalty must be"):
        SudokuConfig(wrong_penalty=value)


# --------------------------------------------------------------------------------------------
# Constructors: direct, gym.make, gym.make_vec
# --------------------------------------------------------------------------------------------
CONSTRUCTOR_ERRORS = [
    (lambda: MazeEnv(sise=5), r"unknown Maze argument\(s\) \['sise'\]"),
    (lambda: SudokuEnv(level=3), r"unknown Sudoku argument\(s\) \['level'\]"),
    (lambda: MazeVectorEnv(2, sise=5), r"unknown Maze argument\(s\) \['sise'\]"),
    (lambda: SudokuVectorEnv(2, level=3), r"unknown Sudoku argument\(s\) \['level'\]"),
    (lambda: MazeEnv(render_mode="human"), "render_mode='human'"),
    (lambda: MazeEnv(render_mode=["ansi"]), r"render_mode=\['ansi'\]"),
    (lambda: SudokuEnv(render_mode="rgb"), "render_mode='rgb'"),
    (lambda: MazeVectorEnv(2, render_mode="human"), "render_mode='human'"),
    (lambda: SudokuVectorEnv(2, render_mode=1), "render_mode=1"),
    (lambda: MazeEnv(config={"size": 5}), "config must be a MazeConfig, got dict"),
    (lambda: MazeEnv(config=SudokuConfig()), "config must be a MazeConfig, got SudokuConfig"),
    (lambda: SudokuEnv(config=MazeConfig()), "config must be a SudokuConfig, got MazeConfig"),
    (lambda: MazeEnv(config=MazeConfig(size=5), size=7), "size: config 5 vs 7"),
    (lambda: SudokuEnv(config=SudokuConfig(size=4), size=6), "size: config 4 vs 6"),
    (
        lambda: gym.make("trm_rl/Maze-9x9-v0", config=MazeConfig(size=15)),
        "config= and keyword arguments disagree .size: config 15 vs 9",
    ),
    (
        lambda: gym.make("trm_rl/Sudoku-4x4-v0", config=SudokuConfig(size=6)),
        "config= and keyword arguments disagree .size: config 6 vs 4",
    ),
    (
        lambda: gym.make("trm_rl/MazeHard-v0", config=MazeConfig(size=5)),
        "dataset: config None vs 'maze-hard'",
    ),
    (
        lambda: gym.make_vec(
            "trm_rl/Maze-5x5-v0",
            num_envs=2,
            vectorization_mode="vector_entry_point",
            config=MazeConfig(size=7),
        ),
        "size: config 7 vs 5",
    ),
    (
        lambda: gym.make_vec(
            "trm_rl/Sudoku-4x4-v0", num_envs=2, vectorization_mode="vector_entry_point", foo=1
        ),
        r"unknown Sudoku argument\(s\) \['foo'\]",
    ),
    (lambda: MazeEnv(size=5, generator=5), "generator must be a callable"),
    (lambda: SudokuEnv(size=4, generator="pool"), "generator must be a callable"),
    (lambda: MazeVectorEnv(2, size=5, generator=[MAZE]), "generator must be a callable"),
    (lambda: SudokuVectorEnv(2, size=4, generator=3.0), "generator must be a callable"),
    (lambda: MazeEnv(size=5, generator=lambda rng: MAZE), "maze generator returned str"),
    (
        lambda: MazeEnv(size=5, generator=lambda rng: parse_puzzle(MAZE).grid),
        "maze generator returned ndarray",
    ),
    (
        lambda: SudokuEnv(size=4, generator=lambda rng: SUDOKU).reset(),
        "the generator returned str",
    ),
    (
        lambda: SudokuVectorEnv(2, size=4, generator=lambda rng: None).reset(),
        "the generator returned NoneType",
    ),
    (
        lambda: SudokuEnv(
            size=4,
            generator=lambda rng: SudokuPuzzle(np.zeros((9, 9), np.uint8), np.ones((9, 9))),
        ).reset(),
        r"the generator returned \(9, 9\), not 4x4",
    ),
    (lambda: MazeEnv(dataset="/nonexistent/m.csv"), "maze dataset '/nonexistent/m.csv' does"),
    (lambda: SudokuEnv(dataset="/nonexistent/s.csv"), "cannot read Sudoku dataset"),
]


@pytest.mark.parametrize(("build", "message"), CONSTRUCTOR_ERRORS)
def test_constructor_refuses(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_maze_generator_of_mixed_shapes_is_refused():
    small, large = parse_puzzle(MAZE), parse_puzzle("S" + " " * 47 + "G")
    with pytest.raises(ValueError, match="all mazes of a pool must have one shape"):
        MazeEnv(pool_size=4, generator=lambda rng: small if rng.random() < 0.5 else large)


@pytest.mark.parametrize(
    ("num_envs", "message"),
    [
        (0, "num_envs must be >= 1, got 0"),
        (-1, "num_envs must be >= 1, got -1"),
        (2.5, r"num_envs must be an int, got 2.5 \(float\)"),
        (1.0, r"num_envs must be an int, got 1.0 \(float\)"),
        ("4", r"num_envs must be an int, got '4' \(str\)"),
        (True, r"num_envs must be an int, got True \(bool\)"),
        (None, r"num_envs must be an int, got None"),
    ],
)
@pytest.mark.parametrize("env_id", ["trm_rl/Maze-5x5-v0", "trm_rl/Sudoku-4x4-v0"])
@pytest.mark.parametrize("via", ["class", "make_vec"])
def test_num_envs_must_be_a_positive_int(num_envs, message, env_id, via):
    with pytest.raises(ValueError, match=message):
        if via == "make_vec":
            gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point")
        elif "Maze" in env_id:
            MazeVectorEnv(num_envs, size=5)
        else:
            SudokuVectorEnv(num_envs, size=4)


def test_equal_size_spelled_as_a_pair_is_not_a_clash():
    env = gym.make("trm_rl/Maze-5x5-v0", config=MazeConfig(size=(5, 5)))
    assert env.unwrapped.shape == (5, 5)


_SOLVED_4 = digits_of(SUDOKU_SOLUTION).reshape(4, 4)
_ONE_BLANK = _SOLVED_4.copy()
_ONE_BLANK[0, 0] = 0
BAD_GENERATED_SUDOKUS = {
    "digit 7 on a 4x4 board": SudokuPuzzle(np.full((4, 4), 7, np.uint8), _SOLVED_4),
    "solution contradicts the givens": SudokuPuzzle(_ONE_BLANK, _SOLVED_4[::-1].copy()),
    "solution is not a valid grid": SudokuPuzzle(np.zeros((4, 4), np.uint8), np.ones((4, 4))),
    "board without a blank": SudokuPuzzle(_SOLVED_4, _SOLVED_4),
}


@pytest.mark.parametrize("case", list(BAD_GENERATED_SUDOKUS))
@pytest.mark.parametrize("vector", [False, True])
def test_sudoku_generator_output_is_validated(case, vector):
    bad = BAD_GENERATED_SUDOKUS[case]
    env = (
        SudokuVectorEnv(2, size=4, generator=lambda rng: bad)
        if vector
        else SudokuEnv(size=4, generator=lambda rng: bad)
    )
    with pytest.raises(ValueError, match="generator"):
        env.reset(seed=0)


# --------------------------------------------------------------------------------------------
# MazePuzzle: any instance is well formed
# --------------------------------------------------------------------------------------------
_G = np.array([[START, OPEN], [OPEN, GOAL]])
MAZE_PUZZLE_ERRORS = [
    ({"grid": np.array([3, 4]), "start": (0,), "goal": (1,)}, r"non-empty \(H, W\) array"),
    ({"grid": np.zeros((0, 0), int), "start": (0, 0), "goal": (0, 0)}, "non-empty"),
    ({"grid": _G.astype(float), "start": (0, 0), "goal": (1, 1)}, "integer tokens.*float64"),
    ({"grid": _G.astype(bool), "start": (0, 0), "goal": (1, 1)}, "integer tokens.*bool"),
    ({"grid": _G + (_G == OPEN) * 3, "start": (0, 0), "goal": (1, 1)}, r"has tokens \[5\]"),
    ({"grid": _G * (_G != OPEN), "start": (0, 0), "goal": (1, 1)}, r"has tokens \[0\]"),
    ({"grid": _G + 256 * (_G == OPEN), "start": (0, 0), "goal": (1, 1)}, r"has tokens \[258\]"),
    ({"grid": _G, "start": (0, 1), "goal": (1, 1)}, r"start=\(0, 1\) but the grid has 'S' at"),
    ({"grid": _G, "start": (0, 0), "goal": (-1, -1)}, r"goal=\(-1, -1\) but the grid has 'G'"),
    ({"grid": np.where(_G == OPEN, START, _G), "start": (0, 0), "goal": (1, 1)}, "exactly one"),
    ({"grid": np.where(_G == GOAL, OPEN, _G), "start": (0, 0), "goal": (1, 1)}, r"'G' at \[\]"),
    ({"grid": _G, "start": 0, "goal": (1, 1)}, r"start must be a \(row, column\) pair"),
    ({"grid": _G, "start": (0, 0, 0), "goal": (1, 1)}, r"start must be a \(row, column\) pair"),
    ({"grid": _G, "start": (0, 0), "goal": None}, r"goal must be a \(row, column\) pair"),
]


@pytest.mark.parametrize(("fields", "message"), MAZE_PUZZLE_ERRORS)
def test_maze_puzzle_refuses(fields, message):
    with pytest.raises(ValueError, match=f"MazePuzzle .*{message}"):
        MazePuzzle(**fields)


@FAST
@given(
    grid=st.lists(st.lists(st.integers(0, 6), min_size=3, max_size=3), min_size=2, max_size=3),
    start=st.tuples(st.integers(-1, 3), st.integers(-1, 3)),
    goal=st.tuples(st.integers(-1, 3), st.integers(-1, 3)),
)
def test_maze_puzzle_is_well_formed_or_refused(grid, start, goal):
    try:
        puzzle = MazePuzzle(grid=np.array(grid), start=start, goal=goal)
    except ValueError as e:
        assert str(e).startswith("MazePuzzle ")
        return
    assert set(np.unique(puzzle.grid).tolist()) <= {1, OPEN, START, GOAL}
    assert [tuple(x) for x in np.argwhere(puzzle.grid == START).tolist()] == [start]
    assert [tuple(x) for x in np.argwhere(puzzle.grid == GOAL).tolist()] == [goal]
    assert not puzzle.grid.flags.writeable


# --------------------------------------------------------------------------------------------
# reset(options=...) of the single envs
# --------------------------------------------------------------------------------------------
MAZE_BAD_OPTIONS = [
    ({"foo": 1}, r"MazeEnv.reset got unknown option\(s\) \['foo'\]"),
    ({"puzzles": [MAZE]}, r"unknown option\(s\) \['puzzles'\]"),
    ("puzzle", "options must be a dict or None, got str"),
    ([("puzzle", MAZE)], "options must be a dict or None, got list"),
    ({"puzzle": MAZE, "index": 0}, "got both a puzzle and a pool index"),
    ({"index": 8}, r"pool index of env 0 must be in \[0, 7\], got 8"),
    ({"index": -1}, r"pool index of env 0 must be in \[0, 7\], got -1"),
    ({"index": 1.0}, r"pool index of env 0 must be an int, got 1.0 \(float\)"),
    ({"index": True}, r"pool index of env 0 must be an int, got True \(bool\)"),
    ({"index": "1"}, r"pool index of env 0 must be an int, got '1' \(str\)"),
    ({"puzzle": MAZE[:-1]}, "has 24 characters, expected 25 for a 5x5 grid"),
    ({"puzzle": MAZE + " "}, "has 26 characters, expected 25 for a 5x5 grid"),
    ({"puzzle": ""}, "has 0 characters, expected 25"),
    ({"puzzle": "S" + " " * 47 + "G"}, "has 49 characters, expected 25"),
    ({"puzzle": MAZE.replace("G", " ")}, "maze puzzle has no goal 'G'"),
    ({"puzzle": MAZE.replace("S", " ")}, "maze puzzle has no start 'S'"),
    ({"puzzle": MAZE.replace("G", "S")}, r"maze puzzle has 2 \(\(0, 0\), \(4, 4\)\) start 'S'"),
    ({"puzzle": MAZE.replace("#", "x")}, r"bad characters \['x'\]"),
    ({"puzzle": MAZE.replace("#", "＃")}, r"bad characters \['＃'\]"),
    ({"puzzle": MAZE.lower()}, r"bad characters \['g', 's'\]"),
    ({"puzzle": MAZE.replace("#### ", "###\n ")}, r"bad characters \['\\n'\]"),
    ({"puzzle": MAZE.replace("#### ", "#####")}, "maze puzzle is unsolvable"),
    ({"puzzle": np.array(list(MAZE))}, r"array has shape \(25,\), expected 5x5"),
    ({"puzzle": np.array(list(MAZE)).reshape(5, 5).T[:4]}, r"array has shape \(4, 5\)"),
    ({"puzzle": tokens_of(MAZE, (5, 5)).astype(float)}, "array has dtype float64"),
    ({"puzzle": tokens_of(MAZE, (5, 5)).astype(bool)}, "array has dtype bool"),
    ({"puzzle": tokens_of(MAZE, (5, 5)) * 0}, r"bad tokens \[0\]"),
    ({"puzzle": tokens_of(MAZE, (5, 5)) + 3}, r"bad tokens \[6, 7\]"),
    ({"puzzle": np.array(list(MAZE), dtype=object).reshape(5, 5)}, "array has dtype object"),
    ({"puzzle": np.array([["S ", " "], ["", "G"]])}, r"array has shape \(2, 2\)"),
    ({"puzzle": parse_puzzle("S" + " " * 47 + "G")}, "maze puzzle is 7x7, expected 5x5"),
    ({"puzzle": 5}, "maze puzzle array has shape"),
    ({"puzzle": [MAZE]}, r"maze puzzle array has shape \(1,\)"),
]


@pytest.mark.parametrize(("options", "message"), MAZE_BAD_OPTIONS)
def test_maze_reset_refuses(options, message):
    env = maze_env()
    with pytest.raises(ValueError, match=message):
        env.reset(options=options)


SUDOKU_BAD_OPTIONS = [
    ({"foo": 1}, r"SudokuEnv.reset got unknown option\(s\) \['foo'\]"),
    ({"puzzle": SUDOKU, "index": 0}, r"unknown option\(s\) \['index'\]"),
    ("x", "options must be a dict or None, got str"),
    ({"solution": SUDOKU_SOLUTION}, r"options\['solution'\] needs options\['puzzle'\]"),
    ({"puzzle": SUDOKU[:-1]}, "puzzle string has 15 characters, expected 16"),
    ({"puzzle": SUDOKU + "."}, "puzzle string has 17 characters, expected 16"),
    ({"puzzle": SUDOKU.replace("3", "٣")}, "bad character '٣' at position 2"),
    ({"puzzle": SUDOKU.replace("4", "٤")}, "bad character '٤' at position 12"),
    ({"puzzle": SUDOKU.replace("1", "¹")}, "bad character '¹' at position 0"),
    ({"puzzle": SUDOKU.replace(".", "5", 1)}, "bad character '5' at position 1"),
    ({"puzzle": SUDOKU.replace(".", "x", 1)}, "bad character 'x' at position 1"),
    ({"puzzle": SUDOKU.replace(".", " ", 1)}, "puzzle string has 15 characters"),
    ({"puzzle": "11" + "." * 14}, "contradictory givens: digit 1 twice in row 1"),
    ({"puzzle": SUDOKU_SOLUTION}, "puzzle has no blank cell"),
    ({"puzzle": SUDOKU_UNSOLVABLE}, "puzzle has no solution"),
    ({"puzzle": "1" + "." * 15}, "more than one solution; pass options\\['solution'\\]"),
    ({"puzzle": "." * 16}, "more than one solution"),
    ({"puzzle": SUDOKU, "solution": "1" * 16}, "solution is not a complete valid grid"),
    ({"puzzle": SUDOKU, "solution": SUDOKU_SOLUTION[:-1]}, "solution string has 15 characters"),
    ({"puzzle": "2" + "." * 15, "solution": SUDOKU_SOLUTION}, "disagrees with the given at row 1"),
    ({"puzzle": digits_of(SUDOKU).reshape(2, 8)}, r"array has shape \(2, 8\)"),
    ({"puzzle": digits_of(SUDOKU) + 0.5}, "array has non-integer entries"),
    ({"puzzle": np.full(16, np.nan)}, "array has non-integer entries"),
    ({"puzzle": digits_of(SUDOKU).astype(int) * 5}, "array has digit 5 out of range"),
    ({"puzzle": digits_of(SUDOKU).astype(int) - 1}, "array has digit -1 out of range"),
    ({"puzzle": digits_of(SUDOKU).astype(bool)}, "array has dtype bool"),
    ({"puzzle": np.array(list(SUDOKU))}, "array has dtype <U1"),
    ({"puzzle": list(SUDOKU)}, "array has dtype <U1"),
    ({"puzzle": SUDOKU.encode()}, "must be a string or an array of digits, got bytes"),
    ({"puzzle": 5}, "must be a string or an array of digits, got int"),
]


@pytest.mark.parametrize(("options", "message"), SUDOKU_BAD_OPTIONS)
def test_sudoku_reset_refuses(options, message):
    env = SudokuEnv(size=4)
    with pytest.raises(ValueError, match=message):
        env.reset(options=options)


@FAST
@given(index=st.one_of(st.floats(), st.booleans(), st.text(max_size=2), st.integers()))
def test_maze_index_option_is_an_int_in_range(index):
    env = maze_env()
    if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < 8:
        obs, _ = env.reset(options={"index": index})
        assert np.array_equal(obs["grid"], env.pool.grids[index])
    else:
        with pytest.raises(ValueError, match="pool index of env 0 must be"):
            env.reset(options={"index": index})


@pytest.mark.parametrize("game", ["maze", "sudoku"])
def test_failed_reset_leaves_a_running_single_env_unchanged(game):
    def make():
        if game == "maze":
            env = maze_env()
            env.reset(options={"puzzle": MAZE})
            env.step(MAZE_SOLUTION[0])
        else:
            env = SudokuEnv(size=4)
            env.reset(options={"puzzle": SUDOKU})
            env.step(solve_actions(digits_of(SUDOKU), digits_of(SUDOKU_SOLUTION))[0])
        return env

    env, twin = make(), make()
    for options in ({"puzzle": "bad"}, {"foo": 1}, {"puzzle": None, "solution": "x"}, "x"):
        with pytest.raises(ValueError):
            env.reset(options=options)
    action = int(np.flatnonzero(twin.action_masks())[-1])
    got, want = env.step(action), twin.step(action)
    assert np.array_equal(got[0]["grid"], want[0]["grid"])
    assert got[1:] == want[1:]


# --------------------------------------------------------------------------------------------
# Puzzles given at reset are exactly the ones played
# --------------------------------------------------------------------------------------------
@FAST
@given(data=st.data(), form=st.sampled_from(["string", "chars", "tokens", "MazePuzzle"]))
def test_maze_puzzle_option_is_the_puzzle_played(data, form):
    shape = (data.draw(st.integers(5, 8)), data.draw(st.integers(5, 8)))
    puzzle = data.draw(st.one_of(generated_mazes(shape), open_mazes(shape)))
    marked = with_path_marks(data, puzzle) if form != "MazePuzzle" else puzzle
    table = {"#": 1, " ": OPEN, "S": START, "G": GOAL, "o": PATH}
    given_as = {
        "string": marked,
        "chars": np.array(list(marked)).reshape(shape),
        "tokens": np.array([table[c] for c in marked]).reshape(shape),
        "MazePuzzle": parse_puzzle(marked, shape),
    }[form]
    env = MazeEnv(size=shape, pool_size=2, mark_trail=data.draw(st.booleans()))
    obs, info = env.reset(seed=0, options={"puzzle": given_as})
    assert np.array_equal(obs["grid"], tokens_of(marked, shape))
    assert info["shortest_path_length"] == shortest_path_length(parse_puzzle(puzzle, shape))
    assert info["steps"] == 0 and not info["is_success"]
    assert env.state.puzzle == parse_puzzle(puzzle, shape)
    assert env.observation_space.contains(obs)


@FAST
@given(data=st.data())
def test_malformed_maze_puzzles_are_refused(data):
    puzzle = data.draw(generated_mazes((5, 6)))
    chars = list(puzzle)
    kind = data.draw(
        st.sampled_from(
            ["length", "bad char", "no start", "no goal", "two goals", "walled goal", "shape"]
        )
    )
    given_as: object
    if kind == "length":
        k = data.draw(st.integers(1, 5))
        given_as = puzzle[:-k] if data.draw(st.booleans()) else puzzle + " " * k
        message = "characters, expected 30 for a 5x6 grid"
    elif kind == "bad char":
        chars[data.draw(st.integers(0, 29))] = data.draw(BAD_MAZE_CHARS)
        given_as, message = "".join(chars), "maze puzzle has bad characters"
    elif kind in ("no start", "no goal"):
        given_as = puzzle.replace("S" if kind == "no start" else "G", " ")
        message = f"maze puzzle has no {kind[3:]} '{'S' if kind == 'no start' else 'G'}'"
    elif kind == "two goals":
        opens = [i for i, c in enumerate(chars) if c == " "]
        chars[data.draw(st.sampled_from(opens))] = "G"
        given_as, message = "".join(chars), r"maze puzzle has 2 \(.*\) goal 'G'"
    elif kind == "walled goal":
        r, c = divmod(puzzle.index("G"), 6)
        around = [(r + dr, c + dc) for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))]
        around = [rr * 6 + cc for rr, cc in around if 0 <= rr < 5 and 0 <= cc < 6]
        assume(all(chars[i] != "S" for i in around))
        for i in around:
            chars[i] = "#"
        given_as, message = "".join(chars), "maze puzzle is unsolvable: no path from S"
    else:
        given_as = np.array(list(puzzle)).reshape(6, 5)
        message = r"maze puzzle array has shape \(6, 5\), expected 5x6"
    env = MazeEnv(size=(5, 6), pool_size=2)
    with pytest.raises(ValueError, match=message):
        env.reset(options={"puzzle": given_as})


@FAST
@given(
    data=st.data(),
    size=st.sampled_from([4, 6]),
    form=st.sampled_from(["string", "array", "flat array", "list", "with solution"]),
)
def test_sudoku_puzzle_option_is_the_puzzle_played(data, size, form):
    pool = shipped_pool(size)
    k = data.draw(st.integers(0, len(pool) - 1))
    puzzle, solution = pool.puzzles[k], pool.solutions[k]
    blanks = [data.draw(st.sampled_from(".0")) for _ in range(size * size)]
    text = "".join(blanks[i] if d == 0 else str(d) for i, d in enumerate(puzzle.ravel()))
    options = {
        "string": {"puzzle": text},
        "array": {"puzzle": puzzle.astype(np.int64)},
        "flat array": {"puzzle": puzzle.ravel()},
        "list": {"puzzle": puzzle.ravel().tolist()},
        "with solution": {"puzzle": text, "solution": solution},
    }[form]
    env = SudokuEnv(size=size)
    obs, info = env.reset(seed=0, options=options)
    assert np.array_equal(obs["grid"], puzzle + 1)
    assert env.observation_space.contains(obs)
    assert np.array_equal(env.state.puzzle, puzzle)
    assert np.array_equal(env.state.solution, solution)
    assert info["num_blanks"] == int((puzzle == 0).sum())


@FAST
@given(data=st.data())
def test_malformed_sudoku_puzzles_are_refused(data):
    pool = shipped_pool(4)
    k = data.draw(st.integers(0, len(pool) - 1))
    puzzle, solution = pool.puzzles[k], pool.solutions[k]
    text = "".join(str(d) for d in puzzle.ravel())
    chars = list(text)
    options: dict = {}
    kind = data.draw(
        st.sampled_from(
            ["non-ascii digit", "bad char", "big digit", "length", "duplicate", "full", "sol"]
        )
    )
    if kind in ("non-ascii digit", "bad char", "big digit"):
        i = data.draw(st.integers(0, 15))
        chars[i] = data.draw(
            {
                "non-ascii digit": NON_ASCII_DIGITS,
                "bad char": BAD_SUDOKU_CHARS,
                "big digit": st.sampled_from("56789"),
            }[kind]
        )
        options["puzzle"] = "".join(chars)
        message = f"bad character {re.escape(repr(chars[i]))} at position {i}"
    elif kind == "length":
        n = data.draw(st.integers(0, 40).filter(lambda n: n != 16))
        options["puzzle"] = (text * 3)[:n]
        message = f"puzzle string has {n} characters, expected 16"
    elif kind == "duplicate":
        # Copy a given of some row into a blank of the same row.
        rows = [r for r in range(4) if (puzzle[r] == 0).any() and (puzzle[r] != 0).any()]
        assume(rows)
        r = data.draw(st.sampled_from(rows))
        c = data.draw(st.sampled_from(np.flatnonzero(puzzle[r] == 0).tolist()))
        chars[r * 4 + c] = str(data.draw(st.sampled_from(puzzle[r][puzzle[r] != 0].tolist())))
        options["puzzle"] = "".join(chars)
        message = "contradictory givens: digit [1-4] twice in row"
    elif kind == "full":
        options["puzzle"] = "".join(str(d) for d in solution.ravel())
        message = "puzzle has no blank cell"
    else:  # a solution that is not a valid grid: two cells of a row swapped
        sol = solution.copy()
        sol[0, 0], sol[0, 1] = sol[0, 1], sol[0, 0]
        options = {"puzzle": text, "solution": sol}
        message = "solution is not a complete valid grid"
    with pytest.raises(ValueError, match=message):
        SudokuEnv(size=4).reset(options=options)


@FAST
@given(data=st.data(), vector=st.booleans())
def test_multi_solution_puzzle_plays_with_the_given_solution(data, vector):
    """A puzzle with <= 3 givens has several solutions; the one passed is the one rewarded."""
    pool = shipped_pool(4)
    a, b = data.draw(st.lists(st.integers(0, len(pool) - 1), min_size=2, max_size=2, unique=True))
    chosen, other = pool.solutions[a], pool.solutions[b]
    assume(not np.array_equal(chosen, other))
    keep = data.draw(st.sets(st.integers(0, 15), max_size=3))
    puzzle = np.where(np.isin(np.arange(16), list(keep)), chosen.ravel(), 0).astype(np.uint8)
    env = SudokuVectorEnv(1, size=4) if vector else SudokuEnv(size=4)
    with pytest.raises(ValueError, match="more than one solution"):
        env.reset(options={"puzzle": puzzle})
    env.reset(seed=0, options={"puzzle": puzzle, "solution": chosen})
    rewards, wrong = [], 0
    for action in solve_actions(puzzle, chosen):
        if vector:
            _, r, term, _, info = env.step(np.array([action]))
            r, term, info = float(r[0]), bool(term[0]), info["final_info"] if term[0] else info
            wrong += int(info["wrong_placement"][0])
            success = bool(info["is_success"][0])
        else:
            _, r, term, _, info = env.step(action)
            wrong += int(info["wrong_placement"])
            success = info["is_success"]
        rewards.append(r)
    assert term and success and wrong == 0
    assert rewards[-1] == pytest.approx(1.0) and all(r == 0 for r in rewards[:-1])
    # Another solution of the same puzzle turns some of these placements into wrong ones.
    single = SudokuEnv(size=4)
    givens = puzzle != 0
    if not np.array_equal(other.ravel()[givens], puzzle[givens]):
        with pytest.raises(ValueError, match="solution disagrees with the given"):
            single.reset(options={"puzzle": puzzle, "solution": other})
        return
    single.reset(options={"puzzle": puzzle, "solution": other})
    wrong = sum(single.step(a)[4]["wrong_placement"] for a in solve_actions(puzzle, chosen))
    assert wrong == int(((chosen.ravel() != other.ravel()) & ~givens).sum()) > 0


# --------------------------------------------------------------------------------------------
# step(action) and ResetNeeded
# --------------------------------------------------------------------------------------------
BAD_SINGLE_ACTIONS = [
    (1.0, "must be an int in .*got 1.0 \\(float\\)"),
    (np.float64(1), "must be an int in .*\\(float64\\)"),
    (np.array(1.0), "must be an int in .*\\(float64\\)"),
    ("1", "must be an int in .*got '1' \\(str\\)"),
    (True, "must be an int in .*got True \\(bool\\)"),
    (np.bool_(False), "must be an int in .*\\(bool\\)"),
    (np.array([1]), "must be an int in .*\\(ndarray\\)"),
    (np.array([[1]]), "must be an int in .*\\(ndarray\\)"),
    ([1], "must be an int in .*\\(list\\)"),
    (None, "must be an int in .*\\(NoneType\\)"),
    (complex(1, 0), "must be an int in .*\\(complex\\)"),
    (-1, "action must be in .*got -1"),
    (2**70, "action must be in .*got 1180591620717411303424"),
]


@pytest.mark.parametrize(("action", "message"), BAD_SINGLE_ACTIONS)
@pytest.mark.parametrize("game", ["maze", "sudoku"])
def test_single_env_refuses_bad_actions(action, message, game):
    env = maze_env() if game == "maze" else SudokuEnv(size=4)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        env.step(action)
    top = 4 if game == "maze" else 64
    with pytest.raises(ValueError, match=f"action must be in .*got {top}"):
        env.step(top)
    env.step(np.array(top - 1))  # a 0-d integer array is accepted
    env.step(np.uint8(0))


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        (np.zeros(3, float), "actions must be integers in .*got dtype float64"),
        (np.zeros(3, bool), "actions must be integers in .*got dtype bool"),
        (np.array(["0", "1", "2"]), "actions must be integers in .*got dtype <U1"),
        (np.zeros(3, object), "actions must be integers in .*got dtype object"),
        (
            np.zeros((3, 1), int),
            r"expected 3 actions, one per env \(shape \(3,\)\), got shape \(3, 1\)",
        ),
        (np.zeros(4, int), r"expected 3 actions.*got shape \(4,\)"),
        (np.zeros(2, int), r"expected 3 actions.*got shape \(2,\)"),
        (0, r"expected 3 actions.*got shape \(\)"),
        (np.array([0, 1, -1]), r"actions must be in .*got \[-1\]"),
    ],
)
@pytest.mark.parametrize("game", ["maze", "sudoku"])
def test_batched_env_refuses_bad_actions(actions, message, game):
    venv = maze_venv(3) if game == "maze" else SudokuVectorEnv(3, size=4)
    venv.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        venv.step(actions)
    top = 4 if game == "maze" else 64
    with pytest.raises(ValueError, match=rf"actions must be in .*got \[{top}\]"):
        venv.step(np.array([0, top, 0]))
    venv.step([0, 1, 2])  # a list of ints is an integer array


@pytest.mark.parametrize("game", ["maze", "sudoku"])
def test_step_needs_reset(game):
    env = maze_env() if game == "maze" else SudokuEnv(size=4)
    venv = maze_venv(2) if game == "maze" else SudokuVectorEnv(2, size=4)
    with pytest.raises(gym.error.ResetNeeded, match="reset"):
        env.step(0)
    with pytest.raises(gym.error.ResetNeeded, match="reset"):
        venv.step(np.zeros(2, dtype=np.int64))
    env_id = "trm_rl/Maze-5x5-v0" if game == "maze" else "trm_rl/Sudoku-4x4-v0"
    with pytest.raises(gym.error.ResetNeeded):
        gym.make(env_id).step(0)
    # A failed first reset does not start anything either.
    with pytest.raises(ValueError):
        venv.reset(options={"puzzle": "bad"})
    with pytest.raises(gym.error.ResetNeeded):
        venv.step(np.zeros(2, dtype=np.int64))
    with pytest.raises(ValueError):
        env.reset(options={"puzzle": "bad"})
    with pytest.raises(gym.error.ResetNeeded):
        env.step(0)


def test_step_after_termination_or_truncation_needs_reset():
    maze = maze_env()
    maze.reset(options={"puzzle": MAZE})
    for action in MAZE_SOLUTION:
        _, reward, terminated, truncated, info = maze.step(action)
    assert terminated and not truncated and reward == 1.0 and info["is_success"]
    with pytest.raises(gym.error.ResetNeeded):
        maze.step(0)
    sudoku = SudokuEnv(size=4)
    sudoku.reset(options={"puzzle": SUDOKU})
    for action in solve_actions(digits_of(SUDOKU), digits_of(SUDOKU_SOLUTION)):
        _, reward, terminated, truncated, info = sudoku.step(action)
    assert terminated and reward == pytest.approx(1.0) and info["is_success"]
    with pytest.raises(gym.error.ResetNeeded):
        sudoku.step(0)
    for env in (maze_env(max_steps=1), SudokuEnv(size=4, max_steps=1)):
        env.reset(seed=0)
        _, _, terminated, truncated, _ = env.step(0)
        assert truncated or terminated
        with pytest.raises(gym.error.ResetNeeded):
            env.step(0)
        env.reset()
        env.step(0)  # a new episode runs again
    wrapped = gym.make("trm_rl/Maze-5x5-v0", max_steps=1)
    wrapped.reset(seed=0)
    wrapped.step(0)
    with pytest.raises(gym.error.ResetNeeded):
        wrapped.step(0)


STEP_LIMITS = {"Maze": 2**63 - 1, "Sudoku": 2**31 - 1}  # int64 and int32 step counters


@pytest.mark.parametrize("env_id", ["trm_rl/Maze-5x5-v0", "trm_rl/Sudoku-4x4-v0"])
@pytest.mark.parametrize("batched", [False, True], ids=["single", "batched"])
def test_step_limits_must_fit_the_step_counters(env_id, batched):
    """The largest step limit the counters hold plays; one more (2**31 for Sudoku, whose
    counters are int32) is refused up front, not an OverflowError from deep inside."""
    limit = STEP_LIMITS[env_id.split("/")[1].split("-")[0]]

    def make(max_steps: int):
        if batched:
            kind = "vector_entry_point"
            return gym.make_vec(env_id, num_envs=2, vectorization_mode=kind, max_steps=max_steps)
        return gym.make(env_id, max_steps=max_steps)

    env = make(limit)
    env.reset(seed=0)
    _, _, _, truncated, _ = env.step(env.action_space.sample())
    assert not np.any(truncated)
    for too_big in (limit + 1, 2**64, 10**30):
        with pytest.raises(ValueError, match=rf"max_steps={too_big} .*largest accepted .*{limit}"):
            make(too_big)
    with pytest.raises(ValueError, match="largest accepted value is 2147483647"):
        gym.make("trm_rl/Sudoku-9x9-v0", max_steps=2**31)


# --------------------------------------------------------------------------------------------
# Batched reset options
# --------------------------------------------------------------------------------------------
MAZE_BAD_BATCH_OPTIONS = [
    ({"foo": 1}, r"MazeVectorEnv.reset got unknown option\(s\) \['foo'\]"),
    ({"solutions": [None] * 3}, r"unknown option\(s\) \['solutions'\]"),
    ("x", "options must be a dict or None, got str"),
    ({"puzzles": MAZE}, r"options\['puzzles'\] must be a sequence .*got str.*options\['puzzle'\]"),
    ({"puzzles": {0: MAZE}}, r"options\['puzzles'\] must be a sequence .*got dict"),
    ({"puzzles": iter([MAZE] * 3)}, r"options\['puzzles'\] must be a sequence"),
    ({"indices": "012"}, r"options\['indices'\] must be a sequence .*options\['index'\]"),
    ({"puzzles": [MAZE, None]}, "got 2 puzzles for 3 envs to reset"),
    ({"puzzles": [MAZE, None, None, None]}, "got 4 puzzles for 3 envs to reset"),
    ({"indices": [0]}, "got 1 indices for 3 envs to reset"),
    ({"puzzle": MAZE, "puzzles": [None] * 3}, r"pass options\['puzzle'\] or options\['puzzles'\]"),
    ({"index": 1, "indices": [1] * 3}, r"pass options\['index'\] or options\['indices'\]"),
    ({"puzzles": [MAZE, None, None], "indices": [0, None, 1]}, "env 0 got both a puzzle and"),
    ({"puzzles": [None, None, MAZE], "indices": [0, None, 1]}, "env 2 got both a puzzle and"),
    ({"puzzle": MAZE, "index": 1}, "env 0 got both a puzzle and a pool index"),
    ({"indices": [0, 1, 8]}, r"pool index of env 2 must be in \[0, 7\], got 8"),
    ({"indices": [0, 1.0, 2]}, r"pool index of env 1 must be an int, got 1.0"),
    ({"indices": [0, None, True]}, r"pool index of env 2 must be an int, got True"),
    ({"index": -1}, r"pool index of env 0 must be in \[0, 7\], got -1"),
    ({"puzzles": [None, MAZE[:-1], None]}, "has 24 characters, expected 25"),
    ({"reset_mask": np.array([1, 1, 1])}, r"reset_mask'\] must be a \(3,\) bool array.*int64"),
    ({"reset_mask": np.ones((3, 1), bool)}, r"must be a \(3,\) bool array, got shape \(3, 1\)"),
    ({"reset_mask": np.ones(4, bool)}, r"must be a \(3,\) bool array, got shape \(4,\)"),
    ({"reset_mask": np.ones(3)}, r"must be a \(3,\) bool array.*dtype float64"),
    ({"reset_mask": "TTT"}, r"must be a \(3,\) bool array"),
    (
        {"reset_mask": np.array([True, False, True]), "puzzles": [MAZE] * 3},
        "got 3 puzzles for 2 envs to reset",
    ),
]


@pytest.mark.parametrize(("options", "message"), MAZE_BAD_BATCH_OPTIONS)
def test_maze_batched_reset_refuses(options, message):
    venv = maze_venv(3)
    venv.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        venv.reset(options=options)


SUDOKU_BAD_BATCH_OPTIONS = [
    ({"index": 0}, r"SudokuVectorEnv.reset got unknown option\(s\) \['index'\]"),
    ({"puzzles": SUDOKU}, r"options\['puzzles'\] must be a sequence .*got str"),
    ({"puzzles": [SUDOKU]}, "got 1 puzzles for 3 envs to reset"),
    ({"puzzles": [SUDOKU] * 3, "solutions": [None]}, "got 1 solutions for 3 envs"),
    ({"puzzles": [SUDOKU] * 3, "solutions": SUDOKU_SOLUTION}, r"options\['solutions'\] must be"),
    ({"solutions": [SUDOKU_SOLUTION, None, None]}, r"options\['solutions'\] needs options"),
    ({"solution": SUDOKU_SOLUTION}, r"options\['solutions'\] needs options\['puzzles'\]"),
    (
        {"puzzles": [SUDOKU, None, None], "solutions": [None, SUDOKU_SOLUTION, None]},
        "env 1 got a solution without a puzzle",
    ),
    ({"puzzle": SUDOKU, "puzzles": [SUDOKU] * 3}, r"pass options\['puzzle'\] or"),
    ({"puzzles": ["." * 16, None, None]}, "more than one solution"),
    ({"puzzles": [None, SUDOKU.replace("3", "٣"), None]}, "bad character '٣'"),
    ({"reset_mask": np.array([1, 0, 1])}, r"must be a \(3,\) bool array"),
    ({"reset_mask": np.ones(2, bool)}, r"must be a \(3,\) bool array, got shape \(2,\)"),
]


@pytest.mark.parametrize(("options", "message"), SUDOKU_BAD_BATCH_OPTIONS)
def test_sudoku_batched_reset_refuses(options, message):
    venv = SudokuVectorEnv(3, size=4)
    venv.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        venv.reset(options=options)


@pytest.mark.parametrize("game", ["maze", "sudoku"])
@pytest.mark.parametrize("mask", [[True, False, True], [False, False, False]])
def test_first_batched_reset_must_reset_every_env(game, mask):
    venv = maze_venv(3) if game == "maze" else SudokuVectorEnv(3, size=4)
    with pytest.raises(ValueError, match="the first reset must reset every env"):
        venv.reset(options={"reset_mask": np.array(mask)})
    with pytest.raises(gym.error.ResetNeeded):
        venv.step(np.zeros(3, dtype=np.int64))
    venv.reset(options={"reset_mask": np.ones(3, bool)})  # a full mask is a full reset
    venv.step(np.zeros(3, dtype=np.int64))


@FAST
@given(data=st.data(), num_envs=st.integers(1, 4))
def test_maze_per_env_options_reach_exactly_their_env(data, num_envs):
    venv = maze_venv(num_envs)
    pool_grids = venv.pool.grids.reshape(len(venv.pool), -1)
    obs, _ = venv.reset(seed=data.draw(st.integers(0, 1000)))
    before = obs["grid"].copy()
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=num_envs, max_size=num_envs)))
    partial = data.draw(st.booleans())
    rows = np.flatnonzero(mask) if partial else np.arange(num_envs)
    kinds = [data.draw(st.sampled_from(["draw", "puzzle", "index"])) for _ in rows]
    puzzles = [data.draw(open_mazes()) if k == "puzzle" else None for k in kinds]
    indices = [data.draw(st.integers(0, 7)) if k == "index" else None for k in kinds]
    options = {"puzzles": puzzles, "indices": indices}
    if partial:
        options["reset_mask"] = mask
    obs, info = venv.reset(options=options)
    assert venv.observation_space.contains(obs)
    for j, row in enumerate(rows):
        grid = obs["grid"][row]
        if kinds[j] == "puzzle":
            assert np.array_equal(grid, tokens_of(puzzles[j], (5, 5)))
            expected = shortest_path_length(parse_puzzle(puzzles[j]))
            assert info["shortest_path_length"][row] == expected
        elif kinds[j] == "index":
            assert np.array_equal(grid, venv.pool.grids[indices[j]])
        else:
            assert (pool_grids == grid.ravel()).all(axis=1).any(), "a None entry is a pool maze"
        assert info["steps"][row] == 0
    for row in sorted(set(range(num_envs)) - set(rows.tolist())):
        assert np.array_equal(obs["grid"][row], before[row]), "envs outside the mask keep going"


@FAST
@given(data=st.data(), num_envs=st.integers(1, 4))
def test_sudoku_per_env_options_reach_exactly_their_env(data, num_envs):
    pool = shipped_pool(4)
    venv = SudokuVectorEnv(num_envs, size=4, pool_size=16)
    venv_pool = venv.generator.puzzles.reshape(len(venv.generator), -1)
    venv.reset(seed=data.draw(st.integers(0, 1000)))
    venv.step(np.array([int(np.flatnonzero(m)[0]) for m in venv.action_masks()]))
    before = venv.step(np.zeros(num_envs, dtype=np.int64))[0]["grid"].copy()
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=num_envs, max_size=num_envs)))
    rows = np.flatnonzero(mask)
    picks = [data.draw(st.one_of(st.none(), st.integers(0, len(pool) - 1))) for _ in rows]
    puzzles = [None if k is None else pool.puzzles[k] for k in picks]
    obs, info = venv.reset(options={"puzzles": puzzles, "reset_mask": mask})
    assert venv.observation_space.contains(obs)
    for row, k in zip(rows, picks, strict=True):
        grid = obs["grid"][row] - 1
        if k is None:
            assert (venv_pool == grid.ravel()).all(axis=1).any(), "a None entry is a pool puzzle"
        else:
            assert np.array_equal(grid, pool.puzzles[k])
        assert info["steps"][row] == 0 and info["num_wrong"][row] == 0
    for row in np.flatnonzero(~mask):
        assert np.array_equal(obs["grid"][row], before[row]), "envs outside the mask keep going"


@pytest.mark.parametrize("game", ["maze", "sudoku"])
def test_failed_batched_reset_leaves_every_env_unchanged(game):
    def make():
        venv = maze_venv(2) if game == "maze" else SudokuVectorEnv(2, size=4)
        venv.reset(seed=5)
        venv.step(np.array([int(np.flatnonzero(m)[0]) for m in venv.action_masks()]))
        return venv

    venv, twin = make(), make()
    with pytest.raises(ValueError):
        venv.reset(options={"puzzles": [None, "bad"]})
    actions = np.array([int(np.flatnonzero(m)[-1]) for m in twin.action_masks()])
    got, want = venv.step(actions), twin.step(actions)
    assert np.array_equal(got[0]["grid"], want[0]["grid"])
    assert np.array_equal(got[1], want[1])


# --------------------------------------------------------------------------------------------
# Rollout properties: spaces, finite rewards, single == batched, state == observation
# --------------------------------------------------------------------------------------------
def choose(data, mask: np.ndarray) -> int:
    """A legal action most of the time, any action otherwise (illegal moves must be safe)."""
    legal = np.flatnonzero(mask)
    if len(legal) and data.draw(st.integers(0, 3)) > 0:
        return int(legal[data.draw(st.integers(0, len(legal) - 1))])
    return data.draw(st.integers(0, len(mask) - 1))


def check_maze_state(env: MazeEnv, obs: dict, info: dict) -> None:
    state = env.state
    assert np.array_equal(state.grid, obs["grid"])
    assert state.position == tuple(np.argwhere(obs["grid"] == START)[0].tolist())
    assert (obs["grid"] == START).sum() == 1
    assert state.step_count == info["steps"]
    assert state.distance_to_goal == info["distance_to_goal"]
    assert state.puzzle.start != state.puzzle.goal
    state.grid[...] = 0  # a snapshot: writing to it leaves the env alone
    assert np.array_equal(env.state.grid, obs["grid"])


def check_sudoku_state(env: SudokuEnv, obs: dict, info: dict) -> None:
    state = env.state
    assert np.array_equal(state.board + 1, obs["grid"])
    assert np.array_equal(state.action_mask, obs["action_mask"].astype(bool))
    assert np.array_equal(state.action_mask, env.action_masks())
    givens = state.puzzle != 0
    assert np.array_equal(state.board[givens], state.puzzle[givens])
    assert state.step_count == info["steps"]
    assert state.num_wrong == info["num_wrong"] and state.num_illegal == info["num_illegal"]
    assert info["num_blanks"] == int((state.board == 0).sum())
    state.board[...] = 0
    assert np.array_equal(env.state.board + 1, obs["grid"])


def assert_same_step(single: tuple, batched: tuple, reward_dtype=np.float32) -> None:
    obs, reward, terminated, truncated, info = single
    b_obs, b_reward, b_terminated, b_truncated, b_info = batched
    assert b_reward[0] == reward_dtype(reward)
    assert (b_terminated[0], b_truncated[0]) == (terminated, truncated)
    if terminated or truncated:
        b_obs, b_info = b_info["final_obs"], b_info["final_info"]
    for key in obs:
        assert np.array_equal(obs[key], b_obs[key][0]), key
    for key, value in info.items():
        assert b_info[key][0] == value, key


@FAST
@given(
    data=st.data(),
    seed=st.integers(0, 2**16),
    max_steps=st.sampled_from([None, 3, 9]),
    shaping=st.booleans(),
    mark_trail=st.booleans(),
)
def test_maze_rollouts_single_equals_batched(data, seed, max_steps, shaping, mark_trail):
    kwargs = dict(max_steps=max_steps, shaping=shaping, mark_trail=mark_trail, step_cost=0.05)
    env, venv = maze_env(**kwargs), maze_venv(1, **kwargs)
    obs, info = env.reset(seed=seed)
    b_obs, b_info = venv.reset(seed=seed)
    assert_same_step((obs, 0.0, False, False, info), (b_obs, np.zeros(1), [False], [False], b_info))
    for _ in range(data.draw(st.integers(1, 25))):
        action = choose(data, obs["action_mask"])
        step = env.step(action)
        batched = venv.step(np.array([action]))
        assert_same_step(step, batched)
        obs, reward, terminated, truncated, info = step
        assert isinstance(reward, float) and math.isfinite(reward)
        assert env.observation_space.contains(obs) and venv.observation_space.contains(batched[0])
        if not shaping:
            assert reward in (1.0, -0.05)
        check_maze_state(env, obs, info)
        if terminated or truncated:  # the batched env reset itself in the same step
            obs, info = env.reset()
            assert np.array_equal(obs["grid"], batched[0]["grid"][0])
            assert info["shortest_path_length"] == batched[4]["shortest_path_length"][0]


@FAST
@given(data=st.data(), seed=st.integers(0, 2**16), max_steps=st.sampled_from([None, 4]))
def test_sudoku_rollouts_single_equals_batched(data, seed, max_steps):
    env = SudokuEnv(size=4, max_steps=max_steps, wrong_penalty=-0.5)
    venv = SudokuVectorEnv(1, size=4, max_steps=max_steps, wrong_penalty=-0.5)
    obs, info = env.reset(seed=seed)
    b_obs, b_info = venv.reset(seed=seed)
    assert_same_step((obs, 0.0, False, False, info), (b_obs, np.zeros(1), [False], [False], b_info))
    for _ in range(data.draw(st.integers(1, 30))):
        action = choose(data, obs["action_mask"])
        step = env.step(action)
        batched = venv.step(np.array([action]))
        assert_same_step(step, batched)
        obs, reward, terminated, truncated, info = step
        assert isinstance(reward, float) and math.isfinite(reward)
        assert reward in (0.0, pytest.approx(-0.5), pytest.approx(1.0), pytest.approx(0.5))
        assert env.observation_space.contains(obs) and venv.observation_space.contains(batched[0])
        check_sudoku_state(env, obs, info)
        if terminated or truncated:
            obs, info = env.reset()
            assert np.array_equal(obs["grid"], batched[0]["grid"][0])


# --------------------------------------------------------------------------------------------
# Dataset CSVs: rewritten files are read again; malformed files name the file and the line
# --------------------------------------------------------------------------------------------
def bump_mtime(path) -> None:
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5 * 10**9))


def test_rewritten_maze_csv_serves_the_new_mazes(tmp_path):
    gen = RandomMazeGenerator(size=5)
    old = [gen(np.random.default_rng([1, i])) for i in range(3)]
    new = [gen(np.random.default_rng([2, i])) for i in range(4)]
    assert old != new[:3]
    path = tmp_path / "mazes.csv"
    write_maze_csv(old, path, "old")
    assert list(MazeEnv(dataset=str(path)).pool) == old
    assert list(MazeVectorEnv(2, dataset=str(path)).pool) == old
    write_maze_csv(new, path, "new")
    bump_mtime(path)
    assert list(MazeEnv(dataset=str(path)).pool) == new
    venv = gym.make_vec("trm_rl/Maze-v0", num_envs=2, vectorization_mode="vector_entry_point",
                        dataset=str(path))  # fmt: skip
    assert list(venv.unwrapped.pool) == new
    obs, _ = MazeEnv(dataset=str(path)).reset(seed=0)
    assert any(np.array_equal(obs["grid"], m.grid) for m in new)
    # Same byte count, only the mtime changes: still the new content.
    write_maze_csv(list(reversed(new)), path, "new")
    bump_mtime(path)
    assert list(MazeEnv(dataset=str(path)).pool) == list(reversed(new))


def test_rewritten_sudoku_csv_serves_the_new_puzzles(tmp_path):
    pool = shipped_pool(4)
    old, new = pool.select(np.arange(0, 5)), pool.select(np.arange(5, 10))
    path = tmp_path / "sudoku.csv"
    write_sudoku_csv(old, path, "old")
    assert np.array_equal(SudokuEnv(size=4, dataset=str(path)).generator.puzzles, old.puzzles)
    write_sudoku_csv(new, path, "new")
    bump_mtime(path)
    for env in (
        SudokuEnv(size=4, dataset=str(path)),
        SudokuVectorEnv(2, size=4, dataset=str(path)),
    ):
        assert np.array_equal(env.generator.puzzles, new.puzzles)
        obs, _ = env.reset(seed=0)
        grids = obs["grid"].reshape(-1, 16) - 1
        assert all((new.puzzles.reshape(5, 16) == g).all(axis=1).any() for g in grids)


MAZE_HEADER = "index,question,answer,source,path_len\n"
SEVEN = "S" + " " * 47 + "G"
MAZE_CSVS = {
    "empty": ("", "has header None"),
    "header only": (MAZE_HEADER, "has no mazes"),
    "bad header": ("a,b,c\n1,2,3\n", r"has header \['a', 'b', 'c'\]; expected"),
    "bad char": (MAZE_HEADER + f'0,"{MAZE}",,x,16\n1,"{MAZE[:-1]}X",,x,16\n', "line 3: .*bad char"),
    "not square": (MAZE_HEADER + f'0,"{MAZE}",,x,16\n1,"{MAZE[:-1]}",,x,16\n', "line 3: .*square"),
    "no question": (MAZE_HEADER + "0\n", "line 2: maze puzzle string has 0 characters"),
    "two starts": (MAZE_HEADER + f'0,"{MAZE.replace("G", "S")}",,x,16\n', "line 2: .*start 'S'"),
    "open quote": (MAZE_HEADER + f'0,"{MAZE},,x,16\n', "line 2: maze puzzle string has 32"),
    "mixed shapes": (
        MAZE_HEADER + f'0,"{MAZE}",,x,16\n1,"{SEVEN}",,x,16\n',
        "never mixes grid shapes",
    ),
}


@pytest.mark.parametrize("case", list(MAZE_CSVS))
def test_malformed_maze_csv_names_the_file(tmp_path, case):
    text, message = MAZE_CSVS[case]
    path = tmp_path / "mazes.csv"
    path.write_text(text, encoding="utf-8", newline="")
    with pytest.raises(ValueError, match=f"maze dataset '{re.escape(str(path))}'.*{message}"):
        MazeEnv(dataset=str(path))


@pytest.mark.parametrize("game", ["maze", "sudoku"])
def test_non_utf8_csv_names_the_file(tmp_path, game):
    path = tmp_path / "data.csv"
    header = MAZE_HEADER if game == "maze" else "puzzle,solution,source\n"
    row = f'0,"{MAZE}",,x,16\n' if game == "maze" else f"{SUDOKU},{SUDOKU_SOLUTION},x\n"
    path.write_bytes(header.encode() + row.encode() + b"\xff\xfe\n")
    build = (
        (lambda: MazeEnv(dataset=str(path)))
        if game == "maze"
        else (lambda: SudokuEnv(size=4, dataset=str(path)))
    )
    with pytest.raises(ValueError, match=f"cannot read .*'{re.escape(str(path))}'.*utf-8"):
        build()
    with pytest.raises(ValueError, match=r"does not exist|cannot read"):
        (MazeEnv if game == "maze" else SudokuEnv)(dataset=str(tmp_path / "missing.csv"))


@pytest.mark.parametrize(
    "rows",
    [
        f'0,"{MAZE}",,x,16\n1,"{MAZE}",,x,16\n2,"{SEVEN}",,x,16\n',
        f'0,"{MAZE}",,x,16\n1,"{MAZE}",,x,16\n2,"{MAZE.replace("#### ", "#####")}",,x,16\n',
    ],
    ids=["mixed shapes", "unsolvable"],
)
def test_malformed_maze_csv_names_the_line(tmp_path, rows):
    path = tmp_path / "mazes.csv"
    path.write_text(MAZE_HEADER + rows, encoding="utf-8", newline="")
    with pytest.raises(ValueError, match=f"'{re.escape(str(path))}', line 4"):
        MazeEnv(dataset=str(path))


SUDOKU_HEADER = "puzzle,solution,source\n"
GOOD_ROW = f"{SUDOKU},{SUDOKU_SOLUTION},x\n"
SUDOKU_CSVS = {
    "empty": ("", "has header None"),
    "header only": (SUDOKU_HEADER, "has no rows"),
    "bad header": ("q,a\n1,2\n", r"has header \['q', 'a'\]; expected columns"),
    "no solution column": ("puzzle\n" + SUDOKU + "\n", r"has header \['puzzle'\]"),
    "bad char": (SUDOKU_HEADER + GOOD_ROW + f"{SUDOKU[:-1]}x,{SUDOKU_SOLUTION},x\n", "line 3: "),
    "arabic digit": (SUDOKU_HEADER + f"{SUDOKU.replace('3', '٣')},{SUDOKU_SOLUTION},x\n", "line 2"),
    "9x9 row": (SUDOKU_HEADER + GOOD_ROW + f"{'.' * 81},{'1' * 81},x\n", "line 3: .*81 char"),
    "contradiction": (
        SUDOKU_HEADER + f"{'11' + '.' * 14},{SUDOKU_SOLUTION},x\n",
        "line 2: .*contra",
    ),
    "full board": (
        SUDOKU_HEADER + f"{SUDOKU_SOLUTION},{SUDOKU_SOLUTION},x\n",
        "line 2: .*no blank",
    ),
    "empty solution": (SUDOKU_HEADER + f"{SUDOKU},,x\n", "line 2: solution string has 0"),
    "wrong solution": (
        SUDOKU_HEADER + GOOD_ROW + f"{SUDOKU},{SUDOKU_SOLUTION.replace('1', '5')},x\n",
        "line 3: solution string has bad character",
    ),
    "disagreeing solution": (
        SUDOKU_HEADER + f"{SUDOKU},2143432112343412,x\n",
        "line 2: solution disagrees with the given",
    ),
}


@pytest.mark.parametrize("case", list(SUDOKU_CSVS))
def test_malformed_sudoku_csv_names_the_file(tmp_path, case):
    text, message = SUDOKU_CSVS[case]
    path = tmp_path / "sudoku.csv"
    path.write_text(text, encoding="utf-8", newline="")
    with pytest.raises(ValueError, match=f"Sudoku dataset '{re.escape(str(path))}'.*{message}"):
        SudokuEnv(size=4, dataset=str(path))
