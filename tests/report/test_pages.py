"""A run with several results: each comparison keeps its own files, and the report shows every one of them, the
first comparison with the run's checkpoint curves on index.html and the others on pages of their own, all linked;
a run of curves alone gets a report too."""

import json
import re
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from lossgap.analysis import CompareConfig, run_compare
from lossgap.cli import app
from lossgap.errors import ConfigError, RunDirError
from lossgap.report import run_report
from lossgap.rundir import ModelRecord

from .synthetic import BASELINE, CANDIDATE, make_run

THIRD = "cand-better"
SHIFT = 0.25  # THIRD's loss is the candidate's less this, on every token


def _add_third_model(run) -> None:
    """A third scoring: the candidate's losses lowered by SHIFT nats, so that its gap over the baseline is the
    candidate's plus SHIFT on every token."""
    scores = pq.read_table(run.scores_path(CANDIDATE)).to_pandas()
    scores["loss"] = (scores["loss"] - SHIFT).astype("float32")
    pq.write_table(pa.Table.from_pandas(scores, preserve_index=False), run.scores_path(THIRD))
    record = run.manifest().models[CANDIDATE]
    run.record_model(THIRD, ModelRecord(**{**record.__dict__, "mean_loss": float(scores["loss"].mean())}))


@pytest.fixture()
def two_comparisons(tmp_path):
    run, frame = make_run(tmp_path / "run")
    _add_third_model(run)
    run_compare(run, CompareConfig(baseline=BASELINE, candidate=THIRD, min_eff_docs=2, top_k=5, segment_tokens=8))
    return run, frame


def _gap(run, name: str) -> float:
    return run.read_summary(name).mean_gap


def test_a_second_comparison_keeps_the_first(two_comparisons):
    run, frame = two_comparisons
    first, second = f"{BASELINE}-vs-{CANDIDATE}", f"{BASELINE}-vs-{THIRD}"
    # comparisons first, then curves; each kind by name
    assert [(r.kind, r.name) for r in run.results()] == [
        ("compare", second),
        ("compare", first),
        ("curves", "curves-transformer-hybrid"),
    ]
    records = {r.name: r for r in run.results()}
    assert (records[second].baseline, records[second].candidate) == (BASELINE, THIRD)
    # each result's own numbers: the float64 mean gap of its pair, recomputed from the fixture's losses
    scored = frame[frame["pos"] >= 1]
    gap = scored["loss_baseline"].astype("float32").astype(float) - scored["loss_candidate"].astype("float32").astype(
        float
    )
    assert _gap(run, first) == pytest.approx(gap.mean(), abs=1e-6)
    assert _gap(run, second) - _gap(run, first) == pytest.approx(SHIFT, abs=1e-6)
    # a run with two comparisons and no name given: an error that names both
    with pytest.raises(RunDirError, match=f"2 compare results .*{second}.*{first}"):
        run.read_summary()
    assert run.read_results("categories.csv", second) is not None


def test_the_same_comparison_again_replaces_it_and_a_name_taken_is_refused(two_comparisons):
    run, _ = two_comparisons
    first = f"{BASELINE}-vs-{CANDIDATE}"
    before = run.read_summary(first)
    run_compare(run, CompareConfig(baseline=BASELINE, candidate=CANDIDATE, min_eff_docs=2, top_k=5, segment_tokens=8,
                                   bootstrap=50))  # fmt: skip
    after = run.read_summary(first)
    assert (before.bootstrap, after.bootstrap) == (1000, 50) and after.mean_gap == before.mean_gap
    with pytest.raises(ConfigError, match=f"already holds {CANDIDATE} vs {BASELINE}.*--name"):
        run_compare(run, CompareConfig(baseline=BASELINE, candidate=THIRD, name=first, min_eff_docs=2))
    assert run.read_summary(first).candidate == CANDIDATE  # the refused write changed nothing
    run_compare(run, CompareConfig(baseline=BASELINE, candidate=THIRD, name="mine", min_eff_docs=2, top_k=5))
    assert run.read_summary("mine").candidate == THIRD and len(run.results()) == 4


def test_cli_compare_names_its_result_and_keeps_both(tmp_path):
    run, _ = make_run(tmp_path / "run", curves=False)
    _add_third_model(run)
    shutil.rmtree(run.results_dir)
    cli = CliRunner()
    for candidate, name in ((CANDIDATE, []), (THIRD, ["--name", "third"])):
        result = cli.invoke(app, ["compare", "--run", str(run.path), "--baseline", BASELINE, "--candidate", candidate,
                                  "--min-eff-docs", "2", "--bootstrap", "20", *name])  # fmt: skip
        assert result.exit_code == 0, result.output
    assert str(run.result_dir("third")) in "".join(result.output.split())
    assert {r.name for r in run.results()} == {f"{BASELINE}-vs-{CANDIDATE}", "third"}
    assert _gap(run, "third") - _gap(run, f"{BASELINE}-vs-{CANDIDATE}") == pytest.approx(SHIFT, abs=1e-6)
    again = cli.invoke(app, ["compare", "--run", str(run.path), "--baseline", BASELINE, "--candidate", CANDIDATE,
                             "--name", "third"])  # fmt: skip
    assert again.exit_code != 0 and "already holds" in again.output


