"""Join two score tables and the features on (doc_id, pos) with DuckDB, counting tokens missing on either side.

Reads scores/BASELINE.parquet, scores/CANDIDATE.parquet and features.parquet; materializes one table `joined`
in a temporary on-disk DuckDB database (compressed, bounded memory) that every later query reads.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

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
    """A DuckDB connection on a temporary on-disk database, removed on exit."""
    with tempfile.TemporaryDirectory(prefix="lossgap-") as tmp:
        con = duckdb.connect(str(Path(tmp) / "work.duckdb"))
        try:
            con.execute(f"SET memory_limit = '{_MEMORY_LIMIT}'")
            con.execute(f"SET temp_directory = {quote_literal(str(Path(tmp) / 'spill'))}")
            con.execute("SET preserve_insertion_order = false")
            con.execute("SET enable_progress_bar = false")
            yield con
        finally:
            con.close()


def join_pair(
    con: duckdb.DuckDBPyConnection,
    run_dir: RunDir,
    *,
    baseline: str,
    candidate: str,
    extra_columns: Sequence[str] = (),
) -> MissingTokens:
    """Create table `joined` (doc_id, doc_idx, pos, loss_baseline, loss_candidate, gap, features…).

    `doc_idx` numbers the joined documents 0..D-1 in doc_id order. `extra_columns` are further feature
    columns to carry (user groupings). Returns the counts of tokens that could not be joined.
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
    base_cols = [
        "domain", "token_text", "upos", "tag", "word_class", "word_piece", "bracket_kind", "bracket_side",
        "repeat_len", "repeat_dist", "log_freq", "code_class",
    ]  # fmt: skip
    carried = base_cols + [c for c in dict.fromkeys(extra_columns) if c not in base_cols and c != "log_pos"]
    select_features = ", ".join(f"f.{quote_ident(c)}" for c in carried)
    b, c, f = (quote_literal(str(p)) for p in (baseline_path, candidate_path, features_path))

    outer = con.execute(
        f"""
        SELECT count(*) FILTER (WHERE c.pos IS NULL), count(*) FILTER (WHERE b.pos IS NULL),
               count(*) FILTER (WHERE b.pos IS NOT NULL AND c.pos IS NOT NULL)
        FROM read_parquet({b}) b FULL OUTER JOIN read_parquet({c}) c ON b.doc_id = c.doc_id AND b.pos = c.pos
        """
    ).fetchone()
    assert outer is not None
    baseline_only, candidate_only, n_both = (int(x) for x in outer)
    # Number documents first (a small table), then join it in: cheaper than a window over the joined rows.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE joined_docs AS
        SELECT doc_id, CAST(row_number() OVER (ORDER BY doc_id) - 1 AS INTEGER) AS doc_idx
        FROM (SELECT DISTINCT doc_id FROM read_parquet({b}))"""
    )
    con.execute(
        f"""
        CREATE OR REPLACE TABLE {JOINED_TABLE} AS
        SELECT d.doc_idx, b.doc_id, b.pos, CAST(b.loss AS DOUBLE) AS loss_baseline,
               CAST(c.loss AS DOUBLE) AS loss_candidate, CAST(b.loss AS DOUBLE) - CAST(c.loss AS DOUBLE) AS gap,
               {log_pos_expr(columns)} AS log_pos, {select_features}
        FROM read_parquet({b}) b
        JOIN read_parquet({c}) c ON b.doc_id = c.doc_id AND b.pos = c.pos
        JOIN read_parquet({f}) f ON b.doc_id = f.doc_id AND b.pos = f.pos
        JOIN joined_docs d ON b.doc_id = d.doc_id
        """
    )
    dense = con.execute(f"SELECT count(DISTINCT doc_idx), coalesce(max(doc_idx) + 1, 0) FROM {JOINED_TABLE}").fetchone()
    assert dense is not None
    if dense[0] != dense[1]:  # some scored documents lost every token in the join: renumber 0..D-1
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE joined_renumber AS
            SELECT doc_idx AS old, CAST(row_number() OVER (ORDER BY doc_idx) - 1 AS INTEGER) AS new
            FROM (SELECT DISTINCT doc_idx FROM {JOINED_TABLE})"""
        )
        con.execute(f"UPDATE {JOINED_TABLE} SET doc_idx = r.new FROM joined_renumber r WHERE {JOINED_TABLE}.doc_idx = r.old")
    n_joined = con.execute(f"SELECT count(*) FROM {JOINED_TABLE}").fetchone()
    assert n_joined is not None
    missing = MissingTokens(
        baseline_only=baseline_only, candidate_only=candidate_only, no_features=n_both - int(n_joined[0])
    )
    if missing.baseline_only or missing.candidate_only or missing.no_features:
        logging.getLogger(__name__).warning(
            "left out of the comparison: %d tokens scored only by %s, %d only by %s, %d without features",
            missing.baseline_only, baseline, missing.candidate_only, candidate, missing.no_features,
        )  # fmt: skip
    if int(n_joined[0]) == 0:
        raise RunDirError(
            f"no token of {baseline!r} and {candidate!r} has a row in {features_path}: were they scored on this "
            "run's corpus, and was `lossgap annotate` run after scoring?"
        )
    return missing
