"""Intervals for token-weighted means and their contrasts, from per-(document, level) sums only.

A *level* is a set of tokens (a category value, a mask); its mean is the ratio of sums over its tokens, which
is also the coefficient of its indicator in a regression of the per-token value on one indicator per level.
A *contrast* is a weighted combination of level means, e.g. mean(content) − mean(function). Tokens of one
document are not independent, so every interval treats documents as the independent units:

- `cr2` (default): the cluster-robust variance with the bias-reduced CR2 adjustment (Bell & McCaffrey 2002),
  t intervals with the Bell–McCaffrey degrees of freedom (Imbens & Kolesár 2016). For this design both reduce
  to sums per (document, level): the adjustment divides a document's residual sum in level k by
  sqrt(1 − n_dk / N_k), its share of the level's tokens. A pooled mean over several levels is a ratio of sums
  over their union, so a contrast's model has one indicator per group of levels it treats alike (in its plus
  side only, in both, in its minus side only): that is the pooled means' own linearization.
- `bootstrap`: percentile intervals of a bootstrap over documents (multinomial weights), shared by every
  level and contrast of a call so that contrasts are resampled consistently.

Every estimate reports Kish's effective number of documents, (Σ_d n_d)² / Σ_d n_d², of its tokens; below
`min_eff_docs` it gets no interval, and a note says why. Cost grows with documents × levels, never with tokens.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy import sparse, stats

from lossgap.analysis.config import IntervalSpec

__all__ = ["LevelSums", "Contrast", "Estimates", "estimate", "document_weights", "holm", "benjamini_hochberg"]

_CHUNK = 64  # bootstrap resamples per weights block: bounds memory at chunk × documents counts


@dataclass(frozen=True)
class LevelSums:
    """Per-(document, level) sums: `n` tokens with value sum `s` in document `doc` and level `level`.

    Documents are numbered 0..n_docs-1 across the whole comparison (so bootstrap draws can be shared);
    `names[k]` names level k.
    """

    doc: np.ndarray  # int64 (rows,)
    level: np.ndarray  # int64 (rows,)
    n: np.ndarray  # float64 (rows,)
    s: np.ndarray  # float64 (rows,)
    names: tuple[str, ...]
    n_docs: int

    @property
    def n_levels(self) -> int:
        return len(self.names)

    def totals(self) -> tuple[np.ndarray, np.ndarray]:
        """Tokens N_k and value sums S_k of each level."""
        return (np.bincount(self.level, weights=self.n, minlength=self.n_levels),
                np.bincount(self.level, weights=self.s, minlength=self.n_levels))  # fmt: skip

    def means(self) -> np.ndarray:
        tokens, sums = self.totals()
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(tokens > 0, sums / np.where(tokens > 0, tokens, 1), np.nan)


@dataclass(frozen=True)
class Contrast:
    """The pooled mean of the levels `plus` minus the pooled mean of the levels `minus` (each pooled mean
    token-weighted over its levels; `minus` empty: the pooled mean of `plus` alone). A level may sit in both
    sets: "NOUN − all prose tokens" is plus=(NOUN,), minus=(every prose level,)."""

    plus: tuple[int, ...]
    minus: tuple[int, ...] = ()

    def weights(self, tokens: np.ndarray) -> np.ndarray:
        """The linear weights on the level means at the levels' token counts `tokens`."""
        w = np.zeros(len(tokens))
        for members, sign in ((list(self.plus), 1.0), (list(self.minus), -1.0)):
            total = tokens[members].sum() if members else 0.0
            if total > 0:
                w[members] += sign * tokens[members] / total
        return w


@dataclass(frozen=True)
class Estimates:
    """One row per contrast: estimate with its interval, p-value (of estimate = 0), and what supports it."""

    estimate: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    p: np.ndarray
    n_tokens: np.ndarray  # tokens of the levels the contrast uses
    n_docs: np.ndarray  # documents with a token in those levels
    n_eff_docs: np.ndarray  # Kish's effective documents of the thinnest set of levels it compares
    note: list[str]


def _kish(doc: np.ndarray, n: np.ndarray, n_docs: int) -> float:
    per_doc = np.bincount(doc, weights=n, minlength=n_docs)
    square = float(np.sum(per_doc**2))
    return float(per_doc.sum() ** 2 / square) if square > 0 else 0.0


