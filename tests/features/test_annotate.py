from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from lossgap.errors import ConfigError, RunDirError, SchemaError
from lossgap.features.annotate import AnnotateConfig, run_annotate
from lossgap.features.records import DocumentTokens
from lossgap.rundir import FEATURES_SCHEMA, ContextPolicy, ModelContext, ModelRecord, RunDir
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
    table = run.read("features")
    tokens = run.read("tokens")
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
    # log_freq counts the run's own tokens outside the token's document: ids are per document here, so id 2
    # (" is" in b1, " f" twice in p1, "div" twice in h1) occurs 5 times in all.
    ids = tokens.column("token_id").to_numpy()[tokens.column("char_start").to_numpy() >= 0]
    assert np.sum(ids == 2) == 5
    assert rows[("p1", 2)]["log_freq"] == pytest.approx(math.log10(5 - 2))
    assert rows[("b1", 2)]["log_freq"] == pytest.approx(math.log10(5 - 1))
    assert rows[("p1", 1)]["domain_type"] == "code" and rows[("h1", 1)]["domain_type"] == "markup"
    record = run.manifest().features
    assert record.n_tokens == table.num_rows and record.repeat_context is None
    assert "own occurrences left out" in record.log_freq_source
    assert record.versions["pygments"] and record.spacy_model.endswith("-3.8.0")


def test_annotate_uses_the_widest_scoring_context(tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = write_run(tmp_path, sample_docs())
    for name, max_length, stride in (("small", 4, 2), ("wide", 6, 3)):
        context = ModelContext(max_length=max_length, stride=stride, policy="windows", prefix="bos")
        run.record_model(name, ModelRecord(model=name, revision=None, dtype="float32", device="cpu", architecture="x",
                                           context=context, requested={}, n_docs=5, n_tokens=20, mean_loss=1.0))  # fmt: skip
    result = run_annotate(run, AnnotateConfig())
    assert result.repeat_context == ContextPolicy(max_length=6, stride=3)
    rows = {(r["doc_id"], r["pos"]): r for r in run.read("features").to_pylist()}
    # p1 has 9 tokens: windows [0,6) then [3,9); pos 7 (" f") sees from 3, so the " f" at pos 2 is out of view.
    assert rows[("p1", 7)]["repeat_len"] == 0


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
    table = run.read("features")
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
    tokens = run.read("tokens")
    run.write("tokens", tokens.take(pa.array([0, 2, 1, 3])))
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
    run_annotate(run, AnnotateConfig(workers=1))
    whole = run.read("features")
    run_annotate(run, AnnotateConfig(chunk_tokens=1, workers=1))
    assert run.read("features").equals(whole)


def test_annotate_reading_tokens_and_corpus_in_small_pieces_gives_the_same_table(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Tokens are read a few rows at a time (documents cut across pieces are put back together) and the corpus
    one document at a time, also when the corpus is in another order than the tokens."""
    import lossgap.features.annotate as annotate

    run = write_run(tmp_path, sample_docs())
    run_annotate(run, AnnotateConfig(workers=1))
    whole = run.read("features")
    monkeypatch.setattr(annotate, "_TOKEN_ROWS", 3)
    monkeypatch.setattr(annotate, "_CORPUS_ROWS", 1)
    run_annotate(run, AnnotateConfig(workers=1))
    assert run.read("features").equals(whole)
    corpus = run.read("corpus")
    run.write("corpus", corpus.take(pa.array(list(range(corpus.num_rows))[::-1])))  # read ahead, then found
    run_annotate(run, AnnotateConfig(workers=1))
    assert run.read("features").equals(whole)


def test_annotate_in_worker_processes_gives_the_table_of_one_process(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Document groups annotated by two spawned processes (each loading its own spaCy) and written in order:
    the same features, byte for byte in content, as one process; the manifest counts the same documents."""
    docs = sample_docs() * 3
    docs = [DocumentTokens(f"{d.doc_id}-{i}", d.domain, d.text, d.token_ids, d.char_start, d.char_end)
            for i, d in enumerate(docs)]  # fmt: skip
    run = write_run(tmp_path, docs)
    one = run_annotate(run, AnnotateConfig(workers=1, chunk_tokens=4))
    single = run.read("features")
    two = run_annotate(run, AnnotateConfig(workers=2, chunk_tokens=4))
    assert run.read("features").equals(single)
    assert (two.n_docs, two.n_tokens) == (one.n_docs, one.n_tokens) == (len(docs), single.num_rows)
    assert two.seconds["lexing"] >= 0 and "words" in two.seconds


def test_annotate_run_without_tokens_writes_an_empty_table(tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = write_run(tmp_path, [])
    result = run_annotate(run, AnnotateConfig())
    table = run.read("features")
    assert result.n_tokens == 0 and table.num_rows == 0
    assert set(FEATURES_SCHEMA.names) <= set(table.column_names)


def test_annotate_contract_check_names_the_broken_column(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from lossgap.features.annotate import annotate_chunk
    from lossgap.features.registry import ANNOTATORS, Annotator
    from tests.features.make import chunk_of, resources

    # An added annotator that gives repeat_len as floats, with the words annotator left out.
    bad = Annotator("bad", ("repeat_len",), lambda chunk, res: {"repeat_len": pa.array([1.5] * chunk.n_tokens)})
    annotators = [a for a in ANNOTATORS if a.name not in ("repeats", "words")] + [bad]
    table = annotate_chunk(chunk_of(make_doc(["x"], "python")), resources(), annotators)
    run = RunDir(tmp_path / "run")
    with (
        pytest.raises(SchemaError, match=r"features.parquet: missing column\(s\) upos"),
        run.features_writer() as writer,
    ):
        writer.write(table)
    for name in ("upos", "tag", "word_class", "word_piece"):
        table = table.append_column(name, pa.array([None] * table.num_rows, pa.string()))
    table = table.append_column("repeat_dist", pa.array([None] * table.num_rows, pa.int32()))
    with (
        pytest.raises(SchemaError, match="'repeat_len' has type double, expected int32"),
        run.features_writer() as writer,
    ):
        writer.write(table)
    assert not run.has("features")


def test_annotate_in_shards_merges_into_the_table_of_one_process(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Three shards (as on three machines sharing the run): no features.parquet until the last one, then the same
    file one process writes, and the manifest's record of the whole run."""
    run = write_run(tmp_path, sample_docs())
    run_annotate(run, AnnotateConfig(workers=1))
    whole = run.read("features")
    record = run.manifest().features
    run.path.joinpath("features.parquet").unlink()
    results = [run_annotate(run, AnnotateConfig(workers=1), shard=(i, 3)) for i in (2, 0)]
    assert not run.has("features") and sum(r.n_tokens for r in results) < whole.num_rows
    last = run_annotate(run, AnnotateConfig(workers=1), shard=(1, 3))
    assert run.read("features").equals(whole) and last.n_tokens == whole.num_rows
    assert run.manifest().features.n_docs == record.n_docs and not run.feature_shards_dir.exists()
    with pytest.raises(ConfigError, match="--shard 3/3"):
        run_annotate(run, AnnotateConfig(), shard=(3, 3))


def test_shard_ranges_cover_every_document_once_in_order() -> None:
    from lossgap.features.annotate import shard_range

    lengths = np.array([5, 100, 3, 3, 40, 7, 1, 60])
    for n in (1, 2, 3, 5, 8, 12):
        ranges = [shard_range(lengths, i, n) for i in range(n)]
        covered = [k for r in ranges for k in r]
        assert covered == list(range(len(lengths)))
