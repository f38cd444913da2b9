"""The compared tokens: two scorings and the features joined on (doc_id, pos) by DuckDB, out of core.

`join_pair` builds the table `joined` on a DuckDB connection (doc_idx, doc_id, pos, loss_baseline,
loss_candidate, gap, and every feature column); every later query of `compare` reads it. It lives in a
temporary database file, so a run of 100M tokens spills to disk instead of filling memory.
`token_frame` is the same table as a pandas DataFrame, for notebooks.
"""

from __future__ import annotations

import logging
import re
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
    "frame_table",
    "joined_as",
    "seed_gaps",
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
# and, where every scoring recorded entropy and rank, each seed's entropy and top-1 hit: _seed_b0_entropy, _seed_c1_top1
SEED_STATS = ("entropy", "top1")


def join_pair(con: duckdb.DuckDBPyConnection, run: RunDir, *, baseline: str | tuple[str, ...],
              candidate: str | tuple[str, ...]) -> MissingTokens:  # fmt: skip
    """Create table `joined`: the tokens both scorings and the features have (see the module docstring).

    `doc_idx` numbers the documents in doc_id order; losses are widened to float64 before any arithmetic.
    Where every scoring recorded them, `joined` also has each side's entropy and top-1 hit (entropy_baseline,
    top1_baseline, …: with seed replicates, the mean over the side's seeds) and, where each side is one scoring and
    both kept their top k, the divergence between the models (analysis.distribution).
    A side given as several names (seed replicates) gets the mean of their losses, and `joined` keeps each
    seed's loss in `_seed_b0`, `_seed_b1`, … and `_seed_c0`, … (tokens every scoring of both sides has), and its
    entropy and top-1 hit in `_seed_b0_entropy`, `_seed_b0_top1`, ….
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
    stats = _shared_stats(run, baselines, candidates)
    asked: dict[str, str | tuple[str, str]] = dict(names)
    if stats:  # every scoring with entropy and rank
        for key, name in names:
            asked |= {f"{key}_entropy": (name, "entropy"), f"{key}_rank": (name, "rank")}
    run.token_view(con, "pair", scores=dict(names))
    run.token_view(con, "scored", scores=asked, features=FEATURE_COLUMNS_ALL)
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
    replicates = len(names) > 2
    seeds = "".join(f", {loss(key)} AS {SEED_PREFIX}{key}" for key, _ in names) if replicates else ""
    extra, join = "", ""
    if stats:
        value = {"entropy": "CAST(s.{}_entropy AS DOUBLE)", "top1": "CAST(s.{}_rank = 1 AS DOUBLE)"}  # of a seed key
        for side in ("baseline", "candidate"):  # each side's mean over its seeds
            keys = [k for k, _ in names if k[0] == side[0]]
            for stat in SEED_STATS:
                extra += f", ({' + '.join(value[stat].format(k) for k in keys)}) / {len(keys)} AS {stat}_{side}"
        if replicates:
            extra += "".join(
                f", {value[stat].format(k)} AS {SEED_PREFIX}{k}_{stat}" for k, _ in names for stat in SEED_STATS
            )
    if "topk" in stats:
        from lossgap.analysis.distribution import add_divergence

        run.token_view(con, "topk", scores={"ids_b": (baselines[0], "topk_ids"), "logp_b": (baselines[0], "topk_logprobs"),
                                             "ids_c": (candidates[0], "topk_ids"), "logp_c": (candidates[0], "topk_logprobs")})  # fmt: skip
        add_divergence(con, "topk")
        extra += ", v.divergence, v.divergence_max"
        join = "LEFT JOIN divergence v ON v.doc_id = s.doc_id AND v.pos = s.pos"
    con.execute(
        f"""CREATE OR REPLACE TABLE {JOINED} AS
            SELECT d.doc_idx, s.doc_id, s.pos, {base} AS loss_baseline, {cand} AS loss_candidate,
                   {base} - {cand} AS gap{seeds}{extra}, {carried}
            FROM scored s JOIN documents d USING (doc_id) {join}"""
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


@contextmanager
def joined_as(con: duckdb.DuckDBPyConnection, select: str, keep: str) -> Iterator[None]:
    """While open, table `joined` is `select` (a query that reads the current `joined` as `keep`); the original is
    back afterwards, whatever happens: how an analysis reruns itself on another version of the compared tokens (one
    seed's gap, half of the documents)."""
    con.execute(f"ALTER TABLE {JOINED} RENAME TO {keep}")
    try:
        con.execute(f"CREATE TABLE {JOINED} AS {select}")
        yield
    finally:
        con.execute(f"DROP TABLE IF EXISTS {JOINED}")
        con.execute(f"ALTER TABLE {keep} RENAME TO {JOINED}")


def seed_gaps(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(side "b" or "c", SQL replacing the loss and gap columns with that seed's) for each seed column of `joined`
    on a side with several seeds: the gap of one seed against the other side's mean (analysis.replicates). Where
    `joined` has each seed's entropy and top-1 hit, that side's are replaced by the seed's too."""
    columns = [r[0] for r in con.execute(f"DESCRIBE {JOINED}").fetchall()]
    seeds = [c for c in columns if re.fullmatch(rf"{SEED_PREFIX}[bc]\d+", c)]  # the losses
    out = []
    for column in seeds:
        side = column[len(SEED_PREFIX)]
        if sum(c[len(SEED_PREFIX)] == side for c in seeds) < 2:
            continue  # one seed on this side: no between-seed variance to estimate
        replace = (f"{column} AS loss_baseline, {column} - loss_candidate AS gap" if side == "b" else
                   f"{column} AS loss_candidate, loss_baseline - {column} AS gap")  # fmt: skip
        named = "baseline" if side == "b" else "candidate"
        replace += "".join(
            f", {column}_{stat} AS {stat}_{named}" for stat in SEED_STATS if f"{column}_{stat}" in columns
        )
        out.append((side, replace))
    return out


def _shared_stats(run: RunDir, baselines: tuple[str, ...], candidates: tuple[str, ...]) -> set[str]:
    """What both sides recorded beyond the loss: {"distribution"} when every scoring has entropy and rank (seed
    replicates too: their intervals then cover seeds), plus "topk" when each side is one scoring and both kept the
    same number of top tokens (the divergence of seed replicates is left out)."""
    have = [set(run.score_columns(n)) for n in (*baselines, *candidates)]
    if not all({"entropy", "rank"} <= h for h in have):
        return set()
    out = {"distribution"}
    if len(have) == 2 and all({"topk_ids", "topk_logprobs"} <= h for h in have):
        widths = {
            run.manifest().models[n].top_k if n in run.manifest().models else 0 for n in (baselines[0], candidates[0])
        }
        if len(widths) == 1:
            out.add("topk")
    return out


def frame_table(con: duckdb.DuckDBPyConnection, tokens: pd.DataFrame, caller: str) -> None:
    """Create table `joined` from a table of tokens (a notebook's `token_frame`, filtered or not): doc_idx (or
    doc_id), pos, gap (or loss_baseline and loss_candidate) and the feature columns; missing losses are NaN, missing
    positions count from 1 in each document. `caller` names the function in errors."""
    frame = tokens.copy()
    if "gap" not in frame and not {"loss_baseline", "loss_candidate"} <= set(frame.columns):
        raise ConfigError(f"{caller} needs a gap column, or loss_baseline and loss_candidate to make one")
    if "doc_idx" not in frame and "doc_id" not in frame:
        raise ConfigError(f"{caller} needs doc_id (or doc_idx): intervals treat documents as the units")
    if "doc_idx" not in frame:
        frame["doc_idx"] = pd.factorize(frame["doc_id"], sort=True)[0]
    if "gap" not in frame:
        frame["gap"] = frame["loss_baseline"] - frame["loss_candidate"]
    for column in ("doc_id", "loss_baseline", "loss_candidate"):
        if column not in frame:
            frame[column] = frame["doc_idx"].astype(str) if column == "doc_id" else float("nan")
    if "pos" not in frame:
        frame["pos"] = frame.groupby("doc_idx").cumcount() + 1
    con.register("frame", frame)
    con.execute(f"CREATE TABLE {JOINED} AS SELECT * FROM frame")
    con.unregister("frame")


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
