"""Join two score tables and the features on (doc_id, pos) with DuckDB, counting tokens missing on either side.

Reads scores/BASELINE.parquet, scores/CANDIDATE.parquet and features.parquet; registers one Arrow table
`joined` on a DuckDB connection, which every later query reads.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from lossgap.analysis.keys import dense_documents, document_index, match_keys, packed_keys, read_keys
from lossgap.errors import ConfigError, RunDirError
from lossgap.rundir import FEATURES_SCHEMA, RunDir

__all__ = [
    "JOINED_TABLE",
    "MissingTokens",
    "connect",
    "feature_columns",
    "log_pos_expr",
    "quote_ident",
    "quote_literal",
    "require_scores",
    "require_features",
    "join_pair",
]

JOINED_TABLE = "joined"
_MEMORY_LIMIT = "1GB"  # DuckDB spills to the temporary database beyond this


@dataclass(frozen=True, kw_only=True)
class MissingTokens:
    """Tokens left out of a comparison, by reason (counts of (doc_id, pos) rows)."""

    baseline_only: int  # scored by the baseline, not by the candidate
    candidate_only: int  # scored by the candidate, not by the baseline
    no_features: int  # scored by both, but without a row in features.parquet


def quote_ident(name: str) -> str:
    """A SQL identifier, double-quoted."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """A SQL string literal, single-quoted."""
    return "'" + value.replace("'", "''") + "'"


def require_scores(run_dir: RunDir, name: str) -> Path:
    """The scores file of `name`, or a RunDirError naming the models that were scored."""
    path = run_dir.scores_path(name)
    if not path.is_file():
        known = ", ".join(run_dir.scored_names()) or "none"
        raise RunDirError(
            f"{path}: model {name!r} was never scored in this run (scored: {known}); "
            f"run `lossgap score MODEL --run {run_dir.path} --name {name}` first"
        )
    return path


def require_features(run_dir: RunDir) -> Path:
    """The features file, or a RunDirError saying to run `lossgap annotate`."""
    path = run_dir.features_path
    if not path.is_file():
        raise RunDirError(f"{path} does not exist: run `lossgap annotate {run_dir.path}` first")
    missing = [f.name for f in FEATURES_SCHEMA if f.name not in pq.read_schema(path).names]
    if missing:
        raise RunDirError(f"{path}: missing feature column(s) {', '.join(missing)}; re-run `lossgap annotate`")
    return path


def feature_columns(run_dir: RunDir) -> list[str]:
    """Every column of features.parquet except the (doc_id, pos) key."""
    names = pq.read_schema(require_features(run_dir)).names
    return [n for n in names if n not in ("doc_id", "pos")]


def log_pos_expr(columns: Sequence[str], alias: str = "f") -> str:
    """SQL for ln(pos): the features' `log_pos` column when present, else computed from pos (pos >= 1)."""
    if "log_pos" in columns:
        return f"{alias}.log_pos"
    return f"ln(CAST({alias}.pos AS DOUBLE))"


