"""Study statistics: the one home of the numbers we print about seeds and variants.

Following Agarwal et al. (2021, "Deep RL at the edge of the statistical precipice") through
their library ``rliable``: aggregate scores with the interquartile mean (IQM), mean and median,
each with a stratified bootstrap confidence interval over runs; compare two variants with the
probability of improvement P(X > Y); and draw performance profiles (the fraction of runs above
each threshold). ``binomial_se`` gives the per-run error of a test score from N puzzles.
McNemar's paired test of two scorings of the same puzzles (``mcnemar``,
``paired_outcomes``) lives in :mod:`trm_rl.stats` and is re-exported here.

Scores are arrays of shape ``(runs, tasks)``: one row per seed, one column per task (a test set,
a grid size, a shifted distribution). A 1-D array ``(runs,)`` is one task. Every interval needs
at least 2 runs; with 1 run the functions raise instead of returning a zero-width interval that
would read as certainty. ``STUDIES.md`` asks for >= 5 seeds per cell.

Definitions are rliable's, so they match the paper a reviewer knows:

- ``iqm``: the 25% trimmed mean of all ``runs x tasks`` scores pooled (``scipy.stats.trim_mean``
  drops ``int(0.25 * n)`` scores at each end). With fewer than 4 scores nothing is trimmed and
  the IQM is the mean; with exactly 4 it is the median (see :func:`iqm_note`).
- ``mean``: the mean over tasks of the per-task mean over runs.
- ``median``: the median over tasks of the per-task mean over runs. With a single task this is
  the mean over runs, not the median seed.

Randomness: rliable draws its bootstrap indices from NumPy's global RNG (``np.random.choice``
in ``StratifiedBootstrap.update_indices``; arch's ``random_state`` does not reach them). Every
function here seeds that RNG with ``seed`` for each variant and restores the previous global
state afterwards, so results depend only on the inputs and ``seed``, not on the order of the
variants or on what ran before. Not thread-safe: do not bootstrap from two threads at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from rliable import library, metrics

# McNemar's paired test lives in the library (trm_rl.stats: evaluate-ppo reports it); imported
# from here like every study statistic.
from trm_rl.stats import MCNEMAR_EXACT_BELOW as MCNEMAR_EXACT_BELOW
from trm_rl.stats import McNemarResult as McNemarResult
from trm_rl.stats import mcnemar as mcnemar
from trm_rl.stats import paired_outcomes as paired_outcomes

#: The aggregate metrics of :func:`aggregate`, in the order of the bootstrapped vector.
AGGREGATES: dict[str, Callable[[np.ndarray], float]] = {
    "iqm": metrics.aggregate_iqm,
    "mean": metrics.aggregate_mean,
    "median": metrics.aggregate_median,
}


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its confidence interval.

    :param point: the statistic on the observed runs
    :param low: lower end of the confidence interval
    :param high: upper end of the confidence interval
    :param n: number of runs behind it (for a comparison of two variants, the smaller of the
        two run counts)
    """

    point: float
    low: float
    high: float
    n: int

    def text(self, percent: bool = True) -> str:
        """Render as ``"93.1% [82.6, 98.3] (n=5)"``.

        :param percent: scale by 100 and print one decimal with a ``%`` sign (for rates and
            probabilities in [0, 1]); otherwise print the raw values with three decimals
        :return: the point, the interval in brackets and the number of runs
        """
        if percent:
            return (
                f"{100 * self.point:.1f}% [{100 * self.low:.1f}, {100 * self.high:.1f}] "
                f"(n={self.n})"
            )
        return f"{self.point:.3f} [{self.low:.3f}, {self.high:.3f}] (n={self.n})"


