"""``SudokuEnv``: fill an N x N Sudoku board one digit at a time."""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.sudoku.generator import PoolGenerator, make_pool, puzzle_from_input
from envs.sudoku.render import render_ansi, render_rgb
from envs.sudoku.rules import (
    batch_info,
    box_shape,
    legal_mask,
    load_puzzles,
    observe,
    step_batch,
)
from envs.sudoku.types import SudokuBatch, SudokuPuzzle, SudokuState

#: Default reward for a placement that contradicts the solution, and for a masked action.
WRONG_PENALTY = -0.1
RENDER_MODES = ["ansi", "rgb_array"]


def make_spaces(size: int) -> tuple[spaces.Dict, spaces.Discrete]:
    """The observation and action spaces of one ``size x size`` board."""
    box_shape(size)
    obs = spaces.Dict(
        {
            "grid": spaces.Box(0, size + 1, (size, size), np.uint8),
            "action_mask": spaces.MultiBinary(size**3),
        }
    )
    return obs, spaces.Discrete(size**3)


def resolve_pool(
    size: int,
    dataset: str | None,
    givens: Any,
    difficulty: str | None,
    pool_size: int | None,
    pool_seed: int,
    generator: Any,
) -> Any:
    """The generator an env draws from: ``generator`` if given, else a cached pool."""
    if generator is not None:
        return generator
    if isinstance(givens, list | tuple):
        givens = tuple(int(g) for g in givens)
    return make_pool(size, dataset, givens, difficulty, pool_size, int(pool_seed))


def check_max_steps(max_steps: int | None) -> int | None:
    """Validate the step limit: ``None`` (twice the blanks) or a positive int."""
    if max_steps is None:
        return None
    if int(max_steps) < 1:
        raise ValueError(f"max_steps must be a positive int or None, got {max_steps}")
    return int(max_steps)


def check_render_mode(render_mode: str | None) -> None:
    if render_mode is not None and render_mode not in RENDER_MODES:
        raise ValueError(f"render_mode={render_mode!r}; use None or one of {RENDER_MODES}")


