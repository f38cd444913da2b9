"""Benchmark of `compare`: a synthetic run of 10M tokens x 2 models, default groupings and contrasts, CR2 intervals, the exact regression.

Builds the run under /tmp (once; reused if present), then runs `run_compare` in a child process and reports
its wall time and peak resident memory (sampled from outside: `measure.py`). Usage:

    PYTHONPATH=src python benchmarks/compare.py [--tokens 10000000] [--run /tmp/lossgap-bench-compare]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lossgap.rundir import FEATURES_SCHEMA, RunDir

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import run_measured  # noqa: E402

DOMAINS = ["books", "encyclopedia", "science", "news", "python", "html", "latex"]
TYPES = {"books": "prose", "encyclopedia": "prose", "science": "prose", "news": "prose", "python": "code",
         "html": "markup", "latex": "markup"}  # fmt: skip
UPOS = [
    "NOUN",
    "VERB",
    "ADJ",
    "ADV",
    "PROPN",
    "DET",
    "ADP",
    "AUX",
    "CCONJ",
    "SCONJ",
    "PART",
    "PRON",
    "NUM",
    "PUNCT",
    "SYM",
    "X",
    "INTJ",
]
CONTENT = {"NOUN", "VERB", "ADJ", "ADV", "PROPN"}
BRACKETS = ["round", "square", "curly", "angle", "html_tag", "latex_env"]


def _pick(rng: np.random.Generator, values: list[str | None], n: int, p: list[float] | None = None) -> pa.Array:
    """n values drawn from `values` as an Arrow string array (built by index, not as Python strings)."""
    idx = rng.choice(len(values), size=n, p=p)
    return pc.take(pa.array(values, pa.string()), pa.array(idx))


def build(path: Path, n_tokens: int, seed: int = 0) -> RunDir:
    """Write features and two score tables of about `n_tokens` tokens in documents of ~1,000 tokens."""
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(np.log(800), 0.6, size=n_tokens // 500), 20, 20000).astype(np.int64)
    lengths = lengths[np.cumsum(lengths) <= n_tokens]
    n_docs, n = len(lengths), int(lengths.sum())
    doc = np.repeat(np.arange(n_docs), lengths)
    pos = (np.arange(n) - np.repeat(np.cumsum(lengths) - lengths, lengths) + 1).astype(np.int32)
    doc_ids = pc.take(pa.array([f"doc{d:07d}" for d in range(n_docs)]), pa.array(doc))
    domain_idx = rng.integers(0, len(DOMAINS), n_docs)[doc]
    upos_idx = rng.integers(0, len(UPOS), n)
    upos = pc.take(pa.array(UPOS), pa.array(upos_idx))
    word_class = pc.take(pa.array(["content" if u in CONTENT else "function" for u in UPOS]), pa.array(upos_idx))
    tags = [f"T{i}" for i in range(45)]
    side_idx = rng.choice(3, size=n, p=[0.94, 0.03, 0.03])
    side = pc.take(pa.array(["none", "open", "close"]), pa.array(side_idx))
    kind = pc.if_else(pc.equal(side, "none"), pa.scalar(None, pa.string()), _pick(rng, BRACKETS, n))
    repeat_len = np.minimum(rng.geometric(0.45, n) - 1, 200).astype(np.int32)
    repeat_dist = np.where(repeat_len > 0, np.minimum(rng.geometric(0.002, n), pos), 0).astype(np.int32)
    vocab = [f"tok{i}" for i in range(50_000)]
    token_idx = np.minimum(rng.zipf(1.3, n), len(vocab)) - 1
    log_freq = np.log10(n / np.arange(1, len(vocab) + 1))[token_idx]
    features = pa.table(
        {
            "doc_id": doc_ids,
            "pos": pos,
            "domain": pc.take(pa.array(DOMAINS), pa.array(domain_idx)),
            "domain_type": pc.take(pa.array([TYPES[d] for d in DOMAINS]), pa.array(domain_idx)),
            "token_text": pc.take(pa.array(vocab), pa.array(token_idx)),
            "upos": upos,
            "tag": _pick(rng, tags, n),
            "word_class": word_class,
            "word_piece": _pick(rng, ["single", "first", "inner", "last"], n),
            "bracket_kind": kind,
            "bracket_side": side,
            "repeat_len": repeat_len,
            "repeat_dist": pa.array(repeat_dist, mask=repeat_len == 0),
            "log_freq": log_freq,
            "log_pos": np.log10(pos),
            "code_class": _pick(rng, [None, "Keyword", "Name", "String", "Comment", "Punctuation"], n),
        },
        schema=FEATURES_SCHEMA,
    )
    run = RunDir(path)
    with run.features_writer() as writer:
        writer.write(features)
    base = rng.gamma(2.0, 1.5, n).astype(np.float32)
    gap = (0.02 + rng.normal(0, 0.05, n_docs)[doc] + rng.normal(0, 0.5, n)).astype(np.float32)
    starts = np.flatnonzero(np.r_[True, doc[1:] != doc[:-1]])
    ids = [f"doc{k:07d}" for k in range(n_docs)]
    lengths = np.diff(np.r_[starts, n])
    for name, loss in (("baseline", base), ("candidate", base - gap)):
        parts = run.score_parts(name)  # as scoring writes them: whole documents in parts, merged in order
        parts.prepare({"benchmark": "compare"}, overwrite=True)
        parts.write(0, [(d, 1, {"loss": loss[a : a + m]}) for d, a, m in zip(ids, starts, lengths, strict=True)])
        parts.merge(ids, lengths)
        parts.remove()
    print(f"built {path}: {n:,} tokens in {n_docs:,} documents", flush=True)
    return run


_CHILD = """
import logging, sys
logging.basicConfig(level=logging.WARNING)
from lossgap.analysis import CompareConfig, run_compare
run_compare(sys.argv[1], CompareConfig(baseline="baseline", candidate="candidate"))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=10_000_000)
    parser.add_argument("--run", type=Path, default=Path("/tmp/lossgap-bench-compare"))
    args = parser.parse_args()
    run = RunDir(args.run)
    if not (run.has("features") and run.has_scores("candidate")):
        started = time.perf_counter()
        build(args.run, args.tokens)
        print(f"build: {time.perf_counter() - started:.1f} s (not part of the measurement)", flush=True)
    row = run_measured([sys.executable, "-c", _CHILD, str(args.run)], env={**os.environ})
    print(
        f"compare: {row['wall_s']:.1f} s wall (child process, imports included), peak RSS {row['peak_rss_mib']:,.0f} MiB"
    )
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")


if __name__ == "__main__":
    main()
