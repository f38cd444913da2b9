"""`discover`: the search statistic against a brute-force sandwich, a planted two-feature slice found and covered on
the held-out half, held-out intervals covering zero at about the nominal rate under a global null (easy and hard
regimes), seeds, and the command writing its named result."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lossgap.analysis.config import DiscoverConfig
from lossgap.analysis.discover import _search_stats, discover_frame
from lossgap.cli import app
from lossgap.errors import ConfigError
from tests.analysis.analysis_runs import scores_of, write_run

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from discover_coverage import FEATURES as ABC  # noqa: E402  (A, B, C, X: not among the default feature names)
from discover_coverage import simulate  # noqa: E402


def _sandwich_t(gap: np.ndarray, inside: np.ndarray, doc: np.ndarray) -> tuple[float, float]:
    """OLS of gap on [1, inside] in float64, cluster-robust (CR1: G/(G-1)) by document, written out in full."""
    x = np.column_stack([np.ones_like(gap), inside.astype(np.float64)])
    bread = np.linalg.inv(x.T @ x)
    beta = bread @ x.T @ gap
    resid = gap - x @ beta
    meat = np.zeros((2, 2))
    groups = np.unique(doc)
    for d in groups:
        score = x[doc == d].T @ resid[doc == d]
        meat += np.outer(score, score)
    cov = bread @ meat @ bread * len(groups) / (len(groups) - 1)
    return float(beta[1]), float(beta[1] / np.sqrt(cov[1, 1]))


def test_search_statistic_is_the_clustered_least_squares_t() -> None:
    rng = np.random.default_rng(5)
    n_docs, n = 37, 3000
    doc = rng.integers(0, n_docs, n)
    cell = rng.integers(0, 4, n)  # four disjoint slices; some documents lack some of them
    cell[doc < 5] = np.where(cell[doc < 5] == 3, 2, cell[doc < 5])
    gap = rng.normal(0, 1, n) + 0.3 * (cell == 1) + rng.normal(0, 0.5, n_docs)[doc]
    rows = (pd.DataFrame({"cell": cell, "doc": doc, "gap": gap}).groupby(["cell", "doc"])
            .agg(n=("gap", "size"), s=("gap", "sum")).reset_index())  # fmt: skip
    doc_n = np.bincount(doc, minlength=n_docs).astype(float)
    doc_s = np.bincount(doc, weights=gap, minlength=n_docs)
    stats = _search_stats(rows, doc_n, doc_s)
    for k in range(4):
        diff, t = _sandwich_t(gap, cell == k, doc)
        assert stats.loc[k, "diff"] == pytest.approx(diff, abs=1e-12)
        assert stats.loc[k, "t"] == pytest.approx(t, rel=1e-9)
        assert stats.loc[k, "n_tokens"] == (cell == k).sum()


def test_planted_two_feature_slice_is_found_and_its_held_out_interval_covers_the_truth() -> None:
    for seed, (n_docs, doc_sd) in enumerate([(300, 0.2), (60, 0.5)]):  # an easy regime and a hard one
        frame = simulate(np.random.default_rng(seed), n_docs, 150, doc_sd, effect=0.4)
        got = discover_frame(frame, DiscoverConfig(baseline="a", candidate="b", features=ABC, top_k=5, split_seed=seed))
        top = got.slices.iloc[0]
        assert top["conditions"] == "A = b AND B = y", got.slices["conditions"].tolist()
        assert top["diff_ci_low"] <= 0.4 <= top["diff_ci_high"]  # the held-out interval covers the planted effect
        assert top["diff_p_holm"] < 0.01
        # the held-out half is the other documents: its figures are not the search's
        assert top["n_tokens"] != top["search_n_tokens"]
        assert got.summary.n_docs_search + got.summary.n_docs_held == n_docs
        ex = got.examples[got.examples["rank"] == 1]
        assert len(ex) == 3 and (ex["gap"].diff().dropna() <= 0).all()  # largest gaps first (the slice's direction)


def test_held_out_intervals_cover_zero_under_a_global_null() -> None:
    """Under no effect anywhere, the selected slices' search statistics are far from zero (the winner's curse), but
    their held-out intervals cover zero at about the nominal 95% (the regimes of docs/analysis.md's table)."""
    for n_docs, doc_sd, replicates in [(200, 0.3, 30), (40, 0.6, 30)]:
        covered, total, searched = 0, 0, []
        for r in range(replicates):
            frame = simulate(np.random.default_rng(1000 + r), n_docs, 60, doc_sd, effect=0.0)
            got = discover_frame(frame, DiscoverConfig(baseline="a", candidate="b", features=ABC, top_k=5,
                                                       min_tokens=100, split_seed=r))  # fmt: skip
            s = got.slices.dropna(subset=["diff_ci_low"])
            covered += int(((s["diff_ci_low"] <= 0) & (s["diff_ci_high"] >= 0)).sum())
            total += len(s)
            searched += list(np.abs(s["search_t"]))
        assert total >= 0.9 * 5 * replicates
        coverage = covered / total
        assert 0.89 <= coverage <= 0.995, (n_docs, coverage)
        assert np.median(searched) > 1.5  # selected for their search statistic: in-sample they look like effects


def test_seeds_widen_the_held_out_interval() -> None:
    frame = simulate(np.random.default_rng(3), 120, 100, 0.2, effect=0.4)
    config = DiscoverConfig(baseline="a", candidate="b", features=ABC, top_k=3)
    one = discover_frame(frame, config).slices
    rng = np.random.default_rng(4)
    seeds = frame.assign(_seed_b0=frame["loss_baseline"] + rng.normal(0, 0.05, len(frame)) + 0.03,
                         _seed_b1=frame["loss_baseline"] + rng.normal(0, 0.05, len(frame)) - 0.03)  # fmt: skip
    seeds["loss_baseline"] = (seeds["_seed_b0"] + seeds["_seed_b1"]) / 2
    seeds["_seed_c0"] = seeds["loss_candidate"]
    seeds = seeds.drop(columns="gap")
    two = discover_frame(
        seeds, DiscoverConfig(baseline="a", candidate="b", baseline_replicates=("a2",), features=ABC, top_k=3)
    ).slices
    assert two["conditions"].iloc[0] == one["conditions"].iloc[0]
    assert (two["n_replicates"] == 2).all()
    width = lambda t: (t["ci_high"] - t["ci_low"]).iloc[0]  # noqa: E731
    assert width(two) > width(one)


def test_bad_options_are_errors() -> None:
    frame = simulate(np.random.default_rng(0), 20, 50, 0.1, effect=0.0)
    with pytest.raises(ConfigError, match="not a column"):
        discover_frame(frame, DiscoverConfig(baseline="a", candidate="b", features=("nope",)))
    with pytest.raises(ConfigError, match="given twice"):
        DiscoverConfig(baseline="a", candidate="b", features=("A", "A"))
    with pytest.raises(ConfigError, match="max-conditions"):
        DiscoverConfig(baseline="a", candidate="b", max_conditions=4)
    with pytest.raises(ConfigError, match="at least 4 documents"):
        discover_frame(frame[frame["doc_idx"] < 3], DiscoverConfig(baseline="a", candidate="b"))


def test_cli_discover_writes_a_named_result_that_the_report_shows(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    frame = simulate(rng, 80, 120, 0.2, effect=0.5)
    tokens = pd.DataFrame({"doc_id": [f"d{d:03d}" for d in frame["doc_idx"]],
                           "pos": frame.groupby("doc_idx").cumcount().to_numpy(np.int32) + 1,
                           "domain": np.where(frame["A"] == "a", "books", "python"), "upos": frame["B"],
                           "token_text": frame["C"], "loss_baseline": frame["loss_baseline"].astype(np.float32),
                           "loss_candidate": np.float32(3.0)})  # fmt: skip
    tokens["upos"] = np.where((frame["A"] == "b") & (frame["B"] == "y"), "NOUN", tokens["upos"])
    run = write_run(tmp_path / "run", tokens, {"base": scores_of(tokens, "loss_baseline"),
                                                "cand": scores_of(tokens, "loss_candidate")})  # fmt: skip
    out = CliRunner().invoke(app, ["discover", "--run", str(run.path), "--baseline", "base", "--candidate", "cand",
                                   "--feature", "upos", "--feature", "token_text", "--feature", "pos"])  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "sample splitting" in out.output and "upos = NOUN" in out.output
    record = run.result("discover")
    assert record.name == "discover-base-vs-cand" and record.label == "slices found: cand vs base"
    slices = run.read_results("slices.csv", record.name)
    assert slices["conditions"].iloc[0] == "upos = NOUN"
    assert run.read_discover_summary().features == ("upos", "token_text", "pos")
    again = CliRunner().invoke(app, ["discover", "--run", str(run.path), "--baseline", "base", "--candidate", "cand",
                                     "--feature", "upos", "--feature", "upos"])  # fmt: skip
    assert again.exit_code == 2 and "given twice" in again.output
