"""`compare`: where the candidate beats the baseline. Category means and the study's contrasts, raw and
regression-adjusted, with honest intervals; the headline masks with their difference from the overall gap;
the repeat curve; the most extreme tokens, segments and documents. Writes the named result results/NAME/
(default BASELINE-vs-CANDIDATE; docs/results.md).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from lossgap.analysis.config import CompareConfig
from lossgap.analysis.contrasts import adjust_p, contrast_tables, default_factors, user_factor
from lossgap.analysis.distribution import DISTRIBUTION_COLUMNS, DIVERGENCE_COLUMNS, distribution_table
from lossgap.analysis.estimate import Contrast, benjamini_hochberg, estimate
from lossgap.analysis.groupings import Grouping, column_grouping, default_groupings
from lossgap.analysis.join import (
    JOINED,
    SEED_PREFIX,
    MissingTokens,
    connect,
    frame_table,
    join_pair,
    joined_as,
    seed_gaps,
)
from lossgap.analysis.levels import document_sums, level_sums, level_table, macro_means
from lossgap.analysis.regression import Fit
from lossgap.analysis.repeat_curve import repeat_curve_table, repeat_groupings
from lossgap.analysis.replicates import SeedSpread, combine_tables, seed_note
from lossgap.analysis.top import top_documents, top_segments, top_tokens
from lossgap.errors import ConfigError
from lossgap.rundir import HeadlineRow, Manifest, ResultRecord, RunDir, Summary, as_rundir
from lossgap.rundir.categories import HEADLINE, PRESETS

__all__ = ["CompareResult", "compute_compare", "compare_frame", "run_compare", "FEW_DOCUMENTS"]

log = logging.getLogger(__name__)
# Below this many documents, every interval rests on few independent units: the summary says so.
FEW_DOCUMENTS = 30


@dataclass(frozen=True, kw_only=True)
class CompareResult:
    """Everything `compare` computes; `run_compare` writes it to results/ (one table per file)."""

    config: CompareConfig
    missing: MissingTokens
    summary: Summary
    categories: pd.DataFrame
    contrasts: pd.DataFrame
    sensitivity: pd.DataFrame
    marginal_means: pd.DataFrame
    repeat_curve: pd.DataFrame
    top_tokens: pd.DataFrame
    top_segments: pd.DataFrame
    top_documents: pd.DataFrame
    regression: str
    distribution: pd.DataFrame | None = None  # entropy, top-1 and divergence per category, where scoring recorded them

    @property
    def n_tokens(self) -> int:
        return self.summary.n_tokens

    @property
    def n_docs(self) -> int:
        return self.summary.n_docs

    def tables(self) -> dict[str, pd.DataFrame]:
        """Each results CSV of `compare` by file name."""
        return {"categories.csv": self.categories, "contrasts.csv": self.contrasts,
                "sensitivity.csv": self.sensitivity, "marginal_means.csv": self.marginal_means,
                "repeat_curve.csv": self.repeat_curve, "top_tokens.csv": self.top_tokens,
                "top_segments.csv": self.top_segments, "top_documents.csv": self.top_documents,
                **({} if self.distribution is None or self.distribution.empty else {"distribution.csv": self.distribution})}  # fmt: skip


def _headline(con: duckdb.DuckDBPyConnection, n_docs: int, config: CompareConfig) -> tuple[HeadlineRow, ...]:
    """Each headline mask's mean gap, and how much larger it is than the gap on the other tokens (mask − rest)."""
    groupings = [Grouping(name=m, expr=f"CASE WHEN coalesce(CAST(({PRESETS[m]}) AS BOOLEAN), false) THEN 'in' ELSE 'out' END")
                 for m in HEADLINE]  # fmt: skip
    sums = document_sums(con, groupings)
    rows = []
    for k, mask in enumerate(HEADLINE):
        ls = level_sums(sums[sums["group"] == k], n_docs, order=("in", "out"))
        if "in" not in ls.names:
            rows.append(
                HeadlineRow(label=mask, n_tokens=0, mean_gap=np.nan, ci_low=np.nan, ci_high=np.nan, note="no tokens")
            )
            continue
        inside = ls.names.index("in")
        contrasts = [Contrast((inside,))]
        if mask != "all" and len(ls.names) == 2:
            contrasts.append(Contrast((inside,), (1 - inside,)))
        got = estimate(ls, contrasts, config)
        did = (got.estimate[1], got.ci_low[1], got.ci_high[1]) if len(contrasts) == 2 else (np.nan,) * 3
        rows.append(HeadlineRow(label=mask, n_tokens=int(got.n_tokens[0]), n_docs=int(got.n_docs[0]),
                                n_eff_docs=float(got.n_eff_docs[0]), mean_gap=float(got.estimate[0]),
                                ci_low=float(got.ci_low[0]), ci_high=float(got.ci_high[0]), did_estimate=float(did[0]),
                                did_ci_low=float(did[1]), did_ci_high=float(did[2]), note=got.note[0]))  # fmt: skip
    return tuple(rows)


