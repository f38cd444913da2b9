"""Seed replicates (analysis.replicates): the mean over seed pairs, intervals over documents and seeds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from lossgap.analysis import run_compare
from lossgap.analysis.config import CompareConfig
from lossgap.analysis.replicates import SeedSpread
from lossgap.errors import ConfigError
from tests.analysis.analysis_runs import planted_tokens, write_run, write_scores

DELTA = (0.0, 0.05, -0.02)  # per-seed offsets of the baseline side's losses (every token)
EPS = (0.01, -0.03, 0.04)  # and of the candidate side's


def _seeded_run(tmp_path, delta=DELTA, eps=EPS):  # type: ignore[no-untyped-def]
    tokens = planted_tokens(np.random.default_rng(0), n_docs=40, tokens_per_doc=100)
    keys = tokens[["doc_id", "pos"]]
    scores = {
        f"T-s{i}": keys.assign(loss=(tokens.loss_baseline.astype(np.float64) + d).astype(np.float32))
        for i, d in enumerate(delta)
    }
    scores |= {
        f"H-s{j}": keys.assign(loss=(tokens.loss_candidate.astype(np.float64) + e).astype(np.float32))
        for j, e in enumerate(eps)
    }
    run = write_run(tmp_path / "run", tokens.drop(columns=["loss_baseline", "loss_candidate"]), scores)
    return run, scores


def _config(n_b: int = 3, n_c: int = 3, **kw) -> CompareConfig:  # type: ignore[no-untyped-def]
    return CompareConfig(baseline="T-s0", candidate="H-s0", baseline_replicates=tuple(f"T-s{i}" for i in range(1, n_b)),
                         candidate_replicates=tuple(f"H-s{j}" for j in range(1, n_c)), **kw)  # fmt: skip


def test_the_estimate_is_the_mean_over_seed_pairs_and_seed_sd_the_planted_spread(tmp_path):
    run, scores = _seeded_run(tmp_path)
    result = run_compare(run, _config())
    # float64 recomputation: the mean over all 9 pairs of each pair's mean gap
    pairs = [np.mean(scores[f"T-s{i}"].loss.astype(np.float64) - scores[f"H-s{j}"].loss.astype(np.float64))
             for i in range(3) for j in range(3)]  # fmt: skip
    assert result.summary.mean_gap == pytest.approx(np.mean(pairs), abs=1e-9)
    planted = np.sqrt(np.var(DELTA, ddof=1) + np.var(EPS, ddof=1))  # a per-seed offset moves every mean by it
    assert result.summary.seed_sd == pytest.approx(planted, rel=1e-5)
    assert result.summary.n_replicates == 9
    assert result.summary.baselines == ("T-s0", "T-s1", "T-s2")
    cats = result.categories
    assert np.allclose(cats["seed_sd"], planted, rtol=1e-4) and (cats["n_replicates"] == 9).all()
    # a contrast within one comparison: the offsets cancel, no seed spread, the documents' interval unchanged
    raw = result.contrasts.query("method == 'raw' and scale == 'nats'")
    assert np.allclose(raw["seed_sd"].dropna(), 0, atol=1e-6)


def test_the_interval_adds_the_seed_variance_by_hand(tmp_path):
    run, _ = _seeded_run(tmp_path)
    one_pair_docs = run_compare(run, CompareConfig(baseline="T-s0", candidate="H-s0", name="docs-only"))
    result = run_compare(run, _config())
    # the documents' half-width is the same for every pair (offsets move no residual): rebuild the interval by hand
    z = stats.norm.ppf(0.975)
    se_doc = (one_pair_docs.summary.ci_high - one_pair_docs.summary.ci_low) / (2 * z)
    vb, vc = np.var(DELTA, ddof=1) / 3, np.var(EPS, ddof=1) / 3
    df = (se_doc**2 + vb + vc) ** 2 / (vb**2 / 2 + vc**2 / 2)
    half = stats.t.ppf(0.975, df) * np.sqrt(se_doc**2 + vb + vc)
    assert result.summary.ci_low == pytest.approx(result.summary.mean_gap - half, abs=2e-6)
    assert result.summary.ci_high == pytest.approx(result.summary.mean_gap + half, abs=2e-6)
    assert "seeds dominate the interval" in result.summary.headline[0].note


def test_identical_seeds_change_nothing_but_the_names(tmp_path):
    run, _ = _seeded_run(tmp_path, delta=(0.0, 0.0), eps=(0.0, 0.0))
    one = run_compare(run, CompareConfig(baseline="T-s0", candidate="H-s0"))
    two = run_compare(run, _config(2, 2))
    for column in ("mean_gap", "ci_low", "ci_high"):
        assert np.allclose(one.categories[column], two.categories[column], atol=1e-7, equal_nan=True)
    assert np.allclose(two.categories["seed_sd"], 0, atol=1e-7)
    assert (two.summary.ci_low, two.summary.ci_high) == pytest.approx(
        (one.summary.ci_low, one.summary.ci_high), abs=1e-7
    )


def test_entropy_and_top1_of_seeds_are_their_mean_with_intervals_over_seeds(tmp_path):
    """distribution.csv with seed replicates: each side's entropy and top-1 accuracy are the mean over its seeds,
    and the entropy gap's interval adds the planted seed-to-seed spread to the documents' (rebuilt by hand)."""
    rng = np.random.default_rng(1)
    run, scores = _seeded_run(tmp_path)
    n = len(scores["T-s0"])
    entropy = rng.gamma(4.0, 0.5, n)  # one token's uncertainty, shared by the seeds of a side, offset per seed
    shift_b, shift_c = (0.0, 0.3, -0.1), (0.05, -0.2, 0.25)
    hit_b, hit_c = (0.3, 0.4, 0.5), (0.45, 0.45, 0.6)  # each seed's chance of a right first choice
    for side, shifts, hits in (("T", shift_b, hit_b), ("H", shift_c, hit_c)):
        for i, (shift, hit) in enumerate(zip(shifts, hits, strict=True)):
            rank = np.where(rng.random(n) < hit, 1, rng.integers(2, 50, n))
            scores[f"{side}-s{i}"] = scores[f"{side}-s{i}"].assign(
                entropy=(entropy + shift).astype(np.float32), rank=rank
            )
            write_scores(run, f"{side}-s{i}", scores[f"{side}-s{i}"])
    one_pair = run_compare(run, CompareConfig(baseline="T-s0", candidate="H-s0", name="docs-only")).distribution
    got = run_compare(run, _config()).distribution
    row, one = got.set_index("feature").loc["all"], one_pair.set_index("feature").loc["all"]
    # float64 recomputation of the seeds' means
    mean = lambda side, col: np.mean([scores[f"{side}-s{i}"][col].astype(np.float64) for i in range(3)])  # noqa: E731
    top1 = lambda side: np.mean([(scores[f"{side}-s{i}"]["rank"] == 1).mean() for i in range(3)])  # noqa: E731
    assert row.entropy_baseline == pytest.approx(mean("T", "entropy"), abs=1e-6)
    assert row.entropy_gap == pytest.approx(mean("T", "entropy") - mean("H", "entropy"), abs=1e-6)
    assert row.top1_diff == pytest.approx(top1("H") - top1("T"), abs=1e-9)
    assert row.seed_sd == pytest.approx(np.sqrt(np.var(shift_b, ddof=1) + np.var(shift_c, ddof=1)), rel=1e-4)
    assert row.n_replicates == 9 and np.isnan(row.divergence)
    # the interval by hand: the documents' variance (one pair's: the shifts move no residual) plus each side's seeds'
    z = stats.norm.ppf(0.975)
    se_doc = (one.entropy_gap_ci_high - one.entropy_gap_ci_low) / (2 * z)
    vb, vc = np.var(shift_b, ddof=1) / 3, np.var(shift_c, ddof=1) / 3
    df = (se_doc**2 + vb + vc) ** 2 / (vb**2 / 2 + vc**2 / 2)
    half = stats.t.ppf(0.975, df) * np.sqrt(se_doc**2 + vb + vc)
    assert (row.entropy_gap_ci_low, row.entropy_gap_ci_high) == pytest.approx(
        (row.entropy_gap - half, row.entropy_gap + half), abs=1e-5
    )
    # the top-1 interval covers seeds too: wider than one pair's, which sees documents only
    assert row.top1_diff_ci_high - row.top1_diff_ci_low > one.top1_diff_ci_high - one.top1_diff_ci_low
    assert (run.read_results("distribution.csv", result=_config().result_name)["n_replicates"] == 9).all()


def test_one_seed_on_a_side_is_said(tmp_path):
    run, _ = _seeded_run(tmp_path)
    result = run_compare(run, _config(3, 1))
    assert result.summary.n_replicates == 3
    assert result.summary.seed_sd == pytest.approx(np.std(DELTA, ddof=1), rel=1e-5)
    assert any("one candidate seed" in note for note in result.summary.notes)


def test_sides_that_share_a_name_or_repeat_one_are_refused():
    with pytest.raises(ConfigError, match="both 'T-s1'"):
        CompareConfig(baseline="T-s0", candidate="H-s0", baseline_replicates=("T-s1",), candidate_replicates=("T-s1",))
    with pytest.raises(ConfigError, match="twice"):
        CompareConfig(baseline="T-s0", candidate="H-s0", baseline_replicates=("T-s0",))


@pytest.mark.parametrize("effect", [0.0, 0.05])
@pytest.mark.parametrize("n_seeds", [2, 3])
def test_seed_intervals_cover_planted_effects_and_nulls(effect, n_seeds):
    """Simulation with a planted truth: documents (40, doc sd 0.05) and seeds (sd 0.03 a side) both vary; the
    combined interval of the mean covers the truth at about the nominal rate, where the documents' interval
    alone does not. Means of documents, as `estimate` gives them for one level with equal tokens per document."""
    rng = np.random.default_rng(n_seeds)
    n_docs, reps, hits, doc_only = 40, 400, 0, 0
    for _ in range(reps):
        doc_effect = rng.normal(0, 0.05, n_docs)
        per_b = [doc_effect + rng.normal(0, 0.03) + rng.normal(0, 0.01, n_docs) for _ in range(n_seeds)]
        per_c = [rng.normal(0, 0.03) + rng.normal(0, 0.01, n_docs) - effect for _ in range(n_seeds)]
        gap = np.mean(per_b, axis=0) - np.mean(per_c, axis=0)
        est = gap.mean()
        half = stats.t.ppf(0.975, n_docs - 1) * gap.std(ddof=1) / np.sqrt(n_docs)
        b_est = [np.mean(b - np.mean(per_c, axis=0)) for b in per_b]
        c_est = [np.mean(np.mean(per_b, axis=0) - c) for c in per_c]
        s = SeedSpread([est], [est - half], [est + half], np.array(b_est)[:, None], np.array(c_est)[:, None], 0.95)
        hits += s.ci_low[0] <= effect <= s.ci_high[0]
        doc_only += est - half <= effect <= est + half
    assert 0.92 <= hits / reps <= 0.995, hits / reps
    assert doc_only / reps < 0.8  # the documents' interval alone ignores the seeds and under-covers


def test_cli_takes_each_side_repeated_as_its_seeds(tmp_path):
    from typer.testing import CliRunner

    from lossgap.cli import app

    run, _ = _seeded_run(tmp_path)
    args = ["compare", "--run", str(run.path)] + [a for i in range(3) for a in ("--baseline", f"T-s{i}")]
    result = CliRunner().invoke(app, args + [a for j in range(2) for a in ("--candidate", f"H-s{j}")])
    assert result.exit_code == 0, result.output
    assert "3 baseline and 2 candidate seeds" in result.output
    record = run.result("compare", "T-s0+T-s1+T-s2-vs-H-s0+H-s1")
    assert record.baselines == ("T-s0", "T-s1", "T-s2") and record.candidates == ("H-s0", "H-s1")
    summary = run.read_summary("T-s0+T-s1+T-s2-vs-H-s0+H-s1")
    assert summary.n_replicates == 6 and summary.candidates == ("H-s0", "H-s1")
    assert {"seed_sd", "n_replicates"} <= set(run.read_results("categories.csv", "T-s0+T-s1+T-s2-vs-H-s0+H-s1").columns)


def _seeded_checkpoints(tmp_path):  # type: ignore[no-untyped-def]
    """Two series of three seeds each at steps 100 and 200 (seed offsets DELTA and EPS), one seed also at 300."""
    tokens = planted_tokens(np.random.default_rng(1), n_docs=40, tokens_per_doc=60)
    keys = tokens[["doc_id", "pos"]]
    base = tokens.loss_baseline.astype(np.float64)
    scores = {}
    for step in (100, 200):
        for i, d in enumerate(DELTA):
            scores[f"tf-s{i}@{step}"] = keys.assign(loss=(base + d - step / 1000).astype(np.float32))
        for j, e in enumerate(EPS):
            scores[f"hy-s{j}@{step}"] = keys.assign(loss=(base + e - step / 500).astype(np.float32))
    scores["tf-s2@300"] = keys.assign(loss=base.astype(np.float32))  # a step only one seed has: left out, said
    return write_run(tmp_path / "run", tokens.drop(columns=["loss_baseline", "loss_candidate"]), scores), scores


def test_curves_series_of_seeds_are_their_mean_with_the_planted_seed_spread(tmp_path):
    from lossgap.analysis import run_curves
    from lossgap.analysis.config import CurvesConfig, Series

    run, scores = _seeded_checkpoints(tmp_path)
    config = CurvesConfig(series=(Series(label="tf-s0", seeds=("tf-s1", "tf-s2")), Series(label="hy-s0", seeds=("hy-s1", "hy-s2"))),
                          masks=("all", "content"))  # fmt: skip
    result = run_curves(run, config)
    curves = result.curves.set_index(["series", "step", "mask"])
    expected = np.mean([scores[f"tf-s{i}@200"].loss.astype(np.float64).mean() for i in range(3)])
    assert curves.loc[("tf-s0", 200, "all"), "mean_loss"] == pytest.approx(expected, abs=1e-6)
    assert curves.loc[("tf-s0", 200, "all"), "seed_sd"] == pytest.approx(np.std(DELTA, ddof=1), rel=1e-4)
    assert set(result.curves["step"]) == {100, 200} and any("steps 300" in n for n in result.notes)
    diff = result.differences.set_index(["step", "mask"])
    row = diff.loc[(200, "all")]
    # reference (tf) minus hy: the seeds' means, −0.2 − (−0.4) from the steps plus the offsets' means
    assert row["estimate"] == pytest.approx(0.2 + np.mean(DELTA) - np.mean(EPS), abs=1e-5)
    assert row["seed_sd"] == pytest.approx(np.sqrt(np.var(DELTA, ddof=1) + np.var(EPS, ddof=1)), rel=1e-4)
    assert row["n_replicates"] == 9 and "seeds dominate" in row["note"]
    vb, vc = np.var(DELTA, ddof=1) / 3, np.var(EPS, ddof=1) / 3  # the documents add nothing: every token moves alike
    half = stats.t.ppf(0.975, (vb + vc) ** 2 / (vb**2 / 2 + vc**2 / 2)) * np.sqrt(vb + vc)
    assert row["ci_high"] - row["estimate"] == pytest.approx(half, rel=1e-3)
    # the difference-in-differences: constant offsets cancel between the mask and the rest (no seed spread)
    assert abs(diff.loc[(200, "content"), "did_estimate"]) < 1e-5


def test_pipeline_file_gives_seeds_as_lists():
    import tomllib

    from lossgap.pipeline import _compare, _curves

    data = tomllib.loads("""
        [compare]
        baseline = ["T-s0", "T-s1"]
        candidate = "H-s0"
        [[curves.series]]
        label = "hy-s0"
        seeds = ["hy-s1", "hy-s2"]
    """)
    compare = _compare(data["compare"])
    assert compare.baselines == ("T-s0", "T-s1") and compare.candidates == ("H-s0",)
    assert _curves(data["curves"]).series[0].members == ("hy-s0", "hy-s1", "hy-s2")
