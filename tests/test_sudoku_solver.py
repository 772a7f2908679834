"""The Sudoku solver oracle reproduces the Sudoku-Extreme labels and decides uniqueness."""

from __future__ import annotations

import csv
from importlib import resources

import numpy as np
import pytest

from envs.sudoku.solver import analyse, count_solutions, solve


def extreme_rows() -> list[dict[str, str]]:
    text = (resources.files("envs") / "data" / "sudoku_extreme_train1k.csv").read_text()
    return list(csv.DictReader(text.splitlines()))


def as_string(board: np.ndarray) -> str:
    return "".join(map(str, board.ravel()))


def test_reproduces_every_sudoku_extreme_solution():
    rows = extreme_rows()
    assert len(rows) == 1000
    wrong = [i for i, row in enumerate(rows) if as_string(solve(row["puzzle"])) != row["solution"]]
    assert wrong == []


def test_sudoku_extreme_subset_is_unique():
    rows = extreme_rows()
    for i in np.random.default_rng(0).choice(len(rows), size=60, replace=False):
        result = analyse(rows[i]["puzzle"], limit=2)
        assert result.num_solutions == 1, f"row {i}"
        assert as_string(result.solution) == rows[i]["solution"]


@pytest.mark.slow
def test_sudoku_extreme_all_unique():
    for i, row in enumerate(extreme_rows()):
        assert count_solutions(row["puzzle"], limit=2) == 1, f"row {i}"


def test_counts_multiple_and_zero_solutions():
    assert count_solutions(np.zeros((4, 4), dtype=np.uint8), limit=5) == 5
    assert count_solutions("." * 81, limit=2) == 2
    # Consistent givens without a solution: r1c1 must be 1 (row) but column 1 already has 1.
    board = np.zeros((4, 4), dtype=np.uint8)
    board[0, 1:] = [2, 3, 4]
    board[2, 0] = 1
    assert count_solutions(board) == 0
    assert solve(board) is None


def test_statistics_measure_difficulty():
    easy = analyse("1.3...1." + "3.2...4.")  # singles suffice
    assert easy.unique and easy.guesses == 0 and easy.nodes == 1
    hard = analyse(extreme_rows()[0]["puzzle"])
    assert hard.unique and hard.guesses > 0 and hard.nodes > hard.guesses


def test_solves_6x6_with_2x3_boxes():
    result = analyse("." * 36, limit=1)
    grid = result.solution
    assert sorted(grid[:2, :3].ravel()) == [1, 2, 3, 4, 5, 6]
    assert all(sorted(grid[:, c]) == [1, 2, 3, 4, 5, 6] for c in range(6))
