"""The `compare` and `curves` commands: a smoke run each, and bad input giving exit code 2 and no results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.analysis.hand_run import write_checkpoint_run, write_hand_run
from lossgap.cli import app

runner = CliRunner()


def test_cli_compare_writes_results_and_prints_headline(tmp_path: Path) -> None:
    run = write_hand_run(tmp_path)
    result = runner.invoke(app, ["compare", str(run.path), "--baseline", "base", "--candidate", "cand", "--bootstrap", "30", "--by", "domain+upos"])
    assert result.exit_code == 0, result.output
    assert "content" in result.output and "+0.7500" in result.output
    summary = json.loads(run.results_path("summary.json").read_text())
    assert summary["bootstrap"] == 30
    names = {p.name for p in run.results_dir.iterdir()}
    assert names == {
        "summary.json", "categories.csv", "regression.csv", "regression_formula.txt", "repeat_curve.csv",
        "top_tokens.csv", "top_segments.csv", "top_documents.csv",
    }  # fmt: skip
    assert run.read_manifest()["compare"]["by"] == ["domain+upos"]


def test_cli_curves_writes_csv(tmp_path: Path) -> None:
    run = write_checkpoint_run(tmp_path)
    result = runner.invoke(app, ["curves", str(run.path), "--series", "t=tf@step100,tf@step200", "--series", "h=hy@100,hy@200",
                                 "--mask", "all", "--mask", "domain:books", "--bootstrap", "20"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert run.results_path("curves.csv").read_text().count("\n") == 1 + 4 * 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compare", "{run}", "--baseline", "base", "--candidate", "never"], "never scored"),
        (["compare", "{run}", "--baseline", "base", "--candidate", "base"], "both"),
        (["compare", "{run}", "--baseline", "base", "--candidate", "cand", "--by", "colour"], "colour"),
        (["curves", "{run}", "--series", "t=tf@step100", "--mask", "colour = 1"], "colour"),
        (["curves", "{run}", "--series", "t=tf@step100", "--mask", "upos = 'INTJ'"], "selects no token"),
        (["curves", "{run}", "--series", "t=tf@step999"], "never scored"),
        (["curves", "{run}", "--series", "t=tf"], "has no step"),
    ],
)
def test_cli_bad_input_exits_2_and_writes_nothing(tmp_path: Path, args: list[str], message: str) -> None:
    run = write_checkpoint_run(tmp_path)
    # the checkpoint run has base/cand too, for the compare cases
    write_hand_run(tmp_path)
    result = runner.invoke(app, [a.format(run=run.path) for a in args])
    assert result.exit_code == 2
    assert message in result.output
    assert not run.results_dir.exists()


def test_cli_compare_without_features_exits_2(tmp_path: Path) -> None:
    run = write_hand_run(tmp_path)
    run.features_path.unlink()
    result = runner.invoke(app, ["compare", str(run.path), "--baseline", "base", "--candidate", "cand"])
    assert result.exit_code == 2 and "lossgap annotate" in result.output
    assert not run.results_dir.exists()
