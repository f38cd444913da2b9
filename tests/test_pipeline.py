"""`lossgap run`: a TOML file runs every stage once, skips current stages, reruns what a change makes stale."""

import json

import pytest
from typer.testing import CliRunner

from lossgap.cli import app
from lossgap.errors import ConfigError
from lossgap.pipeline import load_pipeline_config, run_pipeline
from lossgap.rundir import RunDir


def _write(tmp_path, llama_model, corpus_file, compare_extra=""):
    path = tmp_path / "pipeline.toml"
    path.write_text(
        f"""
run = "run"

[corpus]
source = "{corpus_file}"

[[models]]
model = "{llama_model}"
name = "short"
max_length = 8
stride = 4

[[models]]
model = "{llama_model}"
name = "full"

[compare]
baseline = "short"
candidate = "full"
bootstrap = 50
{compare_extra}

[report]
viewer_docs = 2
"""
    )
    return path


def test_pipeline_runs_every_stage_then_skips_current_ones(tmp_path, llama_model, corpus_file):
    path = _write(tmp_path, llama_model, corpus_file)
    first = run_pipeline(load_pipeline_config(path))
    assert [(o.stage, o.ran) for o in first] == [
        ("corpus", True), ("score short", True), ("score full", True), ("annotate", True), ("compare", True),
        ("report", True),
    ]  # fmt: skip
    rd = RunDir(tmp_path / "run")
    assert rd.scored_names() == ["full", "short"]
    assert json.loads(rd.results_path("summary.json").read_text())["baseline"] == "short"
    assert (rd.report_dir / "index.html").is_file()

    second = run_pipeline(load_pipeline_config(path))
    assert not any(o.ran for o in second)

    # A changed compare option makes compare (and so the report, whose inputs changed) stale, nothing else.
    _write(tmp_path, llama_model, corpus_file, compare_extra="seed = 7")
    third = run_pipeline(load_pipeline_config(path))
    assert [o.stage for o in third if o.ran] == ["compare", "report"]


def test_pipeline_file_errors_name_the_key(tmp_path, llama_model, corpus_file):
    path = _write(tmp_path, llama_model, corpus_file, compare_extra="colour = 'red'")
    with pytest.raises(ConfigError, match=r"\[compare\]: unknown key\(s\) \['colour'\]"):
        load_pipeline_config(path)
    path.write_text('run = "r"\n[[models]]\nmodel = "m"\n[compare]\nbaseline = "m"\ncandidate = "other"\n')
    with pytest.raises(ConfigError, match="candidate = 'other' is not a \\[\\[models\\]\\] name"):
        load_pipeline_config(path)
    result = CliRunner().invoke(app, ["run", str(path)])
    assert result.exit_code == 2 and "not a [[models]] name" in result.output


def test_pipeline_paths_are_relative_to_the_file_only_where_they_exist(tmp_path):
    (tmp_path / "docs.jsonl").write_text('{"text": "a"}\n')
    (tmp_path / "counts.csv").write_text("token_id,count\n1,2\n")
    path = tmp_path / "p.toml"
    path.write_text(
        'run = "out"\n[corpus]\nsource = "docs.jsonl"\n[annotate]\ncounts = "counts.csv"\n'
        '[[models]]\nmodel = "allenai/Olmo-3-1025-7B"\nname = "t"\n'
    )
    config = load_pipeline_config(path)
    assert config.run == (tmp_path / "out").resolve()
    assert config.corpus_source == str((tmp_path / "docs.jsonl").resolve())
    assert config.annotate.counts == (tmp_path / "counts.csv").resolve()
    assert config.models[0].model == "allenai/Olmo-3-1025-7B"  # a hub id, not a path
