"""The most extreme tokens, segments and documents of a comparison, in both directions.

Reads the joined table; returns top_tokens / top_segments / top_documents tables (rank 1 = most extreme).
"""

from __future__ import annotations

import duckdb
import pandas as pd

from lossgap.analysis.join import JOINED
from lossgap.rundir.results import RESULTS

__all__ = ["TIE_NATS", "top_tokens", "top_segments", "top_documents"]

# A gap (per token, or a mean per token) within this many nats of zero is a tie, in neither list: the same
# model scored in two different batches differs by ~1e-6, and such noise is no win.
TIE_NATS = 1e-4
# candidate_wins: positive gaps, largest first; candidate_loses: negative gaps, most negative first.
# Ties in rank break by document (doc_id order) and pos.
_DIRECTIONS = (("candidate_wins", "DESC", f"> {TIE_NATS!r}"), ("candidate_loses", "ASC", f"< {-TIE_NATS!r}"))


def _both_directions(
    con: duckdb.DuckDBPyConnection, source: str, key: str, tiebreak: str, k: int, columns: list[str]
) -> pd.DataFrame:
    parts = [
        f"""SELECT '{name}' AS direction, CAST(row_number() OVER (ORDER BY {key} {order}, {tiebreak}) AS INTEGER) AS rank, *
            FROM (SELECT * FROM {source} WHERE {key} {beyond} ORDER BY {key} {order}, {tiebreak} LIMIT {int(k)})"""
        for name, order, beyond in _DIRECTIONS
    ]
    table = con.execute(" UNION ALL ".join(f"({p})" for p in parts)).df()
    return table.sort_values(["direction", "rank"], ascending=[False, True])[list(columns)].reset_index(drop=True)


def top_tokens(con: duckdb.DuckDBPyConnection, k: int) -> pd.DataFrame:
    """The k tokens with the largest gap each way; where the divergence between the models is known, also the k
    where they disagree most (direction `most_divergent`, by divergence)."""
    has = "divergence" in {r[0] for r in con.execute(f"DESCRIBE {JOINED}").fetchall()}
    divergence = "divergence" if has else "CAST(NULL AS DOUBLE) AS divergence"
    source = f"(SELECT doc_idx, doc_id, pos, domain, token_text, loss_baseline, loss_candidate, gap, {divergence} FROM {JOINED})"
    table = _both_directions(con, source, "gap", "doc_idx, pos", k, RESULTS["top_tokens.csv"].names)
    if not has:
        return table
    disagree = con.execute(
        f"""SELECT 'most_divergent' AS direction, CAST(row_number() OVER (ORDER BY divergence DESC, doc_idx, pos) AS INTEGER)
                   AS rank, *
            FROM (SELECT * FROM {source} WHERE divergence IS NOT NULL ORDER BY divergence DESC, doc_idx, pos LIMIT {int(k)})"""
    ).df()[RESULTS["top_tokens.csv"].names]
    return pd.concat([table, disagree], ignore_index=True)


def top_segments(con: duckdb.DuckDBPyConnection, k: int, segment_tokens: int) -> pd.DataFrame:
    """The k segments with the largest summed gap each way.

    Segments are consecutive, non-overlapping runs of `segment_tokens` positions within a document
    (positions 1..L cut at multiples of `segment_tokens`; the last one may be shorter); ranked by sum_gap,
    so full-length segments are favoured over short tails. Text is the tokens' text joined in order,
    built only for the segments listed.
    """
    size = int(segment_tokens)
    source = f"""(SELECT doc_idx, any_value(doc_id) AS doc_id, min(pos) AS pos_start, max(pos) + 1 AS pos_end,
                          count(*) AS n_tokens, avg(gap) AS mean_gap, sum(gap) AS sum_gap
                   FROM {JOINED} GROUP BY doc_idx, (pos - 1) // {size})"""
    columns = [c for c in RESULTS["top_segments.csv"].names if c != "text"] + ["doc_idx"]
    table = _both_directions(con, source, "sum_gap", "doc_idx, pos_start", k, columns)
    chosen = table[["doc_idx", "pos_start"]].drop_duplicates()
    con.register("top_segment_keys", chosen)
    try:
        texts = con.execute(
            f"""SELECT t.doc_idx, t.pos_start, string_agg(coalesce(j.token_text, ''), '' ORDER BY j.pos) AS text
                FROM top_segment_keys t JOIN {JOINED} j
                  ON j.doc_idx = t.doc_idx AND (j.pos - 1) // {size} = (t.pos_start - 1) // {size}
                GROUP BY t.doc_idx, t.pos_start"""
        ).df()
    finally:
        con.unregister("top_segment_keys")
    table = table.merge(texts, on=["doc_idx", "pos_start"], how="left")
    return table[RESULTS["top_segments.csv"].names]


def top_documents(con: duckdb.DuckDBPyConnection, k: int, min_tokens: int) -> pd.DataFrame:
    """The k documents with the largest mean gap each way, among those with at least `min_tokens` tokens.

    The floor keeps a handful of very short documents, whose means are mostly noise, off the list; when no
    document reaches it, all documents compete.
    """
    floor = con.execute(
        f"SELECT CASE WHEN max(n) >= {int(min_tokens)} THEN {int(min_tokens)} ELSE 0 END "
        f"FROM (SELECT count(*) AS n FROM {JOINED} GROUP BY doc_idx)"
    ).fetchall()[0]
    assert floor is not None
    source = f"""(SELECT doc_idx, any_value(doc_id) AS doc_id, any_value(domain) AS domain, count(*) AS n_tokens,
                          avg(gap) AS mean_gap, sum(gap) AS sum_gap
                   FROM {JOINED} GROUP BY doc_idx HAVING count(*) >= {int(floor[0])})"""
    return _both_directions(con, source, "mean_gap", "doc_idx", k, RESULTS["top_documents.csv"].names)
