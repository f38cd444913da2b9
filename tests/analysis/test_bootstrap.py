"""Document bootstrap: equal to a brute-force token-level resampling, and ~95% coverage where a token bootstrap fails."""

from __future__ import annotations

import numpy as np
import pytest

from lossgap.analysis.bootstrap import document_weights, ratio_intervals


def test_document_weights_rows_are_draws_of_all_documents() -> None:
    blocks = list(document_weights(n_docs=7, resamples=150, seed=3))
    weights = np.vstack(blocks)
    assert weights.shape == (150, 7)
    assert np.all(weights.sum(axis=1) == 7)
    again = np.vstack(list(document_weights(n_docs=7, resamples=150, seed=3)))
    np.testing.assert_array_equal(weights, again)


def test_ratio_intervals_match_brute_force_resampling() -> None:
    rng = np.random.default_rng(0)
    n_docs, n_groups = 9, 3
    doc = rng.integers(0, n_docs, 400)
    group = rng.integers(0, n_groups, 400)
    gap = rng.normal(0.1, 1.0, 400)
    # per-(doc, group) sums, as the SQL aggregation produces them
    keys = doc * n_groups + group
    uniq, inverse = np.unique(keys, return_inverse=True)
    sums = np.bincount(inverse, weights=gap)
    counts = np.bincount(inverse).astype(float)
    got = ratio_intervals(
        doc_idx=uniq // n_groups, group_idx=uniq % n_groups, numerator=sums, denominator=counts,
        n_docs=n_docs, n_groups=n_groups, resamples=200, seed=11, confidence=0.9,
    )  # fmt: skip
    # brute force: rebuild each resampled corpus token by token from the same draws
    weights = np.vstack(list(document_weights(n_docs, 200, 11)))
    stats = np.full((200, n_groups), np.nan)
    for r in range(200):
        reps = weights[r].astype(int)[doc]  # each token repeated as often as its document was drawn
        for g in range(n_groups):
            sel = group == g
            if reps[sel].sum() > 0:
                stats[r, g] = np.repeat(gap[sel], reps[sel]).mean()
    low, high = np.nanquantile(stats, [0.05, 0.95], axis=0)
    np.testing.assert_allclose(got.low, low, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.high, high, rtol=0, atol=1e-12)


def test_ratio_intervals_reject_bad_confidence() -> None:
    with pytest.raises(ValueError):
        ratio_intervals(
            doc_idx=np.array([0]), group_idx=np.array([0]), numerator=np.array([1.0]), denominator=np.array([1.0]),
            n_docs=1, n_groups=1, resamples=10, seed=0, confidence=1.5,
        )  # fmt: skip


def test_document_bootstrap_covers_truth_where_token_bootstrap_does_not() -> None:
    """300 simulated corpora of 80 documents x 25 tokens; documents differ (sd 0.15) around a true gap of 0.03."""
    rng = np.random.default_rng(2026)
    truth, n_docs, per_doc, resamples = 0.03, 80, 25, 400
    doc = np.repeat(np.arange(n_docs), per_doc)
    covered_doc = covered_token = 0
    n_corpora = 300
    for c in range(n_corpora):
        gap = truth + rng.normal(0, 0.15, n_docs)[doc] + rng.normal(0, 0.3, n_docs * per_doc)
        sums = np.bincount(doc, weights=gap)
        counts = np.full(n_docs, float(per_doc))
        ci = ratio_intervals(
            doc_idx=np.arange(n_docs), group_idx=np.zeros(n_docs, int), numerator=sums, denominator=counts,
            n_docs=n_docs, n_groups=1, resamples=resamples, seed=c, confidence=0.95,
        )  # fmt: skip
        covered_doc += bool(ci.low[0] <= truth <= ci.high[0])
        # the wrong way: resample tokens as if they were independent
        draws = rng.integers(0, gap.size, size=(resamples, gap.size))
        low, high = np.quantile(gap[draws].mean(axis=1), [0.025, 0.975])
        covered_token += bool(low <= truth <= high)
    print(f"coverage: document {covered_doc / n_corpora:.3f}, token {covered_token / n_corpora:.3f}")
    assert 0.90 <= covered_doc / n_corpora <= 0.99
    assert covered_token / n_corpora < 0.80
