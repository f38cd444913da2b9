"""Beyond the true token: each model's entropy and top-1 accuracy per category, and the divergence between the two
models' next-token distributions, from what scoring recorded (`--distribution`, `--top-k`).

**Divergence.** Scoring keeps each model's k most likely tokens with their log-probabilities, not the whole
distribution. The Jensen–Shannon divergence (nats, at most ln 2) is computed on the union of the two top-k sets
plus one atom that takes each model's remaining mass (its *tail*, ε = 1 − its top-k mass): P̃ puts P's known
probabilities on its own top k, 0 on the other model's extra tokens, and ε_P on the tail atom; Q̃ likewise. P̃ is P
with the mass ε_P moved onto one atom, so their total variation is ε_P and JS(P, P̃) ≤ ln 2 · ε_P; since √JS is a
metric, |√JS(P, Q) − √JS(P̃, Q̃)| ≤ √(ln 2 · ε_P) + √(ln 2 · ε_Q). `divergence` is JS(P̃, Q̃) and `divergence_max`
the upper end of that bound (capped at ln 2): where both models put most of their mass on their top k, the two are
close; where they do not, `divergence_max` says how far the truth may be. Tested against the exact divergence on
small vocabularies (tests/analysis/test_distribution.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from lossgap.analysis.config import IntervalSpec
from lossgap.analysis.estimate import Contrast, LevelSums, estimate
from lossgap.analysis.groupings import Grouping
from lossgap.analysis.join import JOINED
from lossgap.analysis.levels import PART_COLUMNS
from lossgap.rundir.results import ADDED_COLUMNS, RESULTS

__all__ = ["DISTRIBUTION_COLUMNS", "DIVERGENCE_COLUMNS", "distribution_table", "truncated_js", "add_divergence"]

LN2 = float(np.log(2.0))
# columns of the joined table that describe the models' predictions (outcomes, never features to group by)
DISTRIBUTION_COLUMNS = ("entropy_baseline", "entropy_candidate", "top1_baseline", "top1_candidate")
DIVERGENCE_COLUMNS = ("divergence", "divergence_max")
_CHUNK = 262_144  # tokens a chunk of the divergence computation


def truncated_js(
    ids_p: np.ndarray, logp_p: np.ndarray, ids_q: np.ndarray, logp_q: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per row, JS(P̃, Q̃) and the upper bound on the exact JS(P, Q) (module docstring), from each model's top-k ids
    [n, k] and log-probabilities [n, k] (float64 throughout)."""
    p, q = np.exp(logp_p.astype(np.float64)), np.exp(logp_q.astype(np.float64))
    same = ids_p[:, :, None] == ids_q[:, None, :]  # [n, k_p, k_q]
    q_on_p = (same * q[:, None, :]).sum(axis=2)  # Q's probability of P's top tokens where Q has them in its top k
    q_only = q * ~same.any(axis=1)  # Q's top tokens that P's top k lacks (P̃ gives them 0)
    tail_p, tail_q = np.clip(1 - p.sum(axis=1), 0, 1), np.clip(1 - q.sum(axis=1), 0, 1)

    def part(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Σ over atoms of ½ [a ln(a/m) + b ln(b/m)], m = (a + b) / 2, with 0 ln 0 = 0."""
        m = (a + b) / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            left = np.where(a > 0, a * np.log(np.where(a > 0, a, 1) / np.where(m > 0, m, 1)), 0.0)
            right = np.where(b > 0, b * np.log(np.where(b > 0, b, 1) / np.where(m > 0, m, 1)), 0.0)
        return 0.5 * (left + right)

    js = part(p, q_on_p).sum(axis=1) + part(np.zeros_like(q_only), q_only).sum(axis=1) + part(tail_p, tail_q)
    js = np.clip(js, 0.0, LN2)
    high = np.minimum((np.sqrt(js) + np.sqrt(LN2 * tail_p) + np.sqrt(LN2 * tail_q)) ** 2, LN2)
    return js, high


def add_divergence(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Create table `divergence` (doc_id, pos, divergence, divergence_max) from the view `source` with columns
    doc_id, pos, ids_b, logp_b, ids_c, logp_c (each model's top k), chunk by chunk."""
    con.execute("CREATE OR REPLACE TEMP TABLE divergence (doc_id VARCHAR, pos INTEGER, divergence DOUBLE, "
                "divergence_max DOUBLE)")  # fmt: skip
    reading = con.cursor()  # a second connection to the same database: it streams while `con` inserts
    relation = reading.sql(f"SELECT doc_id, pos, ids_b, logp_b, ids_c, logp_c FROM {source}")
    reader = (getattr(relation, "to_arrow_reader", None) or relation.fetch_arrow_reader)(_CHUNK)  # DuckDB 2 / 1

    def matrix(column: pa.Array, dtype: type) -> np.ndarray:
        flat = pa.compute.list_flatten(column).to_numpy(zero_copy_only=False).astype(dtype)
        return flat.reshape(len(column), -1) if len(column) else flat.reshape(0, 0)

    for batch in reader:
        js, high = truncated_js(matrix(batch.column("ids_b"), np.int64), matrix(batch.column("logp_b"), np.float64),
                                matrix(batch.column("ids_c"), np.int64), matrix(batch.column("logp_c"), np.float64))  # fmt: skip
        chunk = pa.table({"doc_id": batch.column("doc_id"), "pos": batch.column("pos"), "divergence": js,
                          "divergence_max": high})  # fmt: skip
        con.register("divergence_chunk", chunk)
        con.execute("INSERT INTO divergence SELECT * FROM divergence_chunk")
        con.unregister("divergence_chunk")
    reading.close()


# (output prefix, per-token SQL value, scale) of each figure: entropies in nats, top-1 as shares
_VALUES = (
    ("entropy_baseline", "entropy_baseline"),
    ("entropy_candidate", "entropy_candidate"),
    ("entropy_gap", "entropy_baseline - entropy_candidate"),
    ("top1_baseline", "top1_baseline"),
    ("top1_candidate", "top1_candidate"),
    ("top1_diff", "top1_candidate - top1_baseline"),
    ("divergence", "divergence"),
    ("divergence_max", "divergence_max"),
)
_WITH_INTERVAL = ("entropy_gap", "top1_diff", "divergence")


def distribution_table(con: duckdb.DuckDBPyConnection, groupings: Sequence[Grouping], n_docs: int,
                       spec: IntervalSpec) -> pd.DataFrame:  # fmt: skip
    """distribution.csv: per (grouping, level), and `all`, each model's mean entropy and top-1 accuracy, the entropy
    gap (baseline − candidate) and the top-1 difference (candidate − baseline) with intervals over documents, and
    the mean divergence (with its interval, and the mean upper bound) where both models kept their top k."""
    present = {r[0] for r in con.execute(f"DESCRIBE {JOINED}").fetchall()}
    values = [(name, sql) for name, sql in _VALUES if all(c in present for c in sql.replace("-", " ").split())]
    if not any(name == "entropy_gap" for name, _ in values):
        return pd.DataFrame(columns=RESULTS["distribution.csv"].names)
    every = [Grouping(name="all", expr="'all'"), *groupings]

    def part(g: Grouping, i: int) -> str:
        return f"CAST(({g.parts[i]}) AS VARCHAR)" if i < len(g.parts) else "CAST(NULL AS VARCHAR)"

    frames = []
    for grouping in every:
        sums = ", ".join(f"sum({sql}) AS s_{name}" for name, sql in values)
        rows = con.execute(
            f"""SELECT level, doc_idx, count(*) AS n, {sums}, {", ".join(f"any_value({c}) AS {c}" for c in PART_COLUMNS)}
                FROM (SELECT *, CAST(({grouping.expr}) AS VARCHAR) AS level,
                             {", ".join(f"{part(grouping, i)} AS {c}" for i, c in enumerate(PART_COLUMNS))}
                      FROM {JOINED})
                WHERE level IS NOT NULL GROUP BY level, doc_idx"""
        ).df()
        if rows.empty:
            continue
        names = list(rows.groupby("level")["n"].sum().sort_values(ascending=False, kind="stable").index)
        if grouping.order is not None:
            names = [v for v in grouping.order if v in names] + [v for v in names if v not in grouping.order]
        index = {v: i for i, v in enumerate(names)}
        level = rows["level"].map(index).to_numpy(np.int64)
        doc, n = rows["doc_idx"].to_numpy(np.int64), rows["n"].to_numpy(np.float64)
        out: dict[str, object] = {"feature": grouping.name, "value": names}
        first = rows.drop_duplicates("level").set_index("level")
        for c in PART_COLUMNS:
            out[c] = ["" if pd.isna(first.at[v, c]) else first.at[v, c] for v in names] if grouping.parts else (
                list(names) if c == "level_1" else [""] * len(names))  # fmt: skip
        notes = [""] * len(names)
        for name, _ in values:
            ls = LevelSums(doc=doc, level=level, n=n, s=rows[f"s_{name}"].to_numpy(np.float64), names=tuple(names),
                           n_docs=n_docs)  # fmt: skip
            if name in _WITH_INTERVAL:
                got = estimate(ls, [Contrast((i,)) for i in range(len(names))], spec)
                out[name], out[f"{name}_ci_low"], out[f"{name}_ci_high"] = got.estimate, got.ci_low, got.ci_high
                out["n_tokens"], out["n_eff_docs"] = got.n_tokens, got.n_eff_docs
                notes = [a or b for a, b in zip(notes, got.note, strict=True)]
            else:
                out[name] = ls.means()
        out["note"] = notes
        frames.append(pd.DataFrame(out))
    table = pd.concat(frames, ignore_index=True)
    for column in RESULTS["distribution.csv"].names:
        if column not in table:
            table[column] = ADDED_COLUMNS.get(column, np.nan)
    return table[RESULTS["distribution.csv"].names]
