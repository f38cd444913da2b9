"""The streamed regression against statsmodels on the same tokens: coefficients, clustered covariance and
marginal means; aliasing that no longer moves what is reported; a step effect of rarity that only bins hold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats

from lossgap.analysis.join import JOINED, connect
from lossgap.analysis.regression import Control, fit_factor


def _frame(seed: int = 0, n_docs: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for d in range(n_docs):
        domain = ["books", "news", "python"][d % 3]
        u = rng.normal(0, 0.3)
        for _ in range(int(rng.integers(20, 60))):
            if domain == "python":
                word_class = None
            else:
                word_class = rng.choice(["content", "function", "other"], p=[0.4, 0.4, 0.2])
            log_freq = float(rng.uniform(0, 5))
            piece = rng.choice(["single", "first"])
            gap = (u + {"content": 0.04, "function": 0.02, "other": 0.0, None: 0.01}[word_class]
                   + 0.03 * log_freq + (0.05 if piece == "first" else 0) + rng.normal(0, 1))  # fmt: skip
            rows.append((d, domain, word_class, log_freq, piece, gap, "formal" if domain == "news" else "plain"))
    return pd.DataFrame(rows, columns=["doc_idx", "domain", "word_class", "log_freq", "word_piece", "gap", "register"])


def _fit(frame: pd.DataFrame, controls, kind="linear"):
    with connect() as con:
        con.register("frame", frame)
        con.execute(f"CREATE TABLE {JOINED} AS SELECT * FROM frame")
        return fit_factor(con, name="word_class", factor="word_class", population="CASE WHEN word_class IS NOT NULL THEN 'prose' END",
                          controls=controls, kind=kind)  # fmt: skip


def _prose(frame: pd.DataFrame) -> pd.DataFrame:
    """The word-class factor's own population, on which it is fitted: tokens with a word class."""
    data = frame[frame["word_class"].notna()]
    return data.assign(wc=data["word_class"], lf=data["log_freq"] - data["log_freq"].mean())


def test_matches_statsmodels_coefficients_and_clustered_covariance() -> None:
    frame = _frame()
    fit = _fit(frame, [Control("word_piece", "word_piece"), Control("log_freq", "log_freq", numeric=True)])
    data = _prose(frame)
    model = smf.ols("gap ~ 0 + C(wc) + C(word_piece, Treatment('first')) + lf", data)
    ref = model.fit(cov_type="cluster", cov_kwds={"groups": data["doc_idx"]})
    # lossgap's reference level of word_piece is its most frequent; make statsmodels use the same one
    reference = data["word_piece"].value_counts().index[0]
    if reference != "first":
        ref = smf.ols(f"gap ~ 0 + C(wc) + C(word_piece, Treatment('{reference}')) + lf", data).fit(
            cov_type="cluster", cov_kwds={"groups": data["doc_idx"]})  # fmt: skip
    np.testing.assert_allclose(fit.beta, ref.params.to_numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fit.cov, ref.cov_params().to_numpy(), rtol=1e-8, atol=1e-14)
    assert fit.df == data["doc_idx"].nunique() - 1 and fit.n_tokens == len(data) < len(frame)  # python left out


def test_marginal_mean_is_the_mean_prediction_with_the_level_set() -> None:
    frame = _frame(1)
    fit = _fit(frame, [Control("word_piece", "word_piece"), Control("log_freq", "log_freq", numeric=True)])
    prose = _prose(frame)
    ref = smf.ols("gap ~ 0 + C(wc) + C(word_piece) + lf", prose).fit()
    want = ref.predict(prose.assign(wc="content")).mean()
    est, low, high, _ = fit.interval(fit.marginal_vector("content", "prose"), 0.95)
    assert est == pytest.approx(want, rel=1e-9)
    assert low < est < high


def test_reported_contrast_does_not_depend_on_which_aliased_column_goes() -> None:
    """The register is formal exactly in news, so its column is aliased with a domain column. Whatever the order
    of the domains, content − function is the same and its interval covers 0.02."""
    frame = _frame(2, n_docs=90)
    results = []
    for rename in ({}, {"books": "zz-books", "news": "aa-news"}):
        data = frame.assign(domain=frame["domain"].replace(rename))
        fit = _fit(data, [Control("domain", "domain"), Control("register", "register"),
                          Control("log_freq", "log_freq", numeric=True)])  # fmt: skip
        assert fit.design.dropped  # one domain column was aliased
        a = fit.combination([("prose", "content")], [("prose", "function")])
        results.append(fit.interval(a, 0.95))
    assert results[0][0] == pytest.approx(results[1][0], abs=1e-10)
    assert results[0][1] < 0.02 < results[0][2]


