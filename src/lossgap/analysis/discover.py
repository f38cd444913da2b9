"""`discover`: slices of the tokens where the gap departs most from the rest, found without predefined categories,
with intervals that the search does not inflate.

A *slice* is a conjunction of at most `max_conditions` feature values (`domain_type = code AND bracket_side =
close`); numeric columns enter as quantile bins. Searching thousands of slices and reporting the best ones' own
intervals would overstate them (the winner's curse), so the documents are split at random in two halves:

1. **search** (half A): every slice with at least `min_tokens` tokens and `min_eff_docs` effective documents is
   scored by the difference between its mean gap and the rest's, over that difference's document-clustered
   standard error (`t`, the default) or times its share of the tokens (`excess`, nats per token of the whole
   gap). A conjunction counts only if it scores beyond each of its parents (the slice with one condition fewer)
   and leaves out at least `min_cut` of each parent's tokens: otherwise the parent already says it. The `top_k`
   by absolute score are selected.
2. **estimate** (half B): each selected slice's mean gap, relative gap, share of the gap and its difference from
   the rest, with compare's intervals (CR2 or bootstrap over documents; with seeds, over documents and seeds).
   Half B played no part in choosing the slices, so these intervals hold as they would for a slice named before
   looking; the p-values of the differences are Holm-adjusted over the `top_k` slices.

The search statistic is the coefficient of a least-squares fit of the gap on an indicator of the slice (with an
intercept), its standard error the cluster-robust sandwich by document with the CR1 factor G/(G − 1), computed
for every slice at once from per-(slice, document) sums.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from lossgap.analysis.config import DiscoverConfig
from lossgap.analysis.distribution import DISTRIBUTION_COLUMNS, DIVERGENCE_COLUMNS
from lossgap.analysis.estimate import Contrast, estimate, holm
from lossgap.analysis.groupings import Grouping, quantile_thresholds
from lossgap.analysis.join import (
    JOINED,
    SEED_PREFIX,
    MissingTokens,
    connect,
    frame_table,
    join_pair,
    joined_as,
    quote_ident,
    quote_literal,
    seed_gaps,
)
from lossgap.analysis.levels import document_sums, level_sums, level_table
from lossgap.analysis.replicates import combine_tables
from lossgap.errors import ConfigError
from lossgap.rundir import DiscoverSummary, ResultRecord, RunDir, as_rundir
from lossgap.rundir.categories import repeat_len_bin_sql
from lossgap.rundir.results import RESULTS

__all__ = ["DISCOVER_FEATURES", "DiscoverResult", "compute_discover", "discover_frame", "run_discover"]

log = logging.getLogger(__name__)

# The columns searched by default (those the run has): categorical ones as they are, numeric ones in quantile bins
# (repeat_len in compare's bins); `pos` is the token's position in its document.
DISCOVER_FEATURES = ("domain", "domain_type", "word_class", "upos", "tag", "word_piece", "bracket_kind",
                     "bracket_side", "code_class", "token_text", "repeat_len", "repeat_dist", "log_freq", "pos")  # fmt: skip
_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
            "FLOAT", "DOUBLE", "REAL")  # fmt: skip
_SEARCH, _HELD = "discover_search", "discover_held"


@dataclass(frozen=True, kw_only=True)
class DiscoverResult:
    """What `discover` computes: the selected slices with their search-half and held-out figures, example tokens of
    each (held-out half), and the search's summary."""

    config: DiscoverConfig
    missing: MissingTokens
    summary: DiscoverSummary
    slices: pd.DataFrame
    examples: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"slices.csv": self.slices, "slice_examples.csv": self.examples}


@dataclass(frozen=True)
class _Atom:
    """One searched column: the SQL giving each token's level of it (text; NULL: in no level)."""

    column: str
    expr: str


def _label(x: float) -> str:
    return f"{x:.4g}"