def _links(html: str) -> set[str]:
    return set(re.findall(r'<a href="([^"#]+\.html)"', html))


def test_report_shows_every_comparison_and_links_the_pages(two_comparisons):
    run, _ = two_comparisons
    result = run_report(run.path)
    # the first comparison by name (BASELINE-vs-cand-better) opens the report, with the run's curves
    second = f"compare-{BASELINE}-vs-{CANDIDATE}.html"
    assert [p.file for p in result.pages] == ["index.html", second]
    assert [p.label for p in result.pages] == [
        f"{THIRD} vs {BASELINE} · checkpoint curves",
        f"{CANDIDATE} vs {BASELINE}",
    ]
    index_html, other_html = ((run.report_dir / p.file).read_text() for p in result.pages)
    assert _links(index_html) == {second} and _links(other_html) == {"index.html"}
    assert f"<title>lossgap: {THIRD} vs {BASELINE}</title>" in index_html
    assert f"<title>lossgap: {CANDIDATE} vs {BASELINE}</title>" in other_html
    # each page's headline is its own pair's mean gap
    for html, name in ((index_html, f"{BASELINE}-vs-{THIRD}"), (other_html, f"{BASELINE}-vs-{CANDIDATE}")):
        shown = re.search(r'<span class="gap[^"]*">([^<]+)</span>', html).group(1).replace("−", "-")
        assert float(shown) == pytest.approx(_gap(run, name), abs=1e-4)
    # the curves are on the first page only; the second page's figures are its own files
    assert "curves" in result.pages[0].figures and not any("curves" in k for k in result.pages[1].figures)
    assert all(k.startswith(second.removesuffix(".html") + ".") for k in result.pages[1].figures)
    on_disk = {p.stem for p in (run.report_dir / "figures").glob("*.svg")}
    assert on_disk == set(result.pages[0].figures) | set(result.pages[1].figures)
    for page in result.pages:
        html = (run.report_dir / page.file).read_text()
        assert all(f'href="figures/{k}.svg"' in html for k in page.figures)
        assert page.viewer_docs > 0
    viewer = json.loads(
        re.search(r'<script type="application/json" id="viewer-data">(.*?)</script>', other_html, re.S).group(1)
    )
    assert (viewer["baseline"], viewer["candidate"]) == (BASELINE, CANDIDATE)


def test_report_of_curves_alone_and_pages_of_removed_results_go(two_comparisons):
    run, _ = two_comparisons
    run_report(run.path)
    assert (run.report_dir / f"compare-{BASELINE}-vs-{CANDIDATE}.html").is_file()
    for record in run.results():
        if record.kind == "compare":
            shutil.rmtree(run.result_dir(record.name))
    result = run_report(run.path)
    assert [p.file for p in result.pages] == ["index.html"] and result.omitted == ()
    assert sorted(p.name for p in run.report_dir.glob("*.html")) == ["index.html"]  # the stale page is gone
    html = result.path.read_text()
    assert result.figures == ("curves", "curves-diff") and result.viewer_docs == 0
    assert "checkpoint curves: transformer, hybrid" in html and 'class="headline"' not in html
    assert '<nav class="pages"' not in html


def test_an_older_runs_results_in_results_itself_are_still_read(synthetic_run):
    run, _ = synthetic_run
    for record in run.results():  # move each result's files up into results/, as lossgap wrote them before
        folder = run.result_dir(record.name)
        for path in folder.iterdir():
            if path.name != "result.json":
                path.rename(run.results_dir / path.name)
        shutil.rmtree(folder)
    kinds = [(r.kind, r.name, r.baseline, r.candidate) for r in run.results()]
    assert kinds == [("compare", "", BASELINE, CANDIDATE), ("curves", "", "", "")]
    assert run.read_summary().candidate == CANDIDATE and run.read_results("curves.csv") is not None
    result = run_report(run.path)
    assert [p.file for p in result.pages] == ["index.html"] and "curves" in result.figures
    assert np.isfinite(run.read_summary("").mean_gap)


def test_report_of_a_run_without_results_names_both_commands(tmp_path):
    run, _ = make_run(tmp_path / "run", curves=False)
    shutil.rmtree(run.results_dir)
    with pytest.raises(RunDirError, match="holds no results.*lossgap compare.*lossgap curves"):
        run_report(run.path)