def report_wide_q(tables: list[pd.DataFrame]) -> int:
    """Give every table a `q` column: Benjamini–Hochberg over every p-value the tables hold together (the
    whole comparison's tests at once, so a reader scanning all of them is covered). Rows on the relative scale
    re-express a test of the nats rows and are not counted again (their q is NaN). Returns the number of tests."""
    tested = [
        (t, (t["scale"] == "nats").to_numpy() if "scale" in t else np.ones(len(t), bool)) for t in tables if "p" in t
    ]
    ps = np.concatenate([t["p"].to_numpy(np.float64)[rows] for t, rows in tested]) if tested else np.zeros(0)
    q = benjamini_hochberg(ps)
    at = 0
    for table, rows in tested:
        column = np.full(len(table), np.nan)
        column[rows] = q[at : at + rows.sum()]
        table["q"] = column
        at += int(rows.sum())
    return int(np.isfinite(ps).sum())


def _float(value: object) -> float:
    """A SQL aggregate as a float: NULL (no values, e.g. a frame given only gaps) is NaN."""
    return float("nan") if value is None else float(value)  # type: ignore[arg-type]


def _describe(fits: tuple[Fit, ...], config: CompareConfig) -> str:
    """regression.txt: each model behind the adjusted contrasts, what it fitted on, what was left out."""
    lines = [
        "The adjusted contrasts and marginal means come from these least-squares fits of the per-token gap, each on",
        "its factor's own population (the compared tokens with a level of the factor), standard errors clustered by",
        "document (CR2), t intervals with Bell-McCaffrey degrees of freedom (sensitivity.csv's linear controls: CR1,",
        "G - 1). Overlap: the share of the tokens whose cell of the controls holds more than one level; a contrast",
        "between levels that never share a cell rests on the model.",
        f"Controls: {', '.join(config.controls)}; log_freq and log_pos in {config.control_bins} quantile bins "
        "(sensitivity.csv: also as lines). A control on a column the factor reads is left out.",
        "",
    ]
    for fit in fits:
        controls = [c for c, _ in fit.design.control_levels]
        lines.append(f"gap ~ 0 + C({fit.factor})" + "".join(f" + C({c})" for c in controls))
        lines.append(f"    {fit.n_tokens:,} tokens in {fit.n_docs:,} documents, {len(fit.beta) - len(fit.design.dropped)} "
                     f"coefficients")  # fmt: skip
        lines += [f"    {note}" for note in fit.notes]
    return "\n".join(lines) + "\n"


def _context_notes(manifest: Manifest, baseline: str, candidate: str) -> list[str]:
    """A note when the two models did not see the same context (the gap then includes its effect)."""
    contexts = {name: manifest.models[name].context for name in (baseline, candidate) if name in manifest.models}
    if len(contexts) < 2:
        return []
    b, c = contexts[baseline], contexts[candidate]
    if (b.max_length, b.stride, b.policy) == (c.max_length, c.stride, c.policy):
        return []
    describe = lambda x: f"{x.policy} (max_length {x.max_length}, stride {x.stride})"  # noqa: E731
    return [f"the models saw different contexts: {baseline} {describe(b)}, {candidate} {describe(c)}; the gap "
            "includes the effect of context length"]  # fmt: skip


