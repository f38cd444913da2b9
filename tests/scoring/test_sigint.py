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

from lossgap.rundir import RunDir
from lossgap.scoring import ScoreConfig
from tests.conftest import TEXTS, score
from tests.scoring.reference import assert_float32_close


def _command(model: Path, run: Path, corpus: Path) -> list[str]:
    # tiny batches and a short flush interval: many part files, each written within a fraction of a second
    return [sys.executable, "-m", "lossgap", "score", str(model), "--run", str(run), "--corpus", str(corpus),
            "--name", "m", "--batch-tokens", "64", "--flush-seconds", "0.2", "--device", "cpu"]  # fmt: skip


def test_sigint_keeps_scored_documents_and_the_rerun_resumes(llama_model, tmp_path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    with open(corpus, "w") as fh:  # enough documents that scoring them takes far longer than the first flush
        for i in range(250):
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