def binomial_se(p: float, n: int) -> float:
    """Standard error ``sqrt(p (1 - p) / n)`` of a success rate measured on ``n`` puzzles.

    :param p: the observed success rate, in [0, 1]
    :param n: the number of puzzles scored, at least 1
    :return: one standard error of ``p``, in the units of ``p``
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p={p} is not a rate; pass the success fraction in [0, 1]")
    if n < 1:
        raise ValueError(f"n={n} puzzles; a standard error needs at least 1 scored puzzle")
    return math.sqrt(p * (1.0 - p) / n)


def iqm_note(n: int) -> str:
    """A caveat to print beside an IQM of ``n`` scores, or ``""`` when none is needed.

    rliable's IQM trims ``int(0.25 * n)`` scores from each end, which is nothing when
    ``n < 4``: such an "IQM" is the plain mean and should be labelled so (or not printed).

    :param n: number of scores the IQM pools (runs x tasks; runs for a single task)
    :return: ``""`` for ``n >= 4``, otherwise a short note
    """
    if n < 1:
        raise ValueError(f"n={n}; an IQM needs at least 1 score")
    if n >= 4:
        return ""
    return f"IQM of n={n} < 4 runs trims nothing: it is the mean"


def aggregate(
    scores: Mapping[str, np.ndarray],
    *,
    reps: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, dict[str, Estimate]]:
    """IQM, mean and median of every variant, with stratified bootstrap confidence intervals.

    The three metrics of a variant share one set of bootstrap resamples (runs resampled with
    replacement within each task; percentile intervals). See the module docstring for their
    definitions.

    :param scores: variant name -> scores ``(runs, tasks)`` or ``(runs,)``; every variant must
        have the same number of tasks (runs may differ)
    :param reps: bootstrap resamples; 2000 for tables, fewer only in tests
    :param confidence: coverage of the intervals, in (0, 1)
    :param seed: seed of the bootstrap; the same seed gives the same intervals
    :return: variant -> ``{"iqm": Estimate, "mean": Estimate, "median": Estimate}``
    """
    arrays = _check_variants(scores)
    _check_bootstrap(reps, confidence, seed)

    def all_metrics(x: np.ndarray) -> np.ndarray:
        return np.array([metric(x) for metric in AGGREGATES.values()])

    out = {}
    for name, x in arrays.items():
        point, interval = _bootstrap(name, x, all_metrics, reps, confidence, seed)
        out[name] = {
            metric: Estimate(float(point[i]), float(interval[0, i]), float(interval[1, i]), len(x))
            for i, metric in enumerate(AGGREGATES)
        }
    return out


def probability_of_improvement(
    x: np.ndarray,
    y: np.ndarray,
    *,
    reps: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """P(X > Y): the chance that a run of ``x`` beats a run of ``y`` on a task, ties counting 1/2.

    Computed per task as the Mann-Whitney U statistic over ``runs_x * runs_y`` pairs and
    averaged over tasks; the interval resamples the runs of ``x`` and ``y`` independently
    within each task. 0.5 means not separated; read the interval, not the point.

    :param x: scores of the first variant, ``(runs_x, tasks)`` or ``(runs_x,)``
    :param y: scores of the second variant, ``(runs_y, tasks)`` or ``(runs_y,)``
    :param reps: bootstrap resamples; 2000 for tables, fewer only in tests
    :param confidence: coverage of the interval, in (0, 1)
    :param seed: seed of the bootstrap; the same seed gives the same interval
    :return: the probability with its interval; ``n`` is the smaller of the two run counts
    """
    arrays = _check_variants({"x": x, "y": y})
    _check_bootstrap(reps, confidence, seed)
    ax, ay = arrays["x"], arrays["y"]
    point, interval = _bootstrap(
        "x vs y", [ax, ay], metrics.probability_of_improvement, reps, confidence, seed
    )
    return Estimate(
        float(np.squeeze(point)),
        float(np.squeeze(interval[0])),
        float(np.squeeze(interval[1])),
        min(len(ax), len(ay)),
    )


def performance_profile(
    scores: Mapping[str, np.ndarray],
    taus: np.ndarray,
    *,
    reps: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Score distributions: the fraction of all ``runs x tasks`` scores above each threshold.

    :param scores: variant name -> scores ``(runs, tasks)`` or ``(runs,)``; every variant must
        have the same number of tasks
    :param taus: thresholds ``(T,)``; a profile is non-increasing along increasing ``taus``
    :param reps: bootstrap resamples; 2000 for figures, fewer only in tests
    :param confidence: coverage of the pointwise intervals, in (0, 1)
    :param seed: seed of the bootstrap; the same seed gives the same bands
    :return: variant -> ``(fraction, low, high)``, each ``(T,)``: the fraction of scores
        strictly greater than each tau and its pointwise interval
    """
    arrays = _check_variants(scores)
    _check_bootstrap(reps, confidence, seed)
    thresholds = np.asarray(taus, dtype=float)
    if thresholds.ndim != 1 or thresholds.size == 0:
        raise ValueError(
            f"taus has shape {thresholds.shape}; pass a non-empty 1-D array of thresholds"
        )
    if not np.all(np.isfinite(thresholds)):
        raise ValueError("taus contains NaN or infinite values; pass finite thresholds")

    def profile(x: np.ndarray) -> np.ndarray:
        return library.score_distributions(x, thresholds)

    out = {}
    for name, x in arrays.items():
        point, interval = _bootstrap(name, x, profile, reps, confidence, seed)
        out[name] = (np.asarray(point, dtype=float), interval[0].copy(), interval[1].copy())
    return out


