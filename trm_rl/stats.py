"""McNemar's paired test: two scorings of the same puzzles (two policies, or two settings of one
policy), compared on the puzzles they disagree on.

The library's home of the test, so that ``trm_rl.policies`` can report paired comparisons
(``evaluate-ppo``'s ``paired`` entry) without importing ``experiments`` (a higher floor);
:mod:`experiments.stats` re-exports every name here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

__all__ = ["MCNEMAR_EXACT_BELOW", "McNemarResult", "mcnemar", "paired_outcomes"]

#: Below this many discordant puzzles :func:`mcnemar` reports the exact binomial p-value; from
#: here on the chi-square approximation with continuity correction (the usual rule of thumb:
#: the normal approximation needs b + c >= 25).
MCNEMAR_EXACT_BELOW = 25


@dataclass(frozen=True)
class McNemarResult:
    """McNemar's test on the puzzles one policy scored twice (before and after a change).

    :param b: puzzles solved only before
    :param c: puzzles solved only after
    :param statistic: the chi-square statistic with continuity correction,
        ``(|b - c| - 1)^2 / (b + c)`` (0 when ``|b - c| <= 1`` or there is no discordant pair)
    :param p_value: two-sided p-value: exact binomial when ``exact``, else the chi-square tail
        (one degree of freedom) of ``statistic``
    :param exact: whether ``p_value`` is the exact binomial test (``b + c`` below
        :data:`MCNEMAR_EXACT_BELOW` unless chosen)
    :param n: puzzles scored (None when not given)
    :param difference: accuracy after minus accuracy before, ``(c - b) / n`` (None without ``n``)
    """

    b: int
    c: int
    statistic: float
    p_value: float
    exact: bool
    n: int | None = None
    difference: float | None = None

    def text(self) -> str:
        """Render as ``"b=3 c=12 (+4.5 points of 200), exact p=0.035"``."""
        diff = ""
        if self.difference is not None:
            diff = f" ({100 * self.difference:+.1f} points of {self.n})"
        method = "exact" if self.exact else f"chi2={self.statistic:.2f},"
        return f"b={self.b} c={self.c}{diff}, {method} p={self.p_value:.3g}"


def mcnemar(b: int, c: int, n: int | None = None, *, exact: bool | None = None) -> McNemarResult:
    """McNemar's paired test on the discordant puzzles of two scorings of the same puzzles.

    Only the puzzles the two scorings disagree on carry information: under the null hypothesis
    (same accuracy before and after) each of the ``b + c`` discordant puzzles is equally likely
    to fall either way, so ``c ~ Binomial(b + c, 1/2)``. The exact test is that binomial test
    (two-sided, ``scipy.stats.binomtest``); the chi-square statistic with Edwards' continuity
    correction is its large-sample approximation.

    :param b: puzzles solved only before (by the first scoring), >= 0
    :param c: puzzles solved only after (by the second scoring), >= 0
    :param n: all puzzles scored (concordant ones included), >= ``b + c``; gives ``difference``
    :param exact: exact binomial p-value (True), chi-square (False), or None: exact when
        ``b + c < MCNEMAR_EXACT_BELOW``
    :return: the counts, the statistic, the p-value and the difference in accuracy
    :raises ValueError: for negative or non-integer counts, or ``n < b + c``
    """

    b, c = _count("b", b), _count("c", c)
    if n is not None and _count("n", n) < b + c:
        raise ValueError(
            f"n={n} puzzles but b + c = {b + c} discordant ones; pass the number of puzzles "
            "scored twice (concordant ones included)"
        )
    discordant = b + c
    if exact is None:
        exact = discordant < MCNEMAR_EXACT_BELOW
    if discordant == 0:
        statistic, p_value = 0.0, 1.0
    else:
        statistic = max(abs(b - c) - 1, 0) ** 2 / discordant
        if exact:
            p_value = float(scipy_stats.binomtest(c, discordant, 0.5).pvalue)
        else:
            p_value = float(scipy_stats.chi2.sf(statistic, df=1))
    difference = None if n is None or n == 0 else (c - b) / n
    return McNemarResult(b, c, float(statistic), min(1.0, p_value), bool(exact), n, difference)


def paired_outcomes(before: np.ndarray, after: np.ndarray) -> tuple[int, int]:
    """The discordant counts of McNemar's test from per-puzzle outcomes.

    :param before: ``(N,)`` bool, puzzle ``i`` solved by the first scoring
    :param after: ``(N,)`` bool, the same puzzles, in the same order, scored again
    :return: ``(b, c)``: puzzles solved only before, puzzles solved only after
    :raises ValueError: for arrays of other shapes or values other than booleans (0/1)
    """
    x, y = _outcomes("before", before), _outcomes("after", after)
    if x.shape != y.shape:
        raise ValueError(
            f"before has {x.shape[0]} puzzles and after {y.shape[0]}; score the same puzzles "
            "in the same order"
        )
    return int(np.sum(x & ~y)), int(np.sum(~x & y))


def _count(name: str, value: int) -> int:
    """A non-negative integer count (numpy integers accepted)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer) or value < 0:
        raise ValueError(f"{name}={value!r}; pass a count of puzzles (an integer >= 0)")
    return int(value)


def _outcomes(name: str, value: np.ndarray) -> np.ndarray:
    """Per-puzzle outcomes as a 1-D bool array (bools or 0/1 integers accepted)."""
    x = np.asarray(value)
    if x.ndim != 1:
        raise ValueError(f"{name} has shape {x.shape}; pass one outcome per puzzle, shape (N,)")
    if x.dtype != np.bool_:
        if not np.issubdtype(x.dtype, np.integer) or not np.isin(x, (0, 1)).all():
            raise ValueError(
                f"{name} holds {x.dtype} values other than 0/1; pass solved flags (bool)"
            )
        x = x.astype(bool)
    return x
