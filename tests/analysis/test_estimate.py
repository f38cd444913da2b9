"""The estimation engine against independent references: CR2 and Bell–McCaffrey degrees of freedom computed
from token-level matrices, a brute-force document bootstrap, Kish's formula, Holm's procedure by hand."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg, stats

from lossgap.analysis.config import IntervalSpec
from lossgap.analysis.estimate import Contrast, LevelSums, document_weights, estimate, holm


def _tokens(seed: int = 0, n_docs: int = 7, levels: int = 3):
    """Token-level data: document, level and value of each token."""
    rng = np.random.default_rng(seed)
    doc, level, value = [], [], []
    for d in range(n_docs):
        n = int(rng.integers(3, 12))
        lv = rng.integers(0, levels, n)
        doc += [d] * n
        level += lv.tolist()
        value += (rng.normal(0.3 * lv + rng.normal(0, 0.5), 1.0)).tolist()
    return np.array(doc), np.array(level), np.array(value)


def _sums(doc, level, value, levels: int) -> LevelSums:
    keys = doc * levels + level
    uniq, inv = np.unique(keys, return_inverse=True)
    return LevelSums(doc=uniq // levels, level=uniq % levels, n=np.bincount(inv).astype(float),
                     s=np.bincount(inv, weights=value), names=tuple(map(str, range(levels))),
                     n_docs=int(doc.max()) + 1)  # fmt: skip


def _cr2_by_matrices(doc, level, value, c, levels):
    """CR2 variance and BM degrees of freedom straight from their definitions, with N × N matrices."""
    x = np.eye(levels)[level]
    q = np.linalg.inv(x.T @ x)
    beta = q @ x.T @ value
    e = value - x @ beta
    h = x @ q @ x.T
    m = np.eye(len(value)) - h
    columns, variance = [], 0.0
    for g in np.unique(doc):
        idx = np.flatnonzero(doc == g)
        a_g = linalg.fractional_matrix_power(np.eye(idx.size) - h[np.ix_(idx, idx)], -0.5).real
        vec = a_g @ x[idx] @ q @ c  # a_g
        variance += float(vec @ e[idx]) ** 2
        columns.append(m[:, idx] @ vec)  # column g of G = M_g' a_g
    big_g = np.array(columns).T
    b = big_g.T @ big_g
    df = np.trace(b) ** 2 / np.trace(b @ b)
    return float(c @ beta), variance, df


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cr2_and_bell_mccaffrey_df_match_the_matrix_definitions(seed: int) -> None:
    doc, level, value = _tokens(seed)
    sums = _sums(doc, level, value, 3)
    spec = IntervalSpec(min_eff_docs=2)
    tokens, _ = sums.totals()
    # each contrast with its model: one indicator per group of levels it treats alike (plus only, both, minus only)
    for contrast, groups in ((Contrast((0,)), [0, -1, -1]), (Contrast((2,), (0,)), [1, -1, 0]),
                             (Contrast((1,), (0, 1, 2)), [1, 0, 1]), (Contrast((0, 1), (2,)), [0, 0, 1])):  # fmt: skip
        got = estimate(sums, [contrast], spec)
        code = np.array(groups)
        keep = code[level] >= 0
        n_groups = int(code.max()) + 1
        grouped = np.bincount(code[level[keep]], minlength=n_groups).astype(float)
        c = np.zeros(n_groups)  # the contrast's weights on the groups: token shares within each side
        for members, sign in ((contrast.plus, 1.0), (contrast.minus, -1.0)):
            side = sorted({int(code[m]) for m in members})
            c[side] += sign * grouped[side] / grouped[side].sum()
        want, variance, df = _cr2_by_matrices(doc[keep], code[level[keep]], value[keep], c, n_groups)
        assert got.estimate[0] == pytest.approx(want, abs=1e-12)
        half = stats.t.ppf(0.975, df) * np.sqrt(variance)
        assert got.ci_low[0] == pytest.approx(want - half, rel=1e-9)
        assert got.ci_high[0] == pytest.approx(want + half, rel=1e-9)
        assert got.p[0] == pytest.approx(2 * stats.t.sf(abs(want) / np.sqrt(variance), df), rel=1e-9)


def test_bootstrap_matches_brute_force_document_resampling() -> None:
    doc, level, value = _tokens(3, n_docs=9)
    sums = _sums(doc, level, value, 3)
    spec = IntervalSpec(interval="bootstrap", bootstrap=200, seed=5, min_eff_docs=2)
    contrasts = [Contrast((0,)), Contrast((2,), (0, 1))]
    got = estimate(sums, contrasts, spec)
    replicates = []
    for block in document_weights(sums.n_docs, 200, 5):
        for w in block:  # each token counted as often as its document was drawn
            t = w[doc]
            mean = lambda ks, t=t: np.sum((t * value)[np.isin(level, ks)]) / np.sum(t[np.isin(level, ks)])  # noqa: E731
            replicates.append([mean([0]), mean([2]) - mean([0, 1])])
    low, high = np.nanquantile(np.array(replicates), [0.025, 0.975], axis=0)
    np.testing.assert_allclose(got.ci_low, low, rtol=1e-10)
    np.testing.assert_allclose(got.ci_high, high, rtol=1e-10)


def test_kish_effective_documents_and_the_threshold() -> None:
    # level 0: 30 tokens in one document and 1 in each of 9 others -> (39)^2 / (900 + 9) = 1.67 documents
    doc = np.array([0] * 30 + list(range(1, 10)))
    level = np.zeros(39, dtype=int)
    sums = _sums(doc, level, np.arange(39.0), 1)
    got = estimate(sums, [Contrast((0,))], IntervalSpec(min_eff_docs=10))
    assert got.n_eff_docs[0] == pytest.approx(39**2 / 909)
    assert np.isnan(got.ci_low[0]) and "effective documents" in got.note[0]
    assert got.estimate[0] == pytest.approx(np.arange(39.0).mean())


def test_a_level_in_one_document_gets_no_interval_not_a_zero_width_one() -> None:
    doc = np.array([0, 0, 0, 1, 2, 3])
    level = np.array([1, 1, 1, 0, 0, 0])
    sums = _sums(doc, level, np.array([0.5, 0.5, 0.5, 1.0, 2.0, 3.0]), 2)
    got = estimate(sums, [Contrast((1,)), Contrast((1,), (0,))], IntervalSpec(min_eff_docs=2))
    assert np.all(np.isnan(got.ci_low)) and np.all(np.isnan(got.ci_high))
    assert all(got.note)


def test_holm_by_hand() -> None:
    # sorted: 0.01 x 3 = 0.03; 0.03 x 2 = 0.06; 0.04 x 1 = 0.04 -> max with previous 0.06
    assert holm(np.array([0.04, 0.01, 0.03])).tolist() == pytest.approx([0.06, 0.03, 0.06])


def test_a_level_of_one_document_inside_a_pooled_side_keeps_the_interval() -> None:
    """Closing − opening brackets pooled over kinds, one kind seen in a single document: the pooled contrast
    still has a variance (its groups span many documents); the one-document level alone has none."""
    doc, level, value = _tokens(4)
    level = np.where(level == 2, 1, level)  # levels 0 and 1 everywhere ...
    rare = np.flatnonzero(doc == 0)[:5]
    level[rare] = 2  # ... and level 2 in document 0 only
    sums = _sums(doc, level, value, 3)
    got = estimate(sums, [Contrast((0, 2), (1,)), Contrast((2,), (1,))], IntervalSpec(min_eff_docs=2))
    assert np.isfinite(got.ci_low[0]) and np.isfinite(got.ci_high[0]) and got.note[0] == ""
    assert np.isnan(got.ci_low[1]) and got.note[1] != ""  # one document: too few, or not estimable
