"""Study statistics (``experiments/stats.py``): known values, direction, determinism, coverage
and the errors that name their fix. Small ``reps`` keep every test to seconds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from experiments import stats

REPS = 200


def _normal(seed: int, shape: tuple[int, ...], loc: float = 0.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(loc, 1.0, size=shape)


# ---------------------------------------------------------------- known values


def test_iqm_mean_median_of_a_known_array() -> None:
    scores = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 100.0])  # 8 runs, 1 task
    result = stats.aggregate({"a": scores}, reps=REPS)["a"]
    assert result["iqm"].point == pytest.approx(4.5)  # mean of 3, 4, 5, 6: two trimmed per end
    assert result["mean"].point == pytest.approx(16.0)
    # rliable's median is over tasks of per-task means: with one task, the mean (documented).
    assert result["median"].point == pytest.approx(16.0)
    assert {e.n for e in result.values()} == {8}


def test_median_is_over_task_means_with_several_tasks() -> None:
    scores = np.array([[0.0, 1.0, 8.0], [2.0, 3.0, 10.0]])  # task means 1, 2, 9
    result = stats.aggregate({"a": scores}, reps=REPS)["a"]
    assert result["median"].point == pytest.approx(2.0)
    assert result["mean"].point == pytest.approx(4.0)
    # six pooled scores 0, 1, 2, 3, 8, 10: int(0.25 * 6) = 1 trimmed at each end
    assert result["iqm"].point == pytest.approx(np.mean([1.0, 2.0, 3.0, 8.0]))
    assert result["iqm"].n == 2


def test_iqm_of_fewer_than_four_runs_is_the_mean_as_the_note_says() -> None:
    scores = np.array([0.0, 1.0, 10.0])
    result = stats.aggregate({"a": scores}, reps=REPS)["a"]
    assert result["iqm"].point == pytest.approx(11.0 / 3.0)
    assert "mean" in stats.iqm_note(3)
    assert stats.iqm_note(4) == ""
    assert stats.iqm_note(10) == ""


def test_intervals_bracket_the_point_and_widen_with_confidence() -> None:
    scores = {"a": _normal(0, (10, 2))}
    narrow = stats.aggregate(scores, reps=REPS, confidence=0.5)["a"]["mean"]
    wide = stats.aggregate(scores, reps=REPS, confidence=0.99)["a"]["mean"]
    assert wide.low <= narrow.low <= narrow.point <= narrow.high <= wide.high
    assert wide.high - wide.low > narrow.high - narrow.low


def test_estimate_text() -> None:
    estimate = stats.Estimate(point=0.931, low=0.826, high=0.983, n=5)
    assert estimate.text() == "93.1% [82.6, 98.3] (n=5)"
    assert estimate.text(percent=False) == "0.931 [0.826, 0.983] (n=5)"


def test_binomial_se() -> None:
    assert stats.binomial_se(0.5, 200) == pytest.approx(0.0353553, rel=1e-5)
    assert stats.binomial_se(1.0, 10) == 0.0
    assert stats.binomial_se(0.2, 1) == pytest.approx(0.4)


# ---------------------------------------------------------------- probability of improvement


def test_better_variant_has_probability_of_improvement_one_and_the_reverse_zero() -> None:
    y = _normal(1, (6, 2))
    x = y + 10.0  # every run of x beats every run of y on every task
    forward = stats.probability_of_improvement(x, y, reps=REPS)
    backward = stats.probability_of_improvement(y, x, reps=REPS)
    assert (forward.point, forward.low, forward.high) == (1.0, 1.0, 1.0)
    assert (backward.point, backward.low, backward.high) == (0.0, 0.0, 0.0)


def test_noisy_better_variant_is_near_one_with_an_interval_above_half() -> None:
    x, y = _normal(2, (10,), loc=3.0), _normal(3, (10,))
    estimate = stats.probability_of_improvement(x, y, reps=REPS)
    assert estimate.point > 0.9
    assert estimate.low > 0.5
    assert estimate.n == 10


def test_identical_distributions_are_near_half_and_not_separated() -> None:
    x, y = _normal(4, (30,)), _normal(5, (30,))
    estimate = stats.probability_of_improvement(x, y, reps=REPS)
    assert 0.35 < estimate.point < 0.65
    assert estimate.low < 0.5 < estimate.high
    same = stats.probability_of_improvement(x, x, reps=REPS)
    assert same.point == 0.5


def test_ties_count_one_half() -> None:
    # pairs (x, y): three losses (0 < 1), three ties (1 = 1), three wins (2 > 1): 4.5 / 9
    x, y = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 1.0])
    assert stats.probability_of_improvement(x, y, reps=REPS).point == pytest.approx(0.5)
    # two ties, two wins: 3 / 4
    x, y = np.array([1.0, 2.0]), np.array([1.0, 1.0])
    assert stats.probability_of_improvement(x, y, reps=REPS).point == pytest.approx(0.75)


def test_unequal_run_counts_report_the_smaller() -> None:
    estimate = stats.probability_of_improvement(_normal(6, (7,)), _normal(7, (4,)), reps=REPS)
    assert estimate.n == 4


# ---------------------------------------------------------------- performance profiles


def test_performance_profile_values_and_monotone_in_tau() -> None:
    scores = {"a": np.array([0.1, 0.2, 0.3, 0.4, 0.5]), "b": _normal(8, (12,))}
    taus = np.linspace(-3.0, 3.0, 25)
    profiles = stats.performance_profile(scores, taus, reps=REPS)
    for fraction, low, high in profiles.values():
        assert fraction.shape == low.shape == high.shape == taus.shape
        for curve in (fraction, low, high):
            assert np.all(np.diff(curve) <= 0.0)
        assert np.all(low <= fraction) and np.all(fraction <= high)
    fraction = stats.performance_profile(scores, np.array([0.0, 0.25, 0.3, 1.0]), reps=REPS)
    np.testing.assert_allclose(fraction["a"][0], [1.0, 0.6, 0.4, 0.0])  # strictly greater


# ---------------------------------------------------------------- randomness


def test_same_seed_same_interval_other_seed_different() -> None:
    scores = {"a": _normal(9, (8, 2)), "b": _normal(10, (6, 2))}
    first = stats.aggregate(scores, reps=REPS, seed=3)
    again = stats.aggregate(scores, reps=REPS, seed=3)
    other = stats.aggregate(scores, reps=REPS, seed=4)
    assert first == again
    assert first["a"]["mean"].point == other["a"]["mean"].point
    assert (first["a"]["mean"].low, first["a"]["mean"].high) != (
        other["a"]["mean"].low,
        other["a"]["mean"].high,
    )
    x, y = scores["a"], scores["b"]
    assert stats.probability_of_improvement(
        x, y, reps=REPS, seed=1
    ) == stats.probability_of_improvement(x, y, reps=REPS, seed=1)
    assert stats.probability_of_improvement(
        x, y, reps=REPS, seed=1
    ) != stats.probability_of_improvement(x, y, reps=REPS, seed=2)


def test_results_ignore_and_restore_numpy_global_rng() -> None:
    # The legacy global RNG on purpose: it is what rliable draws from.
    scores = {"a": _normal(11, (8,))}
    np.random.seed(123)  # noqa: NPY002
    first = stats.aggregate(scores, reps=REPS)
    np.random.seed(456)  # noqa: NPY002
    state = np.random.get_state()  # noqa: NPY002
    second = stats.aggregate(scores, reps=REPS)
    assert first == second
    after = np.random.get_state()  # noqa: NPY002
    assert after[0] == state[0]
    np.testing.assert_array_equal(after[1], state[1])
    assert after[2:] == state[2:]


def test_a_variant_does_not_depend_on_the_others() -> None:
    a = _normal(12, (8,))
    alone = stats.aggregate({"a": a}, reps=REPS)["a"]
    together = stats.aggregate({"b": _normal(13, (5,)), "a": a}, reps=REPS)["a"]
    assert alone == together


def test_confidence_interval_of_the_mean_covers_the_truth_at_about_the_stated_rate() -> None:
    truth, simulations = 2.0, 100
    covered = 0
    for i in range(simulations):
        runs = _normal(1000 + i, (10,), loc=truth)
        mean = stats.aggregate({"a": runs}, reps=REPS, seed=i)["a"]["mean"]
        covered += mean.low <= truth <= mean.high
    # A percentile bootstrap of 10 runs undercovers a little (about 0.9 for a nominal 0.95).
    assert 0.85 <= covered / simulations <= 0.99


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("scores", "match"),
    [
        ({}, "no variants given"),
        ({"a": np.array([])}, "empty"),
        ({"a": np.zeros((5, 0))}, "empty"),
        ({"a": np.array([1.0, np.nan, 2.0])}, "1 NaN or infinite"),
        ({"a": np.array([1.0, np.inf, 2.0])}, "NaN or infinite"),
        ({"a": np.array([0.7])}, "1 run; a bootstrap interval needs at least 2 runs"),
        ({"a": np.array([[0.7, 0.8]])}, "1 run"),
        ({"a": np.zeros((3, 2, 2))}, r"pass \(runs,\) or \(runs, tasks\)"),
        ({"a": np.zeros((3, 2)), "b": np.zeros((3, 3))}, "different task counts"),
    ],
)
def test_aggregate_and_profile_reject_bad_scores(scores: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        stats.aggregate(scores, reps=REPS)
    with pytest.raises(ValueError, match=match):
        stats.performance_profile(scores, np.array([0.5]), reps=REPS)


@pytest.mark.parametrize(
    ("x", "y", "match"),
    [
        (np.zeros((4, 2)), np.zeros((4, 3)), "different task counts"),
        (np.zeros(4), np.array([1.0]), "'y' has 1 run"),
        (np.array([np.nan, 1.0]), np.zeros(4), "'x' contain 1 NaN"),
        (np.array([]), np.zeros(4), "'x' are empty"),
    ],
)
def test_probability_of_improvement_rejects_bad_scores(
    x: np.ndarray, y: np.ndarray, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        stats.probability_of_improvement(x, y, reps=REPS)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"reps": 0}, "positive number of bootstrap resamples"),
        ({"reps": 2.5}, "positive number of bootstrap resamples"),
        ({"confidence": 1.0}, r"coverage in \(0, 1\)"),
        ({"confidence": 95}, r"coverage in \(0, 1\)"),
        ({"seed": -1}, r"integer in \[0, 2\*\*32\)"),
        ({"seed": 2**32}, r"integer in \[0, 2\*\*32\)"),
    ],
)
def test_bad_bootstrap_settings_are_named(kwargs: dict, match: str) -> None:
    scores = np.zeros((4, 1))
    with pytest.raises(ValueError, match=match):
        stats.aggregate({"a": scores}, **kwargs)
    with pytest.raises(ValueError, match=match):
        stats.probability_of_improvement(scores, scores, **kwargs)
    with pytest.raises(ValueError, match=match):
        stats.performance_profile({"a": scores}, np.array([0.0]), **kwargs)


@pytest.mark.parametrize("taus", [np.array([]), np.zeros((2, 2)), np.array([0.0, np.nan])])
def test_bad_thresholds_are_named(taus: np.ndarray) -> None:
    with pytest.raises(ValueError, match="taus"):
        stats.performance_profile({"a": np.zeros(4)}, taus, reps=REPS)


@pytest.mark.parametrize(
    ("p", "n", "match"),
    [(1.5, 10, "not a rate"), (-0.1, 10, "not a rate"), (0.5, 0, "at least 1 scored puzzle")],
)
def test_binomial_se_rejects_bad_input(p: float, n: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        stats.binomial_se(p, n)


def test_iqm_note_rejects_no_scores() -> None:
    with pytest.raises(ValueError, match="at least 1 score"):
        stats.iqm_note(0)


def test_binomial_se_matches_studies_md() -> None:
    # STUDIES.md: about +-3.5 points at N = 200 and p = 0.5 (1 s.e.)
    assert round(100 * stats.binomial_se(0.5, 200), 1) == 3.5
    assert math.isclose(stats.binomial_se(0.9, 1000), math.sqrt(0.09 / 1000))
