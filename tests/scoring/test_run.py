import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.parquet as pq
import pytest

from lossgap.corpus import CorpusConfig, run_corpus
from lossgap.errors import ConfigError, TokenizerMismatchError
from lossgap.rundir import ContextPolicy, RunDir, ScoreParts
from lossgap.scoring import ScoreConfig, run_score
from tests.conftest import TEXTS, score
from tests.scoring.reference import assert_float32_close, context_losses, full_context_losses, load_float64
from tests.tiny_models import save_tiny_model, train_tokenizer


def _scores_by_doc(rd: RunDir, name: str) -> dict[str, np.ndarray]:
    table = rd.read_scores(name).to_pandas()
    return {d: g.sort_values("pos")["loss"].to_numpy() for d, g in table.groupby("doc_id", sort=False)}


def _ids_by_doc(rd: RunDir) -> dict[str, np.ndarray]:
    table = rd.read("tokens").to_pandas()
    return {d: g.sort_values("pos")["token_id"].to_numpy() for d, g in table.groupby("doc_id", sort=False)}


def test_losses_match_float64_reference(tiny_model, corpus_file, tmp_path):
    rd = RunDir(tmp_path / "run")
    result = score(rd, ScoreConfig(model=str(tiny_model), name="m"), corpus_file)
    reference = load_float64(tiny_model)
    scores, ids = _scores_by_doc(rd, "m"), _ids_by_doc(rd)
    assert list(scores) == [f"doc{i}" for i in range(len(TEXTS))]  # corpus order
    for doc, doc_ids in ids.items():
        assert_float32_close(scores[doc], full_context_losses(reference, doc_ids))
    assert result.n_tokens == sum(len(v) - 1 for v in ids.values())
    assert result.mean_loss == pytest.approx(np.concatenate(list(scores.values())).mean(), rel=1e-6)
    table = pq.read_table(rd.scores_path("m"))
    assert table.schema.field("loss").type == "float" and table.schema.field("pos").type == "int32"
    record = rd.manifest().models["m"]
    assert (record.attention, record.compiled) == ("sdpa", False)  # varlen attention is for CUDA bf16/fp16


def test_batched_equals_one_window_at_a_time(tiny_model, corpus_file, tmp_path):
    one = RunDir(tmp_path / "one")
    many = RunDir(tmp_path / "many")
    score(one, ScoreConfig(model=str(tiny_model), name="m", batch_tokens=1), corpus_file)
    score(many, ScoreConfig(model=str(tiny_model), name="m", batch_tokens=4096), corpus_file)
    a, b = _scores_by_doc(one, "m"), _scores_by_doc(many, "m")
    for doc in a:
        assert_float32_close(a[doc], b[doc])


def test_windows_match_per_token_reference(tiny_model, corpus_file, tmp_path):
    rd = RunDir(tmp_path / "run")
    score(rd, ScoreConfig(model=str(tiny_model), name="w", max_length=12, stride=5), corpus_file)
    reference = load_float64(tiny_model)
    scores = _scores_by_doc(rd, "w")
    for doc, doc_ids in _ids_by_doc(rd).items():
        starts = ContextPolicy(max_length=12, stride=5).context_start(len(doc_ids))
        assert_float32_close(scores[doc], context_losses(reference, doc_ids, starts))
    assert RunDir(rd.path).manifest().models["w"].context.policy == "windows of 12 tokens, stride 5"


def test_windows_equal_full_context_when_documents_fit(llama_model, corpus_file, tmp_path):
    full = RunDir(tmp_path / "full")
    fits = RunDir(tmp_path / "fits")
    score(full, ScoreConfig(model=str(llama_model), name="m"), corpus_file)
    longest = max(len(v) for v in _ids_by_doc(full).values())
    score(fits, ScoreConfig(model=str(llama_model), name="m", max_length=longest, stride=3), corpus_file)
    a, b = _scores_by_doc(full, "m"), _scores_by_doc(fits, "m")
    for doc in a:
        np.testing.assert_allclose(a[doc], b[doc], rtol=0, atol=1e-6)


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


