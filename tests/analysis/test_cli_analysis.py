"""The `compare` and `curves` commands: a smoke run each, and bad input giving exit code 2 and no results."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from lossgap.cli import app
from tests.analysis.hand_run import write_checkpoint_run, write_hand_run

runner = CliRunner()


def test_cli_compare_writes_results_and_prints_headline(tmp_path: Path) -> None:
    run = write_hand_run(tmp_path)
    result = runner.invoke(app, ["compare", "--run", str(run.path), "--baseline", "base", "--candidate", "cand",
                                 "--cross", "domain", "upos", "--interval", "bootstrap", "--bootstrap", "30"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "content" in result.output and "+0.7500" in result.output and "only 2 documents" in result.output
    summary = run.read_summary()
    assert summary.bootstrap == 30 and summary.interval == "bootstrap"
    assert [p.name for p in run.results_dir.iterdir()] == ["base-vs-cand"]  # the result's default name
    names = {p.name for p in run.result_dir("base-vs-cand").iterdir()}
    assert names == {
        "result.json", "summary.json", "categories.csv", "contrasts.csv", "sensitivity.csv", "marginal_means.csv", "regression.txt",
        "repeat_curve.csv", "top_tokens.csv", "top_segments.csv", "top_documents.csv",
    }  # fmt: skip
    assert run.manifest().stages["compare"].config["by"] == [["domain", "upos"]]


def test_cli_curves_writes_both_tables(tmp_path: Path) -> None:
    run = write_checkpoint_run(tmp_path)
    result = runner.invoke(app, ["curves", "--run", str(run.path), "--series", "tf", "--series", "hy",
                                 "--mask", "all", "--mask", "domain = 'books'"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(run.read_results("curves.csv")) == 4 * 2
    assert len(run.read_results("curves_diff.csv")) == 2 * 2  # hy against tf at two steps, two masks
    # two documents: no interval, and the terminal says so once, with the option that lowers the threshold
    assert run.read_results("curves.csv")["ci_low"].isna().all()
    assert result.output.count("only 2 documents") == 1 and "8 of 8 curve points have no interval" in result.output
    assert "--min-eff-docs" in result.output


def test_cli_curves_take_min_eff_docs_and_the_headline_says_why_an_interval_is_missing(tmp_path: Path) -> None:
    run = write_checkpoint_run(tmp_path)
    result = runner.invoke(app, ["curves", "--run", str(run.path), "--series", "tf", "--mask", "all",
                                 "--min-eff-docs", "2"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert run.manifest().stages["curves"].config["min_eff_docs"] == 2
    assert (run.read_results("curves.csv")["note"] == "1.8 effective documents (< 2): no interval").all()
    hand = write_hand_run(tmp_path / "hand")
    result = runner.invoke(app, ["compare", "--run", str(hand.path), "--baseline", "base", "--candidate", "cand"])
    assert result.exit_code == 0, result.output
    assert "effective documents (< 10): no interval" in result.output  # the reason, not a bare "-"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compare", "--run", "{run}", "--baseline", "base", "--candidate", "never"], "never scored"),
        (["compare", "--run", "{run}", "--baseline", "base", "--candidate", "base"], "both"),
        (["compare", "--run", "{run}", "--baseline", "base", "--candidate", "cand", "--by", "colour"], "colour"),
        (["curves", "--run", "{run}", "--series", "tf", "--mask", "colour = 1"], "colour"),
        (["curves", "--run", "{run}", "--series", "tf", "--mask", "upos = 'INTJ'"], "selects no"),
        (["curves", "--run", "{run}", "--series", "gpt"], "no scored name gpt@STEP"),
        (["curves", "--run", "{run}", "--series", "tf", "--mask", "domain:books"], "domain = 'books'"),
    ],
)
def test_cli_bad_input_exits_2_and_writes_nothing(tmp_path: Path, args: list[str], message: str) -> None:
    run = write_checkpoint_run(tmp_path)
    write_hand_run(tmp_path)  # the checkpoint run has base/cand too, for the compare cases
    result = runner.invoke(app, [a.format(run=run.path) for a in args])
    assert result.exit_code == 2
    assert message in result.output
    assert not run.results_dir.exists()


def test_cli_compare_without_features_exits_2(tmp_path: Path) -> None:
    run = write_hand_run(tmp_path)
    run.describe("features").unlink()
    result = runner.invoke(app, ["compare", "--run", str(run.path), "--baseline", "base", "--candidate", "cand"])
    assert result.exit_code == 2 and "lossgap annotate" in result.output
    assert not run.results_dir.exists()
