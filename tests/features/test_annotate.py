from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from lossgap.errors import ConfigError, RunDirError, SchemaError
from lossgap.features.annotate import AnnotateConfig, repeat_context_from_manifest, run_annotate
from lossgap.features.records import DocumentTokens, RepeatContext
from lossgap.rundir import FEATURES_SCHEMA, RunDir
from tests.features.make import make_doc, write_run


def sample_docs() -> list[DocumentTokens]:
    return [
        make_doc(["There", " is", " a", " cat", "."], "books", "b1"),
        make_doc(["def", " f", "():", "\n", "    ", "return", " f", "()"], "python", "p1"),
        make_doc([], "books", "empty"),  # only the BOS
        make_doc(["Hi"], "news", "one"),
        make_doc(["<", "div", ">", "</", "div", ">"], "html", "h1"),
    ]


def test_annotate_writes_one_row_per_token_in_order(tmp_path) -> None:  # type: ignore[no-untyped-def]
    docs = sample_docs()
    run = write_run(tmp_path, docs)
    result = run_annotate(run, AnnotateConfig())
    table = run.read_features()
    tokens = run.read_tokens()
    assert result.n_tokens == tokens.num_rows == table.num_rows == sum(d.n_tokens for d in docs)
    assert table.column("doc_id").to_pylist() == tokens.column("doc_id").to_pylist()
    assert table.column("pos").to_pylist() == tokens.column("pos").to_pylist()
    assert set(FEATURES_SCHEMA.names) <= set(table.column_names)
    rows = {(r["doc_id"], r["pos"]): r for r in table.to_pylist()}
    assert rows[("b1", 1)]["tag"] == "EX" and rows[("b1", 1)]["code_class"] is None
    assert rows[("p1", 1)]["upos"] is None and rows[("p1", 1)]["code_class"] == "Keyword"
    assert rows[("p1", 7)]["repeat_len"] == 1 and rows[("p1", 7)]["repeat_dist"] == 5  # " f" again
    assert rows[("h1", 4)]["bracket_side"] == "close" and rows[("h1", 4)]["bracket_kind"] == "html_tag"
    assert rows[("empty", 0)]["domain"] == "books" and rows[("empty", 0)]["token_text"] is None
    assert rows[("one", 1)]["token_text"] == "Hi" and rows[("one", 1)]["upos"] is not None
    # log_freq counts the run's own tokens: " f" (one id) occurs twice in p1; ids are per document here,
    # so id 2 (" is", " f", "div" at pos 2 of their documents) occurs 4 times in all.
    ids = tokens.column("token_id").to_numpy()[tokens.column("char_start").to_numpy() >= 0]
    assert rows[("p1", 2)]["log_freq"] == pytest.approx(math.log10(np.sum(ids == 2)))
    manifest = run.read_manifest()
    assert manifest["features"]["n_tokens"] == table.num_rows
    assert manifest["features"]["repeat_context"] is None
    assert manifest["features"]["versions"]["pygments"] and manifest["features"]["spacy_model"].endswith("-3.8.0")


