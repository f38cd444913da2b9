"""The gap regressed on a factor (the levels a family of contrasts compares) and controls, fitted exactly on
the factor's own population (every compared token with a level of the factor: prose tokens for the word-class
family, brackets for the bracket family) from sufficient statistics that DuckDB streams, with standard errors
clustered by document.

    gap ~ 0 + C(factor) + C(log_freq bin) + C(log_pos bin) + C(repeat_len bin) + C(word_piece) + C(domain)

`flexible` controls (the default) enter rarity and position as quantile bins, so a step or a curve in their
effect is held fixed, not only a line; `linear` controls enter them as centered lines (for the sensitivity
table). Two passes over the tokens, none of them held in memory:

1. cells: token counts and sums per combination of factor and control levels (and, for the linear controls,
   sums of their values and products) give X'X and X'y, hence the coefficients;
2. scores: each document's sum of x·residual, from which the cluster-robust (CR1) covariance follows; for the
   categorical design (`flexible`, what contrasts.csv and marginal_means.csv report) each document's residual
   sums per cell instead, from which the bias-reduced CR2 covariance and the Bell–McCaffrey degrees of freedom of
   every reported combination follow (`_cr2_documents`, `Fit.degrees_of_freedom`).

What is reported are never coefficients, which depend on the coding and on which aliased column was dropped,
but *marginal means*: the mean predicted gap over a population of tokens (a family's scope, e.g. all prose
tokens) with the factor set to one level; and contrasts of marginal means. Both are linear in the
coefficients, with t intervals on the Bell–McCaffrey degrees of freedom (CR2), or on G − 1 (G documents) for the
linear controls of the sensitivity table (CR1).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

from lossgap.analysis.join import JOINED, quote_literal

__all__ = ["Control", "Design", "Fit", "fit_factor"]

log = logging.getLogger(__name__)
_NONE = "(none)"


@dataclass(frozen=True)
class Control:
    """A control: categorical (SQL giving a level) or, for linear controls, a numeric column."""

    name: str
    sql: str
    numeric: bool = False


@dataclass(frozen=True)
class Design:
    """Column names of the design matrix, by part: the factor's levels, then each control's non-reference
    levels, then centered numeric controls."""

    factor_levels: tuple[str, ...]
    control_levels: tuple[tuple[str, tuple[str, ...]], ...]  # (control, its levels in the design)
    numeric: tuple[str, ...]
    dropped: tuple[str, ...]  # aliased columns left out

    @property
    def names(self) -> list[str]:
        cols = [f"factor[{v}]" for v in self.factor_levels]
        cols += [f"{c}[{v}]" for c, levels in self.control_levels for v in levels]
        return cols + [f"{n}_c" for n in self.numeric]


@dataclass(frozen=True)
class Cr2Documents:
    """What CR2 and the Bell–McCaffrey degrees of freedom need of each document of a categorical design: its
    cells (distinct design rows, as indices into `rows`), their token counts' square roots, and the thin
    eigen-decomposition of its leverage block H_gg (`basis`, and `shrink` = 1/sqrt(1 − λ) − 1 per eigenvalue λ,
    −1 where λ = 1: the pseudo-inverse square root). Cells and tokens of one document with one design row share
    everything, so (I − H_gg)^(-1/2) acts on them through this block alone (see `_cr2_documents`)."""

    rows: np.ndarray  # [cells, p_kept] distinct design rows
    cells: list[np.ndarray]  # per document: indices into rows
    sqrt_n: list[np.ndarray]  # per document: sqrt of each cell's tokens
    basis: list[np.ndarray]  # per document: [cells_g, r] orthonormal
    shrink: list[np.ndarray]  # per document: [r]


@dataclass(frozen=True)
class Fit:
    """A fitted factor regression: coefficients, their clustered covariance, and each population's means of the
    design's control columns (to form marginal means)."""

    factor: str
    controls: Literal["flexible", "linear"]
    design: Design
    beta: np.ndarray
    cov: np.ndarray
    df: int
    n_tokens: int
    n_docs: int
    population_means: dict[str, np.ndarray]  # population -> mean design row over its tokens (factor part zero)
    level_tokens: dict[tuple[str, str], int]  # (population, level) -> tokens
    notes: tuple[str, ...] = field(default=())
    kept: np.ndarray | None = None  # design columns kept (not aliased)
    inverse: np.ndarray | None = None  # (X'X)^-1 on the kept columns
    cr2: Cr2Documents | None = None  # set for categorical designs: then `cov` is CR2, with Bell–McCaffrey df
    cov_cr1: np.ndarray | None = None  # CR1 (small-sample factor, for G − 1 df), kept for comparison

    def marginal_vector(self, level: str, population: str) -> np.ndarray:
        """a with a'beta = mean predicted gap over `population` with the factor set to `level`."""
        a = self.population_means[population].copy()
        a[self.design.factor_levels.index(level)] = 1.0
        return a

    def combination(self, plus: Sequence[tuple[str, str]], minus: Sequence[tuple[str, str]]) -> np.ndarray | None:
        """The vector of (pooled marginal means of `plus`) − (pooled marginal means of `minus`), each pooled by
        the tokens of its (population, level) pairs; None if a pair has no tokens or level in the design."""
        a = np.zeros(len(self.beta))
        for pairs, sign in ((plus, 1.0), (minus, -1.0)):
            weights = [self.level_tokens.get(pair, 0) for pair in pairs]
            if not pairs:
                continue
            if sum(weights) == 0 or any(level not in self.design.factor_levels for _, level in pairs):
                return None
            for (population, level), w in zip(pairs, weights, strict=True):
                if w:
                    a += sign * w / sum(weights) * self.marginal_vector(level, population)
        return a

    def interval(self, a: np.ndarray, confidence: float) -> tuple[float, float, float, float]:
        """(estimate, ci_low, ci_high, p) of a'beta."""
        return self.intervals([a], confidence)[0]

    def intervals(self, vectors: Sequence[np.ndarray], confidence: float) -> list[tuple[float, float, float, float]]:
        """(estimate, ci_low, ci_high, p) of each a'beta: t intervals with the Bell–McCaffrey degrees of freedom of
        each vector under CR2, or G − 1 under CR1 (designs with numeric controls)."""
        if not vectors:
            return []
        a = np.vstack(vectors)
        est = a @ self.beta
        se = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", a, self.cov, a), 0.0))
        df = self.degrees_of_freedom(a)
        out = []
        for e, s, d in zip(est, se, df, strict=True):
            if not s > 0 or not d > 0:
                out.append((float(e), float("nan"), float("nan"), float("nan")))
                continue
            half = stats.t.ppf(1 - (1 - confidence) / 2, d) * s
            out.append((float(e), float(e - half), float(e + half), float(2 * stats.t.sf(abs(e) / s, d))))
        return out

    def degrees_of_freedom(self, a: np.ndarray) -> np.ndarray:
        """Per row of `a` [m, p]: Bell–McCaffrey's tr(B)² / tr(B²) for B = G'G (Imbens & Kolesár 2016), with
        B = diag(‖w_g‖²) − Z'AZ: w_g = (I − H_gg)^(-1/2) X_g A a over document g's tokens, z_g = X_g' w_g, A = (X'X)^-1.
        G − 1 without CR2."""
        if self.cr2 is None or self.kept is None or self.inverse is None:
            return np.full(len(a), float(self.df))
        inv, docs = self.inverse, self.cr2
        m = docs.rows @ (inv @ a[:, self.kept].T)  # [cells, m]: each distinct row's x'Aa
        t1 = np.zeros(len(a))
        t2, t3, t4 = np.zeros(len(a)), np.zeros(len(a)), np.zeros(len(a))
        s = np.zeros((len(a), len(self.kept), len(self.kept)))
        for cells, sqrt_n, basis, shrink in zip(docs.cells, docs.sqrt_n, docs.basis, docs.shrink, strict=True):
            x = sqrt_n[:, None] * m[cells]  # [cells_g, m]
            w = x + basis @ (shrink[:, None] * (basis.T @ x))
            z = docs.rows[cells].T @ (sqrt_n[:, None] * w)  # [p, m]
            nw = (w**2).sum(axis=0)
            c = np.einsum("pm,pq,qm->m", z, inv, z)
            t1 += nw
            t2 += nw**2
            t3 += c
            t4 += nw * c
            s += np.einsum("pm,qm->mpq", z, z)
        as_ = inv[None] @ s  # [m, p, p]
        trace_b = t1 - t3
        trace_b2 = t2 - 2 * t4 + np.einsum("mpq,mqp->m", as_, as_)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(trace_b2 > 0, trace_b**2 / trace_b2, np.nan)


