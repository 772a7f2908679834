"""Bad data files at the envs readers: every malformed Maze-Hard or Sudoku-Extreme CSV raises one
``ValueError`` that names the file, the line (1-based, as an editor counts it) and the fix;
nothing is accepted silently, no ``KeyError``/``IndexError`` escapes. Each case goes through the
reader and through an env built on the file."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from envs.maze import MazeEnv
from envs.maze.generator import DatasetGenerator as MazeDataset
from envs.maze.io import read_maze_csv
from envs.sudoku import SudokuEnv, SudokuVectorEnv
from envs.sudoku.generator import DatasetGenerator as SudokuDataset
from envs.sudoku.io import read_sudoku_csv

# 5x5 maze with a 16-step corridor; a 7x7 one; the first maze walled off.
MAZE = "S    " "#### " "     " " ####" "    G"  # fmt: skip
SEVEN = "S" + " " * 47 + "G"
WALLED = "S    " "#####" "     " " ####" "    G"  # fmt: skip
MAZE_HEADER = "index,question,answer,source,path_len\n"
MAZE_ROW = f'0,"{MAZE}",,x,16\n'
# A 4x4 Sudoku and its solution.
SUDOKU = "1.3.3..2.1.34..1"
SOLUTION = "1234341221434321"
SUDOKU_HEADER = "puzzle,solution,source\n"
SUDOKU_ROW = f"{SUDOKU},{SOLUTION},x\n"
# A quoted field over two lines, then a blank line: the next row sits on line 5 of the file.
SPAN = 'index,question,answer,source,path_len\n0,"' + MAZE + '",,"two\nlines",16\n\n'

#: name -> (file text, line of the error or None, phrase of the problem, phrase of the fix)
MAZE_FILES = {
    "empty": ("", None, r"has header None \(the file is empty\)", "make the first line"),
    "no question column": ("a,b\n1,2\n", None, r"has header \['a', 'b'\]", "make the first"),
    "header only": (MAZE_HEADER, None, "has no mazes", "add one row per maze"),
    "mixed sizes": (
        MAZE_HEADER + MAZE_ROW + f'1,"{SEVEN}",,x,16\n',
        3,
        "a 7x7 maze, but the first maze",
        "keep one grid size per file",
    ),
    "wrong length": (
        MAZE_HEADER + MAZE_ROW + f'1,"{MAZE[:-1]}",,x,16\n',
        3,
        "24 characters, which is not a square grid",
        "fix or remove that row",
    ),
    "bad character": (
        MAZE_HEADER + MAZE_ROW + f'1,"{MAZE[:-1]}X",,x,16\n',
        3,
        r"bad characters \['X'\]",
        "fix or remove that row",
    ),
    "no goal": (
        MAZE_HEADER + f'0,"{MAZE.replace("G", " ")}",,x,16\n',
        2,
        "no goal 'G'",
        "fix or remove that row",
    ),
    "no question": (MAZE_HEADER + MAZE_ROW + "1\n", 3, "has 0 characters", "fix or remove"),
    "unsolvable": (
        MAZE_HEADER + MAZE_ROW + f'1,"{WALLED}",,x,16\n',
        3,
        "no path from S to G",
        "fix or remove the row",
    ),
    "line after a two-line field and a blank line": (
        SPAN + f'1,"{MAZE[:-1]}X",,x,16\n',
        5,
        "bad characters",
        "fix or remove that row",
    ),
    "field over the csv limit": (
        MAZE_HEADER + MAZE_ROW + "1," + "#" * 140_000 + ",,x,16\n",
        3,
        "field larger than field limit",
        "fix the CSV quoting",
    ),
}

SUDOKU_FILES = {
    "empty": ("", None, r"has header None \(the file is empty\)", "make the first line"),
    "no solution column": (
        "puzzle\n" + SUDOKU + "\n",
        None,
        r"has header \['puzzle'\]",
        "make the first line",
    ),
    "header only": (SUDOKU_HEADER, None, "has no rows", "add one puzzle,solution row"),
    "row of another size": (
        SUDOKU_HEADER + SUDOKU_ROW + f"{'.' * 81},{'1' * 81},x\n",
        3,
        "81 characters, expected 16",
        "fix or remove that row",
    ),
    "wrong length": (
        SUDOKU_HEADER + SUDOKU_ROW + f"{SUDOKU[:-1]},{SOLUTION},x\n",
        3,
        "15 characters, expected 16",
        "fix or remove that row",
    ),
    "bad character": (
        SUDOKU_HEADER + SUDOKU_ROW + f"{SUDOKU[:-1]}x,{SOLUTION},x\n",
        3,
        "bad character 'x'",
        "fix or remove that row",
    ),
    "contradictory givens": (
        SUDOKU_HEADER + SUDOKU_ROW + f"{'11' + '.' * 14},{SOLUTION},x\n",
        3,
        "contradictory givens: digit 1 twice in row 1",
        "fix or remove that row",
    ),
    "no solution": (
        SUDOKU_HEADER + SUDOKU_ROW + f"{SUDOKU},,x\n",
        3,
        "solution string has 0 characters",
        "fix or remove that row",
    ),
    "invalid solution": (
        SUDOKU_HEADER + f"{SUDOKU},{SOLUTION[:-2]}11,x\n",
        2,
        "solution is not a complete valid grid",
        "fix or remove that row",
    ),
    "solution against the givens": (
        SUDOKU_HEADER + f"{SUDOKU},2143432112343412,x\n",
        2,
        "solution disagrees with the given",
        "fix or remove that row",
    ),
    "no blank": (
        SUDOKU_HEADER + f"{SOLUTION},{SOLUTION},x\n",
        2,
        "no blank cell",
        "fix or remove that row",
    ),
    "field over the csv limit": (
        SUDOKU_HEADER + SUDOKU_ROW + "1" * 140_000 + f",{SOLUTION},x\n",
        3,
        "field larger than field limit",
        "fix the CSV quoting",
    ),
    "line after a two-line field and a blank line": (
        SUDOKU_HEADER + f'{SUDOKU},{SOLUTION},"two\nlines"\n\n{SUDOKU[:-1]}x,{SOLUTION},x\n',
        5,
        "bad character 'x'",
        "fix or remove that row",
    ),
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "data.csv"
    path.write_text(text, encoding="utf-8", newline="")
    return path


def pattern(what: str, path: Path, line: int | None, problem: str, fix: str) -> str:
    where = f", line {line}: " if line is not None else ""
    return f"{what} {re.escape(repr(str(path)))}{re.escape(where)}.*{problem}.*{fix}"


@pytest.mark.parametrize("case", list(MAZE_FILES))
def test_bad_maze_file_names_the_file_the_line_and_the_fix(tmp_path, case) -> None:
    text, line, problem, fix = MAZE_FILES[case]
    path = write(tmp_path, text)
    expected = pattern("maze dataset", path, line, problem, fix)
    for read in (
        lambda: read_maze_csv(path),
        lambda: MazeDataset(str(path)).puzzles,
        lambda: MazeEnv(dataset=str(path)),
    ):
        with pytest.raises(ValueError, match=expected):
            read()


@pytest.mark.parametrize("case", list(SUDOKU_FILES))
def test_bad_sudoku_file_names_the_file_the_line_and_the_fix(tmp_path, case) -> None:
    text, line, problem, fix = SUDOKU_FILES[case]
    path = write(tmp_path, text)
    expected = pattern("Sudoku dataset", path, line, problem, fix)
    for read in (
        lambda: read_sudoku_csv(path, 4),
        lambda: SudokuDataset(str(path), size=4),
        lambda: SudokuEnv(size=4, dataset=str(path)),
        lambda: SudokuVectorEnv(2, size=4, dataset=str(path)),
    ):
        with pytest.raises(ValueError, match=expected):
            read()


@pytest.mark.parametrize("game", ["maze", "sudoku"])
def test_bytes_that_are_not_utf8_name_their_line(tmp_path, game) -> None:
    header, row = (MAZE_HEADER, MAZE_ROW) if game == "maze" else (SUDOKU_HEADER, SUDOKU_ROW)
    path = tmp_path / "data.csv"
    path.write_bytes((header + row + row).encode() + b"\xff\xfe,\n")
    read = (lambda: read_maze_csv(path)) if game == "maze" else (lambda: read_sudoku_csv(path, 4))
    with pytest.raises(ValueError, match=r"line 4 is not valid utf-8 .*save the file as UTF-8"):
        read()


@pytest.mark.parametrize("game", ["maze", "sudoku"])
def test_a_byte_order_mark_is_not_part_of_the_header(tmp_path, game) -> None:
    header, row = (MAZE_HEADER, MAZE_ROW) if game == "maze" else (SUDOKU_HEADER, SUDOKU_ROW)
    path = tmp_path / "data.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (header + row).encode())
    if game == "maze":
        assert read_maze_csv(path)[0].to_string() == MAZE
    else:
        puzzles, solutions = read_sudoku_csv(path, 4)
        assert puzzles.shape == (1, 4, 4) and "".join(map(str, solutions.ravel())) == SOLUTION


def test_a_directory_is_not_a_dataset(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"cannot read maze dataset .*a readable file"):
        read_maze_csv(tmp_path)
    with pytest.raises(ValueError, match=r"maze dataset .* does not exist; pass 'maze-hard'"):
        MazeEnv(dataset=str(tmp_path))
    with pytest.raises(ValueError, match=r"cannot read Sudoku dataset .*a readable file"):
        read_sudoku_csv(tmp_path, 4)


def test_an_unsupported_board_size_is_the_argument_not_a_row(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"^unsupported Sudoku size 5; use one of \[4, 6, 9\]$"):
        read_sudoku_csv(write(tmp_path, SUDOKU_HEADER + SUDOKU_ROW), 5)


def test_good_files_read_exactly(tmp_path) -> None:
    mazes = read_maze_csv(write(tmp_path, SPAN + f'1,"{MAZE}",,x,16\n'))
    assert [m.to_string() for m in mazes] == [MAZE, MAZE]
    path = tmp_path / "sudoku.csv"
    path.write_text(SUDOKU_HEADER + SUDOKU_ROW + "\n" + SUDOKU_ROW, encoding="utf-8")
    puzzles, solutions = read_sudoku_csv(path, 4)
    assert puzzles.shape == solutions.shape == (2, 4, 4)
    assert np.array_equal(puzzles[0], puzzles[1])
