"""Hand-made documents and run directories for the feature tests: text given as its token pieces."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from lossgap.features.annotate import make_chunk
from lossgap.features.config import DEFAULT_PROSE_DOMAINS
from lossgap.features.records import Chunk, DocumentTokens, Resources
from lossgap.rundir import RunDir

BOS_ID = 0


def piece_ids(pieces: Sequence[str]) -> list[int]:
    """Token ids: one per distinct piece, in order of first appearance, from 1 (0 is the BOS)."""
    vocab: dict[str, int] = {}
    return [vocab.setdefault(p, len(vocab) + 1) for p in pieces]


def make_doc(
    pieces: Sequence[str], domain: str = "books", doc_id: str = "d", ids: Sequence[int] | None = None
) -> DocumentTokens:
    """A document whose text is the concatenation of `pieces`, one token per piece, after a BOS at pos 0."""
    starts = np.cumsum([0] + [len(p) for p in pieces])
    ids = piece_ids(pieces) if ids is None else list(ids)
    return DocumentTokens(
        doc_id=doc_id,
        domain=domain,
        text="".join(pieces),
        token_ids=np.array([BOS_ID] + ids, dtype=np.int64),
        char_start=np.array([-1] + starts[:-1].tolist(), dtype=np.int64),
        char_end=np.array([-1] + starts[1:].tolist(), dtype=np.int64),
    )


def chunk_of(*docs: DocumentTokens) -> Chunk:
    return make_chunk(list(docs), DEFAULT_PROSE_DOMAINS)


def resources(nlp=None, count_ids=None, counts=None, repeat_context=None, leave_document_out=False) -> Resources:  # type: ignore[no-untyped-def]
    return Resources(
        nlp=nlp,
        prose_domains=DEFAULT_PROSE_DOMAINS,
        count_ids=np.zeros(0, np.int64) if count_ids is None else np.asarray(count_ids, np.int64),
        counts=np.zeros(0) if counts is None else np.asarray(counts, np.float64),
        repeat_context=repeat_context,
        leave_document_out=leave_document_out,
    )


def write_run(path: Path, docs: Sequence[DocumentTokens]) -> RunDir:
    """A run directory holding these documents' corpus.parquet and tokens.parquet."""
    run = RunDir(path)
    run.write(
        "corpus",
        pa.table(
            {
                "doc_id": pa.array([d.doc_id for d in docs], pa.string()),
                "domain": pa.array([d.domain for d in docs], pa.string()),
                "text": pa.array([d.text for d in docs], pa.string()),
                "source": pa.array(["test"] * len(docs), pa.string()),
            }
        ),
    )
    run.write(
        "tokens",
        pa.table(
            {
                "doc_id": pa.array([d.doc_id for d in docs for _ in range(d.n_tokens)], pa.string()),
                "pos": pa.array([p for d in docs for p in range(d.n_tokens)], pa.int32()),
                "token_id": pa.array(np.concatenate([d.token_ids for d in docs] + [np.zeros(0, np.int64)]), pa.int32()),
                "char_start": pa.array(
                    np.concatenate([d.char_start for d in docs] + [np.zeros(0, np.int64)]), pa.int32()
                ),
                "char_end": pa.array(np.concatenate([d.char_end for d in docs] + [np.zeros(0, np.int64)]), pa.int32()),
            }
        ),
    )
    return run
