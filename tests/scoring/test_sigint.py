"""A real Ctrl-C: SIGINT to a running `lossgap score` process keeps what it scored, says so and how to resume,
exits 130; the same command again resumes and gives the scores of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from lossgap.errors import ScoringInterrupted
from lossgap.rundir import RunDir
from lossgap.rundir.parts import ScoreParts
from lossgap.scoring import ScoreConfig, run_score
from tests.conftest import TEXTS, score
from tests.scoring.reference import assert_float32_close


def _command(model: Path, run: Path, corpus: Path) -> list[str]:
    # tiny batches and a short flush interval: many part files, each written within a fraction of a second
    return [sys.executable, "-m", "lossgap", "score", str(model), "--run", str(run), "--corpus", str(corpus),
            "--name", "m", "--batch-tokens", "64", "--flush-seconds", "0.2", "--device", "cpu"]  # fmt: skip


def test_sigint_keeps_scored_documents_and_the_rerun_resumes(llama_model, tmp_path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    # enough documents that scoring them takes seconds even on a fast machine, far longer than the first flush
    with open(corpus, "w") as fh:
        for i in range(2500):
            fh.write(json.dumps({"id": f"doc{i:04d}", "domain": "books", "text": TEXTS[i % len(TEXTS)]}) + "\n")
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(_command(llama_model, run, corpus), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)  # fmt: skip
    parts = run / "scores" / ".m.parts"
    deadline = time.monotonic() + 120
    while not list(parts.glob("part-*.parquet")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "scoring ended before it could be interrupted: make the corpus larger"
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, output
    assert "run the same command again to resume" in output, output
    kept = sum(pq.read_metadata(p).num_rows > 0 for p in parts.glob("part-*.parquet"))
    assert kept >= 1 and not (run / "scores" / "m.parquet").exists()

    again = subprocess.run(_command(llama_model, run, corpus), capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "resuming m" in again.stdout + again.stderr
    reference = RunDir(tmp_path / "reference")
    score(reference, ScoreConfig(model=str(llama_model), name="m", batch_tokens=64, device="cpu"), corpus)
    got = pq.read_table(run / "scores" / "m.parquet").to_pandas()
    want = pq.read_table(reference.scores_path("m")).to_pandas()
    assert got[["doc_id", "pos"]].equals(want[["doc_id", "pos"]])
    assert_float32_close(got["loss"].to_numpy(), want["loss"].to_numpy())


@pytest.mark.parametrize("where", ["merge", "record"])
def test_an_interruption_after_scoring_keeps_the_parts_and_the_rerun_finishes(llama_model, corpus_file, tmp_path,
                                                                                 monkeypatch, where) -> None:  # fmt: skip
    """Ctrl-C during the merge, or after the merge wrote scores/NAME.parquet but before the manifest recorded the
    model: the same call again finishes from the kept parts, with the scores of an uninterrupted run."""
    config = ScoreConfig(model=str(llama_model), name="m", batch_tokens=64, device="cpu")
    reference = RunDir(tmp_path / "reference")
    score(reference, config, corpus_file)

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    run = RunDir(tmp_path / "run")
    with monkeypatch.context() as patch:
        patch.setattr(*((ScoreParts, "merge") if where == "merge" else (RunDir, "record_model")), interrupt)
        with pytest.raises(KeyboardInterrupt) as caught:
            score(run, config, corpus_file)
    if where == "merge":
        assert isinstance(caught.value, ScoringInterrupted) and caught.value.kept_tokens == caught.value.total_tokens
        assert not run.has_scores("m")
    else:
        assert run.has_scores("m") and "m" not in run.manifest().models
    assert run.score_parts("m").folder.is_dir()

    again = run_score(run, config)
    assert again.n_tokens == reference.manifest().models["m"].n_tokens and "m" in run.manifest().models
    assert not run.score_parts("m").folder.exists()
    got, want = pq.read_table(run.scores_path("m")).to_pandas(), pq.read_table(reference.scores_path("m")).to_pandas()
    assert got[["doc_id", "pos"]].equals(want[["doc_id", "pos"]])
    assert_float32_close(got["loss"].to_numpy(), want["loss"].to_numpy())
