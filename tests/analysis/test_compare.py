"""compare: exact numbers on a hand-made run, planted effects on a simulated run, and its bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.analysis.analysis_runs import planted_tokens, scores_of, write_run
from tests.analysis.hand_run import MEAN_GAP, write_hand_run
from lossgap.analysis import CompareConfig, run_compare
from lossgap.errors import ConfigError, RunDirError
from lossgap.rundir import RunDir


@pytest.fixture(scope="module")
def hand(tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    run = write_hand_run(tmp_path_factory.mktemp("hand"))
    run_compare(run, CompareConfig(baseline="base", candidate="cand", bootstrap=50, segment_tokens=2))
    return run


def _categories(run: RunDir) -> pd.DataFrame:
    return pd.read_csv(run.results_path("categories.csv"), dtype={"value": str}).set_index(["feature", "value"])


def test_compare_summary_hand_numbers(hand: RunDir) -> None:
    summary = json.loads(hand.results_path("summary.json").read_text())
    assert summary["n_tokens"] == 6 and summary["n_docs"] == 2
    assert summary["missing"] == {"baseline_only": 1, "candidate_only": 1, "no_features": 1}
    assert summary["mean_gap"] == pytest.approx(MEAN_GAP, abs=1e-12)
    assert summary["mean_loss_baseline"] == pytest.approx(12.5 / 6) and summary["mean_loss_candidate"] == pytest.approx(10.75 / 6)
    assert summary["macro_mean_gap"] == pytest.approx((1.25 / 4 + 0.5 / 2) / 2)
    # two documents: every resample's mean lies between doc B alone (0.25) and doc A alone (0.3125)
    assert 0.25 <= summary["ci_low"] <= MEAN_GAP <= summary["ci_high"] <= 0.3125
    headline = {h["label"]: h for h in summary["headline"]}
    assert headline["content"]["mean_gap"] == pytest.approx(0.75) and headline["content"]["n_tokens"] == 2
    assert headline["repeated"]["mean_gap"] == pytest.approx((1.0 + 0.0 - 0.5) / 3)
    assert headline["nonrepeated"]["mean_gap"] == pytest.approx((0.5 - 0.25 + 1.0) / 3)
    assert headline["open_bracket"]["mean_gap"] == 1.0 and headline["close_bracket"]["mean_gap"] == 0.0


def test_compare_categories_hand_numbers(hand: RunDir) -> None:
    cats = _categories(hand)
    assert cats.loc[("word_class", "content"), ["n_tokens", "n_docs"]].tolist() == [2, 2]
    assert cats.loc[("word_class", "function"), "mean_gap"] == pytest.approx(-0.375)
    assert cats.loc[("word_class", "other"), "mean_loss_baseline"] == pytest.approx(1.75)
    assert cats.loc[("bracket_kind+bracket_side", "round|open"), "mean_gap"] == 1.0
    assert cats.loc[("domain+word_class", "python|function"), "mean_gap"] == -0.5
    assert cats.loc[("domain", "books"), "mean_gap"] == pytest.approx(1.25 / 4)
    bins = cats.loc["repeat_len_bin"]
    assert bins.index.tolist() == ["0", "1", "2", "4-7", "16+"]  # natural order; 3 and 8-15 empty
    assert bins["mean_gap"].tolist() == pytest.approx([0.75, -0.25, 1.0, 0.0, -0.5])
    # log_freq 1,3,2,2,4,5: deciles (thresholds 1.5,2,2,2,2.5,3,3.5,4,4.5) are 1,6,2,2,8,10
    deciles = cats.loc["log_freq_decile"]
    assert deciles.index.tolist() == ["1", "2", "6", "8", "10"]
    assert deciles["n_tokens"].tolist() == [1, 2, 1, 1, 1]
    # macro mean: content tokens are one per document, gaps 0.5 and 1.0
    assert cats.loc[("word_class", "content"), "macro_mean_gap"] == pytest.approx(0.75)


def test_compare_repeat_curve_and_top_tables_hand_numbers(hand: RunDir) -> None:
    curve = pd.read_csv(hand.results_path("repeat_curve.csv"), dtype={"bin": str})
    assert curve[["kind", "bin", "bin_order", "n_tokens"]].values.tolist() == [
        ["repeat_len", "1", 1, 1], ["repeat_len", "2", 2, 1], ["repeat_len", "5", 5, 1], ["repeat_len", "33+", 33, 1],
        ["repeat_dist", "1-15", 1, 3], ["repeat_dist", "64-255", 3, 1],
    ]  # fmt: skip
    assert curve["mean_gap"].tolist() == pytest.approx([-0.25, 1.0, 0.0, -0.5, 0.25, -0.5])
    tokens = pd.read_csv(hand.results_path("top_tokens.csv"))
    wins = tokens[tokens["direction"] == "candidate_wins"]
    assert wins[["doc_id", "pos", "gap"]].values.tolist() == [["A", 3, 1.0], ["B", 1, 1.0], ["A", 1, 0.5]]
    loses = tokens[tokens["direction"] == "candidate_loses"]
    assert loses[["doc_id", "pos", "rank"]].values.tolist() == [["B", 2, 1], ["A", 2, 2]]
    segments = pd.read_csv(hand.results_path("top_segments.csv"), keep_default_na=False)
    first = segments.iloc[0]
    assert (first["doc_id"], first["pos_start"], first["pos_end"], first["sum_gap"], first["text"]) == ("A", 3, 5, 1.0, "()")
    docs = pd.read_csv(hand.results_path("top_documents.csv"))
    assert docs[["direction", "doc_id", "mean_gap"]].values.tolist() == [
        ["candidate_wins", "A", 0.3125], ["candidate_wins", "B", 0.25]
    ]


def test_compare_regression_left_empty_when_too_small(hand: RunDir) -> None:
    assert pd.read_csv(hand.results_path("regression.csv")).empty
    assert "too few" in hand.results_path("regression_formula.txt").read_text()


def test_compare_user_by_combines_columns(tmp_path: Path) -> None:
    run = write_hand_run(tmp_path)
    result = run_compare(
        run, CompareConfig(baseline="base", candidate="cand", bootstrap=20, by=("domain+upos",), default_groupings=False)
    )
    got = result.categories.set_index("value")["mean_gap"].to_dict()
    assert got == {"books|NOUN": 0.5, "books|DET": -0.25, "python|VERB": 1.0, "python|ADP": -0.5}
    assert set(result.categories["feature"]) == {"domain+upos"}


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tokens = planted_tokens(np.random.default_rng(7), n_docs=300, tokens_per_doc=80)
    run = write_run(tmp_path_factory.mktemp("planted"), tokens, {"tf": scores_of(tokens, "loss_baseline"), "hy": scores_of(tokens, "loss_candidate")})
    return run_compare(run, CompareConfig(baseline="tf", candidate="hy", bootstrap=300, seed=1))


def test_compare_raw_means_show_confounded_gaps(planted) -> None:  # type: ignore[no-untyped-def]
    cats = planted.categories.set_index(["feature", "value"])
    content, function = cats.loc[("word_class", "content")], cats.loc[("word_class", "function")]
    # raw means carry the rarity effect: ~0.04 + 0.03 and ~0.02 - 0.03 (plus the repeat and domain terms)
    assert content["ci_low"] > 0.04 + 0.01 and function["ci_high"] < 0.02 - 0.01
    assert content["mean_gap"] - function["mean_gap"] == pytest.approx(0.08, abs=0.015)


def test_compare_regression_recovers_planted_coefficients(planted) -> None:  # type: ignore[no-untyped-def]
    reg = planted.regression.set_index("term")
    truth = {
        "C(word_class)[content]": 0.04,
        "C(word_class)[function]": 0.02,
        "log_freq_c": -0.03,
        "C(repeat_len_bin, Treatment('0'))[T.2]": 0.05,
        "C(repeat_len_bin, Treatment('0'))[T.1]": 0.0,
        "C(domain, Sum)[S.books]": 0.01,
        "log_pos_c": 0.0,
    }
    for term, value in truth.items():
        assert reg.loc[term, "ci_low"] <= value <= reg.loc[term, "ci_high"], term
    assert reg.loc["C(word_class)[content]", "se"] < 0.01  # informative, not vacuous


def test_compare_regression_se_matches_hand_sandwich(tmp_path: Path) -> None:
    """Cluster-robust SEs against a numpy sandwich with statsmodels' small-sample factor."""
    tokens = planted_tokens(np.random.default_rng(3), n_docs=30, tokens_per_doc=40)
    run = write_run(tmp_path, tokens, {"tf": scores_of(tokens, "loss_baseline"), "hy": scores_of(tokens, "loss_candidate")})
    result = run_compare(
        run,
        CompareConfig(baseline="tf", candidate="hy", bootstrap=20, regression_categories=("word_class",), regression_controls=("log_freq",)),
    )
    gap = tokens["loss_baseline"].to_numpy(np.float64) - tokens["loss_candidate"].to_numpy(np.float64)
    content = (tokens["word_class"] == "content").to_numpy(float)
    x = np.column_stack([content, 1 - content, tokens["log_freq"] - tokens["log_freq"].mean()])
    beta = np.linalg.solve(x.T @ x, x.T @ gap)
    resid = gap - x @ beta
    groups = tokens["doc_id"].to_numpy()
    scores = np.array([(x[groups == g] * resid[groups == g, None]).sum(axis=0) for g in np.unique(groups)])
    bread = np.linalg.inv(x.T @ x)
    n, k, g = len(gap), 3, len(scores)
    cov = bread @ (scores.T @ scores) @ bread * (g / (g - 1)) * ((n - 1) / (n - k))
    reg = result.regression.set_index("term")
    np.testing.assert_allclose(reg["coef"].to_numpy(), beta, rtol=1e-6)
    np.testing.assert_allclose(reg["se"].to_numpy(), np.sqrt(np.diag(cov)), rtol=1e-6)


