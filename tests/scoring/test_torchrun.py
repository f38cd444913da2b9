"""Two scoring processes under torchrun (gloo on CPU) give the same Parquet content as one."""

import os
import subprocess
import sys

import pyarrow.parquet as pq

from lossgap.rundir import RunDir


def _score(model, corpus, run, nproc):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc)]
    if nproc == 1:
        cmd = [sys.executable]
    # batch_tokens=1: each window alone, so both runs do the same arithmetic and must agree bit for bit.
    cmd += [
        "-m",
        "lossgap",
        "score",
        str(model),
        "--corpus",
        str(corpus),
        "--run-dir",
        str(run),
        "--name",
        "m",
        "--batch-tokens",
        "1",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return RunDir(run)


def test_two_processes_equal_one(llama_model, corpus_file, tmp_path):
    one = _score(llama_model, corpus_file, tmp_path / "one", 1)
    two = _score(llama_model, corpus_file, tmp_path / "two", 2)
    assert pq.read_table(two.scores_path("m")).to_pydict() == pq.read_table(one.scores_path("m")).to_pydict()
    assert two.read("tokens").equals(one.read("tokens"))
    assert two.manifest().models["m"].world_size == 2
