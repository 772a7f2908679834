"""``SudokuConfig``: the one typed configuration of the Sudoku envs and their pools.

``SudokuEnv``, ``SudokuVectorEnv`` and :func:`envs.sudoku.pool.build_pool` all take it; the
keyword arguments of ``gym.make``/``gym.make_vec`` are its fields::

    gym.make("trm_rl/Sudoku-v0", size=6, givens=(12, 18))
    gym.make("trm_rl/Sudoku-v0", config=SudokuConfig(size=6, givens=(12, 18)))

Every field is validated once, here; a bad value raises a ``ValueError`` naming the field, the
value and what to pass. tyro builds a command line from it (``tyro.cli(SudokuConfig)``).
"""

from __future__ import annotations

import dataclasses
import numbers
import os
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from envs.sudoku.types import BOX_SHAPES, COUNTER_DTYPE
from envs.utils import check_choice, check_float, check_int, check_step_limit, config_from_kwargs

DIFFICULTIES = ("easy", "hard")
#: Givens range (inclusive) of the shipped pool of each size: ``givens=None`` means this.
DEFAULT_GIVENS: dict[int, tuple[int, int]] = {4: (4, 10), 6: (8, 24), 9: (22, 50)}
#: Default reward for a placement that contradicts the solution, and for a masked action.
WRONG_PENALTY = -0.1
#: Largest ``max_steps``: the step counters of the batched transition are ``COUNTER_DTYPE``.
MAX_STEPS_LIMIT = int(np.iinfo(COUNTER_DTYPE).max)


@dataclass(frozen=True)
class SudokuConfig:
    """Configuration of a Sudoku env: which puzzles, which rewards, which limits."""

    size: Literal[4, 6, 9] = 9
    """Board side: 4 (2x2 boxes), 6 (2x3 boxes) or 9 (3x3 boxes)."""
    dataset: str | None = None
    """``None`` (the shipped pools), ``"sudoku-extreme"`` (the bundled 1k Sudoku-Extreme
    training puzzles) or the path of a CSV with columns ``puzzle,solution``."""
    givens: int | tuple[int, int] | None = None
    """Number of givens, an int or an inclusive (lo, hi) range; None: the whole pool (4x4: 4-10,
    6x6: 8-24, 9x9: 22-50 givens)."""
    difficulty: Literal["easy", "hard"] | None = None
    """``easy``: naked/hidden singles solve it; ``hard``: the solver has to guess; None: any.
    Not available with ``dataset``."""
    pool_size: int | None = None
    """Use a ``pool_seed``-seeded subset of this many puzzles; None: all that match. When fewer
    match, a pool is generated at construction (with a warning; about 60 9x9 puzzles/s)."""
    pool_seed: int = 0
    """Seed (>= 0) of that subset or generated pool."""
    wrong_penalty: float = WRONG_PENALTY
    """Reward of a placement that contradicts the solution and of an illegal (masked) action."""
    max_steps: int | None = None
    """Step limit, at most ``MAX_STEPS_LIMIT`` (2**31 - 1); None: twice the number of blanks of
    the puzzle."""

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        integral = isinstance(self.size, numbers.Integral) and not isinstance(self.size, bool)
        if not integral or self.size not in BOX_SHAPES:
            raise ValueError(
                f"unsupported Sudoku size {self.size!r}; use one of {sorted(BOX_SHAPES)}"
            )
        set_(self, "size", int(self.size))
        if self.dataset is not None:
            if not isinstance(self.dataset, str | os.PathLike) or not str(self.dataset):
                raise ValueError(
                    f"dataset must be None, 'sudoku-extreme' or a CSV path, got {self.dataset!r}"
                )
            set_(self, "dataset", str(self.dataset))
            if self.difficulty is not None:
                raise ValueError(
                    "difficulty filters the generated pools; it is not available with dataset "
                    "(drop difficulty, or use givens to filter the dataset)"
                )
        set_(self, "givens", givens_range(self.givens, self.size, keep_none=True))
        if self.difficulty is not None:
            check_choice("difficulty", self.difficulty, DIFFICULTIES)
        set_(self, "pool_size", check_int("pool_size", self.pool_size, low=1, allow_none=True))
        set_(self, "pool_seed", check_int("pool_seed", self.pool_seed, low=0))
        set_(self, "wrong_penalty", check_float("wrong_penalty", self.wrong_penalty))
        max_steps = check_step_limit(self.max_steps, COUNTER_DTYPE, "twice the number of blanks")
        set_(self, "max_steps", max_steps)

    def replace(self, **changes: Any) -> SudokuConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_kwargs(cls, config: SudokuConfig | None = None, **kwargs: Any) -> SudokuConfig:
        """The config an env is built with: ``config``, the keyword fields, or both when they
        agree (see :func:`envs.utils.config_from_kwargs`).

        :raises ValueError: for an unknown keyword (listing the fields) or a keyword that
            contradicts ``config``.
        """
        return config_from_kwargs(
            cls, config, kwargs, "trm_rl/Sudoku-4x4-v0 fixes size: use trm_rl/Sudoku-v0"
        )


def givens_range(givens: Any, size: int, keep_none: bool = False) -> tuple[int, int] | int | None:
    """Validate a ``givens`` value: an int or an inclusive (lo, hi) pair within ``0..N*N``.

    :param keep_none: return ``None`` (and an int unchanged) instead of a (lo, hi) range;
        ``None`` otherwise means the shipped pool's default range.
    :raises ValueError: naming the value and the accepted forms.
    """
    cells = size * size
    if givens is None:
        return None if keep_none else DEFAULT_GIVENS[size]
    if isinstance(givens, list | tuple):
        if len(givens) != 2:
            raise ValueError(f"givens must be an int or a (lo, hi) pair, got {givens!r}")
        lo = check_int("givens[0]", givens[0], low=0, high=cells)
        hi = check_int("givens[1]", givens[1], low=0, high=cells)
        if lo > hi:
            raise ValueError(f"givens range {givens!r} has lo > hi; pass (lo, hi) with lo <= hi")
        return (lo, hi)
    value = check_int("givens", givens, low=0, high=cells)
    return value if keep_none else (value, value)


#: Names of the fields of :class:`SudokuConfig`.
FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(SudokuConfig))

__all__ = [
    "DEFAULT_GIVENS",
    "DIFFICULTIES",
    "FIELDS",
    "MAX_STEPS_LIMIT",
    "WRONG_PENALTY",
    "SudokuConfig",
    "givens_range",
]