def _fitted_tokens(factor: str, numeric: Sequence[Control]) -> str:
    """SQL selecting the tokens a factor's regression is fitted on: its own population, the tokens that have a
    level of the factor (code tokens have no word class: their rarity effects must not set the prose family's
    controls), with every numeric control present."""
    return " AND ".join([f"({factor}) IS NOT NULL", *(f"({c.sql}) IS NOT NULL" for c in numeric)])


def _cells(con: duckdb.DuckDBPyConnection, factor: str, population: str, controls: Sequence[Control]) -> pd.DataFrame:
    """Pass 1: counts and sums per (factor level, control levels, population); numeric controls summed too."""
    categorical = [c for c in controls if not c.numeric]
    numeric = [c for c in controls if c.numeric]
    select = [f"coalesce(CAST(({factor}) AS VARCHAR), {quote_literal(_NONE)}) AS f"]
    select += [
        f"coalesce(CAST(({c.sql}) AS VARCHAR), {quote_literal(_NONE)}) AS c{i}" for i, c in enumerate(categorical)
    ]
    select += [f"CAST(({population}) AS VARCHAR) AS pop", "gap"]
    select += [f"CAST({c.sql} AS DOUBLE) AS z{i}" for i, c in enumerate(numeric)]
    sums = ["count(*) AS n", "sum(gap) AS s"]
    sums += [f"sum(z{i}) AS z{i}" for i in range(len(numeric))]
    sums += [
        f"sum(z{i} * z{j}) AS z{i}_{j}" for i, j in itertools.combinations_with_replacement(range(len(numeric)), 2)
    ]
    sums += [f"sum(z{i} * gap) AS zy{i}" for i in range(len(numeric))]
    where = _fitted_tokens(factor, numeric)
    keys = ["f", *(f"c{i}" for i in range(len(categorical))), "pop"]
    return con.execute(
        f"SELECT {', '.join(keys)}, {', '.join(sums)} FROM (SELECT doc_idx, {', '.join(select)} FROM {JOINED} "
        f"WHERE {where}) GROUP BY {', '.join(keys)}"
    ).df()


