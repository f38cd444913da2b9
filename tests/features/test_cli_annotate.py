from __future__ import annotations

import math

from typer.testing import CliRunner

from lossgap.cli import app
from tests.features.make import make_doc, write_run


def test_cli_annotate_smoke(tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = write_run(
        tmp_path / "run",
        [make_doc(["The", " cat", " sat", "."], "books", "a"), make_doc(["x", "(", ")"], "python", "b")],
    )
    counts = tmp_path / "counts.csv"
    counts.write_text("token_id,count\n1,100\n")
    result = CliRunner().invoke(
        app, ["annotate", "--run", str(run.path), "--counts", str(counts), "--prose-domain", "books"]
    )
    assert result.exit_code == 0, result.output
    assert "annotated 9 tokens in 2 documents" in result.output
    table = run.read("features")
    assert table.num_rows == 9
    assert table.column("log_freq").to_pylist()[1] == math.log10(100)
    assert run.manifest().features.config["prose_domains"] == ["books"]


def test_cli_annotate_bad_counts_is_one_line_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = write_run(tmp_path / "run", [make_doc(["x"], "python", "b")])
    bad = tmp_path / "counts.csv"
    bad.write_text("id,n\n1,2\n")
    result = CliRunner().invoke(app, ["annotate", "--run", str(run.path), "--counts", str(bad)])
    assert result.exit_code == 2
    assert "missing column(s) token_id, count" in result.output
    assert not run.has("features")
