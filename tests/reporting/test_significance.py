"""The paired tests behind the significance mark."""

from __future__ import annotations

import pandas as pd
import pytest

from diffclust.errors import DiffclustError
from diffclust.reporting.significance import describe_test, paired_test

BEST = {s: 1.0 + 0.1 * s for s in range(6)}
WORSE = {s: v + 0.5 for s, v in BEST.items()}


def test_wilcoxon_on_six_consistent_seeds_is_significant():
    result = paired_test(BEST, WORSE, "lower", "wilcoxon", 0.05)
    assert result.significant and result.n_pairs == 6
    assert result.p_value == pytest.approx(1 / 64)


def test_direction_matters():
    assert not paired_test(BEST, WORSE, "higher", "wilcoxon", 0.05).significant
    assert paired_test(WORSE, BEST, "higher", "wilcoxon", 0.05).significant


def test_only_common_seeds_pair():
    partial = {s: v for s, v in WORSE.items() if s < 3}
    result = paired_test(BEST, partial, "lower", "wilcoxon", 0.05)
    assert result.n_pairs == 3 and result.p_value == pytest.approx(1 / 8) and not result.significant


def test_identical_values_are_never_significant():
    for test in ("wilcoxon", "bootstrap"):
        assert not paired_test(BEST, dict(BEST), "lower", test, 0.05).significant


def test_bootstrap_interval():
    result = paired_test(BEST, WORSE, "lower", "bootstrap", 0.05)
    assert result.significant and result.bound == pytest.approx(-0.5)
    mixed = {s: v + (0.5 if s % 2 else -0.4) for s, v in BEST.items()}
    assert not paired_test(BEST, mixed, "lower", "bootstrap", 0.05).significant


def test_caption_sentences_and_bad_names():
    assert "Wilcoxon" in describe_test("wilcoxon", 0.01, 5) and "p < 0.01" in describe_test("wilcoxon", 0.01, 5)
    assert "bootstrap" in describe_test("bootstrap", 0.05)
    from diffclust.reporting.tables import build_table

    with pytest.raises(DiffclustError, match="unknown test"):
        build_table(pd.DataFrame({"status": ["ok"]}), test="t-test")
