"""Every file of a run through its one owner: written, read back validated, a wrong schema refused with a message
naming the file and the column; the manifest's typed records; the results table and the summary."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lossgap.errors import ConfigError, RunDirError, SchemaError
from lossgap.rundir import (
    CORPUS_SCHEMA,
    FEATURES_SCHEMA,
    RESULTS,
    TOKENS_SCHEMA,
    ContextPolicy,
    CorpusRecord,
    FeaturesRecord,
    HeadlineRow,
    ModelContext,
    ModelRecord,
    ResultRecord,
    RunDir,
    Summary,
    TokenizerRecord,
    file_kind,
)
from lossgap.rundir.results import ADDED_COLUMNS


def _rows(schema: pa.Schema, n: int = 3) -> pa.Table:
    """A table of `schema` with n plausible rows."""
    columns = {}
    for field in schema:
        if pa.types.is_string(field.type):
            columns[field.name] = pa.array([f"{field.name}{i}" for i in range(n)], field.type)
        elif pa.types.is_integer(field.type):
            columns[field.name] = pa.array(range(n), field.type)
        else:
            columns[field.name] = pa.array([0.5 * i for i in range(n)], field.type)
    return pa.table(columns, schema=schema)


@pytest.mark.parametrize(("table", "schema"), [("corpus", CORPUS_SCHEMA), ("tokens", TOKENS_SCHEMA)])
def test_written_table_reads_back_and_a_missing_or_mistyped_column_names_itself(tmp_path, table, schema) -> None:
    run = RunDir(tmp_path / "run")
    data = _rows(schema)
    run.write(table, data)
    assert run.read(table).equals(data)
    assert run.read(table, [schema.names[1]]).column_names == [schema.names[1]]
    with pytest.raises(SchemaError, match=rf"{table}.parquet: missing column\(s\) {schema.names[-1]}"):
        run.write(table, data.drop_columns([schema.names[-1]]))
    broken = data.set_column(1, schema.names[1], pa.array([[1]] * 3))  # a list where a scalar belongs
    with pytest.raises(SchemaError, match=rf"{table}.parquet: column '{schema.names[1]}' has type list"):
        run.write(table, broken)
    pq.write_table(data.drop_columns([schema.names[-1]]), run.describe(table))  # a file written by hand
    with pytest.raises(SchemaError, match=rf"{table}.parquet: missing column\(s\) {schema.names[-1]}"):
        run.read(table)


@pytest.mark.parametrize("tokenizer", ["", "other-tok"])
def test_tokens_of_some_documents_are_those_rows_of_the_whole_table(tmp_path, tokenizer) -> None:
    run = RunDir(tmp_path / "run")
    data = pa.table({"doc_id": ["a", "a", "b", "c", "c", "c"], "pos": pa.array([0, 1, 0, 0, 1, 2], pa.int32()),
                     "token_id": pa.array([1, 2, 1, 1, 3, 4], pa.int32()),
                     "char_start": pa.array([-1, 0, -1, -1, 0, 4], pa.int32()),
                     "char_end": pa.array([-1, 3, -1, -1, 4, 6], pa.int32())}, schema=TOKENS_SCHEMA)  # fmt: skip
    run.write_tokens(tokenizer, data)
    some = run.read_tokens(tokenizer, ["doc_id", "pos"], docs=["c", "a", "nowhere"])
    whole = run.read_tokens(tokenizer, ["doc_id", "pos"]).to_pandas()
    assert some.to_pandas().equals(whole[whole["doc_id"].isin(["c", "a"])].reset_index(drop=True))
    assert run.read_tokens(tokenizer, docs=[]).num_rows == 0


def test_missing_table_says_which_command_makes_it(tmp_path) -> None:
    run = RunDir(tmp_path / "run")
    with pytest.raises(RunDirError, match="corpus.parquet does not exist: run `lossgap corpus"):
        run.read("corpus")
    with pytest.raises(RunDirError, match="lossgap annotate"):
        run.read("features")
    with pytest.raises(RunDirError, match="'m' was never scored"):
        run.read_scores("m")


def test_features_stream_chunk_by_chunk_and_appear_only_when_complete(tmp_path) -> None:
    run = RunDir(tmp_path / "run")
    chunk = _rows(FEATURES_SCHEMA).append_column("extra", pa.array([1.0, 2.0, 3.0]))
    with run.features_writer() as writer:
        writer.write(chunk)
        assert not run.has("features")  # a reader never sees a half-written file
        writer.write(chunk)
    table = run.read("features")
    assert table.num_rows == 6 and "extra" in run.columns("features")
    with (
        pytest.raises(SchemaError, match="features.parquet: column 'repeat_len' has type string"),
        run.features_writer() as w,
    ):
        w.write(
            chunk.set_column(FEATURES_SCHEMA.get_field_index("repeat_len"), "repeat_len", pa.array(["a", "b", "c"]))
        )
    assert run.read("features").num_rows == 6  # the earlier file is untouched


def test_scores_read_validated_and_parts_merge_in_corpus_order(tmp_path) -> None:
    run = RunDir(tmp_path / "run")
    parts = run.score_parts("m")
    parts.prepare({"model": "x"}, overwrite=False)
    parts.write(0, [("b", 1, {"loss": np.array([1.0, 2.0], np.float32)})])
    parts.write(1, [("a", 1, {"loss": np.array([3.0], np.float32)})])
    assert parts.done_pieces() == {"a": [(1, 1)], "b": [(1, 2)]} and parts.done_tokens() == 3
    n_tokens, mean_loss = parts.merge(["a", "b"], np.array([1, 2]))
    assert (n_tokens, mean_loss) == (3, 2.0)
    scores = run.read_scores("m").to_pydict()
    assert scores == {"doc_id": ["a", "b", "b"], "pos": [1, 1, 2], "loss": [3.0, 1.0, 2.0]}
    pq.write_table(pa.table({"doc_id": ["a"], "pos": [1]}), run.scores_path("bad"))
    with pytest.raises(SchemaError, match=r"scores/bad.parquet: missing column\(s\) loss"):
        run.read_scores("bad")
    with pytest.raises(RunDirError, match="invalid model name"):
        run.scores_path("../escape")


def test_parts_carry_entropy_rank_and_top_k_into_the_scores(tmp_path) -> None:
    run = RunDir(tmp_path / "run")
    parts = run.score_parts("m")
    parts.prepare({"model": "x"}, overwrite=False)

    def top(rows: int) -> np.ndarray:
        return np.arange(2 * rows).reshape(rows, 2)

    def piece(n: int, lo: float) -> dict[str, np.ndarray]:
        return {"loss": np.full(n, lo, np.float32), "entropy": np.full(n, lo + 1, np.float32),
                "rank": np.arange(1, n + 1), "topk_ids": top(n), "topk_logprobs": -top(n).astype(np.float32)}  # fmt: skip

    parts.write(0, [("b", 1, piece(2, 1.0))])
    parts.write(1, [("a", 1, piece(1, 3.0))])
    columns = ("entropy", "rank", "topk_ids", "topk_logprobs")
    assert parts.merge(["a", "b"], np.array([1, 2]), columns) == (3, 5 / 3)
    got = run.read_scores("m")
    assert got.schema.field("rank").type == pa.int32() and got.schema.field("entropy").type == pa.float32()
    assert got.to_pydict() == {"doc_id": ["a", "b", "b"], "pos": [1, 1, 2], "loss": [3.0, 1.0, 1.0],
                               "entropy": [4.0, 2.0, 2.0], "rank": [1, 1, 2], "topk_ids": [[0, 1], [0, 1], [2, 3]],
                               "topk_logprobs": [[0.0, -1.0], [0.0, -1.0], [-2.0, -3.0]]}  # fmt: skip


def test_parts_record_pieces_and_read_whole_document_parts_of_older_versions(tmp_path) -> None:
    parts = RunDir(tmp_path / "run").score_parts("m")
    parts.prepare({"model": "x"}, overwrite=False)
    parts.write(0, [("a", 4, {"loss": np.array([4.0, 5.0], np.float32)}),
                    ("a", 1, {"loss": np.array([1.0, 2.0, 3.0], np.float32)})])  # fmt: skip
    # a part as lossgap wrote them before pieces: whole documents, no piece column
    pq.write_table(pa.table({"doc_id": ["b", "b"], "pos": pa.array([1, 2], pa.int32()),
                             "loss": pa.array([6.0, 7.0], pa.float32())}), parts.folder / "part-r0000-old.parquet")  # fmt: skip
    assert {d: sorted(p) for d, p in parts.done_pieces().items()} == {"a": [(1, 3), (4, 5)], "b": [(1, 2)]}
    assert parts.merge(["a", "b"], np.array([5, 2])) == (7, 4.0)
    assert RunDir(tmp_path / "run").read_scores("m").column("loss").to_pylist() == [1, 2, 3, 4, 5, 6, 7]


def test_manifest_records_round_trip_and_a_bad_record_names_its_key(tmp_path) -> None:
    run = RunDir(tmp_path / "run")
    assert run.manifest().models == {}
    context = ModelContext(max_length=64, stride=32, policy="windows of 64 tokens, stride 32", prefix="bos")
    record = ModelRecord(model="m", revision=None, dtype="float32", device="cpu", architecture="LlamaForCausalLM",
                         context=context, requested={"max_length": 64}, n_docs=2, n_tokens=10, mean_loss=float("nan"))  # fmt: skip
    run.record_model("short", record)
    run.record_corpus(CorpusRecord(fingerprint="f", source="s", n_docs=2, n_read=3, skipped={"empty_text": 1}))
    run.record_tokenizer(
        TokenizerRecord(fingerprint="t", prefix_token_id=1, policy="bos", first_model="m", n_tokens=12)
    )
    run.record_features(FeaturesRecord(config={}, spacy_model=None, repeat_context=ContextPolicy(max_length=64, stride=32),
                                       columns=("doc_id",), n_tokens=12, n_docs=2))  # fmt: skip
    manifest = run.manifest()
    assert math.isnan(manifest.models["short"].mean_loss)  # NaN is null in the file, NaN again when read
    assert manifest.models["short"].context.window == ContextPolicy(max_length=64, stride=32)
    assert manifest.corpus.skipped == {"empty_text": 1} and manifest.tokenizer.prefix_token_id == 1
    assert manifest.features.repeat_context == ContextPolicy(max_length=64, stride=32)
    path = run.describe("run.json")
    data = json.loads(path.read_text())
    assert data["models"]["short"]["mean_loss"] is None
    data["models"]["short"]["context"]["max_length"] = "64"
    path.write_text(json.dumps(data))
    with pytest.raises(SchemaError, match=r"run.json.models.short.context.max_length: expected an integer, got '64'"):
        run.manifest()


@pytest.mark.parametrize("name", sorted(RESULTS))
def test_every_results_table_round_trips_and_is_checked(tmp_path, name) -> None:
    run = RunDir(tmp_path / "run")
    table = RESULTS[name]
    values = {"text": ["NA", "1"], "int": [1, 2], "float": [0.25, float("nan")]}
    frame = pd.DataFrame({c.name: values[c.kind] for c in table.columns})
    record = ResultRecord(name="r", kind=file_kind(name), baseline="a", candidate="b")
    run.write_results(record, {name: frame})
    back = run.read_results(name)
    assert back.columns.tolist() == table.names
    for column in table.columns:  # text stays text ("NA", "1"), numbers stay numbers
        if column.kind == "text":
            assert back[column.name].tolist() == ["NA", "1"]
        else:
            np.testing.assert_array_equal(back[column.name].to_numpy(float), np.array(values[column.kind], float))
    required = [c for c in table.names if c not in ADDED_COLUMNS][-1]  # columns added later may be left out
    with pytest.raises(SchemaError, match=rf"results/{name}: the writer gave no column\(s\) {required}"):
        run.write_results(record, {name: frame.drop(columns=[required])})
    path = run.result_file(name)
    path.write_text(frame.drop(columns=[table.names[0]]).to_csv(index=False))
    with pytest.raises(SchemaError, match=rf"{name}: missing column\(s\) {table.names[0]}"):
        run.read_results(name)
    numeric = next((c.name for c in table.columns if c.kind != "text"), None)
    if numeric is not None:
        path.write_text(frame.assign(**{numeric: ["abc", "1"]}).to_csv(index=False))
        with pytest.raises(SchemaError, match=rf"column '{numeric}' is not numeric"):
            run.read_results(name)
    assert RunDir(tmp_path / "other").read_results(name) is None


def test_summary_round_trips_with_nan_as_null_and_a_bad_field_is_named(tmp_path) -> None:
    run = RunDir(tmp_path / "run")
    row = HeadlineRow(label="all", n_tokens=6, mean_gap=0.25, ci_low=float("nan"), ci_high=float("nan"))
    summary = Summary(baseline="a", candidate="b", n_tokens=6, n_docs=2, mean_loss_baseline=2.0, mean_loss_candidate=1.75,
                      mean_gap=0.25, ci_low=float("nan"), ci_high=float("nan"), macro_mean_gap=0.3, headline=(row,),
                      notes=("only 2 documents",))  # fmt: skip
    run.write_results(ResultRecord(name="a-vs-b", kind="compare", baseline="a", candidate="b"), {}, summary=summary,
                      regression="gap ~ 0 + C(word_class)\n")  # fmt: skip
    back = run.read_summary()
    assert back.headline[0].label == "all" and math.isnan(back.ci_low) and back.notes == ("only 2 documents",)
    assert json.loads(run.result_file("summary.json").read_text())["ci_low"] is None
    assert run.read_regression() == "gap ~ 0 + C(word_class)"
    raw = json.loads(run.result_file("summary.json").read_text())
    raw["mean_gap"] = "big"
    run.result_file("summary.json").write_text(json.dumps(raw))
    with pytest.raises(SchemaError, match="summary.json.mean_gap: expected a number, got 'big'"):
        run.read_summary()
    del raw["mean_gap"]
    run.result_file("summary.json").write_text(json.dumps(raw))
    with pytest.raises(SchemaError, match="missing key 'mean_gap'"):
        run.read_summary()


def test_named_results_are_kept_apart_replaced_by_the_same_question_and_listed(tmp_path) -> None:
    run = RunDir(tmp_path / "run")
    frame = pd.DataFrame({c.name: [1] if c.kind != "text" else ["x"] for c in RESULTS["categories.csv"].columns})
    contrasts = pd.DataFrame({c.name: [1] if c.kind != "text" else ["x"] for c in RESULTS["contrasts.csv"].columns})
    ab = ResultRecord(name="a-vs-b", kind="compare", baseline="a", candidate="b")
    ac = ResultRecord(name="a-vs-c", kind="compare", baseline="a", candidate="c")
    curves = ResultRecord(name="ckpt", kind="curves", series=("a", "b"))
    run.write_results(ab, {"categories.csv": frame, "contrasts.csv": contrasts})
    run.write_results(ac, {"categories.csv": frame.assign(mean_gap=2.0)})
    run.write_results(curves, {})
    assert run.results() == [ab, ac, curves]  # by kind, then name
    assert run.read_results("categories.csv", "a-vs-b")["mean_gap"].tolist() == [1]
    assert run.read_results("categories.csv", "a-vs-c")["mean_gap"].tolist() == [2.0]
    with pytest.raises(RunDirError, match="2 compare results \\(a-vs-b, a-vs-c\\): name the one meant"):
        run.read_results("categories.csv")
    with pytest.raises(RunDirError, match="holds curves results, not compare"):
        run.read_results("categories.csv", "ckpt")
    assert run.read_results("categories.csv", "nothing") is None
    with pytest.raises(RunDirError, match="no compare result named 'nothing'; run `lossgap compare"):
        run.read_summary("nothing")
    # the same question again replaces its result, files it no longer writes included
    run.write_results(ab, {"categories.csv": frame.assign(mean_gap=3.0)})
    assert run.read_results("categories.csv", "a-vs-b")["mean_gap"].tolist() == [3.0]
    assert not (run.result_dir("a-vs-b") / "contrasts.csv").exists()
    # another question under a name already taken is refused, and nothing is written
    with pytest.raises(ConfigError, match="already holds c vs a; give this compare another --name"):
        run.write_results(
            ResultRecord(name="a-vs-c", kind="compare", baseline="b", candidate="c"), {"categories.csv": frame}
        )
    assert run.read_results("categories.csv", "a-vs-c")["mean_gap"].tolist() == [2.0]
    with pytest.raises(RunDirError, match="invalid"):
        run.result_dir("../escape")
    # removing a result frees its name for another question; the others stay; a missing name is no error
    assert run.remove_result("a-vs-c") and not run.result_dir("a-vs-c").exists()
    assert run.results() == [ab, curves] and not run.remove_result("a-vs-c")
    other = ResultRecord(name="a-vs-c", kind="compare", baseline="b", candidate="c")
    run.write_results(other, {"categories.csv": frame})
    assert run.results() == [ab, other, curves]
    with pytest.raises(ConfigError, match="needs a result's name"):
        run.remove_result("")
    assert run.results_dir.is_dir()


def test_the_token_view_joins_tokens_scores_and_features_as_a_brute_force_merge(tmp_path) -> None:
    """RunDir.token_view, the one query of tokens x scores x features: inner where no tokens are asked for, every
    token with the others left-joined where they are, and a document filter applied before the joins."""
    import duckdb

    from lossgap.rundir import FEATURE_COLUMNS_ALL, SCORES_SCHEMA

    run = RunDir(tmp_path / "run")
    keys = pd.DataFrame({"doc_id": ["a", "a", "a", "b", "b", "c"], "pos": [0, 1, 2, 0, 1, 0]})
    tokens = keys.assign(token_id=[5, 6, 7, 5, 8, 5], char_start=[-1, 0, 2, -1, 0, -1], char_end=[-1, 2, 4, -1, 3, -1])
    run.write_tokens("", pa.Table.from_pandas(tokens, schema=TOKENS_SCHEMA, preserve_index=False))
    scored = {
        "x": keys.iloc[[1, 2, 4]].assign(loss=[1.0, 2.0, 3.0]),
        "y": keys.iloc[[1, 4, 5]].assign(loss=[4.0, 5.0, 6.0]),
    }
    for name, frame in scored.items():
        run.write_scores(name, pa.Table.from_pandas(frame, schema=SCORES_SCHEMA, preserve_index=False))
    features = _rows(FEATURES_SCHEMA, 4).to_pandas()
    features[["doc_id", "pos"]] = keys.iloc[[1, 2, 4, 5]].to_numpy()
    features["pos"] = features["pos"].astype("int32")
    with run.features_writer() as writer:
        writer.write(pa.Table.from_pandas(features, schema=FEATURES_SCHEMA, preserve_index=False))
    con = duckdb.connect()
    columns = ["word_class", "domain"]

    def brute(how: str, with_tokens: bool, docs: list[str] | None = None) -> pd.DataFrame:
        frame = tokens[["doc_id", "pos", "char_start"]] if with_tokens else None
        for column, name in (("lx", "x"), ("ly", "y")):
            part = scored[name].rename(columns={"loss": column})
            frame = part if frame is None else frame.merge(part, on=["doc_id", "pos"], how=how)
        frame = frame.merge(features[["doc_id", "pos", *columns]], on=["doc_id", "pos"], how=how)
        if docs is not None:
            frame = frame[frame["doc_id"].isin(docs)]
        return frame.sort_values(["doc_id", "pos"]).reset_index(drop=True)

    def got(sql: str) -> pd.DataFrame:
        return con.execute(sql).df().sort_values(["doc_id", "pos"]).reset_index(drop=True)

    run.token_view(con, "v_inner", scores={"lx": "x", "ly": "y"}, features=columns)
    pd.testing.assert_frame_equal(got("SELECT * FROM v_inner"), brute("inner", False), check_dtype=False)
    run.token_view(con, "v_every", tokens=("char_start",), scores={"lx": "x", "ly": "y"}, features=columns)
    left = got("SELECT * FROM v_every")
    pd.testing.assert_frame_equal(left.drop(columns="has_features"), brute("left", True), check_dtype=False)
    assert left["has_features"].tolist() == [False, True, True, False, True, True]
    run.token_view(con, "v_some", tokens=("char_start",), scores={"lx": "x", "ly": "y"}, features=columns,
                   docs="SELECT 'b' UNION SELECT 'nowhere'")  # fmt: skip
    pd.testing.assert_frame_equal(got("SELECT * FROM v_some").drop(columns="has_features"), brute("left", True, ["b"]),
                                  check_dtype=False)  # fmt: skip
    run.token_view(con, "all_features", scores={"lx": "x"}, features=FEATURE_COLUMNS_ALL)
    assert set(con.execute("SELECT * FROM all_features LIMIT 0").df().columns) == {"lx", *FEATURES_SCHEMA.names}
    with pytest.raises(ValueError, match="tokens or at least one scoring"):
        run.token_view(con, "nothing", features=columns)
