"""Performance profiles and scaling exponents, on numbers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from diffclust.reporting.profiles import performance_ratios, profile
from diffclust.reporting.scaling import scaling_exponent


def test_ratios_and_profile():
    results = pd.DataFrame({
        "problem": ["p1", "p1", "p2", "p2", "p3", "p3"],
        "solver": ["a", "b"] * 3,
        "status": ["ok", "ok", "ok", "timeout", "ok", "ok"],
        "wall_s": [1.0, 2.0, 3.0, np.nan, 4.0, 1.0],
    })
    ratios = performance_ratios(results, "wall_s", "solver", ["problem"])
    assert ratios.loc["p1", "a"] == 1.0 and ratios.loc["p1", "b"] == 2.0
    assert ratios.loc["p2", "a"] == 1.0 and math.isinf(ratios.loc["p2", "b"])
    assert ratios.loc["p3", "a"] == 4.0 and ratios.loc["p3", "b"] == 1.0
    taus = np.array([1.0, 2.0, 4.0, 100.0])
    assert profile(ratios["a"], taus).tolist() == pytest.approx([2 / 3, 2 / 3, 1.0, 1.0])
    assert profile(ratios["b"], taus).tolist() == pytest.approx([1 / 3, 2 / 3, 2 / 3, 2 / 3])


def test_a_problem_nobody_solved_counts_against_everyone():
    results = pd.DataFrame({"problem": ["p1", "p1", "p2", "p2"], "solver": ["a", "b"] * 2,
                            "status": ["ok", "ok", "crashed", "error"], "wall_s": [1.0, 1.0, np.nan, np.nan]})
    ratios = performance_ratios(results, "wall_s", "solver", ["problem"])
    assert profile(ratios["a"], np.array([1e9])).tolist() == [0.5]


def test_scaling_exponent():
    n = np.array([1e3, 1e4, 1e5])
    assert scaling_exponent(n, 3e-7 * n**1.5) == pytest.approx(1.5)
    assert math.isnan(scaling_exponent([1000, 1000], [1.0, 2.0]))