def compute_compare(con: duckdb.DuckDBPyConnection, config: CompareConfig, *, missing: MissingTokens | None = None,
                    notes: tuple[str, ...] = (), log_freq_source: str = "") -> CompareResult:  # fmt: skip
    """Compare on the table `joined` of connection `con` (made by `join_pair`, or from a frame). With seed
    replicates (`_seed_*` columns, see `join_pair`), the intervals cover seeds and documents (analysis.replicates)."""
    result = _compute(con, config, missing=missing, notes=notes, log_freq_source=log_freq_source)
    seeds = [r[0] for r in con.execute(f"DESCRIBE {JOINED}").fetchall() if r[0].startswith(SEED_PREFIX)]
    return _with_seeds(con, config, result, seeds) if seeds else result


def _with_seeds(con: duckdb.DuckDBPyConnection, config: CompareConfig, result: CompareResult,
                seeds: list[str]) -> CompareResult:  # fmt: skip
    """`result` (the seeds' mean) with intervals over documents and seeds: every estimate again with one seed of
    a side against the other side's mean, for each seed of a side that has several."""
    sides: dict[str, list[CompareResult]] = {"b": [], "c": []}
    for side, replace in seed_gaps(con):
        with joined_as(con, f"SELECT * REPLACE ({replace}) FROM joined_seeds", keep="joined_seeds"):
            sides[side].append(_compute(con, config, top=False))
    tables = combine_tables(result.tables(), [r.tables() for r in sides["b"]], [r.tables() for r in sides["c"]],
                            config.confidence)  # fmt: skip
    adjust_p(tables["contrasts.csv"], config.primary)
    n_tests = report_wide_q([tables["categories.csv"], tables["contrasts.csv"], tables["marginal_means.csv"]])

    def spread(values) -> SeedSpread:  # type: ignore[no-untyped-def]
        """The headline rows' figure `values(row)` = (estimate, low, high), over documents and seeds."""
        main = np.array([values(h) for h in result.summary.headline], np.float64).reshape(-1, 3)

        def per(rs):  # type: ignore[no-untyped-def]
            return np.array([[values(h)[0] for h in r.summary.headline] for r in rs], np.float64).reshape(
                len(rs), len(main)
            )

        return SeedSpread(main[:, 0], main[:, 1], main[:, 2], per(sides["b"]), per(sides["c"]), config.confidence)

    gap = spread(lambda h: (h.mean_gap, h.ci_low, h.ci_high))
    did = spread(lambda h: (h.did_estimate, h.did_ci_low, h.did_ci_high))
    keep = lambda lo, value: value if np.isfinite(lo) else float("nan")  # noqa: E731  withheld stays withheld
    headline = tuple(dataclasses.replace(h, ci_low=keep(h.ci_low, gap.ci_low[i]), ci_high=keep(h.ci_low, gap.ci_high[i]),
                                         did_ci_low=keep(h.did_ci_low, did.ci_low[i]),
                                         did_ci_high=keep(h.did_ci_low, did.ci_high[i]),
                                         note=seed_note(h.note, gap.seed_share[i] if np.isfinite(h.ci_low) else 0.0))
                     for i, h in enumerate(result.summary.headline))  # fmt: skip
    macro_main = result.summary
    macro = SeedSpread([macro_main.macro_mean_gap], [macro_main.macro_ci_low], [macro_main.macro_ci_high],
                       [[r.summary.macro_mean_gap] for r in sides["b"]], [[r.summary.macro_mean_gap] for r in sides["c"]],
                       config.confidence)  # fmt: skip
    n_b, n_c = len(config.baselines), len(config.candidates)
    said = (f"seed replicates: {n_b} baseline and {n_c} candidate seeds, {n_b * n_c} pairs averaged; intervals cover "
            "seeds and documents" + ("" if min(n_b, n_c) > 1 else
                                     f"; one {'baseline' if n_b == 1 else 'candidate'} seed: its side's seed-to-seed "
                                     "variance is not in the intervals"))  # fmt: skip
    summary = dataclasses.replace(
        result.summary, ci_low=headline[0].ci_low, ci_high=headline[0].ci_high, headline=headline,
        macro_ci_low=keep(macro_main.macro_ci_low, float(macro.ci_low[0])),
        macro_ci_high=keep(macro_main.macro_ci_low, float(macro.ci_high[0])),
        notes=(*result.summary.notes, said), n_tests=n_tests, baselines=config.baselines, candidates=config.candidates,
        seed_sd=float(gap.seed_sd[0]), n_replicates=n_b * n_c,
    )  # fmt: skip
    return dataclasses.replace(
        result, summary=summary, categories=tables["categories.csv"], contrasts=tables["contrasts.csv"],
        marginal_means=tables["marginal_means.csv"], repeat_curve=tables["repeat_curve.csv"],
        distribution=tables.get("distribution.csv", result.distribution),
    )  # fmt: skip