def test_a_model_with_another_tokenizer_joins_the_run_with_its_own_tokens(llama_model, corpus_file, tmp_path):
    rd = RunDir(tmp_path / "run")
    score(rd, ScoreConfig(model=str(llama_model), name="first"), corpus_file)
    main_tokens = rd.path.joinpath("tokens.parquet").read_bytes()
    other_tok = train_tokenizer(tmp_path / "other-tok", ["completely different training text, zebra quartz"] * 5)
    other = save_tiny_model("llama", tmp_path / "other", other_tok)
    run_score(rd, ScoreConfig(model=str(other), name="second"))
    manifest = rd.manifest()
    key = manifest.models["second"].tokenizer
    assert manifest.models["first"].tokenizer == "" and key and set(manifest.tokenizers) == {key}
    assert rd.path.joinpath("tokens.parquet").read_bytes() == main_tokens  # the first tokenization is untouched
    from transformers import AutoTokenizer

    theirs = rd.read_tokens(key)
    want = AutoTokenizer.from_pretrained(other)(TEXTS[0], add_special_tokens=False)["input_ids"]
    first_doc = theirs.filter(pa.compute.equal(theirs.column("doc_id"), "doc0")).column("token_id").to_pylist()
    assert first_doc[1:] == want  # pos 0 is the prefix token
    got = rd.read_scores("second")
    assert got.num_rows == theirs.num_rows - len(theirs.column("doc_id").unique())

    run_score(rd, ScoreConfig(model=str(other), name="third"))  # a third model with that tokenizer shares its key
    assert rd.manifest().models["third"].tokenizer == key and set(rd.manifest().tokenizers) == {key}


def test_a_tokenizer_with_the_runs_vocabulary_that_tokenizes_differently_is_refused(llama_model, corpus_file, tmp_path):
    from transformers import AutoTokenizer

    rd = RunDir(tmp_path / "run")
    score(rd, ScoreConfig(model=str(llama_model), name="first"), corpus_file)
    before = _digest(rd.path)
    lowered = AutoTokenizer.from_pretrained(llama_model)  # the same vocabulary, but it lowercases the text first
    from tokenizers import normalizers

    lowered.backend_tokenizer.normalizer = normalizers.Lowercase()
    other = tmp_path / "lowered"
    save_tiny_model("llama", other, llama_model)
    lowered.save_pretrained(other)
    with pytest.raises(
        TokenizerMismatchError, match=r"has the vocabulary of the run's tokens .* document 'doc\d', position \d+"
    ):
        run_score(rd, ScoreConfig(model=str(other), name="second"))
    assert _digest(rd.path) == before


def test_interrupted_run_resumes_without_rescoring(llama_model, corpus_file, tmp_path, monkeypatch):
    reference = RunDir(tmp_path / "reference")
    score(reference, ScoreConfig(model=str(llama_model), name="m"), corpus_file)

    rd = RunDir(tmp_path / "run")
    config = ScoreConfig(model=str(llama_model), name="m", batch_tokens=64, flush_tokens=1)
    real_write = ScoreParts.write
    written: list[list[str]] = []

    def write_then_die(parts, rank, pieces):
        real_write(parts, rank, pieces)
        written.append([d for d, _, _ in pieces])
        if len(written) == 2:
            raise KeyboardInterrupt  # killed mid-run, after two part files

    monkeypatch.setattr(ScoreParts, "write", write_then_die)
    with pytest.raises(KeyboardInterrupt):
        score(rd, config, corpus_file)
    assert not rd.has_scores("m")  # never looks complete
    # A half-written part (as a kill during a write leaves it) is never read.
    (rd.score_parts("m").folder / ".part-r0000-x.parquet.tmp-1-abc").write_bytes(b"garbage")

    kept = [d for part in written for d in part]
    kept_tokens = rd.score_parts("m").done_tokens()
    written.clear()
    monkeypatch.setattr(
        ScoreParts,
        "write",
        lambda parts, rank, pieces: (written.append([d for d, _, _ in pieces]), real_write(parts, rank, pieces)),
    )
    result = run_score(rd.path, config)
    assert result.resumed_tokens == kept_tokens > 0
    rescored = [d for part in written for d in part]
    assert sorted(kept + rescored) == sorted(f"doc{i}" for i in range(len(TEXTS)))  # each document's one window once
    got, want = pq.read_table(rd.scores_path("m")).to_pandas(), pq.read_table(reference.scores_path("m")).to_pandas()
    assert got[["doc_id", "pos"]].equals(want[["doc_id", "pos"]])
    assert_float32_close(got["loss"].to_numpy(), want["loss"].to_numpy())
    assert not rd.score_parts("m").folder.exists()


