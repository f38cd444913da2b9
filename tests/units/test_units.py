"""Words and bytes as the unit of comparison: the segmentation and the loss attribution against hand-worked cases
and a brute force, and whole runs of models with different tokenizers (conservation, agreement with
token-level gaps, word-level categories)."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lossgap.analysis import CompareConfig, run_compare
from lossgap.errors import ConfigError
from lossgap.rundir import RunDir, to_json
from lossgap.scoring import ScoreConfig, run_score
from lossgap.units import build_units, char_to_byte, resolve_unit, segment, unit_losses
from tests.conftest import TEXTS, score
from tests.tiny_models import save_tiny_model, train_tokenizer


def test_words_tile_the_text_with_white_space_joining_the_next_word():
    units = segment("Hi  (there)! é ", "word")
    assert units.keys == ["Hi", "(", "there", ")", "!", "é"]
    assert units.char_start.tolist() == [0, 2, 5, 10, 11, 12]
    assert units.char_end.tolist() == [2, 5, 10, 11, 12, 15]  # the trailing space is the last word's
    assert units.byte_end.tolist() == [2, 5, 10, 11, 12, 16]  # é is two bytes
    assert segment("   ", "word").keys == ["   "] and len(segment("", "word")) == 0


def test_bytes_are_the_utf8_bytes_with_their_characters():
    units = segment("aé€", "byte")
    assert units.keys.tolist() == list("aé€".encode())
    assert units.char_start.tolist() == [0, 1, 1, 2, 2, 2]
    assert char_to_byte("aé€😀").tolist() == [0, 1, 3, 6, 10]


def test_attribution_hand_worked():
    # units: "Hi" [0,2) "  (" [2,5) "there" [5,10) ")" [10,11) "!" [11,12) " é " [12,16)
    ends = segment("Hi  (there)! é ", "word").byte_end
    # tokens: "Hi" 1 nat; "  (th" [2,7) 5 nats (1 a byte); "ere)! é " [7,16) 9 nats; a zero-width token 0.5
    loss, complete = unit_losses(
        ends, np.array([0, 2, 7, 16]), np.array([2, 7, 16, 16]), np.array([1.0, 5.0, 9.0, 0.5])
    )
    np.testing.assert_allclose(loss, [1.0, 3.0, 2.0 + 3.0, 1.0, 1.0, 4.0 + 0.5], rtol=0, atol=1e-12)
    assert complete.all()
    # the first token unscored (a model without a prefix token): "Hi" is not covered
    loss, complete = unit_losses(ends, np.array([2, 7]), np.array([7, 16]), np.array([5.0, 9.0]))
    assert complete.tolist() == [False, True, True, True, True, True] and loss[0] == 0.0


def _brute_force(ends: np.ndarray, starts: list[int], stops: list[int], losses: list[float]) -> np.ndarray:
    per_byte = [0.0] * int(ends[-1])
    for a, b, value in zip(starts, stops, losses, strict=True):
        for byte in range(a, b):
            per_byte[byte] += value / (b - a)
    bounds = [0, *ends.tolist()]
    return np.array([sum(per_byte[bounds[i] : bounds[i + 1]]) for i in range(len(ends))])


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab  (){}é€😀\n.,")), min_size=1, max_size=40), st.data())
def test_attribution_equals_a_brute_force_and_conserves_the_total(text, data):
    offsets = char_to_byte(text)
    cuts = sorted(set(data.draw(st.lists(st.integers(1, len(text)), max_size=len(text)))) | {0, len(text)})
    starts, stops = [int(offsets[a]) for a in cuts[:-1]], [int(offsets[b]) for b in cuts[1:]]
    losses = data.draw(st.lists(st.floats(0, 20), min_size=len(starts), max_size=len(starts)))
    for unit in ("word", "byte"):
        ends = segment(text, unit).byte_end
        got, complete = unit_losses(ends, np.array(starts), np.array(stops), np.array(losses))
        np.testing.assert_allclose(got, _brute_force(ends, starts, stops, losses), rtol=1e-12, atol=1e-12)
        assert got.sum() == pytest.approx(sum(losses), rel=1e-12, abs=1e-12) and complete.all()


@pytest.fixture(scope="module")
def two_tokenizer_run(tmp_path_factory, llama_model, corpus_file_module):
    """A run with three models: two sharing the run's tokenizer (different seeds), one with its own."""
    root = tmp_path_factory.mktemp("units")
    rd = RunDir(root / "run")
    score(rd, ScoreConfig(model=str(llama_model), name="a"), corpus_file_module)
    other_seed = save_tiny_model("llama", root / "seed1", llama_model, seed=1)
    run_score(rd, ScoreConfig(model=str(other_seed), name="b"))
    other_tok = train_tokenizer(root / "tok2", TEXTS, vocab_size=300, add_bos=True)
    run_score(rd, ScoreConfig(model=str(save_tiny_model("llama", root / "other", other_tok)), name="c"))
    return rd


