"""compare: exact numbers on a hand-made run, planted effects (and planted absences) on simulated runs, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lossgap.analysis import CompareConfig, run_compare
from lossgap.errors import ConfigError, RunDirError
from lossgap.rundir import ModelContext, ModelRecord, RunDir
from tests.analysis.analysis_runs import FEATURE_DEFAULTS, planted_tokens, scores_of, write_run
from tests.analysis.hand_run import MEAN_GAP, TOKENS, write_hand_run


@pytest.fixture(scope="module")
def hand(tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    run = write_hand_run(tmp_path_factory.mktemp("hand"))
    run_compare(run, CompareConfig(baseline="base", candidate="cand", bootstrap=50, segment_tokens=2))
    return run


def _categories(run: RunDir) -> pd.DataFrame:
    return run.read_results("categories.csv").set_index(["feature", "value"])


def test_compare_summary_hand_numbers(hand: RunDir) -> None:
    summary = hand.read_summary()
    assert summary.n_tokens == 6 and summary.n_docs == 2
    assert summary.missing == {"baseline_only": 1, "candidate_only": 1, "no_features": 1}
    assert summary.mean_gap == pytest.approx(MEAN_GAP, abs=1e-12)
    assert summary.mean_loss_baseline == pytest.approx(12.5 / 6) and summary.mean_loss_candidate == pytest.approx(
        10.75 / 6
    )
    assert summary.macro_mean_gap == pytest.approx((1.25 / 4 + 0.5 / 2) / 2)
    # two documents are two independent units: no interval, and the summary says why
    assert np.isnan(summary.ci_low) and np.isnan(summary.ci_high)
    assert any("only 2 documents" in note for note in summary.notes)
    headline = {h.label: h for h in summary.headline}
    assert headline["content"].mean_gap == pytest.approx(0.75) and headline["content"].n_tokens == 2
    assert headline["repeated"].mean_gap == pytest.approx((1.0 + 0.0 - 0.5) / 3)
    assert headline["nonrepeated"].mean_gap == pytest.approx((0.5 - 0.25 + 1.0) / 3)
    assert headline["open_bracket"].mean_gap == 1.0 and headline["close_bracket"].mean_gap == 0.0
    # difference-in-differences: the mask's gap minus the gap on the other four tokens (1.75 - 1.5 = 0.25 in all)
    assert headline["content"].did_estimate == pytest.approx(0.75 - 0.25 / 4)
    # a mask and its complement: equal and opposite
    assert headline["repeated"].did_estimate == pytest.approx(-headline["nonrepeated"].did_estimate)
    assert headline["repeated"].did_estimate == pytest.approx(0.5 / 3 - 1.25 / 3)
    assert "effective documents" in headline["content"].note


def test_compare_categories_hand_numbers(hand: RunDir) -> None:
    cats = _categories(hand)
    assert cats.loc[("word_class", "content"), ["n_tokens", "n_docs"]].tolist() == [2, 2]
    assert cats.loc[("word_class", "content"), "n_eff_docs"] == pytest.approx(2.0)  # one token in each document
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
    assert cats["ci_low"].isna().all() and (cats["note"] != "").all()  # too few documents for any interval


def test_compare_raw_contrasts_hand_numbers(hand: RunDir) -> None:
    contrasts = hand.read_results("contrasts.csv")
    raw = contrasts[(contrasts["method"] == "raw") & (contrasts["scale"] == "nats")].set_index(["family", "scope"])
    # content 0.5, 1.0; function -0.25, -0.5: 0.75 - (-0.375)
    assert raw.loc[("word_class", "prose"), "estimate"] == pytest.approx(0.75 + 0.375)
    # close 0.0 - open 1.0 (both in books, domain type prose)
    assert raw.loc[("brackets", "all"), "estimate"] == pytest.approx(-1.0)
    assert raw.loc[("brackets", "domain type: prose"), "estimate"] == pytest.approx(-1.0)
    # repeated (repeat_len >= 2: 1.0, 0.0, -0.5) minus not repeated (0.5, -0.25, 1.0)
    assert raw.loc[("repetition", "all"), "estimate"] == pytest.approx(0.5 / 3 - 1.25 / 3)
    assert set(contrasts["method"]) == {"raw", "adjusted"} and set(contrasts["scale"]) == {"nats", "relative"}
    # relative: each side's gap over the baseline's loss on its tokens. content: base 2 + 4, gap 1.5;
    # function: base 1 + 2, gap -0.75
    relative = contrasts[(contrasts["method"] == "raw") & (contrasts["scale"] == "relative")].set_index(
        ["family", "scope"]
    )
    assert relative.loc[("word_class", "prose"), "estimate"] == pytest.approx(1.5 / 6 - (-0.75 / 3))


def test_compare_repeat_curve_and_top_tables_hand_numbers(hand: RunDir) -> None:
    curve = hand.read_results("repeat_curve.csv")
    assert curve[["kind", "bin", "bin_order", "n_tokens"]].values.tolist() == [
        ["repeat_len", "1", 1, 1], ["repeat_len", "2", 2, 1], ["repeat_len", "5", 5, 1], ["repeat_len", "33+", 33, 1],
        ["repeat_dist", "1-15", 1, 3], ["repeat_dist", "64-255", 3, 1],
    ]  # fmt: skip
    assert curve["mean_gap"].tolist() == pytest.approx([-0.25, 1.0, 0.0, -0.5, 0.25, -0.5])
    tokens = hand.read_results("top_tokens.csv")
    wins = tokens[tokens["direction"] == "candidate_wins"]
    assert wins[["doc_id", "pos", "gap"]].values.tolist() == [["A", 3, 1.0], ["B", 1, 1.0], ["A", 1, 0.5]]
    loses = tokens[tokens["direction"] == "candidate_loses"]
    assert loses[["doc_id", "pos", "rank"]].values.tolist() == [["B", 2, 1], ["A", 2, 2]]  # A 4 (gap 0) is a tie
    segments = hand.read_results("top_segments.csv")
    first = segments.iloc[0]
    assert (first["doc_id"], first["pos_start"], first["pos_end"], first["sum_gap"], first["text"]) == (
        "A",
        3,
        5,
        1.0,
        "()",
    )
    docs = hand.read_results("top_documents.csv")
    assert docs[["direction", "doc_id", "mean_gap"]].values.tolist() == [
        ["candidate_wins", "A", 0.3125],
        ["candidate_wins", "B", 0.25],
    ]


def test_ties_are_neither_wins_nor_losses(tmp_path: Path) -> None:
    """Documents the two scorings agree on, up to float noise, rank in neither direction."""
    noise = TOKENS.assign(cand=TOKENS["base"] + np.array([1e-7, -1e-7, 2e-7, 0, -3e-7, 1e-7]))
    run = write_run(tmp_path, noise.drop(columns=["base", "cand"]),
                    {"base": noise[["doc_id", "pos"]].assign(loss=noise["base"]),
                     "cand": noise[["doc_id", "pos"]].assign(loss=noise["cand"])})  # fmt: skip
    result = run_compare(run, CompareConfig(baseline="base", candidate="cand"))
    assert result.top_tokens.empty and result.top_documents.empty and result.top_segments.empty


def test_compare_user_groupings_cross_columns_and_take_a_reference(tmp_path: Path) -> None:
    run = write_hand_run(tmp_path)
    result = run_compare(run, CompareConfig(baseline="base", candidate="cand", by=(("domain", "upos"), ("upos",)),
                                            references=(("upos", "VERB"),), default_groupings=False))  # fmt: skip
    got = result.categories[result.categories["feature"] == "domain+upos"].set_index("value")["mean_gap"].to_dict()
    assert got == {"books|NOUN": 0.5, "books|DET": -0.25, "python|VERB": 1.0, "python|ADP": -0.5}
    by_upos = result.contrasts[(result.contrasts["family"] == "by upos") & (result.contrasts["method"] == "raw")
                               & (result.contrasts["scale"] == "nats")]  # fmt: skip
    assert set(by_upos["reference"]) == {"VERB"}
    assert by_upos.set_index("level").loc["NOUN", "estimate"] == pytest.approx(0.5 - 1.0)
    # each crossed level is also its own columns, and a single grouping's level is its level_1
    crossed = result.categories[result.categories["feature"] == "domain+upos"]
    assert sorted(zip(crossed["level_1"], crossed["level_2"], strict=True)) == [
        ("books", "DET"), ("books", "NOUN"), ("python", "ADP"), ("python", "VERB")]  # fmt: skip
    single = result.categories[result.categories["feature"] == "upos"]
    assert (single["level_1"] == single["value"]).all() and (single["level_2"] == "").all()


def test_crossed_levels_are_columns_even_when_a_value_holds_the_separator(tmp_path: Path) -> None:
    """A domain named `web|forum` crossed with upos: the joined value cannot be split back, its columns can; a
    categories.csv written before the columns existed is read with them filled from its values."""
    tokens = TOKENS.assign(domain=TOKENS["domain"].replace({"books": "web|forum"}))
    run = write_run(tmp_path, tokens.drop(columns=["base", "cand"]),
                    {"base": tokens[["doc_id", "pos"]].assign(loss=tokens["base"]),
                     "cand": tokens[["doc_id", "pos"]].assign(loss=tokens["cand"])})  # fmt: skip
    run_compare(
        run, CompareConfig(baseline="base", candidate="cand", by=(("domain", "upos"),), default_groupings=False)
    )
    crossed = run.read_results("categories.csv").query("feature == 'domain+upos'")
    assert set(zip(crossed["level_1"], crossed["level_2"], strict=True)) == {
        ("web|forum", "NOUN"), ("web|forum", "DET"), ("python", "VERB"), ("python", "ADP")}  # fmt: skip
    path = run.result_file("categories.csv")
    older = pd.read_csv(path).drop(columns=["level_1", "level_2", "level_3"])
    older[~older["value"].str.startswith("web")].to_csv(path, index=False)
    again = run.read_results("categories.csv").query("feature == 'domain+upos'")
    assert set(zip(again["level_1"], again["level_2"], strict=True)) == {("python", "VERB"), ("python", "ADP")}


def test_compare_notes_models_that_saw_different_contexts(tmp_path: Path) -> None:
    run = write_hand_run(tmp_path)
    for name, max_length, policy in (("base", 64, "windows of 64 tokens, stride 32"), ("cand", 8192, "full document")):
        run.record_model(name, ModelRecord(model="m", revision=None, dtype="float32", device="cpu", architecture="x",
                                           context=ModelContext(max_length=max_length, stride=max_length // 2, policy=policy, prefix="bos"),
                                           requested={}, n_docs=2, n_tokens=6, mean_loss=1.0))  # fmt: skip
    summary = run_compare(run, CompareConfig(baseline="base", candidate="cand")).summary
    assert any("different contexts" in note and "windows of 64" in note for note in summary.notes)


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tokens = planted_tokens(np.random.default_rng(7), n_docs=300, tokens_per_doc=80)
    run = write_run(
        tmp_path_factory.mktemp("planted"),
        tokens,
        {"tf": scores_of(tokens, "loss_baseline"), "hy": scores_of(tokens, "loss_candidate")},
    )
    return run_compare(run, CompareConfig(baseline="tf", candidate="hy", seed=1))


def _contrast(result, family: str, method: str, scope: str = "prose") -> pd.Series:  # type: ignore[no-untyped-def]
    table = result.contrasts
    table = table[table["scale"] == "nats"]
    return table[(table["family"] == family) & (table["method"] == method) & (table["scope"] == scope)].iloc[0]


def test_raw_contrast_shows_the_rarity_confound_and_adjusted_recovers_the_planted_one(planted) -> None:  # type: ignore[no-untyped-def]
    raw, adjusted = _contrast(planted, "word_class", "raw"), _contrast(planted, "word_class", "adjusted")
    # raw: 0.02 planted + 0.03 x 2 units of rarity difference
    assert raw["estimate"] == pytest.approx(0.08, abs=0.015) and raw["ci_low"] > 0.04
    assert adjusted["ci_low"] <= 0.02 <= adjusted["ci_high"] and adjusted["ci_high"] - adjusted["ci_low"] < 0.03
    assert adjusted["p_adjusted"] >= adjusted["p"]
    sensitivity = planted.sensitivity
    rows = sensitivity[(sensitivity["family"] == "word_class") & (sensitivity["scope"] == "prose")]
    assert set(rows["controls"]) == {"none", "linear", "flexible"}


def test_repetition_contrast_recovers_the_planted_repeat_effect(planted) -> None:  # type: ignore[no-untyped-def]
    # a repeated bigram (repeat_len 2) adds 0.05 to the gap; repeat_len 0 and 1 add nothing
    adjusted = _contrast(planted, "repetition", "adjusted", scope="all")
    assert adjusted["ci_low"] <= 0.05 <= adjusted["ci_high"]


def test_a_step_effect_of_rarity_fools_a_line_but_not_the_bins(tmp_path: Path) -> None:
    """No category effect at all, but tokens rarer than log_freq 2 gain 0.15 and content words are rarer: the
    raw contrast and the one holding rarity fixed by a line both claim an effect (the line with the wrong sign,
    as the issue saw: content 0.018, function 0.036); quantile bins of rarity hold the step and find none."""
    rng = np.random.default_rng(11)
    tokens = planted_tokens(rng, n_docs=200, tokens_per_doc=60)
    gap = (0.15 * (tokens["log_freq"].to_numpy() < 2) + rng.normal(0, 0.02, 200)[np.repeat(np.arange(200), 60)]
           + rng.normal(0, 0.2, len(tokens)))  # fmt: skip
    tokens = tokens.assign(
        repeat_len=np.int32(0), repeat_dist=None, loss_baseline=(tokens["loss_candidate"] + gap).astype(np.float32)
    )
    run = write_run(
        tmp_path, tokens, {"tf": scores_of(tokens, "loss_baseline"), "hy": scores_of(tokens, "loss_candidate")}
    )
    result = run_compare(run, CompareConfig(baseline="tf", candidate="hy"))
    sens = result.sensitivity
    row = sens[(sens["family"] == "word_class") & (sens["scope"] == "prose")].set_index("controls")
    assert row.loc["none", "ci_low"] > 0  # the raw contrast: a false finding
    assert row.loc["linear", "ci_high"] < 0  # a line cannot hold a step fixed: a false finding the other way
    assert row.loc["flexible", "ci_low"] <= 0 <= row.loc["flexible", "ci_high"]  # the bins can
    adjusted = _contrast(result, "word_class", "adjusted")  # what contrasts.csv reports: the flexible fit
    assert adjusted["ci_low"] <= 0 <= adjusted["ci_high"]


def test_compare_unscored_name_writes_nothing(tmp_path: Path) -> None:
    run = write_hand_run(tmp_path)
    with pytest.raises(RunDirError, match="'nope' was never scored"):
        run_compare(run, CompareConfig(baseline="base", candidate="nope"))
    assert not run.results_dir.exists()


def test_compare_without_features_is_an_error(tmp_path: Path) -> None:
    run = write_hand_run(tmp_path)
    run.describe("features").unlink()
    with pytest.raises(RunDirError, match="lossgap annotate"):
        run_compare(run, CompareConfig(baseline="base", candidate="cand"))
    assert not run.results_dir.exists()


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"baseline": "base", "candidate": "base"}, "both 'base'"),
        ({"baseline": "base", "candidate": "cand", "bootstrap": 1}, "--bootstrap"),
        ({"baseline": "base", "candidate": "cand", "confidence": 1.0}, "--confidence"),
        ({"baseline": "base", "candidate": "cand", "controls": ("age",)}, "age"),
        ({"baseline": "base", "candidate": "cand", "interval": "jackknife"}, "--interval"),
        ({"baseline": "base", "candidate": "cand", "min_eff_docs": 1}, "--min-eff-docs"),
        ({"baseline": "../x", "candidate": "cand"}, "--baseline"),
    ],
)
def test_compare_config_rejects_bad_options(options: dict, match: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError, match=match):
        CompareConfig(**options)


def test_compare_unknown_by_column_or_reference_is_an_error(tmp_path: Path) -> None:
    run = write_hand_run(tmp_path)
    with pytest.raises(ConfigError, match="colour"):
        run_compare(run, CompareConfig(baseline="base", candidate="cand", by=(("domain", "colour"),)))
    with pytest.raises(ConfigError, match="--reference upos"):
        run_compare(run, CompareConfig(baseline="base", candidate="cand", references=(("upos", "NOUN"),)))
    assert not run.results_dir.exists()


def test_compare_document_without_any_features_is_counted_not_compared(tmp_path: Path) -> None:
    """A document both models scored but that has no features: its tokens are counted as missing."""
    orphan = pd.DataFrame({"doc_id": ["0"] * 3, "pos": [1, 2, 3], "loss": [5.0, 5.0, 5.0]})
    base = pd.concat([TOKENS[["doc_id", "pos"]].assign(loss=TOKENS["base"]), orphan])
    cand = pd.concat([TOKENS[["doc_id", "pos"]].assign(loss=TOKENS["cand"]), orphan])
    run = write_run(tmp_path, TOKENS.drop(columns=["base", "cand"]), {"base": base, "cand": cand})
    result = run_compare(run, CompareConfig(baseline="base", candidate="cand"))
    assert result.n_docs == 2 and result.missing.no_features == 3


def test_marginal_means_withhold_intervals_below_min_eff_docs(tmp_path: Path) -> None:
    """A level held by 3 of 60 documents gets no interval in marginal_means.csv (as in categories.csv), with its
    support and the reason; a level in every document keeps its interval."""
    rng = np.random.default_rng(3)
    rows = []
    for d in range(60):
        for pos in range(1, 41):
            upos = "INTJ" if d < 3 and pos % 4 == 0 else ("NOUN" if pos % 2 else "VERB")
            rows.append((f"d{d:02d}", pos, upos, "content" if upos != "INTJ" else "other", rng.normal(0, 1)))
    tokens = pd.DataFrame(rows, columns=["doc_id", "pos", "upos", "word_class", "gap"])
    tokens["pos"] = tokens["pos"].astype(np.int32)
    tokens["tag"] = tokens["upos"]
    keys = tokens[["doc_id", "pos"]]
    run = write_run(
        tmp_path, tokens.drop(columns="gap"), {"b": keys.assign(loss=3.0), "c": keys.assign(loss=3.0 - tokens["gap"])}
    )
    run_compare(run, CompareConfig(baseline="b", candidate="c"))
    means = run.read_results("marginal_means.csv").set_index(["factor", "level"])
    intj, noun = means.loc[("upos", "INTJ")], means.loc[("upos", "NOUN")]
    assert intj["n_docs"] == 3 and intj["n_eff_docs"] == pytest.approx(3.0)
    assert np.isnan(intj["ci_low"]) and np.isnan(intj["p"]) and "effective documents (< 10)" in intj["note"]
    assert noun["n_docs"] == 60 and noun["ci_low"] < noun["estimate"] < noun["ci_high"] and noun["note"] == ""


def test_compare_frame_takes_gaps_alone_and_refuses_a_frame_without_them() -> None:
    from lossgap.analysis import compare_frame

    frame = TOKENS.assign(gap=TOKENS["base"] - TOKENS["cand"], tag=TOKENS["upos"]).drop(columns=["base", "cand"])
    frame = frame.assign(**{c: v for c, v in FEATURE_DEFAULTS.items() if c not in frame})
    frame["domain_type"] = frame["domain"].map({"books": "prose", "python": "code"})
    frame["log_pos"] = np.log10(frame["pos"])
    result = compare_frame(frame, CompareConfig(baseline="b", candidate="c"))
    assert result.summary.mean_gap == pytest.approx(MEAN_GAP)
    assert np.isnan(result.summary.mean_loss_baseline) and np.isnan(result.summary.mean_loss_candidate)
    with pytest.raises(ConfigError, match="needs a gap column"):
        compare_frame(frame.drop(columns="gap"), CompareConfig(baseline="b", candidate="c"))


def test_adjusted_contrast_is_fitted_on_its_own_population(tmp_path: Path) -> None:
    """Planted (the referee's case): content words lead function words by 0.030 nats at equal rarity; rarity moves
    the gap one way in prose and the other way in code, where no token has a word class. Fitted on every token,
    the code tokens set the rarity controls and the adjusted content − function missed 0.030 (0.0205, interval
    excluding the truth); fitted on prose alone it covers it."""
    rng = np.random.default_rng(7)
    rows = []
    for d in range(60):
        code = d % 3 == 0
        for pos in range(1, 81):
            word_class = None if code else ("content" if rng.random() < 0.5 else "function")
            # content words are rarer: rarity and word class are confounded, as in text (whole values, so that the
            # rarity bins hold the rarity effect exactly)
            log_freq = float(rng.integers(0, 4) if word_class == "content" else rng.integers(2, 6))
            slope = -0.05 if code else 0.04
            gap = slope * log_freq + (0.030 if word_class == "content" else 0.0) + rng.normal(0, 0.002)
            rows.append((f"d{d:02d}", pos, "python" if code else "books", word_class, log_freq, gap))
    tokens = pd.DataFrame(rows, columns=["doc_id", "pos", "domain", "word_class", "log_freq", "gap"])
    tokens["pos"] = tokens["pos"].astype(np.int32)
    keys = tokens[["doc_id", "pos"]]
    run = write_run(
        tmp_path, tokens.drop(columns="gap"), {"b": keys.assign(loss=3.0), "c": keys.assign(loss=3.0 - tokens["gap"])}
    )
    run_compare(run, CompareConfig(baseline="b", candidate="c", controls=("log_freq",), control_bins=20))
    contrasts = run.read_results("contrasts.csv").query("scale == 'nats'").set_index(["family", "method"])
    adjusted, raw = contrasts.loc[("word_class", "adjusted")], contrasts.loc[("word_class", "raw")]
    assert adjusted["ci_low"] <= 0.030 <= adjusted["ci_high"], adjusted
    assert not raw["ci_low"] <= 0.030 <= raw["ci_high"]  # the raw difference carries the rarity confound
    regression = run.read_regression()
    # fitted on the 40 prose documents' 3,200 tokens; half of them (rarity 2 and 3) where both classes occur
    assert "3,200 tokens in 40 documents" in regression and "overlap: 50% of the tokens" in regression


def test_macro_means_come_with_intervals_over_documents(tmp_path: Path) -> None:
    """The document-weighted mean (each document's own mean gap, averaged) beside the token-weighted one, with a t
    interval over documents: equal to scipy's on the per-document means, overall and for a category."""
    from scipy import stats

    rng = np.random.default_rng(4)
    rows = []
    for d in range(25):
        for pos in range(1, int(rng.integers(10, 200))):
            rows.append(
                (f"d{d:02d}", pos, "content" if rng.random() < 0.4 else "function", rng.normal(0.1 + 0.01 * d, 1))
            )
    tokens = pd.DataFrame(rows, columns=["doc_id", "pos", "word_class", "gap"])
    tokens["pos"] = tokens["pos"].astype(np.int32)
    keys = tokens[["doc_id", "pos"]]
    run = write_run(
        tmp_path, tokens.drop(columns="gap"), {"b": keys.assign(loss=3.0), "c": keys.assign(loss=3.0 - tokens["gap"])}
    )
    run_compare(run, CompareConfig(baseline="b", candidate="c"))
    gaps = tokens.assign(gap=3.0 - (3.0 - tokens["gap"]).astype(np.float32).astype(np.float64))
    for frame, got in ((gaps, run.read_summary()),
                       (gaps[gaps["word_class"] == "content"], run.read_results("categories.csv").set_index(["feature", "value"]).loc[("word_class", "content")])):  # fmt: skip
        per_doc = frame.groupby("doc_id")["gap"].mean()
        low, high = stats.t.interval(0.95, len(per_doc) - 1, loc=per_doc.mean(), scale=stats.sem(per_doc))
        # a Summary and a pandas row both read by attribute
        assert got.macro_mean_gap == pytest.approx(per_doc.mean(), abs=1e-6)
        assert (got.macro_ci_low, got.macro_ci_high) == pytest.approx((low, high), abs=1e-6)


def _null_tokens(rng: np.random.Generator, n_docs: int = 40) -> pd.DataFrame:
    """Tokens with parts of speech, word classes and brackets, and a gap that depends on nothing (a global null)."""
    rows = []
    for d in range(n_docs):
        effect = 0.0
        for pos in range(1, 61):
            upos = rng.choice(["NOUN", "VERB", "ADJ", "DET", "ADP", "PRON", "ADV"])
            side = rng.choice(["none", "open", "close"], p=[0.8, 0.1, 0.1])
            rows.append((f"d{d:02d}", pos, "books", upos, "content" if upos in ("NOUN", "VERB", "ADJ", "ADV") else "function",
                         None if side == "none" else "round", side, effect + rng.normal(0, 1)))  # fmt: skip
    tokens = pd.DataFrame(
        rows, columns=["doc_id", "pos", "domain", "upos", "word_class", "bracket_kind", "bracket_side", "gap"]
    )
    tokens["pos"] = tokens["pos"].astype(np.int32)
    tokens["tag"] = tokens["upos"]
    return tokens


def test_report_wide_q_and_declared_primary_contrasts(tmp_path: Path) -> None:
    """q is Benjamini–Hochberg over every p-value the comparison writes (categories, contrasts, marginal means),
    p_primary Holm over the declared families' contrasts: both equal statsmodels' on the written p-values."""
    from statsmodels.stats.multitest import multipletests

    tokens = _null_tokens(np.random.default_rng(8))
    keys = tokens[["doc_id", "pos"]]
    run = write_run(
        tmp_path, tokens.drop(columns="gap"), {"b": keys.assign(loss=3.0), "c": keys.assign(loss=3.0 - tokens["gap"])}
    )
    run_compare(run, CompareConfig(baseline="b", candidate="c", primary=("word_class", "brackets")))
    tables = [run.read_results(f) for f in ("categories.csv", "contrasts.csv", "marginal_means.csv")]
    assert tables[1].query("scale == 'relative'")["q"].isna().all()  # re-expressions of the nats rows' tests
    tables[1] = tables[1].query("scale == 'nats'")
    p = np.concatenate([t["p"].to_numpy(float) for t in tables])
    q = np.concatenate([t["q"].to_numpy(float) for t in tables])
    ok = np.isfinite(p)
    assert ok.sum() == run.read_summary().n_tests > 50
    np.testing.assert_allclose(q[ok], multipletests(p[ok], method="fdr_bh")[1], rtol=1e-9)
    assert np.isnan(q[~ok]).all()
    contrasts = tables[1]
    for method in ("raw", "adjusted"):
        chosen = contrasts[contrasts["family"].isin(["word_class", "brackets"]) & (contrasts["method"] == method)
                           & (contrasts["scale"] == "nats")]  # fmt: skip
        np.testing.assert_allclose(chosen["p_primary"], multipletests(chosen["p"], method="holm")[1], rtol=1e-9)
    assert (
        contrasts[~contrasts["family"].isin(["word_class", "brackets"]) | (contrasts["scale"] != "nats")]["p_primary"]
        .isna()
        .all()
    )
    with pytest.raises(ConfigError, match="--primary colour: no such family"):
        run_compare(run, CompareConfig(baseline="b", candidate="c", primary=("colour",)))


def test_under_a_global_null_q_rarely_flags_anything_while_raw_p_often_does(tmp_path: Path) -> None:
    """20 corpora where the gap depends on nothing: some raw p < 0.05 in 8 of them (about 70 correlated tests each,
    where 1 in 20 would be nominal), some q < 0.05 in none (Benjamini–Hochberg controls the family-wise error under
    a global null)."""
    from lossgap.analysis import compare_frame

    rng = np.random.default_rng(9)
    any_p, any_q = 0, 0
    for _ in range(20):
        tokens = _null_tokens(rng, n_docs=30)
        frame = tokens.assign(**{c: v for c, v in FEATURE_DEFAULTS.items() if c not in tokens})
        frame["domain_type"], frame["log_pos"] = "prose", np.log10(frame["pos"])
        result = compare_frame(frame, CompareConfig(baseline="b", candidate="c", control_bins=4))
        p = np.concatenate([result.categories["p"], result.contrasts["p"], result.marginal_means["p"]])
        q = np.concatenate([result.categories["q"], result.contrasts["q"], result.marginal_means["q"]])
        any_p += bool(np.nanmin(p) < 0.05)
        any_q += bool(np.nanmin(q) < 0.05)
    assert any_p >= 6 and any_q <= 2, (any_p, any_q)


def test_gaps_proportional_to_the_loss_differ_in_nats_and_not_relative_and_shares_cover_the_truth(
    tmp_path: Path,
) -> None:
    """Planted: the candidate is 5% better on every token, and content words cost the baseline twice what function
    words do (4 vs 2 nats). In nats content − function is +0.10 and its interval excludes 0; relative to the
    baseline's loss it is 0 and its interval covers 0. Content words are half the tokens and hold two thirds of
    the total gap: the share's interval covers 2/3."""
    rng = np.random.default_rng(21)
    rows = []
    for d in range(60):
        scale = rng.uniform(0.8, 1.2)  # documents differ in difficulty
        for pos in range(1, 101):
            content = rng.random() < 0.5
            base = scale * (4.0 if content else 2.0) + rng.normal(0, 0.5)
            rows.append(
                (f"d{d:02d}", pos, "content" if content else "function", base, base * (1 - 0.05) + rng.normal(0, 0.3))
            )
    tokens = pd.DataFrame(rows, columns=["doc_id", "pos", "word_class", "base", "cand"])
    tokens["pos"] = tokens["pos"].astype(np.int32)
    keys = tokens[["doc_id", "pos"]]
    run = write_run(
        tmp_path,
        tokens.drop(columns=["base", "cand"]),
        {"b": keys.assign(loss=tokens["base"]), "c": keys.assign(loss=tokens["cand"])},
    )
    run_compare(run, CompareConfig(baseline="b", candidate="c"))
    contrasts = run.read_results("contrasts.csv").query("family == 'word_class' and method == 'raw'").set_index("scale")
    nats, relative = contrasts.loc["nats"], contrasts.loc["relative"]
    assert nats["ci_low"] > 0.05
    assert relative["ci_low"] < 0 < relative["ci_high"] and abs(relative["estimate"]) < 0.01
    cats = run.read_results("categories.csv").set_index(["feature", "value"])
    content = cats.loc[("word_class", "content")]
    assert (
        content["mean_rel_gap"] == pytest.approx(0.05, abs=0.005)
        and content["rel_ci_low"] < 0.05 < content["rel_ci_high"]
    )
    assert (
        content["share_ci_low"] < 2 / 3 < content["share_ci_high"]
        and content["share_ci_high"] - content["share_ci_low"] < 0.1
    )
    assert content["share_of_tokens"] == pytest.approx(0.5, abs=0.03)
    shares = cats.loc["word_class"]["share_of_gap"]
    assert shares.sum() == pytest.approx(1.0)  # the classes cover every token here