def _compute(con: duckdb.DuckDBPyConnection, config: CompareConfig, *, missing: MissingTokens | None = None,
             notes: tuple[str, ...] = (), log_freq_source: str = "", top: bool = True) -> CompareResult:  # fmt: skip
    """`compute_compare` of one gap (the seeds' mean, or one seed's); `top=False` leaves the top tables empty."""
    columns = [r[0] for r in con.execute(f"DESCRIBE {JOINED}").fetchall()]
    features = [c for c in columns if c not in ("doc_idx", "doc_id", "pos", "loss_baseline", "loss_candidate", "gap",
                                                 *DISTRIBUTION_COLUMNS, *DIVERGENCE_COLUMNS)
                and not c.startswith(SEED_PREFIX)]  # fmt: skip
    user = [column_grouping(cols, features) for cols in config.by]
    references = dict(config.references)
    unknown = [name for name in references if name not in {g.name for g in user}]
    if unknown:
        raise ConfigError(
            f"--reference {', '.join(unknown)}: not a --by grouping ({', '.join(g.name for g in user) or 'none'})"
        )
    n_tokens, n_docs = con.execute(f"SELECT count(*), max(doc_idx) + 1 FROM {JOINED}").fetchall()[0]
    n_present = con.execute(f"SELECT count(DISTINCT doc_idx) FROM {JOINED}").fetchall()[0][0]
    log.info("comparing %s (baseline) and %s (candidate) on %d tokens in %d documents", config.baseline,
             config.candidate, n_tokens, n_present)  # fmt: skip
    notes = list(notes)
    if n_present < FEW_DOCUMENTS:
        notes.append(f"only {n_present} documents: every interval rests on few independent units; read them as rough")

    defaults = default_groupings(con) if config.default_groupings else []
    known = {g.name for g in defaults}
    category_groupings = defaults + [g for g in user if g.name not in known]
    groupings = [*category_groupings, *repeat_groupings()]
    totals = con.execute(f"SELECT doc_idx, sum(gap) AS s, count(*) AS n FROM {JOINED} GROUP BY doc_idx").df()
    doc_total = np.zeros(n_docs)
    doc_total[totals["doc_idx"].to_numpy(np.int64)] = totals["s"].to_numpy(np.float64)
    table = level_table(document_sums(con, groupings), groupings, n_docs, config, doc_total, float(n_tokens))
    repeat_names = {g.name for g in repeat_groupings()}
    factors = default_factors() + [user_factor(g, references.get(g.name)) for g in user]
    contrasts = contrast_tables(con, factors, config, n_docs)
    categories = table[~table["feature"].isin(repeat_names)].reset_index(drop=True)
    n_tests = report_wide_q([categories, contrasts.contrasts, contrasts.marginal_means])
    headline = _headline(con, n_docs, config)
    overall = headline[0]
    base, cand = con.execute(f"SELECT avg(loss_baseline), avg(loss_candidate) FROM {JOINED}").fetchall()[0]
    doc_means = (
        con.execute(f"SELECT avg(gap) FROM {JOINED} GROUP BY doc_idx").fetchnumpy()["avg(gap)"].astype(np.float64)
    )
    macro, macro_low, macro_high = (
        float(v[0]) for v in macro_means(doc_means, np.zeros(len(doc_means), np.int64), 1, config)
    )
    missing = missing or MissingTokens(baseline_only=0, candidate_only=0, no_features=0)
    summary = Summary(
        baseline=config.baseline, candidate=config.candidate, n_tokens=int(n_tokens), n_docs=int(n_present),
        mean_loss_baseline=_float(base), mean_loss_candidate=_float(cand), mean_gap=overall.mean_gap,
        ci_low=overall.ci_low, ci_high=overall.ci_high, macro_mean_gap=macro,
        macro_ci_low=macro_low, macro_ci_high=macro_high,
        missing=dataclasses.asdict(missing), interval=config.interval, bootstrap=config.bootstrap, seed=config.seed,
        confidence=config.confidence, min_eff_docs=config.min_eff_docs, headline=headline, notes=tuple(notes),
        log_freq_source=log_freq_source, n_tests=n_tests,
    )  # fmt: skip
    return CompareResult(
        config=config,
        missing=missing,
        summary=summary,
        categories=categories,
        contrasts=contrasts.contrasts,
        sensitivity=contrasts.sensitivity,
        marginal_means=contrasts.marginal_means,
        repeat_curve=repeat_curve_table(table[table["feature"].isin(repeat_names)]),
        top_tokens=top_tokens(con, config.top_k) if top else pd.DataFrame(),
        top_segments=top_segments(con, config.top_k, config.segment_tokens) if top else pd.DataFrame(),
        top_documents=top_documents(con, config.top_k, config.top_min_doc_tokens) if top else pd.DataFrame(),
        regression=_describe(contrasts.fits, config),
        distribution=distribution_table(con, category_groupings, n_docs, config),  # per seed too (intervals over seeds)
    )


