"""Sudoku rules: geometry tables, parsing errors, and property tests of legality."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envs.sudoku import batch as transition
from envs.sudoku import rules
from envs.sudoku.batch import SudokuBatch
from envs.sudoku.pool import shipped_pool
from envs.sudoku.types import BOX_SHAPES

SIZES = sorted(BOX_SHAPES)


def brute_force_legal(board: np.ndarray) -> np.ndarray:
    """(N ** 3,) bool by the definition: blank cell, digit absent from row, column and box."""
    size = board.shape[0]
    br, bc = BOX_SHAPES[size]
    out = np.zeros(size**3, dtype=bool)
    for r in range(size):
        for c in range(size):
            if board[r, c]:
                continue
            r0, c0 = r // br * br, c // bc * bc
            seen = set(board[r]) | set(board[:, c]) | set(board[r0 : r0 + br, c0 : c0 + bc].ravel())
            for d in range(1, size + 1):
                out[rules.encode_action(r, c, d, size)] = d not in seen
    return out


def brute_force_solved(board: np.ndarray) -> bool:
    size = board.shape[0]
    br, bc = BOX_SHAPES[size]
    want = set(range(1, size + 1))
    units = [board[r] for r in range(size)] + [board[:, c] for c in range(size)]
    units += [
        board[r : r + br, c : c + bc].ravel()
        for r in range(0, size, br)
        for c in range(0, size, bc)
    ]
    return all(set(u.tolist()) == want for u in units)


@st.composite
def partial_boards(draw, valid: bool = True):
    """A (board, solution) pair: a pool solution with random blanks, or random digits."""
    size = draw(st.sampled_from(SIZES))
    pool = shipped_pool(size)
    solution = pool.solutions[draw(st.integers(0, len(pool) - 1))]
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if valid:
        board = np.where(rng.random(solution.shape) < draw(st.floats(0, 1)), 0, solution)
    else:
        board = rng.integers(0, size + 1, solution.shape) * (rng.random(solution.shape) < 0.4)
    return board.astype(np.uint8), solution


@pytest.mark.parametrize("size", SIZES)
def test_geometry_tables(size):
    units = rules.unit_table(size)
    assert units.shape == (3 * size, size)
    for row in units:  # every unit holds N distinct cells
        assert len(set(row.tolist())) == size
    br, bc = BOX_SHAPES[size]
    peers = rules.peer_table(size)
    assert peers.shape == (size * size, 2 * (size - 1) + (br - 1) * (bc - 1))
    for cell, row in enumerate(peers):
        assert cell not in row
        assert len(set(row.tolist())) == len(row)


def test_action_encoding_round_trip():
    for size in SIZES:
        actions = np.arange(size**3)
        r, c, d = rules.decode_action(actions, size)
        assert np.array_equal(rules.encode_action(r, c, d, size), actions)
        assert d.min() == 1 and d.max() == size
    assert rules.encode_action(0, 0, 1, 9) == 0
    assert rules.decode_action(728, 9) == (8, 8, 9)


def test_tokens_match_official_layout():
    board = np.array([[0, 1], [9, 5]], dtype=np.uint8)
    tokens = rules.to_tokens(board)
    assert tokens.tolist() == [[1, 2], [10, 6]]
    assert np.array_equal(rules.from_tokens(tokens), board)


@pytest.mark.parametrize(
    ("puzzle", "message"),
    [
        ("123", "has 3 characters, expected 81"),
        ("x" + "0" * 80, "bad character 'x' at position 0"),
        (np.zeros((9, 8)), r"shape \(9, 8\)"),
        (np.full((9, 9), 10), "out of range"),
        (np.full((9, 9), 0.5), "non-integer"),
        (np.array([["a"] * 9] * 9), "dtype"),
    ],
)
def test_parse_errors(puzzle, message):
    with pytest.raises(ValueError, match=message):
        rules.parse_puzzle(puzzle, 9)


def test_parse_accepts_dots_zeros_and_arrays():
    text = "1." + "0" * 14
    board = rules.parse_puzzle(text, 4)
    assert board.shape == (4, 4) and board[0, 0] == 1 and board.sum() == 1
    assert np.array_equal(rules.parse_puzzle(board.ravel().tolist(), 4), board)


def test_check_givens_names_the_duplicate():
    board = np.zeros((9, 9), dtype=np.uint8)
    board[0, 1] = board[0, 6] = 5
    with pytest.raises(ValueError, match=r"digit 5 twice in row 1 \(cells r1c2, r1c7\)"):
        rules.check_givens(board)
    board = np.zeros((6, 6), dtype=np.uint8)
    board[0, 0] = board[1, 2] = 3  # same 2x3 box, different rows and columns
    assert rules.find_duplicates(board) == ["digit 3 twice in box 1 (cells r1c1, r2c3)"]


@settings(max_examples=60, deadline=None)
@given(partial_boards(valid=False))
def test_mask_equals_brute_force(case):
    board, _ = case
    assert np.array_equal(rules.legal_mask(board[None])[0], brute_force_legal(board))


@settings(max_examples=40, deadline=None)
@given(partial_boards(), st.integers(0, 2**32 - 1))
def test_incremental_mask_and_no_duplicates(case, seed):
    """Random actions (legal and illegal) through step_batch: the incremental mask always
    equals the from-scratch mask, and legal placements never create a duplicate."""
    board, solution = case
    size = board.shape[0]
    batch = SudokuBatch.empty(1, size)
    flat = board.reshape(1, -1)
    transition.load_puzzles(
        batch, np.array([0]), flat, solution.reshape(1, -1), rules.legal_mask(flat), None
    )
    rng = np.random.default_rng(seed)
    for _ in range(size * size):
        legal_now = batch.mask[0].copy()
        if rng.random() < 0.8 and legal_now.any():
            action = rules.sample_legal_actions(batch.mask, rng)
        else:
            action = rng.integers(0, size**3, size=1)
        before = batch.board.copy()
        _, terminated, _, info = transition.step_batch(batch, action, -0.1)
        assert info["illegal_action"][0] == (not legal_now[action[0]])
        if info["illegal_action"][0]:
            assert np.array_equal(before, batch.board)
        assert rules.find_duplicates(batch.board[0].reshape(size, size)) == []
        assert np.array_equal(batch.mask, rules.legal_mask(batch.board))
        assert batch.num_legal[0] == batch.mask.sum()
        assert batch.num_blanks[0] == np.count_nonzero(batch.board == 0)
        if terminated[0]:
            break


@settings(max_examples=60, deadline=None)
@given(partial_boards(valid=False))
def test_is_solved_matches_brute_force(case):
    board, solution = case
    assert rules.is_solved(board[None])[0] == brute_force_solved(board)
    assert rules.is_solved(solution[None])[0]
    assert brute_force_solved(solution)


@pytest.mark.parametrize("size", SIZES)
def test_swapping_two_cells_unsolves(size):
    solution = shipped_pool(size).solutions[0].copy()
    solution[0, [0, 1]] = solution[0, [1, 0]]
    assert not rules.is_solved(solution[None])[0]


@settings(max_examples=30, deadline=None)
@given(partial_boards(valid=False), st.integers(0, 2**32 - 1), st.integers(1, 20))
def test_sampler_returns_legal_actions(case, seed, tries):
    board, _ = case
    masks = rules.legal_mask(np.stack([board, board * 0, np.ones_like(board)]))
    actions = rules.sample_legal_actions(masks, np.random.default_rng(seed), tries)
    assert actions.shape == (3,)
    for mask, a in zip(masks, actions, strict=True):
        assert mask[a] if mask.any() else a == 0


def test_sampler_is_uniform():
    mask = np.zeros((4000, 30), dtype=bool)
    mask[:, [2, 7, 29]] = True
    counts = np.bincount(
        rules.sample_legal_actions(mask, np.random.default_rng(0), 1), minlength=30
    )
    assert counts.sum() == 4000 and counts[[2, 7, 29]].min() > 1200
