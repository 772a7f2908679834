"""``SudokuVectorEnv``: a natively batched numpy ``SudokuEnv`` (same-step autoreset).

Every step is a handful of numpy operations over the whole batch (``rules.step_batch``, the
function ``SudokuEnv`` also steps through), with no per-env Python loop. The (B, N ** 3)
legality mask is kept incrementally and each pool puzzle's initial mask is precomputed, so
an autoreset is a row copy. Reach it with::

    gym.make_vec("trm_rl/Sudoku-9x9-v0", num_envs=1024, vectorization_mode="vector_entry_point")
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from envs.sudoku.env import (
    RENDER_MODES,
    WRONG_PENALTY,
    check_max_steps,
    check_render_mode,
    make_spaces,
    resolve_pool,
)
from envs.sudoku.generator import PoolGenerator, puzzle_from_input
from envs.sudoku.render import render_ansi, render_rgb
from envs.sudoku.rules import batch_info, legal_mask, load_puzzles, observe, step_batch
from envs.sudoku.types import SudokuBatch


class SudokuVectorEnv(VectorEnv):
    """``num_envs`` Sudoku boards stepped together; same arguments as ``SudokuEnv``.

    Autoreset is ``SAME_STEP``: an env that terminates or truncates is reset within the same
    ``step``; the returned observation and info are the new episode's, while
    ``infos["final_obs"]`` (a dict of batched arrays with the observation's structure) and
    ``infos["final_info"]`` (a dict of batched info arrays) hold the last step of the old
    episode, valid where ``infos["_final_obs"]`` / ``infos["_final_info"]`` are True.
    ``infos`` holds one (B,) array per ``SudokuEnv`` info key, plus gymnasium's ``_key`` masks.

    ``reset(options=...)`` accepts ``{"puzzles": [p_0, ..., p_{B-1}]}`` (each a string or an
    array, as in ``SudokuEnv``; optional ``"solutions"``) and ``{"reset_mask": (B,) bool}`` to
    reset only some envs (``"puzzles"`` then lists one puzzle per selected env).
    ``action_masks()`` returns the (B, N ** 3) bool legality masks.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": RENDER_MODES,
        "render_fps": 4,
        "autoreset_mode": AutoresetMode.SAME_STEP,
    }

    def __init__(
        self,
        num_envs: int = 1,
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
        if int(num_envs) < 1:
            raise ValueError(f"num_envs={num_envs!r} must be a positive int")
        self.num_envs = int(num_envs)
        self.render_mode = render_mode
        self.size = size
        self.single_observation_space, self.single_action_space = make_spaces(size)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.generator = resolve_pool(
            size, dataset, givens, difficulty, pool_size, pool_seed, generator
        )
        self.wrong_penalty = float(wrong_penalty)
        self.max_steps = check_max_steps(max_steps)
        self._batch = SudokuBatch.empty(self.num_envs, size)

    def reset(
        self,
        *,
        seed: int | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        options = options or {}
        rows = np.arange(self.num_envs)
        if "reset_mask" in options:
            reset_mask = np.asarray(options["reset_mask"], dtype=bool)
            if reset_mask.shape != (self.num_envs,):
                raise ValueError(f"reset_mask must have shape ({self.num_envs},)")
            rows = np.flatnonzero(reset_mask)
        if "puzzles" in options:
            self._load_given(rows, options["puzzles"], options.get("solutions"))
        else:
            self._load_random(rows)
        return observe(self._batch), _with_masks(batch_info(self._batch))

    def step(
        self, actions: np.ndarray
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        rewards, terminated, truncated, info = step_batch(self._batch, actions, self.wrong_penalty)
        done = terminated | truncated
        if not done.any():
            return observe(self._batch), rewards, terminated, truncated, _with_masks(info)

        final_obs = observe(self._batch)
        self._load_random(np.flatnonzero(done))
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

    def _load_random(self, rows: np.ndarray) -> None:
        if len(rows) == 0:
            return
        if isinstance(self.generator, PoolGenerator):
            pool = self.generator
            idx = pool.sample_indices(self.np_random, len(rows))
            puzzles = pool.puzzles.reshape(len(pool), -1)[idx]
            solutions = pool.solutions.reshape(len(pool), -1)[idx]
            masks = pool.masks[idx]
        else:  # an injected generator: one call per reset env
            drawn = [self.generator(self.np_random) for _ in rows]
            if any(p.puzzle.shape != (self.size, self.size) for p in drawn):
                raise ValueError(f"generator returned a puzzle that is not {self.size}x{self.size}")
            puzzles = np.stack([p.puzzle.reshape(-1) for p in drawn])
            solutions = np.stack([p.solution.reshape(-1) for p in drawn])
            masks = legal_mask(puzzles)
        load_puzzles(self._batch, rows, puzzles, solutions, masks, self.max_steps)

    def _load_given(self, rows: np.ndarray, puzzles: Any, solutions: Any) -> None:
        if len(puzzles) != len(rows):
            raise ValueError(f"options['puzzles'] has {len(puzzles)} puzzles for {len(rows)} envs")
        if solutions is None:
            solutions = [None] * len(rows)
        parsed = [
            puzzle_from_input(p, s, self.size) for p, s in zip(puzzles, solutions, strict=True)
        ]
        boards = np.stack([p.puzzle.reshape(-1) for p in parsed])
        sols = np.stack([p.solution.reshape(-1) for p in parsed])
        load_puzzles(self._batch, rows, boards, sols, legal_mask(boards), self.max_steps)


def _with_masks(info: dict[str, np.ndarray], valid: np.ndarray | None = None) -> dict[str, Any]:
    """Add gymnasium's ``_key`` masks (which envs a key is valid for)."""
    n = len(next(iter(info.values())))
    valid = np.ones(n, dtype=bool) if valid is None else valid
    out: dict[str, Any] = dict(info)
    for k in info:
        out[f"_{k}"] = valid.copy()
    return out