@contextmanager
def _global_rng_seeded(seed: int) -> Iterator[None]:
    """Seed NumPy's global RNG (which rliable draws from) and restore its state on exit."""
    # Legacy global-RNG calls on purpose: rliable's resampling reads no other generator.
    state = np.random.get_state()  # noqa: NPY002
    np.random.seed(seed)  # noqa: NPY002
    try:
        yield
    finally:
        np.random.set_state(state)  # noqa: NPY002


def pointwise_mean_ci(
    values: np.ndarray, *, reps: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The mean over runs at every point of a curve and its pointwise stratified bootstrap
    interval (runs resampled within each point).

    :param values: ``(runs, points)``, at least 2 runs, all finite.
    :return: ``(mean, low, high)``, each ``(points,)``.
    :raises ValueError: for fewer than 2 runs or non-finite values.
    """
    _check_bootstrap(reps, confidence, seed)
    data = _as_runs_by_tasks("curve", values)
    if data.shape[0] < 2:
        raise ValueError("a band needs at least 2 runs; draw a single run without one")
    point, interval = _bootstrap("mean", data, lambda x: x.mean(axis=0), reps, confidence, seed)
    return point, interval[0], interval[1]


def _bootstrap(
    name: str,
    data: np.ndarray | list[np.ndarray],
    func: Callable[..., np.ndarray],
    reps: int,
    confidence: float,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """One variant through ``library.get_interval_estimates`` under a seeded global RNG.

    :return: the point estimate and the ``(2, ...)`` array of lower and upper bounds
    """
    with _global_rng_seeded(seed):
        points, intervals = library.get_interval_estimates(
            {name: data}, func, reps=reps, confidence_interval_size=confidence
        )
    return np.asarray(points[name], dtype=float), np.asarray(intervals[name], dtype=float)


def _check_variants(scores: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Validate every variant's scores and return them as float ``(runs, tasks)`` arrays."""
    if len(scores) == 0:
        raise ValueError("no variants given; pass a mapping of variant name -> scores")
    arrays = {name: _as_runs_by_tasks(name, value) for name, value in scores.items()}
    tasks = {name: x.shape[1] for name, x in arrays.items()}
    if len(set(tasks.values())) > 1:
        raise ValueError(
            f"variants have different task counts {tasks}; compare variants on the same "
            "tasks (one column per task, in the same order)"
        )
    return arrays


def _as_runs_by_tasks(name: str, value: np.ndarray) -> np.ndarray:
    """One variant's scores as a float ``(runs, tasks)`` array with at least 2 finite runs."""
    x = np.asarray(value, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"scores of {name!r} have shape {x.shape}; pass (runs,) or (runs, tasks)")
    if x.size == 0:
        raise ValueError(
            f"scores of {name!r} are empty (shape {x.shape}); pass at least 2 runs of 1 task"
        )
    if not np.all(np.isfinite(x)):
        bad = int(np.sum(~np.isfinite(x)))
        raise ValueError(
            f"scores of {name!r} contain {bad} NaN or infinite values; drop or rerun the "
            "failed runs before computing statistics"
        )
    if len(x) < 2:
        raise ValueError(
            f"{name!r} has 1 run; a bootstrap interval needs at least 2 runs (studies use "
            ">= 5 seeds, STUDIES.md); run more seeds or report the single score without an "
            "interval"
        )
    return x


def _check_bootstrap(reps: int, confidence: float, seed: int) -> None:
    """Validate the bootstrap settings shared by every function."""
    if int(reps) != reps or reps < 1:
        raise ValueError(f"reps={reps}; pass a positive number of bootstrap resamples (2000)")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence={confidence}; pass a coverage in (0, 1), e.g. 0.95")
    if int(seed) != seed or not 0 <= seed < 2**32:
        raise ValueError(f"seed={seed}; pass an integer in [0, 2**32) (NumPy's legacy seed)")
