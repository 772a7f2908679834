"""``SudokuVectorEnv``: a natively batched numpy ``SudokuEnv`` (same-step autoreset).

Every step is a handful of numpy operations over the whole batch (``rules.step_batch``, the
function ``SudokuEnv`` also steps through), with no per-env Python loop. The (B, N ** 3)
legality mask is kept incrementally and each pool puzzle's initial mask is precomputed, so
an autoreset is a row copy. Reach it with::

    gym.make_vec("trm_rl/Sudoku-9x9-v0", num_envs=1024, vectorization_mode="vector_entry_point")
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from envs.sudoku.batch import SudokuBatch, batch_info, load_puzzles, observe, step_batch
from envs.sudoku.config import SudokuConfig
from envs.sudoku.env import (
    RENDER_MODES,
    check_generator,
    check_render_mode,
    draw_puzzles,
    make_spaces,
)
from envs.sudoku.pool import SudokuPool, build_pool
from envs.sudoku.render import render_ansi, render_rgb
from envs.sudoku.rules import legal_mask, puzzle_from_input
from envs.utils import (
    check_actions,
    check_int,
    check_options,
    per_env_options,
    per_row,
    reset_rows,
)

#: Keys of ``SudokuVectorEnv.reset(options=...)``.
RESET_OPTIONS = ("puzzles", "puzzle", "solutions", "solution", "reset_mask")


class SudokuVectorEnv(VectorEnv):
    """``num_envs`` Sudoku boards stepped together; same arguments as ``SudokuEnv``.

    Autoreset is ``SAME_STEP``: an env that terminates or truncates is reset within the same
    ``step``; the returned observation and info are the new episode's, while
    ``infos["final_obs"]`` (a dict of batched arrays with the observation's structure) and
    ``infos["final_info"]`` (a dict of batched info arrays) hold the last step of the old
    episode, valid where ``infos["_final_obs"]`` / ``infos["_final_info"]`` are True.
    ``infos`` holds one (B,) array per ``SudokuEnv`` info key, plus gymnasium's ``_key`` masks.

    ``reset(options=...)`` accepts ``"puzzles"`` (one entry per reset env: a string or an
    array as in ``SudokuEnv``, or None to draw from the pool) with optional ``"solutions"``
    (one entry or None per reset env), ``"puzzle"``/``"solution"`` (the same for every reset
    env) and ``"reset_mask"`` ((B,) bool: reset only those envs; ``"puzzles"`` then lists one
    entry per selected env). ``action_masks()`` returns the (B, N ** 3) bool legality masks.

    :param num_envs: batch size B.
    :param render_mode: as :class:`~envs.sudoku.env.SudokuEnv`.
    :param config: a :class:`~envs.sudoku.config.SudokuConfig`, or its fields as keywords.
    :param generator: an injected puzzle generator, as :class:`~envs.sudoku.env.SudokuEnv`.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": RENDER_MODES,
        "render_fps": 4,
        "autoreset_mode": AutoresetMode.SAME_STEP,
    }

    #: Single-env reset options and the batched option that carries them per env (the SB3
    #: adapter turns ``set_options([{...}, ...])`` into one batched reset with these).
    per_env_option_keys: ClassVar[dict[str, str]] = {"puzzle": "puzzles", "solution": "solutions"}

    def __init__(
        self,
        num_envs: int = 1,
        render_mode: str | None = None,
        *,
        config: SudokuConfig | None = None,
        generator: Any = None,
        **kwargs: Any,
    ):
        check_render_mode(render_mode)
        self.num_envs = check_int("num_envs", num_envs, low=1)
        self.render_mode = render_mode
        self.config = SudokuConfig.from_kwargs(config, **kwargs)
        self.size = self.config.size
        self.single_observation_space, self.single_action_space = make_spaces(self.size)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        check_generator(generator)
        self.generator = build_pool(self.config) if generator is None else generator
        self.wrong_penalty = self.config.wrong_penalty
        self.max_steps = self.config.max_steps
        self._batch = SudokuBatch.empty(self.num_envs, self.size)
        self._loaded = np.zeros(self.num_envs, dtype=bool)

    def reset(
        self,
        *,
        seed: int | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start new episodes (all envs, or those in ``options["reset_mask"]``). Options are
        validated before anything changes: a bad one raises and leaves every env as it was."""
        options = check_options(options, RESET_OPTIONS, "SudokuVectorEnv")
        rows = np.arange(self.num_envs)
        if options.get("reset_mask") is not None:
            rows = reset_rows(options["reset_mask"], self.num_envs)
            if not self._loaded.all() and len(rows) != self.num_envs:
                raise ValueError("the first reset must reset every env (no reset_mask)")
        puzzles, solutions = per_env_options(options, len(rows), ("puzzles", "solutions"))
        if puzzles is None and solutions is not None:
            raise ValueError("options['solutions'] needs options['puzzles'] (what they solve)")
        plan = self._plan(rows, puzzles, solutions)
        super().reset(seed=seed)
        self._start(rows, *plan)
        self._loaded[rows] = True
        return observe(self._batch), _with_masks(batch_info(self._batch))

    def step(
        self, actions: np.ndarray
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if not self._loaded.all():
            raise gym.error.ResetNeeded("SudokuVectorEnv.step() needs reset() first")
        actions = check_actions(actions, self.num_envs, self.size**3)
        rewards, terminated, truncated, info = step_batch(self._batch, actions, self.wrong_penalty)
        done = terminated | truncated
        if not done.any():
            return observe(self._batch), rewards, terminated, truncated, _with_masks(info)

        final_obs = observe(self._batch)
        self._load_drawn(np.flatnonzero(done))
        kept = ~done  # the reset envs report their reset info: every flag False
        infos = _with_masks(
            batch_info(
                self._batch,
                illegal=info["illegal_action"] & kept,
                wrong=info["wrong_placement"] & kept,
                solved=info["is_success"] & kept,
                dead_end=info["dead_end"] & kept,
            )
        )
        infos["final_obs"] = final_obs
        infos["_final_obs"] = done.copy()
        infos["final_info"] = _with_masks(info, done)
        infos["_final_info"] = done.copy()
        return observe(self._batch), rewards, terminated, truncated, infos

    def action_masks(self) -> np.ndarray:
        """(B, N ** 3) bool: legal placements of every env (for MaskablePPO)."""
        return self._batch.mask.copy()

    def render(self) -> tuple[str | np.ndarray, ...] | None:
        """One frame per env (``ansi`` text or ``rgb_array`` image), as ``SudokuEnv.render``."""
        if self.render_mode is None:
            return None
        b, n = self._batch, self.size
        draw = render_ansi if self.render_mode == "ansi" else render_rgb
        return tuple(
            draw(board.reshape(n, n), puzzle.reshape(n, n), solution.reshape(n, n))
            for board, puzzle, solution in zip(b.board, b.puzzle, b.solution, strict=True)
        )

    def _plan(self, rows: np.ndarray, puzzles: Any, solutions: Any) -> tuple[np.ndarray, Any]:
        """Validate the given puzzles: (positions in ``rows`` to draw, parsed custom puzzles as
        (positions, boards, solutions, masks) or None). Draws nothing, changes nothing."""
        count = len(rows)
        given = [None] * count if puzzles is None else per_row("puzzles", puzzles, count)
        sols = [None] * count if solutions is None else per_row("solutions", solutions, count)
        custom, parsed = [], []
        for i, (p, s) in enumerate(zip(given, sols, strict=True)):
            if p is None and s is not None:
                raise ValueError(f"env {int(rows[i])} got a solution without a puzzle")
            if p is not None:
                try:
                    parsed.append(puzzle_from_input(p, s, self.size))
                except ValueError as e:
                    raise ValueError(f"puzzle of env {int(rows[i])}: {e}") from None
                custom.append(i)
        draw = np.array([i for i in range(count) if given[i] is None], dtype=np.int64)
        if not parsed:
            return draw, None
        boards = np.stack([p.puzzle.reshape(-1) for p in parsed])
        solved = np.stack([p.solution.reshape(-1) for p in parsed])
        return draw, (np.array(custom, dtype=np.int64), boards, solved, legal_mask(boards))

    def _start(self, rows: np.ndarray, draw: np.ndarray, custom: Any) -> None:
        """Load a validated plan: pool draws first (``np_random``), then the given puzzles."""
        if len(draw):
            self._load_drawn(rows[draw])
        if custom is not None:
            positions, boards, solved, masks = custom
            load_puzzles(self._batch, rows[positions], boards, solved, masks, self.max_steps)

    def _load_drawn(self, rows: np.ndarray) -> None:
        if len(rows) == 0:
            return
        if isinstance(self.generator, SudokuPool):
            pool = self.generator
            idx = pool.sample_indices(self.np_random, len(rows))
            puzzles = pool.puzzles.reshape(len(pool), -1)[idx]
            solutions = pool.solutions.reshape(len(pool), -1)[idx]
            masks = pool.masks[idx]
        else:  # an injected generator: one call per reset env
            puzzles, solutions, masks = draw_puzzles(
                self.generator, self.np_random, len(rows), self.size
            )
        load_puzzles(self._batch, rows, puzzles, solutions, masks, self.max_steps)


def _with_masks(info: dict[str, np.ndarray], valid: np.ndarray | None = None) -> dict[str, Any]:
    """Add gymnasium's ``_key`` masks (which envs a key is valid for)."""
    n = len(next(iter(info.values())))
    valid = np.ones(n, dtype=bool) if valid is None else valid
    out: dict[str, Any] = dict(info)
    for k in info:
        out[f"_{k}"] = valid.copy()
    return out
