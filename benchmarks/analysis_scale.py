"""Wall time and peak memory of `compare`, `discover`, `curves` and `report` on a synthetic run of N tokens (10M, 100M).

The run is built in pieces of documents (memory bounded while building too): documents of about 1,000 tokens
whose text is " lorem" per token (so offsets are arithmetic and the report's viewer has text to show), random
features with realistic category frequencies (as benchmarks/compare.py), and two checkpoints `m@1` and `m@2`
whose losses differ by a planted gap. Each stage runs in its own child process, its memory sampled from outside
(`measure.run_measured`: the peak resident set of the child, which starts none). Usage:

    PYTHONPATH=src python benchmarks/analysis_scale.py --tokens 10000000 --out docs/benchmarks/analysis-scale-10m.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lossgap.rundir import CORPUS_SCHEMA, FEATURES_SCHEMA, TOKENS_SCHEMA, RunDir

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import BRACKETS, CONTENT, DOMAINS, TYPES, UPOS, _pick  # noqa: E402  (the same synthetic features)
from measure import run_measured  # noqa: E402

WORD = " lorem"
PIECE_DOCS = 5_000  # documents built at a time


def _piece(rng: np.random.Generator, first_doc: int, lengths: np.ndarray) -> dict[str, pa.Table | np.ndarray]:
    """Corpus, tokens and features of documents first_doc … first_doc + len(lengths) - 1 (pos 0: the prefix)."""
    n_docs, n = len(lengths), int(lengths.sum())
    doc = np.repeat(np.arange(n_docs), lengths)
    pos = (np.arange(n) - np.repeat(np.cumsum(lengths) - lengths, lengths)).astype(np.int32)
    names = [f"doc{first_doc + d:07d}" for d in range(n_docs)]
    doc_ids = pc.take(pa.array(names), pa.array(doc))
    domain_idx = rng.integers(0, len(DOMAINS), n_docs)
    corpus = pa.table({"doc_id": names, "domain": pc.take(pa.array(DOMAINS), pa.array(domain_idx)),
                       "text": [WORD * int(m - 1) for m in lengths], "source": ["synthetic"] * n_docs},
                      schema=CORPUS_SCHEMA)  # fmt: skip
    start = np.where(pos == 0, -1, (pos - 1) * len(WORD)).astype(np.int32)
    tokens = pa.table({"doc_id": doc_ids, "pos": pos, "token_id": np.where(pos == 0, 0, 1).astype(np.int32),
                       "char_start": start, "char_end": np.where(pos == 0, -1, start + len(WORD)).astype(np.int32)},
                      schema=TOKENS_SCHEMA)  # fmt: skip
    upos_idx = rng.integers(0, len(UPOS), n)
    side = pc.take(pa.array(["none", "open", "close"]), pa.array(rng.choice(3, size=n, p=[0.94, 0.03, 0.03])))
    repeat_len = np.minimum(rng.geometric(0.45, n) - 1, 200).astype(np.int32)
    repeat_dist = np.where(repeat_len > 0, np.minimum(rng.geometric(0.002, n), np.maximum(pos, 1)), 0).astype(np.int32)
    token_idx = np.minimum(rng.zipf(1.3, n), 50_000) - 1
    features = pa.table({
        "doc_id": doc_ids, "pos": pos,
        "domain": pc.take(pa.array(DOMAINS), pa.array(domain_idx[doc])),
        "domain_type": pc.take(pa.array([TYPES[d] for d in DOMAINS]), pa.array(domain_idx[doc])),
        "token_text": pa.array([WORD] * n), "upos": pc.take(pa.array(UPOS), pa.array(upos_idx)),
        "tag": _pick(rng, [f"T{i}" for i in range(45)], n),
        "word_class": pc.take(pa.array(["content" if u in CONTENT else "function" for u in UPOS]), pa.array(upos_idx)),
        "word_piece": _pick(rng, ["single", "first", "inner", "last"], n),
        "bracket_kind": pc.if_else(pc.equal(side, "none"), pa.scalar(None, pa.string()), _pick(rng, BRACKETS, n)),
        "bracket_side": side, "repeat_len": repeat_len, "repeat_dist": pa.array(repeat_dist, mask=repeat_len == 0),
        "log_freq": np.log10(1e8 / np.arange(1, 50_001))[token_idx],
        "log_pos": pa.array(np.log10(np.maximum(pos, 1)), mask=pos == 0),
        "code_class": _pick(rng, [None, "Keyword", "Name", "String", "Comment", "Punctuation"], n),
    }, schema=FEATURES_SCHEMA)  # fmt: skip
    base = rng.gamma(2.0, 1.5, n).astype(np.float32)
    gap = (0.02 + rng.normal(0, 0.05, n_docs)[doc] + rng.normal(0, 0.5, n)).astype(np.float32)
    return {"corpus": corpus, "tokens": tokens, "features": features, "names": names, "lengths": lengths,
            "m@1": base, "m@2": base - gap}  # fmt: skip


def build(path: Path, n_tokens: int, seed: int = 0) -> tuple[int, int]:
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(np.log(800), 0.6, size=n_tokens // 500), 20, 20000).astype(np.int64)
    lengths = lengths[np.cumsum(lengths) <= n_tokens]
    run = RunDir(path)
    corpora, token_tables, all_names = [], [], []
    parts = {name: run.score_parts(name) for name in ("m@1", "m@2")}
    for p in parts.values():
        p.prepare({"benchmark": "analysis_scale"}, overwrite=True)
    with run.features_writer() as writer:
        for first in range(0, len(lengths), PIECE_DOCS):
            piece = _piece(rng, first, lengths[first : first + PIECE_DOCS])
            writer.write(piece["features"])
            corpora.append(piece["corpus"])
            token_tables.append(piece["tokens"])
            all_names += piece["names"]
            bounds = np.concatenate([[0], np.cumsum(piece["lengths"])])
            for name, p in parts.items():  # losses of positions 1 … L-1 of each document
                p.write(
                    0,
                    [
                        (d, 1, {"loss": piece[name][a + 1 : b]})
                        for d, a, b in zip(piece["names"], bounds[:-1], bounds[1:], strict=True)
                    ],
                )
    run.write("corpus", pa.concat_tables(corpora))
    run.write("tokens", pa.concat_tables(token_tables))
    for p in parts.values():
        p.merge(all_names, lengths - 1)
        p.remove()
    return int(lengths.sum()), len(lengths)


_CHILD = """
import logging, sys
logging.basicConfig(level=logging.WARNING)
stage, run = sys.argv[1], sys.argv[2]
if stage == "compare":
    from lossgap.analysis import CompareConfig, run_compare
    run_compare(run, CompareConfig(baseline="m@1", candidate="m@2"))