def _independent(gram: np.ndarray, n_fixed: int) -> list[int]:
    """Columns kept: the first `n_fixed`, then each later column that adds rank to those kept before it."""
    scale = np.sqrt(np.diag(gram))
    norm = gram / np.outer(np.where(scale > 0, scale, 1), np.where(scale > 0, scale, 1))
    kept = list(range(n_fixed))
    for j in range(n_fixed, gram.shape[0]):
        trial = [*kept, j]
        if scale[j] > 0 and np.linalg.matrix_rank(norm[np.ix_(trial, trial)], tol=1e-9) == len(trial):
            kept.append(j)
    return kept


def fit_factor(
    con: duckdb.DuckDBPyConnection,
    *,
    name: str,
    factor: str,
    population: str,
    controls: Sequence[Control],
    kind: Literal["flexible", "linear"],
) -> Fit | None:
    """Fit the gap on `factor` and `controls` over every compared token (see the module docstring).

    `population` is SQL naming, per token, the population its marginal means average over (NULL: none).
    Returns None when there are too few documents or tokens to fit.
    """
    categorical = [c for c in controls if not c.numeric]
    numeric = [c for c in controls if c.numeric]
    cells = _cells(con, factor, population, controls)
    if cells.empty:
        return None
    n = cells["n"].to_numpy(np.float64)
    total = n.sum()
    factor_levels = tuple(sorted(cells["f"].unique()))
    blocks = [(cells["f"].to_numpy()[:, None] == np.array(factor_levels)[None]).astype(np.float64)]
    control_levels = []
    for i, control in enumerate(categorical):
        counts = cells.groupby(f"c{i}")["n"].sum()
        reference = str(counts.sort_values(ascending=False, kind="stable").index[0])
        levels = tuple(v for v in sorted(counts.index) if v != reference)
        control_levels.append((control.name, levels))
        blocks.append((cells[f"c{i}"].to_numpy()[:, None] == np.array(levels, dtype=object)[None]).astype(np.float64))
    d = np.hstack(blocks) if blocks else np.zeros((len(cells), 0))  # cells x categorical columns
    k = len(numeric)
    z_mean = np.array([cells[f"z{i}"].sum() / total for i in range(k)])
    # Sufficient statistics with centered numeric controls: sum over a cell's tokens of (z - zbar), its outer
    # product and its product with the gap.
    z_sum = (
        np.column_stack([cells[f"z{i}"].to_numpy() for i in range(k)]) - n[:, None] * z_mean
        if k
        else np.zeros((len(cells), 0))
    )
    zz = np.zeros((k, k))
    zy = np.zeros(k)
    for i, j in itertools.combinations_with_replacement(range(k), 2):
        raw = cells[f"z{i}_{j}"].sum()
        zz[i, j] = zz[j, i] = (
            raw - z_mean[i] * cells[f"z{j}"].sum() - z_mean[j] * cells[f"z{i}"].sum() + total * z_mean[i] * z_mean[j]
        )
    for i in range(k):
        zy[i] = cells[f"zy{i}"].sum() - z_mean[i] * cells["s"].sum()
    s = cells["s"].to_numpy(np.float64)
    p_cat = d.shape[1]
    gram = np.zeros((p_cat + k, p_cat + k))
    gram[:p_cat, :p_cat] = d.T @ (d * n[:, None])
    gram[:p_cat, p_cat:] = d.T @ z_sum
    gram[p_cat:, :p_cat] = gram[:p_cat, p_cat:].T
    gram[p_cat:, p_cat:] = zz
    xty = np.concatenate([d.T @ s, zy])

    names = Design(factor_levels, tuple(control_levels), tuple(c.name for c in numeric), ()).names
    kept = _independent(gram, len(factor_levels))
    dropped = tuple(names[j] for j in range(len(names)) if j not in kept)
    notes = [f"aliased with the factor and earlier controls, left out: {', '.join(dropped)}"] if dropped else []
    if categorical and len(factor_levels) > 1:
        # overlap: the tokens whose cell of the controls (all crossed) holds more than one level of the factor; a
        # contrast of levels that never share a cell rests on the model's additivity, not on comparisons
        keys = [f"c{i}" for i in range(len(categorical))]
        shared = cells.groupby(keys)["f"].transform("nunique") > 1
        notes.append(f"overlap: {n[shared.to_numpy()].sum() / total:.0%} of the tokens sit in a cell of the controls "
                     "that holds more than one level of the factor")  # fmt: skip
    gram_k = gram[np.ix_(kept, kept)]
    n_docs = int(
        con.execute(f"SELECT count(DISTINCT doc_idx) FROM {JOINED} WHERE {_fitted_tokens(factor, numeric)}").fetchall()[
            0
        ][0]
    )
    p = len(kept)
    if n_docs < 2 or total <= p + 1:
        return None
    inverse = np.linalg.pinv(gram_k)
    beta_k = inverse @ xty[kept]
    beta = np.zeros(len(names))
    beta[kept] = beta_k

    # Pass 2: every document's sum of x * residual. The fitted categorical part is looked up per cell.
    cat_fit = d @ beta[:p_cat]
    fitted = cells[["f", *(f"c{i}" for i in range(len(categorical)))]].assign(yhat=cat_fit).drop_duplicates()
    con.register("cell_fit", fitted)
    try:
        scores = _scores(con, factor, categorical, numeric, beta[p_cat:], z_mean)
    finally:
        con.unregister("cell_fit")
    docs = np.unique(scores["doc_idx"].to_numpy())
    u = np.zeros((docs.size, len(names)))
    row = np.searchsorted(docs, scores["doc_idx"].to_numpy())
    column_of = {name: j for j, name in enumerate(names)}
    for part, level, value, r in zip(scores["part"], scores["level"], scores["value"], row, strict=True):
        key = f"factor[{level}]" if part == "f" else f"{part}_c" if pd.isna(level) else f"{part}[{level}]"
        if key in column_of:
            u[r, column_of[key]] += value
    u = u[:, kept]
    g = docs.size
    cov_cr1 = np.zeros((len(names), len(names)))
    cov_cr1[np.ix_(kept, kept)] = inverse @ (u.T @ u) @ inverse * (g / (g - 1) * (total - 1) / (total - p))
    cr2, cov = None, cov_cr1
    if not numeric:  # categorical design: CR2 from each document's cells (Bell & McCaffrey 2002)
        cr2, u2 = _cr2_documents(con, factor, categorical, cells, d[:, kept], inverse, beta[kept])
        cov = np.zeros((len(names), len(names)))
        cov[np.ix_(kept, kept)] = inverse @ (u2.T @ u2) @ inverse

    population_means: dict[str, np.ndarray] = {}
    level_tokens: dict[tuple[str, str], int] = {}
    pops = cells["pop"].to_numpy()
    for population in (pop for pop in pd.unique(pops) if not pd.isna(pop)):
        mine = pops == population
        weight = n[mine]
        mean = np.zeros(len(names))
        mean[len(factor_levels) : p_cat] = (d[mine][:, len(factor_levels) :] * weight[:, None]).sum(
            axis=0
        ) / weight.sum()
        mean[p_cat:] = z_sum[mine].sum(axis=0) / weight.sum()
        population_means[str(population)] = mean
        for level, count in cells[mine].groupby("f")["n"].sum().items():
            level_tokens[(str(population), str(level))] = int(count)
    design = Design(factor_levels, tuple(control_levels), tuple(c.name for c in numeric), dropped)
    return Fit(factor=name, controls=kind, design=design, beta=beta, cov=cov, df=g - 1, n_tokens=int(total),
               n_docs=g, population_means=population_means, level_tokens=level_tokens, notes=tuple(notes),
               kept=np.array(kept), inverse=inverse, cr2=cr2, cov_cr1=cov_cr1)  # fmt: skip


