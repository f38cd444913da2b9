"""`run_probes`: generate probe documents as a run's corpus, with their marks in probes.parquet."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from lossgap.corpus import CorpusConfig
from lossgap.corpus.run import store_corpus
from lossgap.corpus.table import RawDoc, build_corpus
from lossgap.probes.config import PROBE_NAMES, ProbesConfig
from lossgap.probes.generate import PROBES, ProbeDoc
from lossgap.rundir import COPY_PROBES, PROBE_LEVELS, PROBES_ADDED, PROBES_SCHEMA, ProbesRecord, RunDir, as_rundir

__all__ = ["ProbesResult", "generate_probes", "run_probes"]

SOURCE = "lossgap probes"


@dataclass(frozen=True)
class ProbesResult:
    n_docs: int
    n_marks: int
    per_probe: dict[str, int]  # documents per probe


def generate_probes(config: ProbesConfig) -> list[tuple[str, str, ProbeDoc]]:
    """(doc_id, probe, document) of every (probe, level, index): document i of a probe and level is the same
    whatever other probes or levels are asked for (its generator is seeded by seed, probe, level and i)."""
    out = []
    for probe in config.probes:
        for level in config.levels_of(probe):
            for i in range(config.docs):
                rng = np.random.default_rng([config.seed, PROBE_NAMES.index(probe), level, i])
                out.append((f"{probe}-L{level:04d}-{i:04d}", probe, PROBES[probe](rng, level)))
    return out


def run_probes(run_dir: Path | str | RunDir, config: ProbesConfig) -> ProbesResult:
    """Write the probe documents as the run's corpus (domain probe-NAME) and their marks as probes.parquet."""
    run = as_rundir(run_dir)
    docs = generate_probes(config)
    corpus = build_corpus((RawDoc(text=d.text, location=f"{SOURCE}:{doc_id}", doc_id=doc_id, domain=f"probe-{probe}")
                           for doc_id, probe, d in docs), CorpusConfig(), source=SOURCE)  # fmt: skip
    kept = set(corpus.table.column("doc_id").to_pylist())
    rows = [(doc_id, probe, m) for doc_id, probe, d in docs if doc_id in kept for m in d.marks]
    marks = pa.table({
        "doc_id": [r[0] for r in rows], "probe": [r[1] for r in rows], "level": [r[2].level for r in rows],
        "char_start": [r[2].start for r in rows], "char_end": [r[2].end for r in rows],
        "src_start": [r[2].src_start for r in rows], "src_end": [r[2].src_end for r in rows],
        "skip_first": [r[2].skip_first for r in rows],
        "within_start": [r[2].within_start for r in rows], "within_end": [r[2].within_end for r in rows],
    }, schema=pa.schema([*PROBES_SCHEMA, *PROBES_ADDED]))  # fmt: skip
    store_corpus(run, corpus, CorpusConfig())  # refuses a run already scored on another corpus
    run.write("probes", marks)
    run.record_probes(ProbesRecord(probes=config.probes, levels={p: config.levels_of(p) for p in config.probes},
                                   docs=config.docs, seed=config.seed, copy_probes=COPY_PROBES,
                                   level_meaning={p: PROBE_LEVELS[p] for p in config.probes}))  # fmt: skip
    per_probe = {p: sum(1 for _, q, _ in docs if q == p) for p in config.probes}
    return ProbesResult(n_docs=corpus.n_docs, n_marks=marks.num_rows, per_probe=per_probe)