@pytest.fixture(scope="module")
def corpus_file_module(tmp_path_factory):
    import json

    path = tmp_path_factory.mktemp("corpus") / "corpus.jsonl"
    domains = ["books", "python", "encyclopedia", "books", "science", "html"]
    with open(path, "w") as fh:
        for i, (text, domain) in enumerate(zip(TEXTS, domains, strict=True)):
            fh.write(json.dumps({"id": f"doc{i}", "domain": domain, "text": text}) + "\n")
    return path


def _by_doc(table) -> dict[str, dict[int, float]]:
    out: dict[str, dict[int, float]] = {}
    for d, p, v in zip(*(table.column(c).to_pylist() for c in ("doc_id", "pos", "loss")), strict=True):
        out.setdefault(d, {})[p] = v
    return out


@pytest.mark.parametrize("unit", ["word", "byte"])
def test_every_documents_total_loss_is_conserved_for_every_tokenizer(two_tokenizer_run, unit):
    rd = two_tokenizer_run
    unit_run, done = build_units(rd, unit, ["a", "b", "c"])
    assert rd.manifest().models["c"].tokenizer != rd.manifest().models["a"].tokenizer
    for name in ("a", "b", "c"):
        tokens = _by_doc(rd.read_scores(name))
        units = _by_doc(unit_run.read_scores(name))
        assert set(units) == set(tokens)
        for doc, per_token in tokens.items():
            want = float(np.sum(np.array(list(per_token.values()), np.float64)))
            got = float(np.sum(np.array(list(units[doc].values()), np.float64)))
            assert got == pytest.approx(want, rel=1e-6), (name, doc)  # float32 unit losses summed
        assert all(d.n_incomplete == 0 for d in done)  # every real token is scored (the prefix token has none)
    n_units = sum(len(segment(t, unit)) for t in TEXTS)
    assert unit_run.read("tokens").num_rows == n_units + len(TEXTS)  # and a prefix row per document
    assert unit_run.read_scores("c").num_rows == n_units


def test_per_word_gap_of_a_same_tokenizer_pair_equals_its_token_gaps_summed_over_words(two_tokenizer_run):
    rd = two_tokenizer_run
    unit_run, _ = build_units(rd, "word", ["a", "b"])
    tokens = rd.read("tokens").to_pylist()
    loss_a, loss_b = _by_doc(rd.read_scores("a")), _by_doc(rd.read_scores("b"))
    texts = dict(zip(*(rd.read("corpus").column(c).to_pylist() for c in ("doc_id", "text")), strict=True))
    got_a, got_b = _by_doc(unit_run.read_scores("a")), _by_doc(unit_run.read_scores("b"))
    for doc, text in texts.items():
        # words by hand: the regex, white space to the next word; a token's gap goes to words by its characters'
        # UTF-8 bytes (these texts are ASCII but the code path is the same)
        word_ends = [m.end() for m in re.finditer(r"\d+(?:[.,]\d+)+|\w+|[^\w\s]", text)]
        word_ends[-1] = len(text)
        want = [0.0] * len(word_ends)
        for t in (t for t in tokens if t["doc_id"] == doc and t["pos"] in loss_a[doc]):
            gap = loss_a[doc][t["pos"]] - loss_b[doc][t["pos"]]
            for ch in range(t["char_start"], t["char_end"]):
                word = next(i for i, end in enumerate(word_ends) if ch < end)
                want[word] += gap / (t["char_end"] - t["char_start"])
        got = [got_a[doc][i + 1] - got_b[doc][i + 1] for i in range(len(word_ends))]  # word i is at pos i + 1
        np.testing.assert_allclose(got, want, rtol=0, atol=2e-5 * max(1.0, max(map(abs, want))))


