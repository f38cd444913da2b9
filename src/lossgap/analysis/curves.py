"""`curves`: filtered losses (mean loss over a token mask) of checkpoint series, with document-bootstrap intervals.

Reads scores/NAME.parquet for every checkpoint and features.parquet; writes results/curves.csv.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from lossgap.analysis.bootstrap import ratio_intervals
from lossgap.analysis.join import connect, feature_columns, log_pos_expr, quote_literal, require_features, require_scores
from lossgap.analysis.masks import Mask, check_masks, resolve_mask
from lossgap.analysis.results import write_tables
from lossgap.errors import ConfigError, LossgapError, RunDirError
from lossgap.rundir import RunDir, validate_name

__all__ = ["CURVES_COLUMNS", "SeriesPoint", "parse_series", "CurvesConfig", "compute_curves", "run_curves"]

CURVES_COLUMNS = ["series", "step", "name", "mask", "n_tokens", "mean_loss", "ci_low", "ci_high"]
_STEP = re.compile(r"@(?:step)?(\d+)$")
_TABLE = "curve_tokens"
_log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class SeriesPoint:
    """One checkpoint of a series: its label, scored name and training step."""

    series: str
    name: str
    step: int


def parse_series(spec: str) -> tuple[SeriesPoint, ...]:
    """Parse `LABEL=NAME@STEP,NAME@STEP,…`; the step is the integer after the name's final `@step` or `@`.

    >>> [p.step for p in parse_series("hybrid=hybrid-1b@step1000,hybrid-1b@step2000")]
    [1000, 2000]
    """
    label, sep, rest = spec.partition("=")
    label = label.strip()
    if not sep or not label or not rest.strip():
        raise ConfigError(f"--series {spec!r}: write LABEL=NAME@STEP,NAME@STEP,… e.g. hybrid=hybrid-1b@step1000,hybrid-1b@step2000")
    points = []
    for item in (s.strip() for s in rest.split(",")):
        match = _STEP.search(item)
        if not match:
            raise ConfigError(
                f"--series {label}: {item!r} has no step; each checkpoint is a scored name ending in @stepN or @N, "
                "e.g. hybrid-1b@step10000"
            )
        try:
            validate_name(item)
        except LossgapError as exc:
            raise ConfigError(f"--series {label}: {exc}") from None
        points.append(SeriesPoint(series=label, name=item, step=int(match.group(1))))
    steps = [p.step for p in points]
    if len(set(steps)) != len(steps):
        raise ConfigError(f"--series {label}: a step appears twice ({', '.join(p.name for p in points)})")
    return tuple(sorted(points, key=lambda p: p.step))


@dataclass(frozen=True, kw_only=True)
class CurvesConfig:
    """Options of `lossgap curves`; the defaults here are the only defaults."""

    series: tuple[str, ...]  # each LABEL=NAME@STEP,NAME@STEP,…
    masks: tuple[str, ...] = ("all", "content_nonrepeat", "function_nonrepeat", "repeated", "nonrepeated")
    bootstrap: int = 1000
    seed: int = 0
    confidence: float = 0.95

    def __post_init__(self) -> None:
        if not self.series:
            raise ConfigError("give at least one --series LABEL=NAME@STEP,…")
        self.points()  # parses every --series, raising on a malformed one
        labels = [s.partition("=")[0].strip() for s in self.series]
        if len(set(labels)) != len(labels):
            raise ConfigError(f"--series labels must differ, got: {', '.join(labels)}")
        if not self.masks:
            raise ConfigError("give at least one --mask")
        names = [m.name for m in self.resolved_masks()]
        if len(set(names)) != len(names):
            raise ConfigError(f"--mask given twice: {', '.join(names)}")
        if self.bootstrap < 10:
            raise ConfigError(f"--bootstrap must be at least 10 resamples (1000 recommended), got {self.bootstrap}")
        if not 0.5 <= self.confidence < 1:
            raise ConfigError(f"--confidence must be in [0.5, 1), got {self.confidence}")

    def points(self) -> tuple[SeriesPoint, ...]:
        return tuple(p for spec in self.series for p in parse_series(spec))

    def resolved_masks(self) -> tuple[Mask, ...]:
        return tuple(resolve_mask(m) for m in self.masks)


def _join_checkpoints(con: duckdb.DuckDBPyConnection, run_dir: RunDir, names: list[str], masks: tuple[Mask, ...]) -> int:
    """Create the table of tokens scored by every name and annotated: doc_idx, mask flags m0.., losses l0...

    Filtered losses of different checkpoints are only comparable on the same tokens, so the table keeps
    the tokens common to all names; returns how many annotated tokens some name lacks (logged).
    """
    features = require_features(run_dir)
    columns = feature_columns(run_dir)
    paths = [require_scores(run_dir, n) for n in names]
    joins = " ".join(
        f"JOIN (SELECT doc_id, pos, loss AS l{i} FROM read_parquet({quote_literal(str(p))})) s{i} USING (doc_id, pos)"
        for i, p in enumerate(paths)
    )
    extra = "" if "log_pos" in columns else f", {log_pos_expr(columns)} AS log_pos"
    flags = ", ".join(f"CAST(({m.condition}) AS BOOLEAN) AS m{j}" for j, m in enumerate(masks))
    losses = ", ".join(f"CAST(l{i} AS DOUBLE) AS l{i}" for i in range(len(paths)))
    con.execute(
        f"""CREATE OR REPLACE TABLE {_TABLE} AS
        WITH f AS (SELECT f.*{extra} FROM read_parquet({quote_literal(str(features))}) f),
             rows AS (SELECT doc_id, {flags}, {losses} FROM f {joins}),
             docs AS (SELECT doc_id, CAST(row_number() OVER (ORDER BY doc_id) - 1 AS INTEGER) AS doc_idx
                      FROM (SELECT DISTINCT doc_id FROM rows))
        SELECT docs.doc_idx, rows.* EXCLUDE (doc_id) FROM rows JOIN docs USING (doc_id)"""
    )
    common = con.execute(f"SELECT count(*) FROM {_TABLE}").fetchone()
    per_name = [
        con.execute(
            f"SELECT count(*) FROM read_parquet({quote_literal(str(p))}) s SEMI JOIN read_parquet({quote_literal(str(features))}) f USING (doc_id, pos)"
        ).fetchone()
        for p in paths
    ]
    assert common is not None
    dropped = max(int(r[0]) for r in per_name if r is not None) - int(common[0])
    if dropped:
        _log.warning("curves: %d annotated tokens are not scored by every checkpoint and are left out", dropped)
    if int(common[0]) == 0:
        raise RunDirError(f"no annotated token is scored by all of {', '.join(names)}: were they scored on this run's corpus?")
    return dropped


def compute_curves(con: duckdb.DuckDBPyConnection, run_dir: RunDir, config: CurvesConfig) -> pd.DataFrame:
    """curves.csv rows: the mean loss of each checkpoint on each mask, with a document-bootstrap interval."""
    points = config.points()
    names = list(dict.fromkeys(p.name for p in points))
    for name in names:
        require_scores(run_dir, name)
    masks = config.resolved_masks()
    check_masks(con, masks, require_features(run_dir))
    _join_checkpoints(con, run_dir, names, masks)
    n_docs_row = con.execute(f"SELECT count(DISTINCT doc_idx) FROM {_TABLE}").fetchone()
    assert n_docs_row is not None
    sums = con.execute(
        " UNION ALL ".join(
            f"SELECT {j} AS mask, doc_idx, count(*) AS n, "
            + ", ".join(f"sum(l{i}) AS l{i}" for i in range(len(names)))
            + f" FROM {_TABLE} WHERE m{j} GROUP BY doc_idx"
            for j in range(len(masks))
        )
    ).df()
    empty = [m.name for j, m in enumerate(masks) if not (sums["mask"] == j).any()]
    if empty:
        raise ConfigError(f"--mask {', '.join(map(repr, empty))} selects no token scored by every checkpoint")
    # groups are (mask, name) pairs: column j * len(names) + i
    mask_idx = sums["mask"].to_numpy(np.int64)
    doc_idx = np.tile(sums["doc_idx"].to_numpy(np.int64), len(names))
    group_idx = np.concatenate([mask_idx * len(names) + i for i in range(len(names))])
    numerator = np.concatenate([sums[f"l{i}"].to_numpy(np.float64) for i in range(len(names))])
    denominator = np.tile(sums["n"].to_numpy(np.float64), len(names))
    n_groups = len(masks) * len(names)
    intervals = ratio_intervals(
        doc_idx=doc_idx, group_idx=group_idx, numerator=numerator, denominator=denominator,
        n_docs=int(n_docs_row[0]), n_groups=n_groups, resamples=config.bootstrap, seed=config.seed,
        confidence=config.confidence,
    )  # fmt: skip
    tokens = np.bincount(group_idx, weights=denominator, minlength=n_groups)
    loss = np.bincount(group_idx, weights=numerator, minlength=n_groups) / np.where(tokens > 0, tokens, np.nan)
    rows = []
    for point in points:
        i = names.index(point.name)
        for j, mask in enumerate(masks):
            g = j * len(names) + i
            rows.append(
                {"series": point.series, "step": point.step, "name": point.name, "mask": mask.name,
                 "n_tokens": int(tokens[g]), "mean_loss": loss[g], "ci_low": intervals.low[g], "ci_high": intervals.high[g]}
            )  # fmt: skip
    return pd.DataFrame(rows, columns=CURVES_COLUMNS)


def run_curves(run_dir: RunDir | Path | str, config: CurvesConfig) -> pd.DataFrame:
    """Compute the curves, then write results/curves.csv; nothing is written on error."""
    run_dir = run_dir if isinstance(run_dir, RunDir) else RunDir(Path(run_dir))
    with connect() as con:
        table = compute_curves(con, run_dir, config)
    write_tables(run_dir, {"curves.csv": (table, CURVES_COLUMNS)})
    run_dir.update_manifest(
        lambda m: m.__setitem__(
            "curves", {**dataclasses.asdict(config), "time": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        )
    )
    return table