class SudokuEnv(gym.Env):
    """Sudoku on 4x4, 6x6 or 9x9 boards, one placement per step.

    ## Description
    Each episode starts from a puzzle with a unique solution, drawn from a pool shipped with
    the package (``envs/data/sudoku_{N}x{N}.npz``, built by ``envs.sudoku.generator``), from a
    Sudoku-Extreme-format CSV (``dataset``) or from an injected ``generator``. Boxes are 2x2
    (4x4), 2 rows x 3 columns (6x6) and 3x3 (9x9). The agent writes digits into blank cells;
    placed digits cannot be erased.

    ## Observation
    ``Dict`` (flat):

    - ``"grid"``: ``Box(0, N + 1, (N, N), uint8)``, the board as TRM token ids (the official TRM
      Sudoku dataset layout): blank 1, digit d -> d + 1 (0 = pad, never used here).
    - ``"action_mask"``: ``MultiBinary(N ** 3)`` int8, 1 = legal placement (see below).

    ## Action Space
    ``Discrete(N ** 3)``: action ``a = cell * N + (digit - 1)`` with ``cell = row * N + col``
    (``rules.encode_action`` / ``rules.decode_action``). A placement is legal when the cell is
    blank and the digit is not yet in its row, column or box on the current board; this is
    ``action_masks()`` (bool, for ``sb3_contrib.MaskablePPO``) and ``obs["action_mask"]``.
    A legal placement may still contradict the solution. An illegal (masked) action is a no-op:
    the board does not change, the step counts, the reward is ``wrong_penalty`` and
    ``info["illegal_action"]`` is True.

    ## Rewards
    ``+1`` for the placement that completes the board; ``wrong_penalty`` (default -0.1) for a
    placement that contradicts the solution (the episode continues) and for an illegal action;
    0 otherwise.

    ## Termination/Truncation
    Terminated when the board is solved or when no legal placement is left (a dead end, only
    reachable after a wrong placement). Truncated after ``max_steps`` steps (default: twice the
    number of blanks of the puzzle).

    ``info`` (fresh objects every call): ``steps``, ``num_blanks`` (blanks left),
    ``num_wrong`` and ``num_illegal`` (counts this episode), ``wrong_placement`` and
    ``illegal_action`` (this step), ``is_success`` (solved this step) and ``dead_end``.

    ## Arguments
    - ``render_mode``: None, ``"ansi"`` (text, placed digits in colour) or ``"rgb_array"``.
    - ``size``: 4, 6 or 9.
    - ``dataset``: None (generated pools), ``"sudoku-extreme"`` (the bundled 1k Sudoku-Extreme
      training puzzles) or the path of a CSV with columns ``puzzle,solution`` (``0``/``.``
      blanks). A bad file raises ``ValueError`` naming it and the problem.
    - ``givens``: an int or an inclusive ``(lo, hi)`` range of givens; None = the whole pool
      (4x4: 4-10, 6x6: 8-24, 9x9: 22-50 givens).
    - ``difficulty``: None, ``"easy"`` (naked/hidden singles suffice) or ``"hard"`` (the solver
      has to guess), as measured by ``baselines.sudoku_solver``.
    - ``pool_size``: use a ``pool_seed``-seeded subset of this many puzzles; None = all that
      match ``givens``/``difficulty``. When none match, or fewer than ``pool_size``, a pool is
      generated at construction (with a warning; about 60 9x9 puzzles/s), cached per process.
    - ``pool_seed``: seed of that subset or generated pool.
    - ``generator``: a callable ``(np.random.Generator) -> SudokuPuzzle`` that overrides the
      pool (see ``envs.sudoku.generator``).
    - ``wrong_penalty``: reward of a wrong placement and of an illegal action.
    - ``max_steps``: step limit; None = 2 x the number of blanks.

    ``reset(options={"puzzle": p})`` plays a given puzzle: an ``N * N``-character string with
    ``.`` or ``0`` blanks, or an (N, N) array of digits with 0 blanks; add ``"solution"`` to
    skip the solver. Malformed puzzles raise ``ValueError`` (wrong length/shape, bad
    character, contradictory givens, no solution); a puzzle with several solutions is an error
    unless ``"solution"`` picks one.

    ## Registered ids
    ``trm_rl/Sudoku-v0`` (9x9), ``trm_rl/Sudoku-4x4-v0``, ``trm_rl/Sudoku-6x6-v0``,
    ``trm_rl/Sudoku-9x9-v0``, ``trm_rl/SudokuExtreme-v0`` (``dataset="sudoku-extreme"``).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": RENDER_MODES, "render_fps": 4}

    def __init__(
        self,
        render_mode: str | None = None,
        size: int = 9,
        dataset: str | None = None,
        givens: int | tuple[int, int] | None = None,
        difficulty: str | None = None,
        pool_size: int | None = None,
        pool_seed: int = 0,
        generator: Any = None,
        wrong_penalty: float = WRONG_PENALTY,
        max_steps: int | None = None,
    ):
        check_render_mode(render_mode)
        self.render_mode = render_mode
        self.size = size
        self.observation_space, self.action_space = make_spaces(size)
        self.generator = resolve_pool(
            size, dataset, givens, difficulty, pool_size, pool_seed, generator
        )
        self.wrong_penalty = float(wrong_penalty)
        self.max_steps = check_max_steps(max_steps)
        self._batch = SudokuBatch.empty(1, size)
        self._started = False

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        puzzle, mask = self._next_puzzle(options or {})
        cells = self.size * self.size
        load_puzzles(
            self._batch,
            np.zeros(1, dtype=np.int64),
            puzzle.puzzle.reshape(1, cells),
            puzzle.solution.reshape(1, cells),
            mask.reshape(1, -1),
            self.max_steps,
        )
        self._started = True
        return self._obs(), _first(batch_info(self._batch))

    def step(self, action: int) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        if not self._started:
            raise gym.error.ResetNeeded("call reset() before step()")
        rewards, terminated, truncated, info = step_batch(
            self._batch, np.asarray(action).reshape(1), self.wrong_penalty
        )
        return (
            self._obs(),
            float(rewards[0]),
            bool(terminated[0]),
            bool(truncated[0]),
            _first(info),
        )

    def action_masks(self) -> np.ndarray:
        """(N ** 3,) bool: legal placements on the current board (for MaskablePPO)."""
        return self._batch.mask[0].copy()

    @property
    def state(self) -> SudokuState:
        """A copy of the current episode's state."""
        b, n = self._batch, self.size
        return SudokuState(
            board=b.board[0].reshape(n, n).copy(),
            puzzle=b.puzzle[0].reshape(n, n).copy(),
            solution=b.solution[0].reshape(n, n).copy(),
            action_mask=b.mask[0].copy(),
            step_count=int(b.steps[0]),
            num_wrong=int(b.num_wrong[0]),
            num_illegal=int(b.num_illegal[0]),
        )

    def render(self) -> str | np.ndarray | None:
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode=...")
            return None
        b, n = self._batch, self.size
        board, puzzle, solution = (x[0].reshape(n, n) for x in (b.board, b.puzzle, b.solution))
        if not self._started:
            solution = None
        if self.render_mode == "ansi":
            return render_ansi(board, puzzle, solution)
        return render_rgb(board, puzzle, solution)

    def _next_puzzle(self, options: dict[str, Any]) -> tuple[SudokuPuzzle, np.ndarray]:
        if "puzzle" in options:
            puzzle = puzzle_from_input(options["puzzle"], options.get("solution"), self.size)
        elif isinstance(self.generator, PoolGenerator):
            pool = self.generator
            i = int(pool.sample_indices(self.np_random, 1)[0])
            return SudokuPuzzle(pool.puzzles[i], pool.solutions[i]), pool.masks[i]
        else:
            puzzle = self.generator(self.np_random)
            if puzzle.puzzle.shape != (self.size, self.size):
                raise ValueError(
                    f"generator returned a {puzzle.puzzle.shape} puzzle for a "
                    f"{self.size}x{self.size} env"
                )
        return puzzle, legal_mask(puzzle.puzzle[None])[0]

    def _obs(self) -> dict[str, np.ndarray]:
        return {k: v[0] for k, v in observe(self._batch).items()}


def _first(info: dict[str, np.ndarray]) -> dict[str, Any]:
    return {k: v[0].item() for k, v in info.items()}
