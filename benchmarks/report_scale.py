"""How long `lossgap report` takes on a large run: random tokens, losses and features, written through RunDir.

    PYTHONPATH=src python benchmarks/report_scale.py OUT_DIR --docs 20000 --tokens-per-doc 250

One extra document of 200,000 tokens checks that the viewer reads only a window of it. Prints seconds.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from lossgap.report import run_report
from lossgap.rundir import FEATURES_SCHEMA, ResultRecord, RunDir, Summary

WORD = "lorem"  # every token is " lorem" (6 characters), so offsets are arithmetic


def build(out: Path, n_docs: int, per_doc: int, seed: int = 0) -> RunDir:
    rng = np.random.default_rng(seed)
    lengths = np.full(n_docs + 1, per_doc, dtype=np.int64)
    lengths[-1] = 200_000
    doc_ids = [f"d{i:06d}" for i in range(n_docs + 1)]
    run = RunDir(out)
    run.write(
        "corpus",
        pa.table(
            {
                "doc_id": doc_ids,
                "domain": [("books", "python", "news")[i % 3] for i in range(n_docs + 1)],
                "text": [(" " + WORD) * int(n) for n in lengths],
                "source": ["bench"] * (n_docs + 1),
            }
        ),
    )
    positions = np.concatenate([np.arange(n + 1, dtype=np.int32) for n in lengths])  # pos 0 = BOS
    owners = np.repeat(np.arange(n_docs + 1), lengths + 1)
    ids = pa.array(np.array(doc_ids, dtype=object)[owners], pa.string())
    starts = np.where(positions == 0, -1, (positions - 1) * (len(WORD) + 1)).astype(np.int32)
    ends = np.where(positions == 0, -1, positions * (len(WORD) + 1)).astype(np.int32)
    run.write(
        "tokens",
        pa.table(
            {
                "doc_id": ids,
                "pos": positions,
                "token_id": rng.integers(1, 50_000, len(positions), dtype=np.int32),
                "char_start": starts,
                "char_end": ends,
            }
        ),
    )
    scored = positions >= 1
    for name, shift in (("baseline", 0.0), ("candidate", 0.1)):
        loss = (rng.gamma(2.0, 1.5, len(positions)) - shift).astype(np.float32)
        run.write_scores(
            name, pa.table({"doc_id": ids.filter(pa.array(scored)), "pos": positions[scored], "loss": loss[scored]})
        )
    n = len(positions)
    repeat_len = rng.integers(0, 20, n).astype(np.int32)
    features = pa.table({
        "doc_id": ids, "pos": positions,
        "domain": pa.array(np.array(["books", "python", "news"], dtype=object)[owners % 3], pa.string()),
        "domain_type": pa.array(np.array(["prose", "code", "prose"], dtype=object)[owners % 3], pa.string()),
        "token_text": pa.array(np.full(n, " " + WORD, dtype=object), pa.string()),
        "upos": pa.array(np.array(["NOUN", "VERB", "DET", "ADP"], dtype=object)[rng.integers(0, 4, n)], pa.string()),
        "tag": pa.array(np.full(n, "NN", dtype=object), pa.string()),
        "word_class": pa.array(np.array(["content", "function"], dtype=object)[rng.integers(0, 2, n)], pa.string()),
        "word_piece": pa.array(np.full(n, "single", dtype=object), pa.string()),
        "bracket_kind": pa.nulls(n, pa.string()), "bracket_side": pa.array(np.full(n, "none", dtype=object), pa.string()),
        "repeat_len": repeat_len, "repeat_dist": pa.array(np.where(repeat_len > 0, 7, 0), pa.int32()),
        "log_freq": rng.random(n), "log_pos": pa.array(np.log10(np.maximum(positions, 1)), mask=positions == 0),
        "code_class": pa.nulls(n, pa.string()),
    })  # fmt: skip
    with run.features_writer() as writer:
        writer.write(features.select(FEATURES_SCHEMA.names).cast(FEATURES_SCHEMA))
    summary = Summary(baseline="baseline", candidate="candidate", n_tokens=int(scored.sum()), n_docs=n_docs + 1,
                      mean_loss_baseline=3.0, mean_loss_candidate=2.9, mean_gap=0.1, ci_low=0.09, ci_high=0.11,
                      macro_mean_gap=0.1)  # fmt: skip
    picks = [doc_ids[-1]] + [doc_ids[i] for i in rng.integers(0, n_docs, 11)]
    top = pd.DataFrame([dict(direction="candidate_wins", rank=r + 1, doc_id=d, pos=150_000 if d == doc_ids[-1] else 5,
                             domain="books", token_text=" " + WORD, loss_baseline=3.0, loss_candidate=1.0, gap=2.0)
                        for r, d in enumerate(picks)])  # fmt: skip
    record = ResultRecord(name="baseline-vs-candidate", kind="compare", baseline="baseline", candidate="candidate")
    run.write_results(record, {"top_tokens.csv": top}, summary=summary)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--tokens-per-doc", type=int, default=250)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    t0 = time.perf_counter()
    run = build(args.out, args.docs, args.tokens_per_doc)
    t1 = time.perf_counter()
    result = run_report(run.path)
    t2 = time.perf_counter()
    n_tokens = args.docs * args.tokens_per_doc + 200_000
    print(
        f"built {n_tokens:,} tokens in {t1 - t0:.1f} s; report in {t2 - t1:.2f} s "
        f"({result.viewer_docs} viewer documents, index.html {result.path.stat().st_size / 1e6:.2f} MB)"
    )


if __name__ == "__main__":
    main()