def _atoms(con: duckdb.DuckDBPyConnection, config: DiscoverConfig, types: dict[str, str]) -> list[_Atom]:
    """The searched columns as level expressions; numeric columns' bins cut at the search half's quantiles."""
    asked = config.features or tuple(c for c in DISCOVER_FEATURES if c in types)
    unknown = [c for c in asked if c not in types]
    if unknown:
        raise ConfigError(f"--feature {', '.join(unknown)}: not a column of the compared tokens; available: "
                          f"{', '.join(c for c in types if c not in ('doc_idx', 'doc_id', 'gap'))}")  # fmt: skip
    atoms = []
    for column in asked:
        q = quote_ident(column)
        if column == "repeat_len":
            atoms.append(_Atom(column, repeat_len_bin_sql(q)))
        elif types[column].split("(")[0] in _NUMERIC:
            cuts = sorted(set(quantile_thresholds(con, column, config.bins, source=_SEARCH)))
            if not cuts:
                continue  # no value in the search half
            cases = [f"WHEN {q} <= {cuts[0]!r} THEN {quote_literal('<= ' + _label(cuts[0]))}"]
            cases += [f"WHEN {q} <= {hi!r} THEN {quote_literal(f'({_label(lo)}, {_label(hi)}]')}"
                      for lo, hi in itertools.pairwise(cuts)]  # fmt: skip
            cases.append(f"ELSE {quote_literal('> ' + _label(cuts[-1]))}")
            atoms.append(_Atom(column, f"CASE WHEN {q} IS NULL OR NOT isfinite(CAST({q} AS DOUBLE)) THEN NULL "
                                       f"{' '.join(cases)} END"))  # fmt: skip
        else:  # categorical; the empty string (spaCy's empty tag) is no level
            atoms.append(_Atom(column, f"nullif(CAST({q} AS VARCHAR), '')"))
    if not atoms:
        raise ConfigError("discover: no feature column to search")
    return atoms


