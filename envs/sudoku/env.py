"""``SudokuEnv``: fill an N x N Sudoku board one digit at a time."""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.sudoku.batch import SudokuBatch, batch_info, load_puzzles, observe, step_batch
from envs.sudoku.config import SudokuConfig
from envs.sudoku.pool import SudokuPool, build_pool
from envs.sudoku.render import render_ansi, render_rgb
from envs.sudoku.rules import box_shape, legal_mask, puzzle_from_input
from envs.sudoku.types import SudokuPuzzle, SudokuState
from envs.utils import check_action, check_options

RENDER_MODES = ["ansi", "rgb_array"]
#: Keys of ``SudokuEnv.reset(options=...)``.
RESET_OPTIONS = ("puzzle", "solution")


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


def check_render_mode(render_mode: str | None) -> None:
    """Refuse a render mode the Sudoku envs do not have, naming the ones they do."""
    if render_mode is not None and render_mode not in RENDER_MODES:
        raise ValueError(f"render_mode={render_mode!r}; use None or one of {RENDER_MODES}")


def check_generator(generator: Any) -> Any:
    """An injected generator must be callable as ``(np.random.Generator) -> SudokuPuzzle``."""
    if generator is not None and not callable(generator):
        raise ValueError(
            "generator must be a callable (np.random.Generator) -> SudokuPuzzle, got "
            f"{type(generator).__name__}"
        )
    return generator


def draw_puzzles(
    generator: Any, rng: np.random.Generator, count: int, size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``count`` puzzles of an injected generator (one call each), checked as a user puzzle is
    (:func:`~envs.sudoku.rules.puzzle_from_input`: digits in range, consistent givens, a blank
    left, a complete solution that agrees with the givens), as flat (count, C) puzzles,
    solutions and (count, A) initial masks."""
    drawn = [generator(rng) for _ in range(count)]
    for i, p in enumerate(drawn):
        if not isinstance(p, SudokuPuzzle) or np.shape(p.puzzle) != (size, size):
            got = np.shape(p.puzzle) if isinstance(p, SudokuPuzzle) else type(p).__name__
            raise ValueError(
                f"the generator returned {got}, not {size}x{size}: this env needs a "
                f"SudokuPuzzle of ({size}, {size}) boards"
            )
        try:
            drawn[i] = puzzle_from_input(p.puzzle, p.solution, size)
        except ValueError as e:
            raise ValueError(f"the generator returned a bad puzzle: {e}") from None
    puzzles = np.stack([p.puzzle.reshape(-1) for p in drawn]).astype(np.uint8)
    solutions = np.stack([p.solution.reshape(-1) for p in drawn]).astype(np.uint8)
    return puzzles, solutions, legal_mask(puzzles)


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
    - ``config``: a :class:`~envs.sudoku.config.SudokuConfig`; or its fields as keyword
      arguments (``size``, ``dataset``, ``givens``, ``difficulty``, ``pool_size``,
      ``pool_seed``, ``wrong_penalty``, ``max_steps``; each documented there and validated
      once). A bad dataset file raises ``ValueError`` naming it and the problem.
    - ``generator``: a callable ``(np.random.Generator) -> SudokuPuzzle`` that replaces the
      pool (see ``envs.sudoku.generator``).

    ``reset(options={"puzzle": p})`` plays a given puzzle: an ``N * N``-character string with
    ``.`` or ``0`` blanks, or an (N, N) array of digits with 0 blanks; add ``"solution"`` to
    skip the solver. Malformed puzzles raise ``ValueError`` (wrong length/shape, bad
    character, contradictory givens, no solution); a puzzle with several solutions is an error
    unless ``"solution"`` picks one. Stepping before the first ``reset()`` or after an episode
    ended raises ``gymnasium.error.ResetNeeded``.

    ## Registered ids
    ``trm_rl/Sudoku-v0`` (9x9), ``trm_rl/Sudoku-4x4-v0``, ``trm_rl/Sudoku-6x6-v0``,
    ``trm_rl/Sudoku-9x9-v0``, ``trm_rl/SudokuExtreme-v0`` (``dataset="sudoku-extreme"``).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": RENDER_MODES, "render_fps": 4}

    def __init__(
        self,
        render_mode: str | None = None,
        *,
        config: SudokuConfig | None = None,
        generator: Any = None,
        **kwargs: Any,
    ):
        check_render_mode(render_mode)
        self.render_mode = render_mode
        self.config = SudokuConfig.from_kwargs(config, **kwargs)
        self.size = self.config.size
        self.observation_space, self.action_space = make_spaces(self.size)
        check_generator(generator)
        self.generator = build_pool(self.config) if generator is None else generator
        self.wrong_penalty = self.config.wrong_penalty
        self.max_steps = self.config.max_steps
        self._batch = SudokuBatch.empty(1, self.size)
        self._started = False
        self._needs_reset = True

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start an episode on a pool puzzle drawn with ``np_random``, or on
        ``options["puzzle"]`` (with an optional ``options["solution"]``)."""
        super().reset(seed=seed)
        options = check_options(options, RESET_OPTIONS, "SudokuEnv")
        puzzle, mask = self._next_puzzle(options)
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
        self._needs_reset = False
        return self._obs(), _first(batch_info(self._batch))

    def step(self, action: int) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """Place a digit: ``action = cell * N + digit - 1``; see the class docstring."""
        if self._needs_reset:
            raise gym.error.ResetNeeded(
                "SudokuEnv.step() needs a running episode: call reset() first (and again after "
                "an episode terminates or truncates)"
            )
        a = check_action(action, self.size**3)
        rewards, terminated, truncated, info = step_batch(
            self._batch, np.array([a], dtype=np.int64), self.wrong_penalty
        )
        self._needs_reset = bool(terminated[0] or truncated[0])
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
        if options.get("puzzle") is not None:
            puzzle = puzzle_from_input(options["puzzle"], options.get("solution"), self.size)
            return puzzle, legal_mask(puzzle.puzzle[None])[0]
        if options.get("solution") is not None:
            raise ValueError("options['solution'] needs options['puzzle'] (the puzzle it solves)")
        if isinstance(self.generator, SudokuPool):
            pool = self.generator
            i = int(pool.sample_indices(self.np_random, 1)[0])
            return SudokuPuzzle(pool.puzzles[i], pool.solutions[i]), pool.masks[i]
        puzzles, solutions, masks = draw_puzzles(self.generator, self.np_random, 1, self.size)
        n = self.size
        return SudokuPuzzle(puzzles[0].reshape(n, n), solutions[0].reshape(n, n)), masks[0]

    def _obs(self) -> dict[str, np.ndarray]:
        return {k: v[0] for k, v in observe(self._batch).items()}


def _first(info: dict[str, np.ndarray]) -> dict[str, Any]:
    return {k: v[0].item() for k, v in info.items()}