def test_annotate_uses_the_widest_scoring_context(tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = write_run(tmp_path, sample_docs())
    run.update_manifest(
        lambda m: m.update(
            models={
                "small": {"context": {"max_length": 4, "stride": 2}},
                "wide": {"context": {"max_length": 6, "stride": 3}},
            }
        )
    )
    result = run_annotate(run, AnnotateConfig())
    assert result.repeat_context == RepeatContext(max_length=6, stride=3)
    rows = {(r["doc_id"], r["pos"]): r for r in run.read_features().to_pylist()}
    # p1 has 9 tokens: windows [0,6) then [3,9); pos 7 (" f") sees from 3, so the " f" at pos 2 is out of view.
    assert rows[("p1", 7)]["repeat_len"] == 0


def test_repeat_context_from_manifest() -> None:
    assert repeat_context_from_manifest({}) is None
    two = {
        "models": {"a": {"context": {"max_length": 8, "stride": 4}}, "b": {"context": {"max_length": 8, "stride": 2}}}
    }
    assert repeat_context_from_manifest(two) == RepeatContext(max_length=8, stride=2)
    assert repeat_context_from_manifest({"models": {"a": {"context": {"max_length": 8, "stride": 4}}, "b": {}}}) is None
    with pytest.raises(RunDirError, match="invalid context"):
        repeat_context_from_manifest({"models": {"a": {"context": {"max_length": 8, "stride": 8}}}})


def test_annotate_odd_characters_and_split_emoji(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # A byte-level tokenizer splits the emoji into two tokens with the same character span.
    text = "Fun 😀 日本語\x07 ok"
    spans = [(-1, -1), (0, 3), (3, 5), (4, 5), (5, 6), (6, 9), (9, 10), (10, 13)]
    doc = DocumentTokens(
        doc_id="odd",
        domain="web",
        text=text,
        token_ids=np.arange(len(spans)),
        char_start=np.array([s for s, _ in spans]),
        char_end=np.array([e for _, e in spans]),
    )
    run = write_run(tmp_path, [doc])
    run_annotate(run, AnnotateConfig())
    table = run.read_features()
    assert table.num_rows == len(spans)
    assert table.column("token_text").to_pylist() == [None, "Fun", " 😀", "😀", " ", "日本語", "\x07", " ok"]


def test_annotate_rejects_offsets_outside_text(tmp_path) -> None:  # type: ignore[no-untyped-def]
    doc = make_doc(["ab"], "books", "bad")
    broken = DocumentTokens(doc.doc_id, doc.domain, "a", doc.token_ids, doc.char_start, doc.char_end)
    run = write_run(tmp_path, [broken])
    with pytest.raises(SchemaError, match=r"'bad' pos 1: offsets \[0, 2\)"):
        run_annotate(run, AnnotateConfig())


def test_annotate_rejects_interleaved_documents(tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = write_run(tmp_path, [make_doc(["a"], doc_id="x"), make_doc(["b"], doc_id="y")])
    tokens = run.read_tokens()
    run.write_tokens(tokens.take(pa.array([0, 2, 1, 3])))
    with pytest.raises(SchemaError, match="not contiguous"):
        run_annotate(run, AnnotateConfig())


def test_annotate_missing_tokens_names_the_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = RunDir(tmp_path)
    with pytest.raises(RunDirError, match="corpus.parquet does not exist"):
        run_annotate(run, AnnotateConfig())


def test_annotate_config_validates() -> None:
    with pytest.raises(ConfigError, match="chunk_tokens"):
        AnnotateConfig(chunk_tokens=0)
    with pytest.raises(ConfigError, match="--counts"):
        AnnotateConfig(counts="/no/such/file.csv")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="prose_domains"):
        AnnotateConfig(prose_domains={"books"})  # type: ignore[arg-type]


def test_annotate_small_chunks_give_the_same_table(tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = write_run(tmp_path, sample_docs())
    run_annotate(run, AnnotateConfig())
    whole = run.read_features()
    run_annotate(run, AnnotateConfig(chunk_tokens=1))
    assert run.read_features().equals(whole)


def test_annotate_run_without_tokens_writes_an_empty_table(tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = write_run(tmp_path, [])
    result = run_annotate(run, AnnotateConfig())
    table = run.read_features()
    assert result.n_tokens == 0 and table.num_rows == 0
    assert set(FEATURES_SCHEMA.names) <= set(table.column_names)


def test_annotate_contract_check_names_the_broken_column() -> None:
    from lossgap.features.annotate import _check_contract, annotate_chunk
    from lossgap.features.registry import ANNOTATORS, Annotator
    from tests.features.make import chunk_of, resources

    # An added annotator that gives repeat_len as floats, with the words annotator left out.
    bad = Annotator("bad", ("repeat_len",), lambda chunk, res: {"repeat_len": pa.array([1.5] * chunk.n_tokens)})
    annotators = [a for a in ANNOTATORS if a.name not in ("repeats", "words")] + [bad]
    table = annotate_chunk(chunk_of(make_doc(["x"], "python")), resources(), annotators)
    with pytest.raises(SchemaError, match="'upos' should be string, the annotators gave nothing"):
        _check_contract(table.schema)
    for name in ("upos", "tag", "word_class", "word_piece"):
        table = table.append_column(name, pa.array([None] * table.num_rows, pa.string()))
    with pytest.raises(SchemaError, match="'repeat_len' should be int32, the annotators gave double"):
        _check_contract(table.schema)