def _dense_cr2(x: np.ndarray, y: np.ndarray, cluster: np.ndarray, a: np.ndarray) -> tuple[float, float, float]:
    """Estimate, CR2 standard error and Bell–McCaffrey degrees of freedom of a'beta, from full token-level
    matrices (N × N hat matrix; the textbook formulas, nothing shared with lossgap's streamed version)."""
    xtx_inv = np.linalg.inv(x.T @ x)
    beta = xtx_inv @ x.T @ y
    e = y - x @ beta
    h = x @ xtx_inv @ x.T
    n = len(y)
    groups = [np.flatnonzero(cluster == g) for g in np.unique(cluster)]
    meat = np.zeros((x.shape[1], x.shape[1]))
    g_cols = []
    for idx in groups:
        vals, vecs = np.linalg.eigh(np.eye(len(idx)) - h[np.ix_(idx, idx)])
        inv_sqrt = vecs @ np.diag(np.where(vals > 1e-10, 1 / np.sqrt(np.clip(vals, 1e-300, None)), 0.0)) @ vecs.T
        u = x[idx].T @ inv_sqrt @ e[idx]
        meat += np.outer(u, u)
        column = (np.eye(n) - h)[:, idx] @ inv_sqrt @ x[idx] @ xtx_inv @ a  # G's column for this cluster
        g_cols.append(column)
    cov = xtx_inv @ meat @ xtx_inv
    gmat = np.column_stack(g_cols)
    b = gmat.T @ gmat
    return float(a @ beta), float(np.sqrt(a @ cov @ a)), float(np.trace(b) ** 2 / np.trace(b @ b))


def test_categorical_fit_has_cr2_errors_and_bell_mccaffrey_df_of_the_dense_formulas() -> None:
    """Flexible (all categorical) controls: the standard errors are CR2 and the degrees of freedom
    Bell–McCaffrey's, equal to the textbook N × N computation on the same tokens, for a contrast and a level;
    uneven documents, a control level held by one document (leverage 1 in its block), few clusters."""
    rng = np.random.default_rng(12)
    rows = []
    for d in range(9):
        for _ in range(int(rng.integers(5, 30))):
            wc = rng.choice(["content", "function", "other"], p=[0.5, 0.3, 0.2])
            piece = rng.choice(["single", "first", "last"], p=[0.6, 0.25, 0.15])
            domain = "rare" if d == 4 else ("books" if d % 2 else "news")
            rows.append((d, domain, wc, piece, rng.normal(0.1 * d, 1)))
    frame = pd.DataFrame(rows, columns=["doc_idx", "domain", "word_class", "word_piece", "gap"])
    with connect() as con:
        con.register("frame", frame)
        con.execute(f"CREATE TABLE {JOINED} AS SELECT * FROM frame")
        fit = fit_factor(con, name="word_class", factor="word_class", population="'scope'",
                         controls=[Control("word_piece", "word_piece"), Control("domain", "domain")], kind="flexible")  # fmt: skip
    assert fit is not None and fit.cr2 is not None and not fit.design.dropped
    # the same design built by hand: every word class; word_piece and domain without their most frequent level
    columns = [frame["word_class"] == v for v in fit.design.factor_levels]
    for control, levels in fit.design.control_levels:
        columns += [frame[control] == v for v in levels]
    x = np.column_stack(columns).astype(float)
    y, cluster = frame["gap"].to_numpy(), frame["doc_idx"].to_numpy()
    for a in (np.r_[1.0, -1.0, 0.0, np.zeros(x.shape[1] - 3)], fit.marginal_vector("other", "scope")):
        est, se, df = _dense_cr2(x, y, cluster, a)
        got_est, low, high, _ = fit.interval(a, 0.95)
        assert got_est == pytest.approx(est, rel=1e-9, abs=1e-12)
        assert fit.degrees_of_freedom(a[None])[0] == pytest.approx(df, rel=1e-8)
        half = stats.t.ppf(0.975, df) * se
        assert (low, high) == pytest.approx((est - half, est + half), rel=1e-8, abs=1e-12)
        assert df < fit.n_docs - 1  # fewer than CR1's G − 1 with uneven documents
