"""The compared tokens: two scorings and the features joined on (doc_id, pos) by DuckDB, out of core.

`join_pair` builds the table `joined` on a DuckDB connection (doc_idx, doc_id, pos, loss_baseline,
loss_candidate, gap, and every feature column); every later query of `compare` reads it. It lives in a
temporary database file, so a run of 100M tokens spills to disk instead of filling memory.
`token_frame` is the same table as a pandas DataFrame, for notebooks.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from lossgap.errors import ConfigError, RunDirError
from lossgap.rundir import FEATURE_COLUMNS_ALL, RunDir, as_rundir

__all__ = [
    "JOINED",
    "SEED_PREFIX",
    "MissingTokens",
    "connect",
    "join_pair",
    "token_frame",
    "quote_ident",
    "quote_literal",
]

JOINED = "joined"
_MEMORY_LIMIT = "1GB"  # DuckDB spills to its temporary database beyond this
log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class MissingTokens:
    """Tokens left out of a comparison, by reason (counts of (doc_id, pos) rows)."""

    baseline_only: int  # scored by the baseline, not by the candidate
    candidate_only: int  # scored by the candidate, not by the baseline
    no_features: int  # scored by both, but without a row in the features


def quote_ident(name: str) -> str:
    """A SQL identifier, double-quoted."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """A SQL string literal, single-quoted."""
    return "'" + value.replace("'", "''") + "'"


@contextmanager
def connect() -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection on a temporary database file with bounded memory; removed on exit."""
    with tempfile.TemporaryDirectory(prefix="lossgap-") as tmp:
        con = duckdb.connect(str(Path(tmp) / "analysis.duckdb"))
        try:
            con.execute(f"SET memory_limit = '{_MEMORY_LIMIT}'")
            con.execute(f"SET temp_directory = {quote_literal(str(Path(tmp) / 'spill'))}")
            con.execute("SET preserve_insertion_order = false")
            con.execute("SET enable_progress_bar = false")
            yield con
        finally:
            con.close()


SEED_PREFIX = "_seed_"  # per-seed loss columns of `joined` when a side has replicates: _seed_b0, _seed_c1, …


def join_pair(con: duckdb.DuckDBPyConnection, run: RunDir, *, baseline: str | tuple[str, ...],
              candidate: str | tuple[str, ...]) -> MissingTokens:  # fmt: skip
    """Create table `joined`: the tokens both scorings and the features have (see the module docstring).

    `doc_idx` numbers the documents in doc_id order; losses are widened to float64 before any arithmetic.
    A side given as several names (seed replicates) gets the mean of their losses, and `joined` keeps each
    seed's loss in `_seed_b0`, `_seed_b1`, … and `_seed_c0`, … (tokens every scoring of both sides has).
    Returns the counts of tokens that could not be joined (against the first name of each side).
    """
    baselines = (baseline,) if isinstance(baseline, str) else tuple(baseline)
    candidates = (candidate,) if isinstance(candidate, str) else tuple(candidate)
    both = sorted(set(baselines) & set(candidates))
    if both:
        raise ConfigError(f"--baseline and --candidate are both {both[0]!r}: compare two different scorings")
    run.require_run_tokens([*baselines, *candidates])
    names = [(f"b{i}", n) for i, n in enumerate(baselines)] + [(f"c{j}", n) for j, n in enumerate(candidates)]
    # the positions every scoring has (documents are numbered over them), then the same with the features
    run.token_view(con, "pair", scores=dict(names))
    run.token_view(con, "scored", scores=dict(names), features=FEATURE_COLUMNS_ALL)
    features = [c for c in run.columns("features") if c not in ("doc_id", "pos")]
    carried = ", ".join(f"s.{quote_ident(c)}" for c in features)
    con.execute(
        """CREATE OR REPLACE TEMP TABLE documents AS
           SELECT doc_id, CAST(row_number() OVER (ORDER BY doc_id) - 1 AS INTEGER) AS doc_idx, n_pair
           FROM (SELECT doc_id, count(*) AS n_pair FROM pair GROUP BY doc_id)"""
    )
    loss = lambda key: f"CAST(s.{key} AS DOUBLE)"  # noqa: E731  widened before any arithmetic
    mean = lambda keys: f"({' + '.join(loss(k) for k in keys)}) / {len(keys)}"  # noqa: E731
    base, cand = mean([f"b{i}" for i in range(len(baselines))]), mean([f"c{j}" for j in range(len(candidates))])
    seeds = "".join(f", {loss(key)} AS {SEED_PREFIX}{key}" for key, _ in names) if len(names) > 2 else ""
    con.execute(
        f"""CREATE OR REPLACE TABLE {JOINED} AS
            SELECT d.doc_idx, s.doc_id, s.pos, {base} AS loss_baseline, {cand} AS loss_candidate,
                   {base} - {cand} AS gap{seeds}, {carried}
            FROM scored s JOIN documents d USING (doc_id)"""
    )
    run.view_scores(con, baselines[0], "scores_b0")
    run.view_scores(con, candidates[0], "scores_c0")
    n_base, n_cand, n_pair, n_joined = con.execute(
        f"""SELECT (SELECT count(*) FROM scores_b0), (SELECT count(*) FROM scores_c0),
                   (SELECT sum(n_pair) FROM documents), (SELECT count(*) FROM {JOINED})"""
    ).fetchall()[0]  # type: ignore[misc]
    missing = MissingTokens(
        baseline_only=n_base - n_pair, candidate_only=n_cand - n_pair, no_features=n_pair - n_joined
    )
    if n_joined == 0:
        raise RunDirError(
            f"no token of {', '.join(baselines + candidates)} has features in {run.path}: were they scored on this "
            "run's corpus, and was `lossgap annotate` run after scoring?"
        )
    if missing.baseline_only or missing.candidate_only or missing.no_features:
        log.debug(  # returned as MissingTokens, which the caller shows
            "left out of the comparison: %d tokens scored only by %s, %d only by %s, %d without features",
            missing.baseline_only, baselines[0], missing.candidate_only, candidates[0], missing.no_features,
        )  # fmt: skip
    return missing


def token_frame(run: RunDir | Path | str, *, baseline: str, candidate: str) -> pd.DataFrame:
    """Every compared token of two scorings with both losses, the gap and every feature, in document order.

    gap = loss(baseline) − loss(candidate), in nats: positive where the candidate predicted the token better.
    This holds the whole comparison in memory; `lossgap.compare` works out of core. Examples, run as doctests
    on a committed run: docs/notebook.md.
    """
    run = as_rundir(run)
    with connect() as con:
        join_pair(con, run, baseline=baseline, candidate=candidate)
        return con.execute(f"SELECT * FROM {JOINED} ORDER BY doc_idx, pos").df()
