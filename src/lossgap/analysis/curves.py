"""`curves`: filtered losses (mean loss over a token mask) of checkpoint series, and the paired differences
between each series and a reference series at every step, with the difference-in-differences (the difference on
the mask's tokens minus the difference on the other tokens: a mask and its complement get equal and opposite
values, whatever share of the tokens the mask holds). Reads every checkpoint's scores and the features; writes
curves.csv and curves_diff.csv of a named result, results/NAME/ (default curves-SERIES-…).

Every checkpoint is measured on the same tokens, so a difference between two series at a step is a paired
difference: document difficulty, shared by both, cancels out of it.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from lossgap.analysis.config import CurvesConfig, Series, step_of
from lossgap.analysis.estimate import Contrast, LevelSums, benjamini_hochberg, estimate
from lossgap.analysis.join import connect
from lossgap.analysis.replicates import SeedSpread, seed_note
from lossgap.errors import ConfigError
from lossgap.rundir import RESULTS, ResultRecord, RunDir, as_rundir
from lossgap.rundir.categories import DEFAULT_MASKS, Mask, check_masks, resolve_mask

__all__ = ["CurvesResult", "resolve_series", "series_names", "compute_curves", "run_curves"]

log = logging.getLogger(__name__)
FEW_DOCUMENTS = 30


@dataclass(frozen=True, kw_only=True)
class CurvesResult:
    curves: pd.DataFrame  # curves.csv
    differences: pd.DataFrame  # curves_diff.csv
    notes: tuple[str, ...]


def resolve_series(run: RunDir, series: Series) -> list[tuple[str, int]]:
    """The (scored name, step) checkpoints of a series, by step; a series without names is every scored
    `LABEL@STEP` of the run."""
    names = series.names or tuple(
        n for n in run.scored_names() if n.rsplit("@", 1)[0] == series.label and step_of(n) is not None
    )
    if not names:
        scored = ", ".join(run.scored_names()) or "none"
        raise ConfigError(
            f"--series {series.label}: no scored name {series.label}@STEP in {run.path} (scored: {scored})"
        )
    for name in names:
        if not run.has_scores(name):
            raise ConfigError(
                f"series {series.label}: {name!r} was never scored in {run.path} (scored: {', '.join(run.scored_names())})"
            )
    return sorted(((n, step_of(n)) for n in names), key=lambda item: item[1])  # type: ignore[arg-type,return-value]


def _flags(con: duckdb.DuckDBPyConnection, masks: list[Mask]) -> None:
    """Table `flags`: every scored position of the features with its document number and mask booleans."""
    flags = ", ".join(f"coalesce(CAST(({m.condition}) AS BOOLEAN), false) AS m{i}" for i, m in enumerate(masks))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE flags AS
            SELECT f.doc_id, f.pos, CAST(dense_rank() OVER (ORDER BY f.doc_id) - 1 AS INTEGER) AS doc_idx, {flags}
            FROM features f WHERE f.pos > 0"""
    )


def _checkpoint_sums(con: duckdb.DuckDBPyConnection, run: RunDir, name: str, n_masks: int) -> pd.DataFrame:
    """Per document: loss sum and token count within each mask (m0…) and over every token (all)."""
    run.view_scores(con, name, "checkpoint")
    # coalesce: a document with no token in a mask has a sum of 0 there (SQL's NULL would make its complement NaN)
    sums = ", ".join(f"coalesce(sum(s.loss) FILTER (WHERE f.m{i}), 0) AS s{i}, count(*) FILTER (WHERE f.m{i}) AS n{i}"
                     for i in range(n_masks))  # fmt: skip
    return con.execute(
        f"""SELECT f.doc_idx, {sums}, sum(s.loss) AS s_all, count(*) AS n_all
            FROM checkpoint s JOIN flags f USING (doc_id, pos) GROUP BY f.doc_idx ORDER BY f.doc_idx"""
    ).df()


def _mask_sums(doc: np.ndarray, n: np.ndarray, s: np.ndarray, n_all: np.ndarray, s_all: np.ndarray,
               n_docs: int, tokens: np.ndarray | None = None, tokens_all: np.ndarray | None = None) -> LevelSums:  # fmt: skip
    """Two levels per document: the mask's tokens (0) and the rest (1). With `n` a weight (the reference's loss
    sums) rather than token counts, pass the token counts as `tokens`/`tokens_all`: a level is present where it
    has tokens."""
    rest = n_all - n
    present, present_rest = (n > 0, rest > 0) if tokens is None else (tokens > 0, tokens_all - tokens > 0)
    keep0, keep1 = present, present_rest
    return LevelSums(
        doc=np.concatenate([doc[keep0], doc[keep1]]).astype(np.int64),
        level=np.concatenate([np.zeros(keep0.sum(), np.int64), np.ones(keep1.sum(), np.int64)]),
        n=np.concatenate([n[keep0], rest[keep1]]).astype(np.float64),
        s=np.concatenate([s[keep0], (s_all - s)[keep1]]).astype(np.float64),
        names=("in", "out"),
        n_docs=n_docs,
    )