def test_a_failed_part_write_stops_the_scoring(llama_model, corpus_file, tmp_path, monkeypatch):
    """A part-file write that fails (a full disk) ends the command with its own error, and nothing looks
    complete."""
    rd = RunDir(tmp_path / "run")
    calls = []

    def fail(parts, rank, pieces):
        calls.append(len(pieces))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ScoreParts, "write", fail)
    with pytest.raises(OSError, match="No space left"):
        score(rd, ScoreConfig(model=str(llama_model), name="m", batch_tokens=64, flush_tokens=1), corpus_file)
    assert calls and not rd.has_scores("m") and "m" not in rd.manifest().models


def test_each_steps_seconds_are_recorded(llama_model, corpus_file, tmp_path):
    """run.json keeps each step's seconds; the first batch's are part of the scoring step's."""
    rd = RunDir(tmp_path / "run")
    score(rd, ScoreConfig(model=str(llama_model), name="m", batch_tokens=64), corpus_file)
    seconds = rd.manifest().models["m"].seconds
    assert {"tokenize", "load", "kernels", "check", "score", "merge", "score_first_batch"} <= seconds.keys()
    assert 0 < seconds["score_first_batch"] < seconds["score"]


def test_an_interrupted_long_document_keeps_its_finished_windows(llama_model, tmp_path, monkeypatch):
    """One document in many windows, interrupted after three batches: the windows scored are kept, the rerun scores
    only the others, and the result equals an uninterrupted run."""
    import json

    corpus = tmp_path / "one.jsonl"
    corpus.write_text(json.dumps({"id": "long", "text": " ".join(TEXTS * 3)}) + "\n")
    config = ScoreConfig(model=str(llama_model), name="m", max_length=16, stride=8, batch_tokens=16, flush_tokens=1)
    reference = RunDir(tmp_path / "reference")
    score(reference, config, corpus)
    n_windows = len(ContextPolicy(max_length=16, stride=8).windows(reference.manifest().tokenizer.n_tokens))
    assert n_windows > 10

    rd = RunDir(tmp_path / "run")
    real_write = ScoreParts.write
    pieces_written: list[tuple[str, int]] = []

    def write_then_interrupt(parts, rank, pieces):
        real_write(parts, rank, pieces)
        pieces_written.extend((d, first) for d, first, _ in pieces)
        if len(pieces_written) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(ScoreParts, "write", write_then_interrupt)
    with pytest.raises(KeyboardInterrupt) as caught:
        score(rd, config, corpus)
    assert caught.value.kept_tokens == rd.score_parts("m").done_tokens() > 0  # the three windows are kept
    assert len(rd.score_parts("m").done_pieces()["long"]) == 3

    pieces_written.clear()
    monkeypatch.setattr(
        ScoreParts,
        "write",
        lambda parts, rank, pieces: (
            pieces_written.extend((d, f) for d, f, _ in pieces),
            real_write(parts, rank, pieces),
        ),
    )
    result = run_score(rd.path, config)
    assert len(pieces_written) == n_windows - 3 and result.resumed_tokens == caught.value.kept_tokens
    got, want = pq.read_table(rd.scores_path("m")).to_pandas(), pq.read_table(reference.scores_path("m")).to_pandas()
    assert got[["doc_id", "pos"]].equals(want[["doc_id", "pos"]])
    assert_float32_close(got["loss"].to_numpy(), want["loss"].to_numpy())


