import json

import pytest

from lossgap.errors import RunDirError, SchemaError
from lossgap.report import run_report
from lossgap.report.load import read_overview, read_results, read_results_csv
from lossgap.rundir import RunDir

from .synthetic import BASELINE, CANDIDATE, DOCS, tokenize


def test_read_results_reads_every_contract_file(synthetic_run):
    run, frame = synthetic_run
    results = read_results(run)
    s = results.summary
    scored = frame[frame["pos"] >= 1]
    assert (s.baseline, s.candidate, s.n_tokens, s.n_docs) == (BASELINE, CANDIDATE, len(scored), 4)
    assert s.mean_gap == pytest.approx((scored["loss_baseline"] - scored["loss_candidate"]).mean())
    n_close = sum(p.strip() == ")" for _, domain, text in DOCS for p, _, _ in tokenize(text, domain))
    assert n_close == 7  # b1: 2, b2: 1 (in "alert(1)"), p1: 4; h1's tags are whole tokens
    assert s.headline[0].label == "closing brackets" and s.headline[0].n_tokens == n_close
    assert results.regression_formula == "gap ~ C(bracket_side) + repeated + C(word_class) + log_freq"
    for table in ("categories", "regression", "repeat_curve", "curves", "top_tokens", "top_segments", "top_documents"):
        assert getattr(results, table) is not None, table


def test_read_results_keeps_category_values_as_text(synthetic_run):
    run, _ = synthetic_run
    # values such as "NA", "None" or "1" must stay strings, not become NaN or ints
    path = run.results_path("categories.csv")
    path.write_text(path.read_text() + "upos,NA,1,1,3.0,2.0,1.0,0.5,1.5,1.0\nrepeat_len_bin,1,2,1,3.0,2.0,1.0,0.5,1.5,1.0\n")
    categories = read_results(run).categories
    assert "NA" in set(categories["value"])
    assert set(categories[categories["feature"] == "repeat_len_bin"]["value"]) == {"1"}


def test_optional_results_file_absent_is_none(synthetic_run):
    run, _ = synthetic_run
    run.results_path("curves.csv").unlink()
    run.results_path("regression.csv").unlink()
    results = read_results(run)
    assert results.curves is None and results.regression is None and results.categories is not None


def test_missing_summary_says_to_run_compare(tmp_path):
    run = RunDir(tmp_path / "run")
    run.results_dir.mkdir(parents=True)
    with pytest.raises(RunDirError, match="lossgap compare"):
        read_results(run)
    with pytest.raises(RunDirError, match="results does not exist"):
        read_results(RunDir(tmp_path / "other"))


def test_summary_with_bad_field_names_it(synthetic_run):
    run, _ = synthetic_run
    path = run.results_path("summary.json")
    raw = json.loads(path.read_text())
    raw["mean_gap"] = "big"
    path.write_text(json.dumps(raw))
    with pytest.raises(SchemaError, match="mean_gap"):
        read_results(run)


def test_results_csv_missing_column_names_file_and_column(synthetic_run):
    run, _ = synthetic_run
    path = run.results_path("top_tokens.csv")
    path.write_text("direction,rank,doc_id\ncandidate_wins,1,b1\n")
    with pytest.raises(SchemaError, match=r"top_tokens.csv: missing column\(s\) domain, token_text"):
        read_results_csv(path)


def test_results_csv_non_numeric_value_is_schema_error(synthetic_run):
    run, _ = synthetic_run
    path = run.results_path("regression.csv")
    path.write_text("term,coef,se,ci_low,ci_high,p\nx,abc,1,1,1,1\n")
    with pytest.raises(SchemaError, match="'coef' is not numeric"):
        read_results_csv(path)


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
    assert overview.skipped == (("empty", 1),)
    assert overview.tokenizer_policy == "bos"


def test_overview_without_manifest_still_names_the_models(synthetic_run):
    run, _ = synthetic_run
    run.manifest_path.unlink()
    overview = read_overview(run, read_results(run).summary)
    assert [m.name for m in overview.models] == [BASELINE, CANDIDATE]
    assert overview.models[0].max_length is None and overview.models[0].model == "—"


def test_summary_nulls_read_as_none_and_render_as_dash(synthetic_run):
    # compare writes NaN as JSON null, e.g. the interval of a group with no tokens
    run, _ = synthetic_run
    path = run.results_path("summary.json")
    raw = json.loads(path.read_text())
    raw["ci_low"] = raw["ci_high"] = None
    raw["headline"].append({"label": "empty group", "mean_gap": None, "ci_low": None, "ci_high": None, "n_tokens": 0})
    path.write_text(json.dumps(raw))
    s = read_results(run).summary
    assert (s.ci_low, s.ci_high) == (None, None)
    assert s.headline[-1].mean_gap is None and s.headline[-1].n_tokens == 0
    html = run_report(run.path).path.read_text()
    assert "95% CI [—, —]" in html and "empty group" in html


def test_summary_missing_required_field_names_it(synthetic_run):
    run, _ = synthetic_run
    path = run.results_path("summary.json")
    raw = json.loads(path.read_text())
    del raw["ci_high"]
    path.write_text(json.dumps(raw))
    with pytest.raises(SchemaError, match="'ci_high' is missing"):
        read_results(run)
