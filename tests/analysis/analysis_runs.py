"""Builders of test run directories for the analysis tests: written table by table through RunDir."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from lossgap.rundir import FEATURES_SCHEMA, SCORES_SCHEMA, RunDir

FEATURE_DEFAULTS = {
    "domain": "books", "domain_type": None, "token_text": "x", "upos": None, "tag": None, "word_class": None,
    "word_piece": "single", "bracket_kind": None, "bracket_side": "none", "repeat_len": 0, "repeat_dist": None,
    "log_freq": 1.0, "log_pos": None, "code_class": None,
}  # fmt: skip


def write_scores(run: RunDir, name: str, scores: pd.DataFrame) -> None:
    """A scores file as `lossgap score` leaves it (tests write it directly), with entropy and rank where `scores`
    has them."""
    run.scores_dir.mkdir(parents=True, exist_ok=True)
    stats = [f for f in (pa.field("entropy", pa.float32()), pa.field("rank", pa.int32())) if f.name in scores]
    schema = pa.schema([*SCORES_SCHEMA, *stats])
    table = pa.Table.from_pandas(scores[schema.names], schema=schema, preserve_index=False)
    pq.write_table(table, run.scores_path(name))


def write_run(path: Path, tokens: pd.DataFrame, scores: dict[str, pd.DataFrame]) -> RunDir:
    """Write features (from `tokens`, missing feature columns filled with defaults: domain_type from the domain,
    log_pos from pos) and each scores table."""
    run = RunDir(path)
    frame = tokens.copy()
    for column, default in FEATURE_DEFAULTS.items():
        if column not in frame:
            frame[column] = default
    frame["domain_type"] = frame["domain_type"].fillna(
        frame["domain"].map(lambda d: "code" if d == "python" else "prose")
    )
    frame["log_pos"] = frame["log_pos"].fillna(np.log10(frame["pos"].astype(float)))
    table = pa.Table.from_pandas(frame[[f.name for f in FEATURES_SCHEMA]], schema=FEATURES_SCHEMA, preserve_index=False)
    with run.features_writer() as writer:
        writer.write(table)
    for name, score in scores.items():
        write_scores(run, name, score)
    return run


def planted_tokens(rng: np.random.Generator, *, n_docs: int, tokens_per_doc: int) -> pd.DataFrame:
    """Tokens with a planted gap: 0.04 for content, 0.02 for function words at average rarity.

    Content words are rarer (log_freq ~ N(3, 0.7) vs N(5, 0.7); overall mean 4) and rarity itself shifts the
    gap by -0.03 per unit of log_freq above 4, so raw means are confounded: content ~0.07, function ~-0.01.
    A repeated bigram (repeat_len 2) adds 0.05; two domains add +-0.01 per document; each document has its
    own random offset (sd 0.02) and each token noise (sd 0.2).
    """
    n = n_docs * tokens_per_doc
    doc = np.repeat(np.arange(n_docs), tokens_per_doc)
    content = rng.random(n) < 0.5
    log_freq = np.where(content, rng.normal(3.0, 0.7, n), rng.normal(5.0, 0.7, n))
    repeat_len = rng.choice([0, 1, 2], size=n, p=[0.6, 0.25, 0.15])
    domain_of_doc = np.where(np.arange(n_docs) % 2 == 0, "books", "news")
    domain_effect = np.where(domain_of_doc == "books", 0.01, -0.01)[doc]
    gap = (
        np.where(content, 0.04, 0.02)
        - 0.03 * (log_freq - 4.0)
        + 0.05 * (repeat_len == 2)
        + domain_effect
        + rng.normal(0, 0.02, n_docs)[doc]
        + rng.normal(0, 0.2, n)
    )
    loss_candidate = 3.0 + rng.normal(0, 1.0, n)
    return pd.DataFrame(
        {
            "doc_id": [f"d{d:04d}" for d in doc],
            "pos": np.tile(np.arange(1, tokens_per_doc + 1), n_docs).astype(np.int32),
            "domain": domain_of_doc[doc],
            "word_class": np.where(content, "content", "function"),
            "upos": np.where(content, "NOUN", "DET"),
            "repeat_len": repeat_len.astype(np.int32),
            "repeat_dist": np.where(repeat_len > 0, 5, None),
            "log_freq": log_freq,
            "loss_baseline": (loss_candidate + gap).astype(np.float32),
            "loss_candidate": loss_candidate.astype(np.float32),
        }
    )


def scores_of(tokens: pd.DataFrame, column: str) -> pd.DataFrame:
    return tokens[["doc_id", "pos"]].assign(loss=tokens[column].astype(np.float32))
