"""McNemar's paired test on known tables (``experiments.stats.mcnemar``, ``paired_outcomes``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from experiments.stats import MCNEMAR_EXACT_BELOW, McNemarResult, mcnemar, paired_outcomes


def chi2_sf_1df(x: float) -> float:
    """Upper tail of chi-square with one degree of freedom, from the normal: erfc(sqrt(x/2))."""
    return math.erfc(math.sqrt(x / 2.0))


def test_all_discordant_one_way_is_two_binomial_tails() -> None:
    result = mcnemar(0, 10)
    assert result.exact and result.p_value == pytest.approx(2 * 0.5**10)  # 0.001953125
    assert result.p_value == pytest.approx(0.00195, abs=1e-5)
    assert result.statistic == pytest.approx(81 / 10)  # (|0 - 10| - 1)^2 / 10
    assert mcnemar(10, 0).p_value == result.p_value  # two-sided: symmetric in b and c


def test_small_exact_tables_by_hand() -> None:
    # b=1, c=9: P(X <= 1) for X ~ Bin(10, 1/2) is 11/1024, doubled
    assert mcnemar(1, 9).p_value == pytest.approx(22 / 1024)
    # b=2, c=5: 2 * P(X <= 2) for Bin(7, 1/2) = 2 * (1 + 7 + 21) / 128
    assert mcnemar(2, 5).p_value == pytest.approx(58 / 128)


@pytest.mark.parametrize("k", [0, 1, 7, 40])
def test_equal_discordant_counts_give_p_one(k: int) -> None:
    result = mcnemar(k, k)
    assert result.p_value == pytest.approx(1.0) and result.statistic == 0.0


def test_agresti_presidential_approval_table_uses_chi_square() -> None:
    # Agresti, Categorical Data Analysis (2002), Table 10.1: 1600 people asked twice,
    # 794 approve both times, 150 approve then disapprove, 86 the reverse, 570 disapprove twice.
    result = mcnemar(150, 86, n=1600)
    assert not result.exact  # b + c = 236 >= 25
    assert result.statistic == pytest.approx(63**2 / 236)  # 16.82 (17.36 uncorrected)
    assert result.p_value == pytest.approx(chi2_sf_1df(63**2 / 236), rel=1e-9)
    assert 3e-5 < result.p_value < 5e-5
    assert result.difference == pytest.approx((86 - 150) / 1600)  # -4 points: 59.0% -> 55.0%
    exact = mcnemar(150, 86, n=1600, exact=True)
    assert exact.exact and exact.p_value == pytest.approx(result.p_value, rel=0.2)


def test_the_exact_threshold_and_a_forced_method() -> None:
    below, at = MCNEMAR_EXACT_BELOW - 1, MCNEMAR_EXACT_BELOW
    assert mcnemar(0, below).exact and not mcnemar(0, at).exact
    forced = mcnemar(0, 10, exact=False)
    assert not forced.exact and forced.p_value == pytest.approx(chi2_sf_1df(8.1))


def test_no_discordant_puzzles_is_no_evidence() -> None:
    result = mcnemar(0, 0, n=50)
    assert result == McNemarResult(0, 0, 0.0, 1.0, True, 50, 0.0)


def test_difference_needs_n_and_text_renders() -> None:
    assert mcnemar(3, 12).difference is None and mcnemar(3, 12).n is None
    result = mcnemar(3, 12, n=200)
    assert result.difference == pytest.approx(0.045)
    assert result.text() == f"b=3 c=12 (+4.5 points of 200), exact p={result.p_value:.3g}"
    assert "chi2=" in mcnemar(150, 86).text()


def test_paired_outcomes_counts_discordant_puzzles() -> None:
    before = np.array([True, True, False, False, True, False])
    after = np.array([True, False, True, True, True, False])
    assert paired_outcomes(before, after) == (1, 2)
    assert paired_outcomes(before.astype(int), after.astype(np.int8)) == (1, 2)
    b, c = paired_outcomes(before, after)
    result = mcnemar(b, c, n=len(before))
    solved_before, solved_after = before.mean(), after.mean()
    assert result.difference == pytest.approx(solved_after - solved_before)


@pytest.mark.parametrize(
    ("b", "c", "n", "match"),
    [(-1, 3, None, "b=-1"), (2, 1.5, None, "c=1.5"), (True, 3, None, "b=True"), (5, 6, 10, "n=10")],
)
def test_bad_counts_are_refused(b, c, n, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        mcnemar(b, c, n)


def test_bad_outcomes_are_refused() -> None:
    with pytest.raises(ValueError, match="same puzzles"):
        paired_outcomes(np.ones(3, bool), np.ones(4, bool))
    with pytest.raises(ValueError, match="shape"):
        paired_outcomes(np.ones((2, 2), bool), np.ones((2, 2), bool))
    with pytest.raises(ValueError, match="0/1"):
        paired_outcomes(np.array([0.5, 1.0]), np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="0/1"):
        paired_outcomes(np.array([2, 0]), np.array([1, 0]))