def test_progress_moves_within_a_batch_on_the_cpu(llama_model, corpus_file, tmp_path):
    """One batch holds every window: the progress callback still hears of it after each decoder layer."""
    calls: list[tuple[int, int]] = []
    run_corpus(tmp_path / "run", corpus_file, CorpusConfig())
    result = run_score(tmp_path / "run", ScoreConfig(model=str(llama_model), name="m", batch_tokens=1 << 20, device="cpu"),
                       progress=lambda done, total: calls.append((done, total)))  # fmt: skip
    done = [d for d, _ in calls]
    assert {t for _, t in calls} == {result.n_tokens} and done[-1] == result.n_tokens
    assert (
        done == sorted(done) and len({d for d in done if 0 < d < result.n_tokens}) >= 2
    )  # the tiny model has 2 layers


def test_rescoring_same_settings_is_a_no_op_and_other_settings_are_refused(llama_model, corpus_file, tmp_path):
    rd = RunDir(tmp_path / "run")
    score(rd, ScoreConfig(model=str(llama_model), name="m"), corpus_file)
    again = run_score(rd.path, ScoreConfig(model=str(llama_model), name="m", batch_tokens=7))
    assert again.already_complete
    with pytest.raises(ConfigError, match="already holds scores"):
        run_score(rd.path, ScoreConfig(model=str(llama_model), name="m", max_length=8))
    redone = run_score(rd.path, ScoreConfig(model=str(llama_model), name="m", max_length=8, overwrite=True))
    assert not redone.already_complete and rd.manifest().models["m"].context.max_length == 8


def test_killed_process_resumes(llama_model, tmp_path):
    """SIGKILL a scoring process once it has written a part file; the same call again finishes the job."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    corpus = tmp_path / "many.jsonl"
    with open(corpus, "w") as fh:
        for i in range(300):
            fh.write(json.dumps({"id": f"d{i:03d}", "text": f"Document {i}: " + TEXTS[i % len(TEXTS)]}) + "\n")
    rd = RunDir(tmp_path / "run")
    run_corpus(rd, corpus, CorpusConfig())
    script = (
        "from lossgap.scoring import ScoreConfig, run_score\n"
        f"run_score({str(rd.path)!r}, ScoreConfig(model={str(llama_model)!r}, name='m', batch_tokens=32, flush_tokens=1))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "OMP_NUM_THREADS": "1"})
    parts = rd.score_parts("m").folder
    deadline = time.time() + 240
    while time.time() < deadline and not (parts.is_dir() and len(list(parts.glob("part-*.parquet"))) >= 3):
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not rd.scores_path("m").exists(), "the process finished before it could be killed"
    done_before = len({d for p in parts.glob("part-*.parquet") for d in pq.read_table(p).column("doc_id").to_pylist()})
    assert 3 <= done_before < 300

    kept_tokens = rd.score_parts("m").done_tokens()
    result = run_score(rd.path, ScoreConfig(model=str(llama_model), name="m", batch_tokens=32, flush_tokens=1))
    assert result.resumed_tokens == kept_tokens
    reference = RunDir(tmp_path / "reference")
    score(reference, ScoreConfig(model=str(llama_model), name="m"), corpus)
    got, want = pq.read_table(rd.scores_path("m")).to_pandas(), pq.read_table(reference.scores_path("m")).to_pandas()
    assert got[["doc_id", "pos"]].equals(want[["doc_id", "pos"]])  # every token once, in corpus order
    assert_float32_close(got["loss"].to_numpy(), want["loss"].to_numpy())


def test_compiled_trunk_gives_the_same_losses(llama_model, corpus_file, tmp_path):
    eager, compiled = RunDir(tmp_path / "eager"), RunDir(tmp_path / "compiled")
    score(eager, ScoreConfig(model=str(llama_model), name="m"), corpus_file)
    score(compiled, ScoreConfig(model=str(llama_model), name="m", compile=True), corpus_file)
    a, b = _scores_by_doc(eager, "m"), _scores_by_doc(compiled, "m")
    for doc in a:
        np.testing.assert_allclose(a[doc], b[doc], rtol=0, atol=1e-4)