def _cr2_documents(
    con: duckdb.DuckDBPyConnection, factor: str, categorical: Sequence[Control], cells: pd.DataFrame,
    design: np.ndarray, inverse: np.ndarray, beta: np.ndarray,
) -> tuple[Cr2Documents, np.ndarray]:  # fmt: skip
    """Each document's CR2 score X_g'(I − H_gg)^(-1/2) e_g [G, p_kept], and what the degrees of freedom need.

    `design` holds the kept columns of every row of `cells`, `beta` the kept coefficients. Tokens of document g
    in one cell c share a design row m_c; with W the cells' token counts and Q = R W^(-1/2) (R: token-to-cell
    indicator; Q has orthonormal columns), H_gg = Q K K' Q' for K = W^(1/2) M A^(1/2). So (I − H_gg)^(-1/2) =
    I − QQ' + Q (I − KK')^(-1/2) Q', and since X_g = R M the score is M' W^(1/2) (I − KK')^(-1/2) W^(-1/2) r_g with
    r_g the cells' residual sums: per document a thin decomposition of its cells, never of its tokens. An
    eigenvalue of 1 (a design column held by this document alone) gets the pseudo-inverse's 0: its residual
    component is 0 anyway."""
    keys = ["f", *(f"c{i}" for i in range(len(categorical)))]
    first = cells[keys].drop_duplicates().index.to_numpy()  # one row of `cells` per distinct design row
    rows = design[first]
    lookup = cells.loc[first, keys].assign(cell=np.arange(len(first)))
    select = [f"coalesce(CAST(({factor}) AS VARCHAR), {quote_literal(_NONE)}) AS f"]
    select += [
        f"coalesce(CAST(({c.sql}) AS VARCHAR), {quote_literal(_NONE)}) AS c{i}" for i, c in enumerate(categorical)
    ]
    con.register("cr2_cells", lookup)
    try:
        per = con.execute(
            f"""SELECT t.doc_idx, c.cell, count(*) AS n, sum(t.gap) AS s
                FROM (SELECT doc_idx, gap, {", ".join(select)} FROM {JOINED} WHERE {_fitted_tokens(factor, [])}) t
                JOIN cr2_cells c USING ({", ".join(keys)}) GROUP BY t.doc_idx, c.cell ORDER BY t.doc_idx, c.cell"""
        ).df()
    finally:
        con.unregister("cr2_cells")
    cell = per["cell"].to_numpy(np.int64)
    n = per["n"].to_numpy(np.float64)
    residual = per["s"].to_numpy(np.float64) - n * (rows @ beta)[cell]  # each (document, cell)'s residual sum
    evals, evecs = np.linalg.eigh(inverse)
    root = evecs * np.sqrt(np.clip(evals, 0, None))  # A = root root'
    doc = per["doc_idx"].to_numpy()
    bounds = np.flatnonzero(np.r_[True, doc[1:] != doc[:-1], True])
    scores = np.zeros((len(bounds) - 1, rows.shape[1]))
    docs = Cr2Documents(rows=rows, cells=[], sqrt_n=[], basis=[], shrink=[])
    for j, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        c, sqrt_n = cell[lo:hi], np.sqrt(n[lo:hi])
        basis, sv, _ = np.linalg.svd(sqrt_n[:, None] * (rows[c] @ root), full_matrices=False)  # K = U S V'
        lev = sv**2  # the nonzero eigenvalues of H_gg
        shrink = np.where(1 - lev > 1e-10, 1 / np.sqrt(np.clip(1 - lev, 1e-300, None)), 0.0) - 1
        x = residual[lo:hi] / sqrt_n
        scores[j] = rows[c].T @ (sqrt_n * (x + basis @ (shrink * (basis.T @ x))))
        docs.cells.append(c)
        docs.sqrt_n.append(sqrt_n)
        docs.basis.append(basis)
        docs.shrink.append(shrink)
    return docs, scores