def _split(con: duckdb.DuckDBPyConnection, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The documents (doc_idx) of the search half and of the held-out half: a seeded random half each (the search
    half gets the odd one)."""
    docs = np.sort(con.execute(f"SELECT DISTINCT doc_idx FROM {JOINED}").fetchnumpy()["doc_idx"].astype(np.int64))
    if docs.size < 4:
        raise ConfigError(f"discover needs at least 4 documents to split in two halves, the comparison has {docs.size}")
    order = np.random.default_rng(seed).permutation(docs)
    half = (docs.size + 1) // 2
    return np.sort(order[:half]), np.sort(order[half:])


def _search_stats(rows: pd.DataFrame, doc_n: np.ndarray, doc_s: np.ndarray) -> pd.DataFrame:
    """Per slice (rows: cell, doc, n, s of its tokens per document), the least-squares difference between its mean gap
    and the rest's with its cluster-robust (CR1) standard error over the search half's documents (doc_n, doc_s:
    every search document's tokens and summed gap, indexed by the rows' doc)."""
    cell, doc = rows["cell"].to_numpy(np.int64), rows["doc"].to_numpy(np.int64)
    n, s = rows["n"].to_numpy(np.float64), rows["s"].to_numpy(np.float64)
    k = int(cell.max()) + 1
    big_n, total = doc_n.sum(), doc_s.sum()
    g = doc_n.size
    n_in = np.bincount(cell, weights=n, minlength=k)
    s_in = np.bincount(cell, weights=s, minlength=k)
    n_out, s_out = big_n - n_in, total - s_in
    with np.errstate(divide="ignore", invalid="ignore"):
        m_in, m_out = s_in / n_in, s_out / n_out
        # document d's score: u_d / N_in − w_d / N_out, u_d its residual sum inside, w_d outside the slice
        u = s - m_in[cell] * n
        w_all = doc_s[doc] - m_out[cell] * doc_n[doc]  # the document's whole residual sum at the rest's mean
        w = w_all - (s - m_out[cell] * n)
        inside = np.bincount(cell, weights=(u / n_in[cell] - w / n_out[cell]) ** 2, minlength=k)
        touched = np.bincount(cell, weights=w_all**2, minlength=k)
        # documents without a token in the slice: only their rest part, Σ (s_d − m_out n_d)² over all minus touched
        every = (doc_s**2).sum() - 2 * m_out * (doc_s * doc_n).sum() + m_out**2 * (doc_n**2).sum()
        variance = (inside + (every - touched) / n_out**2) * g / max(g - 1, 1)
        diff = m_in - m_out
        se = np.sqrt(np.maximum(variance, 0.0))
        t = np.where(se > 0, diff / se, np.nan)
    eff = n_in**2 / np.bincount(cell, weights=n**2, minlength=k)
    return pd.DataFrame({"cell": np.arange(k), "n_tokens": n_in, "n_docs": np.bincount(cell, minlength=k),
                         "n_eff_docs": eff, "mean_gap": m_in, "rest_gap": m_out, "diff": diff, "se": se, "t": t,
                         "excess": diff * n_in / big_n})  # fmt: skip


def _search(con: duckdb.DuckDBPyConnection, atoms: list[_Atom], config: DiscoverConfig,
            search_docs: np.ndarray) -> tuple[pd.DataFrame, int]:  # fmt: skip
    """Every slice that meets the support rules, scored on the search half; and how many slices were scored."""
    index = np.full(int(search_docs.max()) + 1, -1, np.int64)
    index[search_docs] = np.arange(search_docs.size)
    totals = con.execute(f"SELECT doc_idx, count(*) AS n, sum(gap) AS s FROM {_SEARCH} GROUP BY doc_idx").df()
    doc_n, doc_s = np.zeros(search_docs.size), np.zeros(search_docs.size)
    doc_n[index[totals["doc_idx"].to_numpy(np.int64)]] = totals["n"].to_numpy(np.float64)
    doc_s[index[totals["doc_idx"].to_numpy(np.int64)]] = totals["s"].to_numpy(np.float64)
    found, scored = [], 0
    for k in range(1, config.max_conditions + 1):
        for subset in itertools.combinations(range(len(atoms)), k):
            keys = [f"a{i}" for i in subset]
            present = " AND ".join(f"{key} IS NOT NULL" for key in keys)
            rows = con.execute(
                f"""WITH cells AS (SELECT {", ".join(keys)} FROM discover_atoms WHERE {present}
                                   GROUP BY ALL HAVING count(*) >= {int(config.min_tokens)})
                    SELECT {", ".join(keys)}, doc_idx, count(*) AS n, sum(gap) AS s
                    FROM discover_atoms JOIN cells USING ({", ".join(keys)}) GROUP BY ALL"""
            ).df()
            if rows.empty:
                continue
            rows["cell"] = rows.groupby(keys, sort=True).ngroup()
            rows["doc"] = index[rows["doc_idx"].to_numpy(np.int64)]
            stats = _search_stats(rows, doc_n, doc_s)
            scored += len(stats)
            labels = rows.drop_duplicates("cell").sort_values("cell")[keys].reset_index(drop=True)
            for j, i in enumerate(subset):
                stats[f"feature_{j + 1}"] = atoms[i].column
                stats[f"value_{j + 1}"] = labels[f"a{i}"].astype(str).to_numpy()
            found.append(stats.drop(columns="cell").assign(n_conditions=k))
    if not found:
        return pd.DataFrame(), scored
    table = pd.concat(found, ignore_index=True)
    for j in range(1, 4):
        for part in ("feature", "value"):
            if f"{part}_{j}" not in table:
                table[f"{part}_{j}"] = ""
            table[f"{part}_{j}"] = table[f"{part}_{j}"].fillna("")
    table["score"] = table[config.criterion]
    return table[(table["n_eff_docs"] >= config.min_eff_docs) & np.isfinite(table["score"])].reset_index(
        drop=True
    ), scored


def _conditions(row: pd.Series) -> tuple[tuple[str, str], ...]:
    return tuple((row[f"feature_{j}"], row[f"value_{j}"]) for j in range(1, int(row["n_conditions"]) + 1))


def _select(table: pd.DataFrame, config: DiscoverConfig) -> pd.DataFrame:
    """The top_k slices by |score| among those that improve on each of their parents (see the module docstring)."""
    if table.empty:
        return table
    keyed = {_conditions(r): (float(r["score"]), float(r["n_tokens"])) for _, r in table.iterrows()}

    def improves(row: pd.Series) -> bool:
        conds = _conditions(row)
        for parent in itertools.combinations(conds, len(conds) - 1):
            if not parent or parent not in keyed:
                continue
            score, tokens = keyed[parent]
            if abs(row["score"]) <= abs(score) or row["n_tokens"] > (1 - config.min_cut) * tokens:
                return False
        return True

    kept = table[[improves(r) for _, r in table.iterrows()]].copy()
    kept["abs_score"] = kept["score"].abs()
    order = kept.sort_values(["abs_score", "feature_1", "value_1", "feature_2", "value_2", "feature_3", "value_3"],
                             ascending=[False, True, True, True, True, True, True], kind="stable")  # fmt: skip
    return order.head(config.top_k).drop(columns="abs_score").reset_index(drop=True)


def _predicate(row: pd.Series, atoms: dict[str, _Atom]) -> str:
    return " AND ".join(f"({atoms[f].expr}) = {quote_literal(v)}" for f, v in _conditions(row))


def _held_table(con: duckdb.DuckDBPyConnection, groupings: list[Grouping], n_docs: int, config: DiscoverConfig,
                doc_total: np.ndarray, n_tokens: int) -> pd.DataFrame:  # fmt: skip
    """Per slice (grouping `in`/`rest` on the held-out half, as the table JOINED): its level figures and the
    difference in − rest, in nats and relative."""
    sums = document_sums(con, groupings)
    levels = level_table(sums, groupings, n_docs, config, doc_total, float(n_tokens))
    inside = levels[levels["value"] == "in"].set_index("feature")
    rows = []
    for k, grouping in enumerate(groupings):
        part = sums[sums["group"] == k]
        row = {"slice": grouping.name}
        if grouping.name in inside.index:
            row |= inside.loc[grouping.name].drop(["value", "level_1", "level_2", "level_3"]).to_dict()
        ls = level_sums(part, n_docs, order=("in", "rest"))
        rel = level_sums(part, n_docs, order=("in", "rest"), weight="sum_baseline")
        if ls.names[:2] == ("in", "rest"):
            got = estimate(ls, [Contrast((0,), (1,))], config)
            row |= {"diff": got.estimate[0], "diff_ci_low": got.ci_low[0], "diff_ci_high": got.ci_high[0],
                    "diff_p": got.p[0], "diff_note": got.note[0]}  # fmt: skip
            if np.isfinite(part["sum_baseline"].to_numpy(np.float64)).all():
                r = estimate(rel, [Contrast((0,), (1,))], config)
                row |= {"rel_diff": r.estimate[0], "rel_diff_ci_low": r.ci_low[0], "rel_diff_ci_high": r.ci_high[0]}
        rows.append(row)
    return pd.DataFrame(rows)


def compute_discover(con: duckdb.DuckDBPyConnection, config: DiscoverConfig, *,
                     missing: MissingTokens | None = None) -> DiscoverResult:  # fmt: skip
    """Search and estimate on the table JOINED of `con` (made by `join_pair`, or from a frame: `discover_frame`)."""
    types = {r[0]: r[1] for r in con.execute(f"DESCRIBE {JOINED}").fetchall()
             if r[0] not in ("doc_idx", "doc_id", "loss_baseline", "loss_candidate", "gap", *DISTRIBUTION_COLUMNS,
                             *DIVERGENCE_COLUMNS)
             and not r[0].startswith(SEED_PREFIX)}  # outcomes are never slices  # fmt: skip
    search_docs, held_docs = _split(con, config.split_seed)
    con.register("discover_split", pd.DataFrame({"doc_idx": search_docs}))
    con.execute(f"CREATE OR REPLACE TEMP TABLE {_SEARCH} AS SELECT * FROM {JOINED} "
                "WHERE doc_idx IN (SELECT doc_idx FROM discover_split)")  # fmt: skip
    atoms = _atoms(con, config, types)
    by_column = {a.column: a for a in atoms}
    con.execute(f"CREATE OR REPLACE TEMP TABLE discover_atoms AS SELECT doc_idx, gap, "
                f"{', '.join(f'{a.expr} AS a{i}' for i, a in enumerate(atoms))} FROM {_SEARCH}")  # fmt: skip
    table, scored = _search(con, atoms, config, search_docs)
    chosen = _select(table, config)
    log.info("discover: %d slices scored on %d documents, %d kept after the support and parent rules, %d selected",
             scored, search_docs.size, len(table), len(chosen))  # fmt: skip
    names = [f"slice-{i + 1}" for i in range(len(chosen))]
    predicates = [_predicate(r, by_column) for _, r in chosen.iterrows()]

    # the held-out half, its documents numbered 0 … G−1, as the table the level functions read
    held_index = pd.DataFrame({"doc_idx": held_docs, "held_idx": np.arange(held_docs.size)})
    con.register("discover_held_index", held_index)
    groupings = [Grouping(name=n, expr=f"CASE WHEN coalesce({p}, false) THEN 'in' ELSE 'rest' END", order=("in", "rest"))
                 for n, p in zip(names, predicates, strict=True)]  # fmt: skip

    def held() -> pd.DataFrame:
        totals = con.execute(f"SELECT doc_idx, sum(gap) AS s, count(*) AS n FROM {JOINED} GROUP BY doc_idx").df()
        doc_total = np.zeros(held_docs.size)
        doc_total[totals["doc_idx"].to_numpy(np.int64)] = totals["s"].to_numpy(np.float64)
        n_tokens = int(totals["n"].sum())
        return _held_table(con, groupings, held_docs.size, config, doc_total, n_tokens) if groupings else pd.DataFrame()

    held_half = (
        "SELECT * REPLACE (h.held_idx AS doc_idx) FROM discover_all a JOIN discover_held_index h USING (doc_idx)"
    )
    with joined_as(con, held_half, keep="discover_all"):
        estimates = held()
        n_held, held_gap = con.execute(f"SELECT count(*), avg(gap) FROM {JOINED}").fetchall()[0]
        notes = []
        replacements = seed_gaps(con)
        if replacements and groupings:  # intervals over documents and seeds, as compare's (analysis.replicates)
            per: dict[str, list[dict[str, pd.DataFrame]]] = {"b": [], "c": []}
            for side, replace in replacements:
                with joined_as(con, f"SELECT * REPLACE ({replace}) FROM discover_mean", keep="discover_mean"):
                    per[side].append({"slices.csv": held()})
            estimates = combine_tables({"slices.csv": estimates}, per["b"], per["c"], config.confidence)["slices.csv"]
        if len(config.baselines) + len(config.candidates) > 2:
            notes.append(f"seed replicates: {len(config.baselines)} baseline and {len(config.candidates)} candidate "
                         "seeds; the held-out intervals cover seeds and documents (the search used the seeds' mean)")  # fmt: skip
        examples = _examples(con, chosen, names, predicates, config)
    slices = _slices_table(chosen, names, predicates, estimates)
    n_search = con.execute(f"SELECT count(*) FROM {_SEARCH}").fetchall()[0][0]
    notes.insert(0, f"sample splitting: slices were searched on {search_docs.size} documents ({n_search:,} tokens) and "
                    f"estimated on the other {held_docs.size} ({n_held:,} tokens), so the search does not inflate the "
                    f"held-out intervals; search figures (search_*) are optimistic by construction")  # fmt: skip
    summary = DiscoverSummary(
        baseline=config.baseline, candidate=config.candidate, baselines=config.baselines, candidates=config.candidates,
        features=tuple(a.column for a in atoms), max_conditions=config.max_conditions, criterion=config.criterion,
        bins=config.bins, min_tokens=config.min_tokens, min_cut=config.min_cut, split_seed=config.split_seed,
        n_docs_search=int(search_docs.size), n_tokens_search=int(n_search), n_docs_held=int(held_docs.size),
        n_tokens_held=int(n_held), mean_gap_held=float("nan") if held_gap is None else float(held_gap),
        n_scored=int(scored), n_eligible=len(table), n_selected=len(chosen), interval=config.interval,
        confidence=config.confidence, notes=tuple(notes),
    )  # fmt: skip
    missing = missing or MissingTokens(baseline_only=0, candidate_only=0, no_features=0)
    return DiscoverResult(config=config, missing=missing, summary=summary, slices=slices, examples=examples)


def _slices_table(
    chosen: pd.DataFrame, names: list[str], predicates: list[str], estimates: pd.DataFrame
) -> pd.DataFrame:
    columns = RESULTS["slices.csv"].names
    if chosen.empty:
        return pd.DataFrame(columns=columns)
    out = pd.DataFrame({
        "rank": np.arange(1, len(chosen) + 1), "slice": names,
        "conditions": [" AND ".join(f"{f} = {v}" for f, v in _conditions(r)) for _, r in chosen.iterrows()],
        "n_conditions": chosen["n_conditions"].to_numpy(),
        **{f"{p}_{j}": chosen[f"{p}_{j}"].to_numpy() for j in (1, 2, 3) for p in ("feature", "value")},
        "search_n_tokens": chosen["n_tokens"].to_numpy(), "search_n_eff_docs": chosen["n_eff_docs"].to_numpy(),
        "search_mean_gap": chosen["mean_gap"].to_numpy(), "search_diff": chosen["diff"].to_numpy(),
        "search_t": chosen["t"].to_numpy(), "search_score": chosen["score"].to_numpy(), "sql": predicates,
    })  # fmt: skip
    out = out.merge(estimates.rename(columns={"note": "note_level"}), on="slice", how="left")
    out["diff_p_holm"] = holm(out["diff_p"].to_numpy(np.float64)) if "diff_p" in out else np.nan
    notes = []
    for r in out.itertuples(index=False):
        said = [x for x in (getattr(r, "note_level", ""), getattr(r, "diff_note", "")) if isinstance(x, str) and x]
        if not (r.n_tokens > 0 if np.isfinite(getattr(r, "n_tokens", np.nan)) else False):
            said.append("no tokens in the held-out half")
        notes.append("; ".join(dict.fromkeys(said)))
    out["note"] = notes
    for column in columns:
        if column not in out:
            out[column] = np.nan
    return out[columns]


def _examples(con: duckdb.DuckDBPyConnection, chosen: pd.DataFrame, names: list[str], predicates: list[str],
              config: DiscoverConfig) -> pd.DataFrame:  # fmt: skip
    """For each slice, the held-out tokens in it with the largest gap in the direction the search found."""
    columns = RESULTS["slice_examples.csv"].names
    if chosen.empty or config.examples == 0:
        return pd.DataFrame(columns=columns)
    present = {r[0] for r in con.execute(f"DESCRIBE {JOINED}").fetchall()}
    has_text, has_domain = "token_text" in present, "domain" in present
    parts = []
    for rank, (name, predicate, diff) in enumerate(zip(names, predicates, chosen["diff"], strict=True), start=1):
        order = "DESC" if diff >= 0 else "ASC"
        parts.append(f"""(SELECT {rank} AS rank, {quote_literal(name)} AS slice, doc_id, pos,
                                 {"CAST(domain AS VARCHAR)" if has_domain else "''"} AS domain,
                                 {"CAST(token_text AS VARCHAR)" if has_text else "''"} AS token_text,
                                 loss_baseline, loss_candidate, gap
                          FROM {JOINED} WHERE coalesce({predicate}, false)
                          ORDER BY gap {order}, doc_id, pos LIMIT {int(config.examples)})""")
    frame = con.execute(" UNION ALL ".join(parts)).df()
    frame["example"] = frame.groupby("rank").cumcount() + 1
    frame = frame.sort_values(["rank", "example"]).reset_index(drop=True)
    return frame[columns]


def discover_frame(tokens: pd.DataFrame, config: DiscoverConfig) -> DiscoverResult:
    """`discover` on a table of tokens (a notebook's `token_frame`): doc_idx (or doc_id), pos, gap (or both losses),
    and the feature columns."""
    with connect() as con:
        frame_table(con, tokens, "discover_frame")
        return compute_discover(con, config)


def run_discover(run: RunDir | Path | str, config: DiscoverConfig) -> DiscoverResult:
    """Join the two scorings and the features, search and estimate, then write results/NAME/."""
    run = as_rundir(run)
    run.check_writable()
    with connect() as con:
        missing = join_pair(con, run, baseline=config.baselines, candidate=config.candidates)
        result = compute_discover(con, config, missing=missing)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    seeds = len(config.baselines) + len(config.candidates) > 2
    record = ResultRecord(name=config.result_name, kind="discover", baseline=config.baseline,
                          candidate=config.candidate, baselines=config.baselines if seeds else (),
                          candidates=config.candidates if seeds else (), time=now)  # fmt: skip
    folder = run.write_results(record, result.tables(), summary=dataclasses.replace(result.summary, time=now))
    run.record_stage("discover", config, now)
    log.info("wrote %s", folder)
    return result