def test_compare_unscored_name_writes_nothing(tmp_path: Path) -> None:
    run = write_hand_run(tmp_path)
    with pytest.raises(RunDirError, match="'nope' was never scored"):
        run_compare(run, CompareConfig(baseline="base", candidate="nope", bootstrap=20))
    assert not run.results_dir.exists()


def test_compare_without_features_is_an_error(tmp_path: Path) -> None:
    run = write_hand_run(tmp_path)
    run.features_path.unlink()
    with pytest.raises(RunDirError, match="lossgap annotate"):
        run_compare(run, CompareConfig(baseline="base", candidate="cand", bootstrap=20))
    assert not run.results_dir.exists()


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"baseline": "base", "candidate": "base"}, "both 'base'"),
        ({"baseline": "base", "candidate": "cand", "bootstrap": 1}, "--bootstrap"),
        ({"baseline": "base", "candidate": "cand", "confidence": 1.0}, "--confidence"),
        ({"baseline": "base", "candidate": "cand", "regression_controls": ("age",)}, "age"),
        ({"baseline": "../x", "candidate": "cand"}, "--baseline"),
    ],
)
def test_compare_config_rejects_bad_options(options: dict, match: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError, match=match):
        CompareConfig(**options)


def test_compare_unknown_by_column_is_an_error(tmp_path: Path) -> None:
    run = write_hand_run(tmp_path)
    with pytest.raises(ConfigError, match="colour"):
        run_compare(run, CompareConfig(baseline="base", candidate="cand", bootstrap=20, by=("domain+colour",)))
    assert not run.results_dir.exists()


def test_compare_document_without_any_features_is_counted_not_resampled(tmp_path: Path) -> None:
    """A document both models scored but that has no features: its tokens are counted as missing and the
    bootstrap still resamples exactly the two joined documents (intervals stay within their means)."""
    from tests.analysis.hand_run import TOKENS

    orphan = pd.DataFrame({"doc_id": ["0"] * 3, "pos": [1, 2, 3], "loss": [5.0, 5.0, 5.0]})
    base = pd.concat([TOKENS[["doc_id", "pos"]].assign(loss=TOKENS["base"]), orphan])
    cand = pd.concat([TOKENS[["doc_id", "pos"]].assign(loss=TOKENS["cand"]), orphan])
    run = write_run(tmp_path, TOKENS.drop(columns=["base", "cand"]), {"base": base, "cand": cand})
    result = run_compare(run, CompareConfig(baseline="base", candidate="cand", bootstrap=50))
    assert result.n_docs == 2 and result.missing.no_features == 3
    assert 0.25 <= result.overall["ci_low"] <= result.overall["ci_high"] <= 0.3125