def _series_points(run: RunDir, series: Series) -> tuple[list[tuple[int, tuple[str, ...]]], list[str]]:
    """(step, scored names: one per seed) of a series at every step all its seeds have, and notes on the others."""
    members = [resolve_series(run, series if m == series.label else Series(label=m)) for m in series.members]
    by_step = [dict((step, name) for name, step in points) for points in members]
    steps = sorted(set(by_step[0]).intersection(*by_step[1:]))
    missing = sorted(set().union(*by_step) - set(steps))
    notes = [f"series {series.label}: steps {', '.join(map(str, missing))} are left out: not every seed "
             f"({', '.join(series.members)}) has them"] if missing else []  # fmt: skip
    return [(step, tuple(b[step] for b in by_step)) for step in steps], notes


def series_names(run: RunDir, series: Series) -> list[str]:
    """Every scored name a series reads (all its seeds' checkpoints)."""
    return [name for _, names in _series_points(run, series)[0] for name in names]


def _mean_frame(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The per-document sums of the seeds' mean loss (token counts are the same in every seed)."""
    if len(frames) == 1:
        return frames[0]
    out = frames[0].copy()
    for column in [c for c in out.columns if c.startswith("s")]:
        out[column] = np.mean([f[column].to_numpy(np.float64) for f in frames], axis=0)
    return out


_DIFF_FIGURES = (("estimate", "ci_low", "ci_high", "p"), ("did_estimate", "did_ci_low", "did_ci_high", "did_p"),
                 ("rel_estimate", "rel_ci_low", "rel_ci_high", None),
                 ("rel_did_estimate", "rel_did_ci_low", "rel_did_ci_high", None))  # fmt: skip


def _difference(ref: pd.DataFrame, other: pd.DataFrame, first: pd.DataFrame, j: int, mask: Mask, doc: np.ndarray,
                n_docs: int, config: CurvesConfig) -> dict:  # fmt: skip
    """One curves_diff row's figures: the paired difference reference − other on mask j, its
    difference-in-differences, both relative to the reference's loss, support and note."""
    n_all = first["n_all"].to_numpy(np.float64)
    s_all = (ref["s_all"] - other["s_all"]).to_numpy(np.float64)
    n = first[f"n{j}"].to_numpy(np.float64)
    s = (ref[f"s{j}"] - other[f"s{j}"]).to_numpy(np.float64)
    sums = _mask_sums(doc, n, s, n_all, s_all, n_docs)
    # the difference-in-differences: the mask's difference minus that of the other tokens
    has_rest = bool((n_all > n).any()) and bool(n.any())
    contrasts = [Contrast((0,))] + ([Contrast((0,), (1,))] if has_rest else [])
    got = estimate(sums, contrasts, config)
    did = [got.estimate[1], got.ci_low[1], got.ci_high[1], got.p[1]] if has_rest else [np.nan] * 4
    notes_here = [got.note[0]] if got.note[0] else []
    if not has_rest and mask.name != "all":
        notes_here.append("no difference-in-differences: the mask holds every token (no other tokens to "
                          "compare with)" if n.any() else "no token in the mask")  # fmt: skip
    elif has_rest and got.note[1] and got.note[1] != got.note[0]:
        notes_here.append(f"difference-in-differences: {got.note[1]}")
    # relative: the difference over the reference's loss on the same tokens (ratio of sums), and its
    # difference-in-differences, mask minus rest
    weighted = _mask_sums(doc, ref[f"s{j}"].to_numpy(np.float64), s, ref["s_all"].to_numpy(np.float64),
                          s_all, n_docs, tokens=n, tokens_all=n_all)  # fmt: skip
    rel = estimate(weighted, contrasts, config)
    rel_did = [rel.estimate[1], rel.ci_low[1], rel.ci_high[1]] if has_rest else [np.nan] * 3
    return {"rel_estimate": rel.estimate[0], "rel_ci_low": rel.ci_low[0], "rel_ci_high": rel.ci_high[0],
            "rel_did_estimate": rel_did[0], "rel_did_ci_low": rel_did[1], "rel_did_ci_high": rel_did[2],
            "n_tokens": int(got.n_tokens[0]), "n_eff_docs": got.n_eff_docs[0],
            "estimate": got.estimate[0], "ci_low": got.ci_low[0], "ci_high": got.ci_high[0],
            "p": got.p[0], "did_estimate": did[0], "did_ci_low": did[1], "did_ci_high": did[2],
            "did_p": did[3], "note": "; ".join(notes_here)}  # fmt: skip


def _level(
    frame: pd.DataFrame, first: pd.DataFrame, j: int, doc: np.ndarray, n_docs: int, config: CurvesConfig
) -> dict:
    """One curves row's figures: the mean loss on mask j of a checkpoint's (or its seeds' mean) sums."""
    n, n_all = first[f"n{j}"].to_numpy(np.float64), first["n_all"].to_numpy(np.float64)
    sums = _mask_sums(doc, n, frame[f"s{j}"].to_numpy(np.float64), n_all, frame["s_all"].to_numpy(np.float64), n_docs)
    got = estimate(sums, [Contrast((0,))], config)
    return {"n_tokens": int(got.n_tokens[0]), "n_docs": int(got.n_docs[0]), "n_eff_docs": got.n_eff_docs[0],
            "mean_loss": got.estimate[0], "ci_low": got.ci_low[0], "ci_high": got.ci_high[0], "note": got.note[0]}  # fmt: skip


def _with_seeds(row: dict, figures, per_ref: list[dict], per_other: list[dict], confidence: float) -> None:  # type: ignore[no-untyped-def]
    """Give `row` (the seeds' mean) intervals over documents and seeds from the seed-by-seed rows (see
    analysis.replicates); its first figure also gets seed_sd and a note where seeds dominate."""
    for k, (est, low, high, p) in enumerate(figures):
        if not np.isfinite(row[low]):
            continue  # withheld (too few documents) or not computed: stays so
        spread = SeedSpread([row[est]], [row[low]], [row[high]], [[r[est]] for r in per_ref],
                            [[r[est]] for r in per_other], confidence)  # fmt: skip
        row[low], row[high] = float(spread.ci_low[0]), float(spread.ci_high[0])
        if p is not None:
            row[p] = float(spread.p[0])
        if k == 0:
            row["seed_sd"] = float(spread.seed_sd[0])
            row["note"] = seed_note(row["note"], float(spread.seed_share[0]))


def compute_curves(con: duckdb.DuckDBPyConnection, run: RunDir, config: CurvesConfig) -> CurvesResult:
    """curves.csv and curves_diff.csv rows (see the module docstring)."""
    notes: list[str] = []
    series: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
    for s in config.series:
        series[s.label], said = _series_points(run, s)
        notes += said
    names = list(dict.fromkeys(n for points in series.values() for _, seeds in points for n in seeds))
    run.require_run_tokens(names)
    masks = [resolve_mask(m) for m in config.masks]
    run.view(con, "features", "features")
    counts = check_masks(con, masks, "features", drop_empty=config.masks == DEFAULT_MASKS)
    masks = [m for m in masks if m.name in counts]
    _flags(con, masks)
    per_name = {name: _checkpoint_sums(con, run, name, len(masks)) for name in names}
    n_flags = con.execute("SELECT count(*) FROM flags").fetchall()[0][0]
    if any(int(frame["n_all"].sum()) != n_flags for frame in per_name.values()):
        # Only the tokens every checkpoint scored are compared: a checkpoint scored on fewer tokens would
        # otherwise look better or worse for reasons unrelated to training.
        for name in names:
            run.view_scores(con, name, "checkpoint")
            con.execute(
                "DELETE FROM flags f WHERE NOT EXISTS (SELECT 1 FROM checkpoint s WHERE s.doc_id = f.doc_id AND s.pos = f.pos)"
            )
        kept = con.execute("SELECT count(*) FROM flags").fetchall()[0][0]
        log.warning("curves: %d annotated tokens are not scored by every checkpoint and are left out", n_flags - kept)
        per_name = {name: _checkpoint_sums(con, run, name, len(masks)) for name in names}
    first = per_name[names[0]]
    doc = first["doc_idx"].to_numpy(np.int64)
    n_docs = int(doc.max()) + 1 if doc.size else 0
    if doc.size < FEW_DOCUMENTS:
        notes.append(f"only {doc.size} documents: every interval rests on few independent units; read them as rough")
    manifest = run.manifest()
    contexts = {
        n: (r.context.max_length, r.context.stride, r.context.policy) for n, r in manifest.models.items() if n in names
    }
    if len(set(contexts.values())) > 1:
        notes.append("the checkpoints were scored with different contexts ("
                     + "; ".join(f"{n}: {c[2]}, max_length {c[0]}, stride {c[1]}" for n, c in contexts.items())
                     + "): their differences include the effect of context length")  # fmt: skip
    seeded = {label: len(points[0][1]) for label, points in series.items() if points and len(points[0][1]) > 1}
    if seeded:
        notes.append("seed replicates: " + ", ".join(f"{label} {k} seeds" for label, k in seeded.items())
                     + "; each such series is its seeds' mean, intervals cover seeds and documents")  # fmt: skip
    for note in notes:
        log.debug("curves: %s", note)  # returned in CurvesResult.notes: the caller shows them

    mean = {
        (label, step): _mean_frame([per_name[n] for n in seeds])
        for label, points in series.items()
        for step, seeds in points
    }
    curve_rows, diff_rows = [], []
    for label, points in series.items():
        for step, seeds in points:
            for j, mask in enumerate(masks):
                row = {"series": label, "step": step, "name": "+".join(seeds), "mask": mask.name, "seed_sd": np.nan,
                       "n_replicates": len(seeds), **_level(mean[label, step], first, j, doc, n_docs, config)}  # fmt: skip
                if len(seeds) > 1:
                    per_seed = [_level(per_name[s], first, j, doc, n_docs, config) for s in seeds]
                    _with_seeds(row, [("mean_loss", "ci_low", "ci_high", None)], per_seed, [], config.confidence)
                curve_rows.append(row)
    reference = config.reference_label
    reference_steps = dict(series[reference])
    for label, points in series.items():
        if label == reference:
            continue
        for step, seeds in points:
            if step not in reference_steps:
                notes.append(
                    f"{'+'.join(seeds)}: the reference series {reference} has no step {step}; no paired difference"
                )
                continue
            ref_seeds = reference_steps[step]
            ref, other = mean[reference, step], mean[label, step]
            for j, mask in enumerate(masks):
                row = {"step": step, "mask": mask.name, "series": label, "reference": reference, "seed_sd": np.nan,
                       "n_replicates": len(ref_seeds) * len(seeds),
                       **_difference(ref, other, first, j, mask, doc, n_docs, config)}  # fmt: skip
                if len(ref_seeds) * len(seeds) > 1:
                    per_ref = (
                        [_difference(per_name[r], other, first, j, mask, doc, n_docs, config) for r in ref_seeds]
                        if len(ref_seeds) > 1
                        else []
                    )
                    per_other = (
                        [_difference(ref, per_name[o], first, j, mask, doc, n_docs, config) for o in seeds]
                        if len(seeds) > 1
                        else []
                    )
                    _with_seeds(row, _DIFF_FIGURES, per_ref, per_other, config.confidence)
                diff_rows.append(row)
    # Benjamini–Hochberg over every p-value of the paired differences and their difference-in-differences at once
    # (steps × masks × series): a reader scanning the table for small p-values is covered
    ps = np.array([row[k] for row in diff_rows for k in ("p", "did_p")], dtype=np.float64)
    q = benjamini_hochberg(ps)
    for i, row in enumerate(diff_rows):
        row["q"], row["did_q"] = q[2 * i], q[2 * i + 1]
    for what, rows in (("curve points", curve_rows), ("paired differences", diff_rows)):
        withheld = sum(1 for row in rows if np.isnan(row["ci_low"]) and row["note"])
        if withheld:
            notes.append(f"{withheld} of {len(rows)} {what} have no interval (fewer than {config.min_eff_docs:g} "
                         f"effective documents; see their note column); --min-eff-docs lowers the threshold, for rough "
                         f"intervals")  # fmt: skip
    return CurvesResult(
        curves=pd.DataFrame(curve_rows, columns=RESULTS["curves.csv"].names),
        differences=pd.DataFrame(diff_rows, columns=RESULTS["curves_diff.csv"].names),
        notes=tuple(notes),
    )


def run_curves(run: RunDir | Path | str, config: CurvesConfig) -> CurvesResult:
    """Compute the curves and their paired differences, then write them; nothing is written on error."""
    run = as_rundir(run)
    run.check_writable()
    with connect() as con:
        result = compute_curves(con, run, config)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    series = tuple(s.label for s in config.series)
    record = ResultRecord(name=config.result_name, kind="curves", series=series, time=now)
    run.write_results(record, {"curves.csv": result.curves, "curves_diff.csv": result.differences})
    run.record_stage("curves", config, now)
    return result
