"""Entropy, top-1 and divergence in `compare`: the truncated Jensen–Shannon divergence against the exact one on small
vocabularies, and a comparison of two tiny models scored with --top-k against their own full logits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lossgap.analysis import CompareConfig, run_compare
from lossgap.analysis.distribution import LN2, truncated_js
from lossgap.features import AnnotateConfig, run_annotate
from lossgap.report import run_report
from lossgap.rundir import RunDir
from lossgap.scoring import ScoreConfig, run_score
from tests.analysis.hand_run import write_hand_run
from tests.conftest import score
from tests.scoring.reference import load_float64
from tests.tiny_models import save_tiny_model


def _exact_js(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        kl = lambda a: np.where(a > 0, a * np.log(a / m), 0.0).sum(axis=1)  # noqa: E731
    return 0.5 * (kl(p) + kl(q))


def _top(p: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    ids = np.argsort(-p, axis=1, kind="stable")[:, :k]
    with np.errstate(divide="ignore"):  # a Dirichlet draw may hold exact zeros: log-probability -inf
        return ids, np.log(np.take_along_axis(p, ids, axis=1))


@pytest.mark.parametrize("concentration", [0.05, 0.5, 5.0])  # peaked, moderate, flat distributions
def test_truncated_divergence_bounds_the_exact_one(concentration: float) -> None:
    rng = np.random.default_rng(int(concentration * 100))
    vocab, n = 40, 400
    p = rng.dirichlet(np.full(vocab, concentration), n)
    q = np.where(rng.random((n, 1)) < 0.3, p, rng.dirichlet(np.full(vocab, concentration), n))  # some identical rows
    q = 0.5 * q + 0.5 * rng.dirichlet(np.full(vocab, concentration), n) * (rng.random((n, 1)) < 0.5) + 0.5 * q * (
        rng.random((n, 1)) >= 0.5)  # fmt: skip
    q /= q.sum(axis=1, keepdims=True)
    exact = _exact_js(p, q)
    for k in (1, 4, 16):
        js, high = truncated_js(*_top(p, k), *_top(q, k))
        tail = np.sqrt(LN2 * (1 - np.exp(_top(p, k)[1]).sum(1))) + np.sqrt(LN2 * (1 - np.exp(_top(q, k)[1]).sum(1)))
        low = np.maximum(np.sqrt(js) - tail, 0) ** 2
        assert (exact <= high + 1e-12).all() and (exact >= low - 1e-12).all()
        assert (js >= 0).all() and (high <= LN2 + 1e-12).all()
    js, high = truncated_js(*_top(p, vocab), *_top(q, vocab))  # the whole vocabulary: exact, no slack
    np.testing.assert_allclose(js, exact, atol=1e-9)
    np.testing.assert_allclose(high, exact, atol=1e-6)
    same, _ = truncated_js(*_top(p, 4), *_top(p, 4))
    assert np.abs(same).max() < 1e-12  # a model against itself


def test_disjoint_top_sets_count_as_disagreement() -> None:
    """Two confident models with different favourites: near the maximum ln 2, not 0 (no shared token to compare)."""
    ids_p, ids_q = np.array([[0, 1]]), np.array([[2, 3]])
    logp = np.log(np.array([[0.98, 0.01]]))
    js, high = truncated_js(ids_p, logp, ids_q, logp)
    assert js[0] > 0.65 and high[0] == pytest.approx(LN2)


@torch.no_grad()
def _full(model, ids: np.ndarray) -> torch.Tensor:
    return torch.log_softmax(model(input_ids=torch.tensor(ids)[None]).logits[0, :-1].double(), dim=-1)


def test_compare_reports_entropy_top1_and_divergence_of_two_tiny_models(tokenizer_dir, corpus_file, tmp_path) -> None:
    torch.manual_seed(0)
    a = save_tiny_model("llama", tmp_path / "a", tokenizer_dir)
    torch.manual_seed(1)
    b = save_tiny_model("llama", tmp_path / "b", tokenizer_dir)
    rd = RunDir(tmp_path / "run")
    score(rd, ScoreConfig(model=str(a), name="a", top_k=8), corpus_file)
    run_score(rd, ScoreConfig(model=str(b), name="b", top_k=8))
    run_annotate(rd, AnnotateConfig())
    result = run_compare(rd, CompareConfig(baseline="a", candidate="b", min_eff_docs=2))
    table = result.distribution
    overall = table[table["feature"] == "all"].iloc[0]
    tokens = rd.read("tokens").to_pandas()
    ref = {name: load_float64(path) for name, path in (("a", a), ("b", b))}
    entropy, top1, js = {"a": [], "b": []}, {"a": [], "b": []}, []
    for _, group in tokens.groupby("doc_id", sort=False):
        ids = group.sort_values("pos")["token_id"].to_numpy()
        logp = {name: _full(model, ids) for name, model in ref.items()}
        for name in ref:
            entropy[name].append(-(logp[name].exp() * logp[name]).sum(-1).numpy())
            top1[name].append((logp[name].argmax(-1).numpy() == ids[1:]).astype(float))
        js.append(_exact_js(logp["a"].exp().numpy(), logp["b"].exp().numpy()))
    cat = lambda xs: np.concatenate(xs)  # noqa: E731
    assert overall["n_tokens"] == len(cat(js))
    assert overall["entropy_baseline"] == pytest.approx(cat(entropy["a"]).mean(), rel=1e-4)
    assert overall["entropy_candidate"] == pytest.approx(cat(entropy["b"]).mean(), rel=1e-4)
    assert overall["entropy_gap"] == pytest.approx((cat(entropy["a"]) - cat(entropy["b"])).mean(), abs=1e-4)
    assert overall["top1_diff"] == pytest.approx(cat(top1["b"]).mean() - cat(top1["a"]).mean(), abs=1e-9)
    assert overall["divergence"] <= cat(js).mean() + 1e-4 <= overall["divergence_max"] + 2e-4
    assert overall["entropy_gap_ci_low"] <= overall["entropy_gap"] <= overall["entropy_gap_ci_high"]
    assert set(table["feature"]) >= {"all", "domain", "word_class"}
    divergent = result.top_tokens[result.top_tokens["direction"] == "most_divergent"]
    assert len(divergent) and divergent["divergence"].is_monotonic_decreasing
    assert rd.read_results("distribution.csv") is not None
    # the report: the figure, the table of disagreements, and each viewer token's rank, entropy and top predictions
    report = run_report(rd)
    assert "distribution" in report.figures
    page = (rd.report_dir / "index.html").read_text()
    assert "Tokens where the two models" in page and '"ent":{"b":' in page and '"top":{"b":[[[' in page


def test_older_scores_without_entropy_compare_as_before(tmp_path) -> None:
    """Scores written before entropy and rank existed (the loss alone): no distribution.csv, no divergence."""
    rd = write_hand_run(tmp_path)
    result = run_compare(rd, CompareConfig(baseline="base", candidate="cand", min_eff_docs=2))
    assert result.distribution is None or result.distribution.empty
    assert rd.read_results("distribution.csv") is None
    assert result.top_tokens["divergence"].isna().all() and "most_divergent" not in set(result.top_tokens["direction"])