@contextmanager
def connect() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB connection with bounded memory that spills to a temporary folder, removed on exit."""
    with tempfile.TemporaryDirectory(prefix="lossgap-") as tmp:
        con = duckdb.connect(":memory:")
        try:
            con.execute(f"SET memory_limit = '{_MEMORY_LIMIT}'")
            con.execute(f"SET temp_directory = {quote_literal(str(Path(tmp) / 'spill'))}")
            con.execute("SET preserve_insertion_order = false")
            con.execute("SET enable_progress_bar = false")
            yield con
        finally:
            con.close()


def _losses(path: Path, rows: np.ndarray) -> np.ndarray:
    return pq.read_table(path, columns=["loss"])["loss"].to_numpy()[rows]


def _take_columns(path: Path, columns: Sequence[str], rows: np.ndarray) -> dict[str, pa.Array]:
    """`rows` of each column of a Parquet file, read one column at a time (strings dictionary-encoded)."""
    schema = pq.read_schema(path)
    indices = pa.array(rows)
    taken = {}
    for column in columns:
        dictionary = [column] if pa.types.is_string(schema.field(column).type) else []
        taken[column] = pq.read_table(path, columns=[column], read_dictionary=dictionary)[column].combine_chunks().take(indices)
    return taken


def join_pair(
    con: duckdb.DuckDBPyConnection,
    run_dir: RunDir,
    *,
    baseline: str,
    candidate: str,
    extra_columns: Sequence[str] = (),
) -> MissingTokens:
    """Register table `joined` (doc_idx, doc_id, pos, loss_baseline, loss_candidate, gap, log_pos, features…).

    Rows are the tokens both scorings and the features have, in (doc_id, pos) order; `doc_idx` numbers their
    documents 0..D-1 in doc_id order. `extra_columns` are further feature columns to carry (user
    groupings). The table is an Arrow table held in memory (string features stay dictionary-encoded).
    Returns the counts of tokens that could not be joined.
    """
    if baseline == candidate:
        raise ConfigError(f"--baseline and --candidate are both {baseline!r}: compare two different scorings")
    baseline_path = require_scores(run_dir, baseline)
    candidate_path = require_scores(run_dir, candidate)
    features_path = require_features(run_dir)
    columns = feature_columns(run_dir)
    unknown = [c for c in extra_columns if c not in columns]
    if unknown:
        raise ConfigError(
            f"unknown feature column(s) {', '.join(unknown)} in {features_path}; available: {', '.join(columns)}"
        )
    base_cols = ["domain", "token_text", "upos", "tag", "word_class", "bracket_kind", "bracket_side", "repeat_len", "repeat_dist", "log_freq"]
    carried = list(dict.fromkeys([*base_cols, *extra_columns, *(["log_pos"] if "log_pos" in columns else [])]))

    # Keys are read one file at a time and dropped once packed: at 10M tokens each key array is 80 MB.
    base_keys, cand_keys = read_keys(baseline_path), read_keys(candidate_path)
    documents = document_index(base_keys, cand_keys)
    base_packed, cand_packed = packed_keys(base_keys, documents), packed_keys(cand_keys, documents)
    del base_keys, cand_keys
    both_base, both_cand = match_keys(base_packed, cand_packed, baseline_path, candidate_path)
    n_candidate = cand_packed.size
    del cand_packed
    in_both, feat_rows = match_keys(
        base_packed[both_base], packed_keys(read_keys(features_path), documents), baseline_path, features_path
    )
    base_rows, cand_rows = both_base[in_both], both_cand[in_both]
    missing = MissingTokens(
        baseline_only=int(base_packed.size - both_base.size),
        candidate_only=int(n_candidate - both_cand.size),
        no_features=int(both_base.size - base_rows.size),
    )
    keys = base_packed[base_rows]  # increasing
    del base_packed, both_base, both_cand, in_both
    if base_rows.size == 0:
        raise RunDirError(
            f"no token of {baseline!r} and {candidate!r} has a row in {features_path}: were they scored on this "
            "run's corpus, and was `lossgap annotate` run after scoring?"
        )
    doc_idx, numbers = dense_documents(keys)  # 0..D-1 in doc_id order
    present = documents[numbers]
    pos = (keys & 0xFFFFFFFF).astype(np.int32)
    del keys
    features = _take_columns(features_path, carried, feat_rows)
    del feat_rows
    arrow = pa.table(
        {
            "doc_idx": doc_idx,
            "doc_id": pa.DictionaryArray.from_arrays(pa.array(doc_idx), pa.array(present.to_numpy(), pa.string())),
            "pos": pos,
            "loss_baseline": _losses(baseline_path, base_rows),  # float32, as scored
            "loss_candidate": _losses(candidate_path, cand_rows),
            **features,
        }
    )
    del features
    con.register(f"{JOINED_TABLE}_arrow", arrow)
    # losses widen to float64 before any arithmetic; gap and log_pos are computed as they are read
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW {JOINED_TABLE} AS
        SELECT * REPLACE (CAST(loss_baseline AS DOUBLE) AS loss_baseline, CAST(loss_candidate AS DOUBLE) AS loss_candidate),
               CAST(loss_baseline AS DOUBLE) - CAST(loss_candidate AS DOUBLE) AS gap
               {"" if "log_pos" in columns else ", ln(CAST(pos AS DOUBLE)) AS log_pos"}
        FROM {JOINED_TABLE}_arrow"""
    )
    if missing.baseline_only or missing.candidate_only or missing.no_features:
        logging.getLogger(__name__).warning(
            "left out of the comparison: %d tokens scored only by %s, %d only by %s, %d without features",
            missing.baseline_only, baseline, missing.candidate_only, candidate, missing.no_features,
        )  # fmt: skip
    return missing