def compare_frame(tokens: pd.DataFrame, config: CompareConfig) -> CompareResult:
    """`compare` on a table of tokens (a notebook's `token_frame`, filtered or not): columns doc_idx (or
    doc_id), pos, gap (or loss_baseline and loss_candidate) and the feature columns. Given the gap alone, the
    summary's mean losses are NaN."""
    with connect() as con:
        frame_table(con, tokens, "compare_frame")
        return compute_compare(con, config)


def run_compare(run: RunDir | Path | str, config: CompareConfig) -> CompareResult:
    """Join the two scorings and the features, compare, then write results/; nothing is written on error."""
    run = as_rundir(run)
    manifest = run.manifest()
    run.check_writable()
    features = manifest.features
    with connect() as con:
        missing = join_pair(con, run, baseline=config.baselines, candidate=config.candidates)
        context = [
            n for b, c in zip(config.baselines, config.candidates, strict=False) for n in _context_notes(manifest, b, c)
        ]
        result = compute_compare(con, config, missing=missing, notes=tuple(dict.fromkeys(context)),
                                 log_freq_source="" if features is None else features.log_freq_source)  # fmt: skip
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    seeds = len(config.baselines) + len(config.candidates) > 2
    record = ResultRecord(name=config.result_name, kind="compare", baseline=config.baseline, candidate=config.candidate,
                          baselines=config.baselines if seeds else (), candidates=config.candidates if seeds else (),
                          time=now)  # fmt: skip
    folder = run.write_results(record, result.tables(), summary=result.summary, regression=result.regression)
    run.record_stage("compare", config, now)
    log.info("wrote %s", folder)
    return result