def test_word_level_categories_agree_with_hand_made_cases(two_tokenizer_run):
    unit_run, _ = build_units(two_tokenizer_run, "word", ["a", "c"])
    features = unit_run.read("features").to_pandas()
    units = unit_run.read("tokens").to_pandas()
    frame = units.merge(features, on=["doc_id", "pos"])
    texts = dict(zip(*(unit_run.read("corpus").column(c).to_pylist() for c in ("doc_id", "text")), strict=True))
    frame["word"] = [
        texts[d][a:b].strip() for d, a, b in zip(frame.doc_id, frame.char_start, frame.char_end, strict=True)
    ]
    code = frame[frame.doc_id == "doc1"].set_index("pos")  # def add(a, b):\n    return (a + b)\n\nprint(add(1, 2))
    assert (
        code.loc[3, "word"] == "(" and code.loc[3, "bracket_side"] == "open" and code.loc[3, "bracket_kind"] == "round"
    )
    assert code.loc[7, "word"] == ")" and code.loc[7, "bracket_side"] == "close"
    prose = frame[frame.doc_id == "doc0"].set_index("pos")  # The cat sat on the mat. The cat sat on the mat again, …
    assert prose.loc[2, "word"] == "cat" and prose.loc[2, "word_class"] == "content"
    assert prose.loc[1, "word"] == "The" and prose.loc[1, "word_class"] == "function"
    # the second "mat" ends a repeat of 6 words (The cat sat on the mat), counted in words, not tokens; the
    # second "The" repeats only itself ("the" is another word)
    assert prose.loc[13, "word"] == "mat" and prose.loc[13, "repeat_len"] == 6
    assert prose.loc[8, "word"] == "The" and prose.loc[8, "repeat_len"] == 1
    words = frame[(frame.pos > 0) & frame.word_piece.notna()]  # prose: spaCy's words
    assert len(words) > 50 and (words["word_piece"] == "single").mean() > 0.9  # a unit is (nearly always) one word


def test_compare_chooses_words_when_tokenizers_differ_and_refuses_tokens(two_tokenizer_run):
    rd = two_tokenizer_run
    with pytest.raises(
        ConfigError, match=r"c \(tokens in .*tokenizers/.*\): scored with another tokenizer.*--unit word"
    ):
        run_compare(rd, CompareConfig(baseline="a", candidate="c"))
    assert resolve_unit(rd, "auto", ["a", "b"]) == rd
    unit_run = resolve_unit(rd, "auto", ["a", "c"])
    assert unit_run.path == rd.path / "units" / "word"
    result = run_compare(unit_run, CompareConfig(baseline="a", candidate="c", bootstrap=50))
    levels = unit_run.read_results("categories.csv")
    assert levels is not None and len(levels) and result.summary.baseline == "a"
    overall = (
        pq.read_table(unit_run.scores_path("a")).column("loss").to_numpy().astype(np.float64).mean()
        - pq.read_table(unit_run.scores_path("c")).column("loss").to_numpy().astype(np.float64).mean()
    )
    assert result.summary.mean_gap == pytest.approx(overall, rel=1e-5)


def test_unit_scores_are_rebuilt_when_a_models_scores_change(two_tokenizer_run, llama_model):
    rd = two_tokenizer_run
    build_units(rd, "word", ["a"])
    _, done = build_units(rd, "word", ["a"])
    assert not done[0].rebuilt
    other = save_tiny_model("llama", rd.path.parent / "seed2", llama_model, seed=2)
    run_score(rd, ScoreConfig(model=str(other), name="a", overwrite=True))
    _, done = build_units(rd, "word", ["a"])
    assert done[0].rebuilt
    assert done[0].unit_loss_sum == pytest.approx(
        float(rd.read_scores("a").column("loss").to_numpy().astype(np.float64).sum()), rel=1e-6
    )


def test_a_unit_run_written_before_its_record_was_typed_is_read_and_kept(two_tokenizer_run):
    """Unit runs of earlier versions kept how their scores were made in the untyped `requested` dict: it is read
    as the same typed record, and an unchanged source is still not rebuilt."""
    rd = two_tokenizer_run
    unit_run, done = build_units(rd, "word", ["a"])
    record = unit_run.manifest().models["a"]
    made = record.units
    assert made is not None and made.unit == "word" and made.unit_loss_sum == pytest.approx(done[0].unit_loss_sum)
    old_style = {"unit": "word", "source": to_json(made.source), "incomplete": made.incomplete,
                 "token_loss_sum": made.token_loss_sum, "unit_loss_sum": made.unit_loss_sum, "n_bytes": made.n_bytes,
                 "bits_per_byte": made.bits_per_byte}  # fmt: skip
    legacy = dataclasses.replace(record, requested=old_style, units=None)
    assert legacy.unit_scoring() == made
    unit_run.record_model("a", legacy)
    _, again = build_units(rd, "word", ["a"])
    assert not again[0].rebuilt and again[0].unit_loss_sum == pytest.approx(made.unit_loss_sum)
    # a record of a token scoring has none
    assert rd.manifest().models["a"].unit_scoring() is None


