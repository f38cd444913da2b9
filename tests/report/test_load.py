"""What the report reads: every results file of the synthetic run, and the header's overview of the run."""

import json
import math

from lossgap.report import run_report
from lossgap.report.load import read_overview, read_results

from .synthetic import BASELINE, CANDIDATE, DOCS, tokenize


def test_read_results_reads_every_file_of_compare_and_curves(synthetic_run):
    run, frame = synthetic_run
    results = read_results(run)
    s = results.summary
    scored = frame[frame["pos"] >= 1]
    assert (s.baseline, s.candidate, s.n_tokens, s.n_docs) == (BASELINE, CANDIDATE, len(scored), 4)
    assert math.isclose(s.mean_gap, (scored["loss_baseline"] - scored["loss_candidate"]).mean(), rel_tol=1e-6)
    n_close = sum(p.strip() == ")" for _, domain, text in DOCS for p, _, _ in tokenize(text, domain))
    assert n_close == 7  # b1: 2, b2: 1 (in "alert(1)"), p1: 4; h1's tags are whole tokens
    headline = {h.label: h for h in s.headline}
    assert headline["close_bracket"].n_tokens == n_close
    assert "gap ~ 0 + C(word_class)" in results.regression
    for table in (
        "categories",
        "contrasts",
        "sensitivity",
        "marginal_means",
        "repeat_curve",
        "curves",
        "curves_diff",
        "top_tokens",
        "top_segments",
        "top_documents",
    ):
        assert getattr(results, table) is not None, table


def test_optional_results_file_absent_is_none(synthetic_run):
    run, _ = synthetic_run
    run.result_file("curves.csv").unlink()
    run.result_file("contrasts.csv").unlink()
    results = read_results(run)
    assert results.curves is None and results.contrasts is None and results.categories is not None


def test_overview_counts_documents_and_scored_tokens_per_domain(synthetic_run):
    run, _ = synthetic_run
    overview = read_overview(run, read_results(run).summary)
    expected: dict[str, list[int]] = {}
    for _, domain, text in DOCS:  # independent count: the tokenizer's pieces, no BOS
        counts = expected.setdefault(domain, [0, 0])
        counts[0] += 1
        counts[1] += len(tokenize(text, domain))
    assert {d.domain: [d.n_docs, d.n_tokens] for d in overview.domains} == expected


def test_overview_lists_baseline_then_candidate_with_context(synthetic_run):
    run, _ = synthetic_run
    overview = read_overview(run, read_results(run).summary)
    roles = [(m.role, m.name) for m in overview.models]
    assert roles == [("baseline", BASELINE), ("candidate", CANDIDATE)]
    baseline = overview.models[0]
    assert (baseline.max_length, baseline.stride, baseline.dtype, baseline.revision) == (64, 32, "float32", None)
    assert baseline.context == "windows of 64 tokens, stride 32"
    assert overview.skipped == (("empty", 1),)
    assert overview.tokenizer_policy == "bos"


def test_overview_without_manifest_still_names_the_models(synthetic_run):
    run, _ = synthetic_run
    run.describe("run.json").unlink()
    overview = read_overview(run, read_results(run).summary)
    assert [m.name for m in overview.models] == [BASELINE, CANDIDATE]
    assert overview.models[0].max_length is None and overview.models[0].model == "—"


def test_summary_nulls_read_as_nan_and_render_as_dash(synthetic_run):
    # compare writes NaN as JSON null, e.g. the interval of a group with no tokens
    run, _ = synthetic_run
    path = run.result_file("summary.json")
    raw = json.loads(path.read_text())
    raw["ci_low"] = raw["ci_high"] = None
    raw["headline"].append({"label": "empty group", "mean_gap": None, "ci_low": None, "ci_high": None, "n_tokens": 0})
    path.write_text(json.dumps(raw))
    s = read_results(run).summary
    assert math.isnan(s.ci_low) and math.isnan(s.ci_high)
    assert math.isnan(s.headline[-1].mean_gap) and s.headline[-1].n_tokens == 0
    html = run_report(run.path).path.read_text()
    assert "95% CI [—, —]" in html and "empty group" in html