elif stage.startswith("discover"):  # discover, or discover3: slices of up to three conditions
    from lossgap.analysis.config import DiscoverConfig
    from lossgap.analysis.discover import run_discover
    run_discover(run, DiscoverConfig(baseline="m@1", candidate="m@2", max_conditions=3 if stage == "discover3" else 2,
                                     name=stage))
elif stage == "curves":
    from lossgap.analysis import CurvesConfig, run_curves
    from lossgap.analysis.config import Series
    run_curves(run, CurvesConfig(series=(Series(label="m"),)))
else:
    from lossgap.report import run_report
    run_report(run)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=10_000_000)
    parser.add_argument("--run", type=Path, default=None, help="default: /tmp/lossgap-bench-analysis-N")
    parser.add_argument(
        "--stages",
        nargs="+",
        default=["compare", "curves", "report"],
        help="compare, discover (slices of up to 2 conditions), discover3 (up to 3), curves, report",
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    path = args.run or Path(f"/tmp/lossgap-bench-analysis-{args.tokens}")
    run = RunDir(path)
    built: dict[str, float] = {}
    if not (run.has("tokens") and run.has_scores("m@2")):
        started = time.perf_counter()
        n, n_docs = build(path, args.tokens)
        built = {"build_s": time.perf_counter() - started}
    n, n_docs = run.n_rows("features") - run.n_rows("corpus"), run.n_rows("corpus")
    print(f"run {path}: {n:,} scored tokens in {n_docs:,} documents {built}; machine: {platform.platform()}, "
          f"{os.cpu_count()} CPUs", flush=True)  # fmt: skip
    rows = []
    for stage in args.stages:
        row = {"stage": stage, **run_measured([sys.executable, "-c", _CHILD, stage, str(path)], env={**os.environ})}
        row.pop("stdout")
        rows.append(row)
        print(f"{stage}: {row['wall_s']:.1f} s (child process, imports included), peak RSS {row['peak_rss_mib']:,.0f} MiB",
              flush=True)  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps({"tokens": n, "docs": n_docs, "machine": platform.platform(),
                                        "cpus": os.cpu_count(), "rows": rows}, indent=2) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