def _cr2(sums: LevelSums, weights: np.ndarray, means: np.ndarray, tokens: np.ndarray) -> tuple[float, float]:
    """CR2 standard error and Bell–McCaffrey degrees of freedom of the contrast sum_k weights[k] · mean_k.

    With X one indicator per level, (X'X)^-1 = diag(1/N_k) and the CR2 adjustment of document d acts on its
    tokens in level k as 1/sqrt(1 − n_dk/N_k); the vector a_d = A_d X_d (X'X)^-1 c is then α_dk = c_k / (N_k ·
    sqrt(1 − n_dk/N_k)) on those tokens. V = Σ_d (Σ_k α_dk e_dk)² with e_dk the document's residual sum in
    level k. The degrees of freedom are tr(B)² / tr(B²) for B = G'G, whose (d, d') entry is
    δ_dd' Σ_k n_dk α_dk² − Σ_k n_dk α_dk n_d'k α_d'k / N_k.
    """
    rows = np.flatnonzero(weights[sums.level] != 0)
    if rows.size == 0:
        return float("nan"), float("nan")
    level, doc, n = sums.level[rows], sums.doc[rows], sums.n[rows]
    share = n / tokens[level]
    if np.any(share >= 1 - 1e-12):  # a level held by one document: no variance can be estimated
        return float("nan"), float("nan")
    alpha = weights[level] / (tokens[level] * np.sqrt(1 - share))
    residual = sums.s[rows] - means[level] * n
    docs, inverse = np.unique(doc, return_inverse=True)
    score = np.bincount(inverse, weights=alpha * residual, minlength=docs.size)
    variance = float(np.sum(score**2))
    # degrees of freedom: B = diag(d) − Σ_k v_k v_k' / N_k, v_k[d] = n_dk α_dk
    d = np.bincount(inverse, weights=n * alpha**2, minlength=docs.size)
    used = np.unique(level)
    v = np.zeros((used.size, docs.size))
    v[np.searchsorted(used, level), inverse] = n * alpha
    scale = 1.0 / tokens[used]
    trace = d.sum() - float(np.sum(scale * np.sum(v**2, axis=1)))
    gram = v @ v.T  # (levels, levels): v_k · v_l
    trace_sq = (float(np.sum(d**2)) - 2 * float(np.sum(scale * (v**2 @ d)))
                + float(np.sum(np.outer(scale, scale) * gram**2)))  # fmt: skip
    df = trace**2 / trace_sq if trace_sq > 0 else float("nan")
    return float(np.sqrt(variance)), df


def _merged(sums: LevelSums, contrast: Contrast) -> tuple[LevelSums, np.ndarray]:
    """The sums regrouped by membership (level in `plus` only, in both sides, in `minus` only) and the contrast's
    weights on the groups. A pooled mean is a ratio of sums over its levels, and one indicator per group is its
    own linearization: the estimate is unchanged, and a level held by one document inside a pooled side no
    longer makes the whole contrast's variance inestimable."""
    plus, minus = set(contrast.plus), set(contrast.minus)
    groups = [g for g in (plus - minus, plus & minus, minus - plus) if g]
    code = np.full(sums.n_levels, -1, dtype=np.int64)
    for i, group in enumerate(groups):
        code[sorted(group)] = i
    keep = code[sums.level] >= 0
    key = sums.doc[keep] * len(groups) + code[sums.level[keep]]
    uniq, inverse = np.unique(key, return_inverse=True)
    merged = LevelSums(doc=uniq // len(groups), level=uniq % len(groups), n=np.bincount(inverse, weights=sums.n[keep]),
                       s=np.bincount(inverse, weights=sums.s[keep]), names=tuple(map(str, range(len(groups)))),
                       n_docs=sums.n_docs)  # fmt: skip
    side = Contrast(
        tuple(i for i, g in enumerate(groups) if g <= plus), tuple(i for i, g in enumerate(groups) if g <= minus)
    )
    return merged, side.weights(merged.totals()[0])