def test_a_pipeline_with_two_tokenizers_compares_and_reports_per_word(tmp_path, llama_model, corpus_file_module):
    from lossgap.pipeline import load_pipeline_config, run_pipeline

    other_tok = train_tokenizer(tmp_path / "tok2", TEXTS, vocab_size=300, add_bos=True)
    other = save_tiny_model("llama", tmp_path / "other", other_tok)
    path = tmp_path / "pipeline.toml"
    path.write_text(f"""
run = "run"

[corpus]
source = "{corpus_file_module}"

[[models]]
model = "{llama_model}"
name = "a"

[[models]]
model = "{other}"
name = "c"

[compare]
baseline = "a"
candidate = "c"
bootstrap = 50

[report]
viewer_docs = 2
""")
    config = load_pipeline_config(path)
    assert config.unit == "auto"
    first = {o.stage: o.ran for o in run_pipeline(config)}
    words = RunDir(tmp_path / "run").unit("word")
    assert first["compare"] and first["report"] and words.has_summary() and words.report_index.is_file()
    assert not RunDir(tmp_path / "run").has_summary()  # nothing at token level: the tokens differ
    again = {o.stage: o.ran for o in run_pipeline(config)}
    assert not again["compare"] and not again["report"]  # current: skipped
    path.write_text(path.read_text().replace('run = "run"', 'run = "run"\nunit = "token"'))
    with pytest.raises(ConfigError, match="--unit word"):
        run_pipeline(load_pipeline_config(path))


def test_checkpoint_curves_of_two_tokenizers_per_word_and_compare_per_byte(tmp_path, llama_model, corpus_file_module):
    """Two series of checkpoints with different tokenizers: curves per word (the mean loss over all words of
    each checkpoint is its unit scores' mean); and compare runs per byte, its mean gap the byte scores' gap."""
    from lossgap.analysis import CurvesConfig, run_curves
    from lossgap.analysis.config import Series

    rd = RunDir(tmp_path / "run")
    score(rd, ScoreConfig(model=str(llama_model), name="x@1"), corpus_file_module)
    run_score(rd, ScoreConfig(model=str(save_tiny_model("llama", tmp_path / "x2", llama_model, seed=5)), name="x@2"))
    other_tok = train_tokenizer(tmp_path / "tok2", TEXTS, vocab_size=300, add_bos=True)
    for step, seed in ((1, 1), (2, 2)):
        model = save_tiny_model("llama", tmp_path / f"y{step}", other_tok, seed=seed)
        run_score(rd, ScoreConfig(model=str(model), name=f"y@{step}"))
    names = ["x@1", "x@2", "y@1", "y@2"]
    with pytest.raises(ConfigError, match="--unit word"):
        run_curves(rd, CurvesConfig(series=(Series(label="x"), Series(label="y"))))
    words = resolve_unit(rd, "auto", names)
    result = run_curves(
        words, CurvesConfig(series=(Series(label="x"), Series(label="y")), masks=("all",), bootstrap=20)
    )
    curves = result.curves.set_index("name")
    for name in names:
        want = words.read_scores(name).column("loss").to_numpy().astype(np.float64).mean()
        assert curves.loc[name, "mean_loss"] == pytest.approx(want, rel=1e-6)
    assert set(result.differences["series"]) == {"y"} and len(result.differences) == 2

    byte_run = resolve_unit(rd, "byte", ["x@1", "y@2"])
    summary = run_compare(byte_run, CompareConfig(baseline="x@1", candidate="y@2", bootstrap=20)).summary
    a = byte_run.read_scores("x@1").column("loss").to_numpy().astype(np.float64)
    b = byte_run.read_scores("y@2").column("loss").to_numpy().astype(np.float64)
    assert summary.n_tokens == len(a) == sum(len(t.encode()) for t in TEXTS)
    assert summary.mean_gap == pytest.approx(a.mean() - b.mean(), rel=1e-5)
