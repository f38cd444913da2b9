"""CLI smoke tests: each subcommand runs through typer and turns lossgap errors into one line and exit 2."""

import re
import subprocess
import sys

from typer.testing import CliRunner

from lossgap.cli import app
from lossgap.rundir import RunDir

runner = CliRunner()


def test_help_is_instant_and_lists_commands():
    proc = subprocess.run(
        [sys.executable, "-c", "import sys, lossgap.cli; print('torch' in sys.modules)"], capture_output=True, text=True
    )
    assert proc.stdout.strip() == "False"  # --help never imports torch
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "score" in result.output


def test_score_smoke(llama_model, corpus_file, tmp_path):
    run = tmp_path / "run"
    result = runner.invoke(
        app, ["score", str(llama_model), "--corpus", str(corpus_file), "--run", str(run), "--name", "tiny"]
    )
    assert result.exit_code == 0, result.output
    assert "scored tiny" in result.output
    assert RunDir(run).scored_names() == ["tiny"]


def test_score_errors_are_one_line_and_exit_2(llama_model, tmp_path):
    result = runner.invoke(app, ["score", str(llama_model), "--run", str(tmp_path / "empty")])
    assert result.exit_code == 2
    assert "corpus.parquet does not exist" in result.output and "--corpus" in result.output
    result = runner.invoke(app, ["score", str(llama_model), "--run", str(tmp_path / "x"), "--dtype", "float8"])
    assert result.exit_code == 2 and "--dtype" in result.output


def test_help_renders_examples_verbatim_and_flags_as_flags():
    """TOML tables in an example stay as written (no markup eats `[corpus]` or `[[models]]`), and boolean options
    read as flags, for every command."""
    result = runner.invoke(app, ["run", "--help"], terminal_width=120)
    assert result.exit_code == 0
    for line in ("[corpus]", "[[models]]", "[compare]", 'baseline = "transformer"'):
        assert line in result.output, line
    for command in [c.name or c.callback.__name__ for c in app.registered_commands]:
        text = runner.invoke(app, [command, "--help"], terminal_width=120).output
        assert "Usage: lossgap" in text and "<bool>" not in text, command
        # values read as plain placeholders (PATH, N, TEXT, MODEL), not Python types (`<list[str]>`, `{source}`)
        assert not re.search(r"<[a-z_\[\]]+>|\{[a-z_]+\}", text), (command, text)
    overwrite = runner.invoke(app, ["score", "--help"], terminal_width=120).output
    assert "--overwrite " in overwrite and "--overwrite <" not in overwrite


def test_output_to_a_pipe_is_not_wrapped(tmp_path):
    """Not a terminal: a line longer than 80 columns stays one line (rich would wrap it at 80)."""
    run = tmp_path / ("a-run-directory-with-a-long-name-" * 3)
    env = {k: v for k, v in __import__("os").environ.items() if k != "COLUMNS"}
    proc = subprocess.run([sys.executable, "-m", "lossgap", "corpus", "example", "--run", str(run), "--only-domain",
                           "python", "--max-docs-per-domain", "1"], capture_output=True, text=True, env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    line = next(line for line in proc.stderr.splitlines() if line.startswith("corpus:"))
    assert len(line) > 120 and line.endswith(str(run / "corpus.parquet")), proc.stderr


def test_a_single_valued_option_given_twice_is_an_error_and_a_collecting_one_may_repeat(tmp_path):
    """click would keep the last of `--name a --name b` silently; lossgap refuses the repeat before running."""
    run = str(tmp_path / "run")
    for args, named in (
        (["compare", "--run", run, "--baseline", "a", "--candidate", "b", "--name", "x", "--name=y"], "--name"),
        (["compare", "--run", run, "--run-dir", run, "--baseline", "a", "--candidate", "b"], "--run/--run-dir"),
        (["report", "--run", run, "--viewer-docs", "1", "--viewer-docs", "2"], "--viewer-docs"),
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and f"{named} given 2 times: give it once" in result.output, result.output
    assert not (tmp_path / "run").exists()  # refused before anything ran
    # --by collects: repeating it reaches the command, which then finds the run has no scores
    result = runner.invoke(
        app, ["compare", "--run", run, "--baseline", "a", "--candidate", "b", "--by", "upos", "--by", "tag"]
    )
    assert result.exit_code == 2 and "never scored" in result.output