def document_weights(n_docs: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Blocks of multinomial weights (rows: resamples, columns: documents), each row summing to `n_docs`:
    row r says how often each document is drawn in resample r. Deterministic given `seed`."""
    rng = np.random.default_rng(seed)
    for start in range(0, resamples, _CHUNK):
        rows = min(_CHUNK, resamples - start)
        draws = rng.integers(0, n_docs, size=(rows, n_docs))
        flat = (draws + (np.arange(rows) * n_docs)[:, None]).ravel()
        yield np.bincount(flat, minlength=rows * n_docs).reshape(rows, n_docs).astype(np.float64)


def _bootstrap(
    sums: LevelSums, contrasts: list[Contrast], spec: IntervalSpec
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Percentile intervals and p-values (twice the smaller share of resamples on either side of zero).

    In each resample a pooled mean is the ratio of the resampled sums over its levels; a contrast is left out
    of the resamples that lack one of its sides.
    """
    shape = (sums.n_docs, sums.n_levels)
    num = sparse.csc_matrix((sums.s, (sums.doc, sums.level)), shape=shape)
    den = sparse.csc_matrix((sums.n, (sums.doc, sums.level)), shape=shape)

    def pooled(members: tuple[int, ...], num_w: np.ndarray, den_w: np.ndarray) -> np.ndarray:
        tokens = den_w[:, list(members)].sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(tokens > 0, num_w[:, list(members)].sum(axis=1) / tokens, np.nan)

    replicates = np.empty((spec.bootstrap, len(contrasts)))
    start = 0
    for weights in document_weights(sums.n_docs, spec.bootstrap, spec.seed):
        num_w = np.asarray(num.T @ weights.T).T  # (resamples, levels)
        den_w = np.asarray(den.T @ weights.T).T
        for j, c in enumerate(contrasts):
            value = pooled(c.plus, num_w, den_w)
            if c.minus:
                value = value - pooled(c.minus, num_w, den_w)
            replicates[start : start + len(weights), j] = value
        start += len(weights)
    alpha = 1 - spec.confidence
    low, high, p = (np.full(len(contrasts), np.nan) for _ in range(3))
    finite = np.isfinite(replicates)
    seen = finite.sum(axis=0) >= 2
    if seen.any():
        low[seen], high[seen] = np.nanquantile(replicates[:, seen], [alpha / 2, 1 - alpha / 2], axis=0)
        count = finite[:, seen].sum(axis=0)
        below = np.sum(finite[:, seen] & (replicates[:, seen] <= 0), axis=0) / count
        above = np.sum(finite[:, seen] & (replicates[:, seen] >= 0), axis=0) / count
        p[seen] = np.minimum(1.0, 2 * np.minimum(below, above))
    return low, high, p


def estimate(sums: LevelSums, contrasts: list[Contrast], spec: IntervalSpec) -> Estimates:
    """Estimate, interval, p-value and support of each contrast (see the module docstring)."""
    tokens, _ = sums.totals()
    means = sums.means()
    k = len(contrasts)
    est, low, high, p = (np.full(k, np.nan) for _ in range(4))
    n_tokens, n_docs, n_eff = np.zeros(k, np.int64), np.zeros(k, np.int64), np.zeros(k)
    note = [""] * k
    t_quantile = 1 - (1 - spec.confidence) / 2
    for j, contrast in enumerate(contrasts):
        w = contrast.weights(tokens)
        sides = [np.isin(sums.level, members) for members in (contrast.plus, contrast.minus) if members]
        rows = np.logical_or.reduce(sides)
        n_tokens[j] = int(sums.n[rows].sum())
        n_docs[j] = np.unique(sums.doc[rows]).size
        # the thinner side decides how much the contrast can be trusted
        n_eff[j] = min(_kish(sums.doc[r], sums.n[r], sums.n_docs) for r in sides)
        if not all(tokens[list(members)].sum() > 0 for members in (contrast.plus, contrast.minus) if members):
            note[j] = "no tokens"
            continue
        used = w != 0
        est[j] = float(np.sum(w[used] * means[used]))
        if n_eff[j] < spec.min_eff_docs:
            note[j] = f"{n_eff[j]:.1f} effective documents (< {spec.min_eff_docs:g}): no interval"
            continue
        if spec.interval == "cr2":
            merged, merged_w = _merged(sums, contrast)
            merged_tokens, _ = merged.totals()
            se, df = _cr2(merged, merged_w, merged.means(), merged_tokens)
            if not (np.isfinite(se) and np.isfinite(df) and df > 0):
                note[j] = "variance not estimable (a level held by one document)"
                continue
            half = stats.t.ppf(t_quantile, df) * se
            low[j], high[j] = est[j] - half, est[j] + half
            p[j] = 2 * stats.t.sf(abs(est[j]) / se, df) if se > 0 else (0.0 if est[j] != 0 else 1.0)
    if spec.interval == "bootstrap":
        ok = [j for j in range(k) if np.isfinite(est[j]) and not note[j]]
        if ok:
            low[ok], high[ok], p[ok] = _bootstrap(sums, [contrasts[j] for j in ok], spec)
    return Estimates(est, low, high, p, n_tokens, n_docs, n_eff, note)


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of a family's p-values (NaN stays NaN): controls the family-wise error
    rate under any dependence between the tests.

    >>> holm(np.array([0.01, 0.04, 0.03, np.nan])).round(3).tolist()
    [0.03, 0.06, 0.06, nan]
    """
    p = np.asarray(p, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if ok.size == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    m = order.size
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out[order] = np.minimum(1.0, adjusted)
    return out


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg q-values of p-values (NaN stays NaN; statsmodels' `fdr_bh`): the false discovery rate
    at which each would be declared, over every test given at once.

    >>> benjamini_hochberg(np.array([0.01, 0.04, 0.03, np.nan])).round(3).tolist()
    [0.03, 0.04, 0.04, nan]
    """
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="fdr_bh")[1]
    return out
