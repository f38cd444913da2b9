"""The regression's hand-built design against statsmodels' formula interface (patsy) on the same data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from lossgap.analysis.regression import RegressionSpec, fit_regression


def _frame(rng: np.random.Generator, n: int = 3000) -> pd.DataFrame:
    doc = rng.integers(0, 60, n)
    return pd.DataFrame(
        {
            "gap": rng.normal(0, 1, n) + 0.1 * rng.normal(0, 1, 60)[doc],
            "doc_idx": doc,
            "word_class": rng.choice(["content", "function", "other", None], n),
            "bracket_side": rng.choice(["none", "none", "open", "close"], n),
            "repeat_len_bin": rng.choice(["0", "1", "2", "16+"], n),
            "domain": np.array(["books", "news", "python"])[doc % 3],
            "log_freq": rng.normal(3, 1, n),
            "log_pos": np.log(rng.integers(1, 500, n)),
        }
    )


def test_fit_regression_matches_statsmodels_formula() -> None:
    frame = _frame(np.random.default_rng(5))
    spec = RegressionSpec(
        categories=("word_class", "bracket_side"), controls=("log_freq", "repeat_len_bin", "log_pos", "domain"),
        max_tokens=10**6, seed=0, confidence=0.9,
    )  # fmt: skip
    got = fit_regression(frame, spec)
    data = frame.assign(
        word_class=frame["word_class"].fillna("(null)"),
        log_freq_c=frame["log_freq"] - frame["log_freq"].mean(),
        log_pos_c=frame["log_pos"] - frame["log_pos"].mean(),
    )
    assert got.formula == (
        "gap ~ 0 + C(word_class) + C(bracket_side, Treatment('none')) + C(repeat_len_bin, Treatment('0')) "
        "+ C(domain, Sum) + log_freq_c + log_pos_c"
    )
    ref = smf.ols(got.formula, data).fit(cov_type="cluster", cov_kwds={"groups": data["doc_idx"]}, use_t=True)
    table = got.table.set_index("term")
    assert sorted(table.index) == sorted(ref.params.index)
    names = list(ref.params.index)
    np.testing.assert_allclose(table.loc[names, "coef"], ref.params[names], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(table.loc[names, "se"], ref.bse[names], rtol=1e-8)
    np.testing.assert_allclose(table.loc[names, "ci_low"], ref.conf_int(0.1).loc[names, 0], rtol=1e-8)
    np.testing.assert_allclose(table.loc[names, "p"], ref.pvalues[names], rtol=1e-6, atol=1e-300)


def test_fit_regression_collinear_design_leaves_table_empty() -> None:
    frame = _frame(np.random.default_rng(6))
    frame["upos"] = frame["word_class"].map({"content": "NOUN", "function": "DET", "other": "PUNCT"})
    spec = RegressionSpec(categories=("upos", "word_class"), controls=(), max_tokens=10**6, seed=0, confidence=0.95)
    got = fit_regression(frame, spec)
    assert got.table.empty and any("collinear" in n for n in got.notes)


def test_fit_regression_drops_rows_without_log_freq() -> None:
    frame = _frame(np.random.default_rng(7))
    frame.loc[:9, "log_freq"] = np.nan
    spec = RegressionSpec(categories=(), controls=("log_freq",), max_tokens=10**6, seed=0, confidence=0.95)
    got = fit_regression(frame, spec)
    assert got.n_tokens == len(frame) - 10 and "10 tokens without log_freq" in got.notes[0]
    assert got.table["term"].tolist() == ["Intercept", "log_freq_c"]
    # centered on the kept rows, the intercept is exactly their mean gap
    assert got.table["coef"].iloc[0] == pytest.approx(frame["gap"].iloc[10:].mean(), abs=1e-12)


def test_fit_regression_drops_a_domain_column_aliased_with_null_word_class() -> None:
    """word_class is null exactly in code domains: with domain controls one domain column is aliased.

    The fit drops it (noted) instead of leaving the table empty, and the identified contrasts (word classes within
    prose) agree with an OLS of an equivalent full-rank design.
    """
    rng = np.random.default_rng(8)
    frame = _frame(rng)
    code = frame["doc_idx"] % 3 == 0
    frame["domain"] = np.where(code, "python", np.where(frame["doc_idx"] % 3 == 1, "books", "news"))
    frame.loc[~code & frame["word_class"].isna(), "word_class"] = "other"
    frame.loc[code, "word_class"] = None
    spec = RegressionSpec(categories=("word_class",), controls=("domain",), max_tokens=10**6, seed=0, confidence=0.95)
    got = fit_regression(frame, spec)
    assert not got.table.empty
    assert any("aliased" in n and "C(domain, Sum)" in n for n in got.notes)
    # Reference: the same model with the prose-vs-code split carried by word_class alone and domain
    # entering only as books vs news within prose (the one identifiable domain contrast).
    x = np.column_stack(
        [
            (frame["word_class"] == "content").to_numpy(float),
            (frame["word_class"] == "function").to_numpy(float),
            (frame["word_class"] == "other").to_numpy(float),
            frame["word_class"].isna().to_numpy(float),
            (frame["domain"] == "books").to_numpy(float) - (frame["domain"] == "news").to_numpy(float),
        ]
    )
    ref = np.linalg.lstsq(x, frame["gap"].to_numpy(float), rcond=None)[0]
    fitted = got.table.set_index("term")["coef"]
    np.testing.assert_allclose(fitted["C(word_class)[content]"] - fitted["C(word_class)[function]"], ref[0] - ref[1], atol=1e-9)
    np.testing.assert_allclose(fitted["C(word_class)[content]"] - fitted["C(word_class)[other]"], ref[0] - ref[2], atol=1e-9)
    # (the "(null)" level is not identified apart from the domains, so its coefficient depends on the coding)


def test_fit_regression_warns_with_fewer_documents_than_coefficients() -> None:
    frame = _frame(np.random.default_rng(9))
    frame["doc_idx"] = frame["doc_idx"] % 4  # 4 clusters
    spec = RegressionSpec(categories=("word_class",), controls=("log_freq", "log_pos"), max_tokens=10**6, seed=0, confidence=0.95)
    got = fit_regression(frame, spec)
    assert not got.table.empty
    assert any("only 4 documents for 6 coefficients" in n for n in got.notes)
