"""The Sudoku solver: exact search for 4x4, 6x6 and 9x9 boards, the envs' oracle
(:func:`oracle_actions`) and the difficulty measure of the generators.

Candidates are bitmasks (bit ``d - 1`` set = digit ``d`` possible). Each search node propagates
naked singles (a cell with one candidate removes it from its peers) and hidden singles (a digit
with one place left in a unit goes there) to a fixed point, then branches on a cell with the
fewest candidates (MRV). The search statistics are our difficulty measure: ``guesses == 0``
means the puzzle falls to singles alone; ``nodes`` counts the search tree.

Example, with the functions of this module::

    solution = solve("000702005000095080...")       # (9, 9) uint8, or None
    count_solutions(board, limit=2)                   # 0, 1 or 2 (= "at least two")
    analyse(board).guesses                            # branch points needed
    oracle_actions(obs["grid"], solutions)            # (B,) optimal placements
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from envs.sudoku.types import BOX_SHAPES, from_tokens, parse_puzzle


@dataclass(frozen=True)
class SearchResult:
    """Outcome of a search.

    :param solution: the first solution found, or None if there is none.
    :param num_solutions: solutions found, capped at the search ``limit``.
    :param nodes: search nodes visited (1 = solved by propagation at the root).
    :param guesses: nodes where the solver had to branch (0 = singles suffice).
    """

    solution: np.ndarray | None  # (N, N) uint8 digits 1..N
    num_solutions: int
    nodes: int
    guesses: int

    @property
    def unique(self) -> bool:
        return self.num_solutions == 1


@cache
def _tables(size: int) -> tuple[tuple[tuple[int, ...], ...], tuple[tuple[int, ...], ...]]:
    """Units (rows, columns, boxes) and peers of every cell, as tuples of cell indices."""
    br, bc = BOX_SHAPES[size]
    rows = [[r * size + c for c in range(size)] for r in range(size)]
    cols = [[r * size + c for r in range(size)] for c in range(size)]
    boxes = [
        [(r0 + r) * size + c0 + c for r in range(br) for c in range(bc)]
        for r0 in range(0, size, br)
        for c0 in range(0, size, bc)
    ]
    units = rows + cols + boxes
    peers = [
        tuple(sorted({p for u in units if cell in u for p in u} - {cell}))
        for cell in range(size * size)
    ]
    return tuple(tuple(u) for u in units), tuple(peers)


def _digits(board: str | np.ndarray, size: int) -> list[int]:
    """Row-major digits with 0 blanks, validated by :func:`envs.sudoku.types.parse_puzzle`
    (an integer array of the right size takes a cheaper path: the generators call this in
    their inner loop)."""
    if isinstance(board, np.ndarray) and board.dtype.kind in "iu" and board.size == size * size:
        values = board.reshape(-1).tolist()
        if min(values) >= 0 and max(values) <= size:
            return values
    return parse_puzzle(board, size, what="board").reshape(-1).tolist()


def _propagate(
    cands: list[int], done: list[bool], stack: list[int], units: tuple, peers: tuple, full: int
) -> bool:
    """Naked and hidden singles to a fixed point, in place. False on a contradiction.

    ``stack`` holds the cells whose single candidate still has to leave their peers.
    """
    while True:
        while stack:
            c = stack.pop()
            if done[c]:
                continue
            done[c] = True
            bit = cands[c]
            for p in peers[c]:
                v = cands[p]
                if v & bit:
                    v ^= bit
                    if not v:
                        return False
                    cands[p] = v
                    if not v & (v - 1):
                        stack.append(p)
        for unit in units:
            once = twice = 0
            for c in unit:
                v = cands[c]
                twice |= once & v
                once |= v
            if once != full:
                return False  # some digit has no place left in this unit
            hidden = once & ~twice
            if not hidden:
                continue
            for c in unit:
                v = cands[c]
                h = v & hidden
                if h and h != v:
                    if h & (h - 1):
                        return False  # two digits can only go in this one cell
                    cands[c] = h
                    stack.append(c)
        if not stack:
            return True


class _Search:
    def __init__(self, size: int, limit: int, rng: np.random.Generator | None):
        self.size = size
        self.units, self.peers = _tables(size)
        self.full = (1 << size) - 1
        self.limit = limit
        self.rng = rng
        self.solutions: list[list[int]] = []
        self.nodes = 0
        self.guesses = 0

    def run(self, cands: list[int], done: list[bool], stack: list[int]) -> None:
        self.nodes += 1
        if not _propagate(cands, done, stack, self.units, self.peers, self.full):
            return
        best, best_count = -1, self.size + 1
        for c, v in enumerate(cands):
            if not done[c]:
                k = v.bit_count()
                if k < best_count:
                    best, best_count = c, k
                    if k == 2:
                        break
        if best < 0:
            self.solutions.append(cands)
            return
        self.guesses += 1
        v = cands[best]
        bits = [1 << d for d in range(self.size) if v >> d & 1]
        if self.rng is not None:
            bits = [bits[i] for i in self.rng.permutation(len(bits))]
        for bit in bits:
            branch = cands.copy()
            branch[best] = bit
            self.run(branch, done.copy(), [best])
            if len(self.solutions) >= self.limit:
                return


def analyse(
    board: str | np.ndarray,
    limit: int = 2,
    *,
    size: int | None = None,
    rng: np.random.Generator | None = None,
) -> SearchResult:
    """Search for up to ``limit`` solutions and report the search statistics.

    :param board: (N, N) or (N*N,) digits with 0 blanks, or a string ('.' or '0' blanks).
    :param limit: stop after this many solutions (2 decides uniqueness).
    :param size: board side; inferred from the input when None.
    :param rng: if given, branch on digits in a random order (used to draw random grids).
    """
    size = _infer_size(board) if size is None else size
    if size not in BOX_SHAPES:
        raise ValueError(f"unsupported Sudoku size {size}; use 4, 6 or 9")
    digits = _digits(board, size)
    full = (1 << size) - 1
    cands = [full if d == 0 else 1 << (d - 1) for d in digits]
    search = _Search(size, limit, rng)
    givens = [c for c, d in enumerate(digits) if d]
    search.run(cands, [False] * len(cands), givens)
    solution = None
    if search.solutions:
        solution = np.array([v.bit_length() for v in search.solutions[0]], dtype=np.uint8).reshape(
            size, size
        )
    return SearchResult(solution, len(search.solutions), search.nodes, search.guesses)


def solve(board: str | np.ndarray, *, size: int | None = None) -> np.ndarray | None:
    """The first solution of ``board`` as (N, N) uint8 digits, or None if it has none."""
    return analyse(board, limit=1, size=size).solution


def count_solutions(board: str | np.ndarray, limit: int = 2, *, size: int | None = None) -> int:
    """Number of solutions of ``board``, counting at most ``limit``."""
    return analyse(board, limit=limit, size=size).num_solutions


def _infer_size(board: str | np.ndarray) -> int:
    cells = len("".join(board.split())) if isinstance(board, str) else np.asarray(board).size
    for size in (4, 6, 9):
        if cells == size * size:
            return size
    raise ValueError(f"cannot infer the board size from {cells} cells; expected 16, 36 or 81")


def oracle_actions(grids: np.ndarray, solutions: np.ndarray | None = None) -> np.ndarray:
    """Optimal placements for a batch of Sudoku observation grids: the solution's digit in the
    first blank cell of each board, so a board is solved in exactly its number of blanks.

    :param grids: (B, N, N) observation token grids (blank 1, digit d -> d + 1).
    :param solutions: (B, N, N) digits 1..N of each board's solution. A row of zeros (or
        ``solutions=None``, every row) is solved here from its board (slow for hard 9x9
        boards; a board with several solutions gets the first one found).
    :return: (B,) int64 actions ``cell * N + digit - 1``.
    :raises ValueError: for a wrong shape or dtype, a solution row that is neither complete
        (digits 1..N) nor all zeros, a board to solve that has no solution (a wrong digit was
        placed earlier), or a board with no blank cell left.
    """
    tokens = np.asarray(grids)
    if (
        tokens.ndim != 3
        or tokens.shape[1] != tokens.shape[2]
        or tokens.shape[1] not in BOX_SHAPES
        or tokens.dtype.kind not in "iu"
    ):
        raise ValueError(
            f"Sudoku observation grids must be a (B, N, N) integer token array with N in "
            f"{sorted(BOX_SHAPES)}, got shape {tokens.shape} dtype {tokens.dtype}; add a batch "
            "axis to a single grid (grid[None])"
        )
    batch, size = tokens.shape[:2]
    boards = from_tokens(tokens).reshape(batch, size * size)
    known = np.zeros((batch, size * size), dtype=np.int64)
    if solutions is not None:
        given = np.asarray(solutions)
        if given.shape != tokens.shape or given.dtype.kind not in "iu":
            raise ValueError(
                f"solutions must be a {tokens.shape} integer array of digits (one solution per "
                f"grid), got shape {given.shape} dtype {given.dtype}"
            )
        known[:] = given.reshape(batch, size * size)
        partial = np.flatnonzero(
            known.any(axis=1) & ((known < 1) | (known > size)).any(axis=1)
        ).tolist()
        if partial:
            raise ValueError(
                f"solutions row(s) {partial[:10]} are not complete boards of digits 1-{size}; "
                "pass each board's full solution, or a row of zeros to have it solved"
            )
    for row in np.flatnonzero(~known.any(axis=1)).tolist():
        solved = solve(boards[row].reshape(size, size), size=size)
        if solved is None:
            raise ValueError(
                f"the board has no solution (a wrong digit was placed earlier): grid {row} of "
                "the batch; pass its solution, or reset that env"
            )
        known[row] = solved.reshape(-1)
    blank = boards == 0
    full = np.flatnonzero(~blank.any(axis=1)).tolist()
    if full:
        raise ValueError(
            f"the board has no blank cell left: grid(s) {full[:10]} of the batch; their "
            "episodes are over, reset those envs"
        )
    cell = blank.argmax(axis=1)
    digit = known[np.arange(batch), cell]
    return (cell * size + digit - 1).astype(np.int64)