def _scores(
    con: duckdb.DuckDBPyConnection, factor: str, categorical: Sequence[Control], numeric: Sequence[Control],
    gamma: np.ndarray, z_mean: np.ndarray,
) -> pd.DataFrame:  # fmt: skip
    """Per document: the residual sum within each factor and control level, and sum of (z - zbar) * residual."""
    keys = ["f", *(f"c{i}" for i in range(len(categorical)))]
    select = [f"coalesce(CAST(({factor}) AS VARCHAR), {quote_literal(_NONE)}) AS f"]
    select += [
        f"coalesce(CAST(({c.sql}) AS VARCHAR), {quote_literal(_NONE)}) AS c{i}" for i, c in enumerate(categorical)
    ]
    select += [f"CAST({c.sql} AS DOUBLE) - {float(z_mean[i])!r} AS z{i}" for i, c in enumerate(numeric)]
    where = _fitted_tokens(factor, numeric)
    linear = " ".join(f"- {float(gamma[i])!r} * t.z{i}" for i in range(len(numeric)))
    residual = f"""(SELECT t.doc_idx, {", ".join(f"t.{k}" for k in keys)}, {", ".join([f"t.z{i}" for i in range(len(numeric))] + ["t.gap - c.yhat " + linear + " AS e"])}
                    FROM (SELECT doc_idx, gap, {", ".join(select)} FROM {JOINED} WHERE {where}) t
                    JOIN cell_fit c USING ({", ".join(keys)}))"""
    parts = [
        f"SELECT doc_idx, '{'f' if k == 'f' else categorical[int(k[1:])].name}' AS part, {k} AS level, sum(e) AS value FROM r GROUP BY doc_idx, {k}"
        for k in keys
    ]
    parts += [
        f"SELECT doc_idx, '{c.name}' AS part, NULL AS level, sum(z{i} * e) AS value FROM r GROUP BY doc_idx"
        for i, c in enumerate(numeric)
    ]
    return con.execute(f"WITH r AS MATERIALIZED {residual} {' UNION ALL '.join(parts)}").df()
