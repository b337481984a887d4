"""Is the best value significantly better than the runner-up? Paired over seeds.

Seeds are paired comparisons: a dataset's data is fixed by its params, and seed s gives
every backend the same initial centroids. So the test looks at the per-seed differences
``best - runner_up`` on the seeds where both succeeded:

- ``wilcoxon``: one-sided Wilcoxon signed-rank test (:func:`scipy.stats.wilcoxon`, exact
  for small samples); significant when p < alpha. With n paired seeds the smallest p it
  can give is 1/2^n, so 3 seeds can never reach alpha = 0.05 — run 5 or more.
- ``bootstrap``: one-sided percentile bootstrap interval of the mean difference
  (:func:`scipy.stats.bootstrap`, 9,999 resamples, a fixed generator so reports are
  reproducible); significant when the interval at confidence 1 - alpha excludes 0.
- ``none``: no test, no mark.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

from diffclust.errors import DiffclustError
from diffclust.reporting.metricinfo import Better

TESTS = ("wilcoxon", "bootstrap", "none")


@dataclass(frozen=True)
class PairedResult:
    """The outcome of one paired comparison."""

    significant: bool
    n_pairs: int
    p_value: float = math.nan  # wilcoxon only
    bound: float = math.nan  # bootstrap only: the interval's end nearest 0


def check_test(test: str, alpha: float) -> None:
    if test not in TESTS:
        raise DiffclustError(f"unknown test {test!r}; choose one of {', '.join(TESTS)}.")
    if not 0 < alpha < 1:
        raise DiffclustError(f"--alpha must be between 0 and 1, got {alpha}.")


def paired_test(best: dict, runner_up: dict, better: Better, test: str = "wilcoxon", alpha: float = 0.05) -> PairedResult:
    """Compare two groups' per-seed values (seed -> value) on their common seeds.

    ``better`` says which direction wins; the alternative is one-sided in that direction.
    """
    seeds = sorted(set(best) & set(runner_up))
    if test == "none" or not seeds:
        return PairedResult(False, len(seeds))
    diff = np.array([best[s] - runner_up[s] for s in seeds], dtype=float)
    if better == "higher":
        diff = -diff  # from here on, negative means "best is better"
    if test == "wilcoxon":
        if not np.any(diff):
            return PairedResult(False, len(seeds), p_value=1.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            p = float(stats.wilcoxon(diff, alternative="less").pvalue)
        return PairedResult(p < alpha, len(seeds), p_value=p)
    if np.ptp(diff) == 0:  # a constant difference: the interval is that point
        return PairedResult(bool(diff[0] < 0), len(seeds), bound=float(diff[0]))
    result = stats.bootstrap((diff,), np.mean, confidence_level=1 - alpha, alternative="less",
                             method="percentile", n_resamples=9999, rng=np.random.default_rng(0))
    high = float(result.confidence_interval.high)
    return PairedResult(high < 0, len(seeds), bound=high if better == "lower" else -high)


def describe_test(test: str, alpha: float, n_pairs: int | None = None) -> str:
    """One sentence for a caption: which test marks a result, at which level."""
    if test == "none":
        return ""
    if test == "wilcoxon":
        text = f"one-sided paired Wilcoxon signed-rank test over seeds, p < {alpha:g}"
        if n_pairs:
            text += f" (with {n_pairs} seeds the smallest attainable p is {0.5 ** n_pairs:.3g})"
        return text
    return f"one-sided {100 * (1 - alpha):g}% percentile bootstrap interval of the paired mean difference over seeds excludes 0"
