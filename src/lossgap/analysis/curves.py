"""`curves`: filtered losses (mean loss over a token mask) of checkpoint series, with document-bootstrap intervals.

Reads scores/NAME.parquet for every checkpoint and features.parquet (masks evaluated by DuckDB, sums per
document in numpy, one checkpoint at a time); writes results/curves.csv.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from lossgap.analysis.bootstrap import FEW_DOCUMENTS, ratio_intervals
from lossgap.analysis.groups import BootstrapSpec
from lossgap.analysis.join import connect, require_features, require_scores
from lossgap.analysis.keys import dense_documents, document_index, match_keys, packed_keys, read_keys
from lossgap.analysis.masks import Mask, check_masks, mask_flags, resolve_mask
from lossgap.analysis.results import record_in_manifest, write_tables
from lossgap.errors import ConfigError, LossgapError, RunDirError
from lossgap.rundir import RunDir, validate_name

__all__ = ["CURVES_COLUMNS", "SeriesPoint", "parse_series", "CurvesConfig", "compute_curves", "run_curves"]

CURVES_COLUMNS = ["series", "step", "name", "mask", "n_tokens", "mean_loss", "ci_low", "ci_high"]
_STEP = re.compile(r"@(?:step)?(\d+)$")
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
        BootstrapSpec(resamples=self.bootstrap, seed=self.seed, confidence=self.confidence)  # validates

    def points(self) -> tuple[SeriesPoint, ...]:
        return tuple(p for spec in self.series for p in parse_series(spec))

    def resolved_masks(self) -> tuple[Mask, ...]:
        return tuple(resolve_mask(m) for m in self.masks)


@dataclass(frozen=True, kw_only=True)
class _CommonTokens:
    """The annotated tokens every checkpoint scored: their rows in features.parquet (in key order) and documents."""

    feature_rows: np.ndarray  # (tokens,)
    keys: np.ndarray  # (tokens,) packed (document, pos), increasing
    doc_idx: np.ndarray  # (tokens,) 0..D-1
    n_docs: int
    documents: pd.Index  # doc ids of features.parquet, numbering the packed keys


def _common_tokens(run_dir: RunDir, names: list[str]) -> _CommonTokens:
    """Intersect the token keys of features.parquet and every checkpoint's scores.

    Filtered losses of different checkpoints are only comparable on the same tokens, so the curves use the
    tokens common to all names; how many annotated tokens some name lacks is logged.
    """
    features_path = require_features(run_dir)
    feature_keys = read_keys(features_path)
    documents = document_index(feature_keys)
    packed = packed_keys(feature_keys, documents)
    del feature_keys
    keep = packed >= 0
    best = 0
    for name in names:
        path = require_scores(run_dir, name)
        rows, _ = match_keys(packed, packed_keys(read_keys(path), documents), features_path, path)
        scored = np.zeros(packed.size, dtype=bool)
        scored[rows] = True
        keep &= scored
        best = max(best, rows.size)
    rows = np.flatnonzero(keep)
    rows = rows[np.argsort(packed[rows], kind="stable")]
    keys = packed[rows]
    if rows.size == 0:
        raise RunDirError(f"no annotated token is scored by all of {', '.join(names)}: were they scored on this run's corpus?")
    if best > rows.size:
        _log.warning("curves: %d annotated tokens are not scored by every checkpoint and are left out", best - rows.size)
    doc_idx, _ = dense_documents(keys)
    return _CommonTokens(feature_rows=rows, keys=keys, doc_idx=doc_idx, n_docs=int(doc_idx[-1]) + 1, documents=documents)


def compute_curves(con: duckdb.DuckDBPyConnection, run_dir: RunDir, config: CurvesConfig) -> pd.DataFrame:
    """curves.csv rows: the mean loss of each checkpoint on each mask, with a document-bootstrap interval."""
    points = config.points()
    names = list(dict.fromkeys(p.name for p in points))
    paths = [require_scores(run_dir, name) for name in names]
    masks = config.resolved_masks()
    features_path = require_features(run_dir)
    check_masks(con, masks, features_path)
    common = _common_tokens(run_dir, names)
    if common.n_docs < FEW_DOCUMENTS:
        _log.warning("only %d documents: document-bootstrap intervals are rough below ~%d", common.n_docs, FEW_DOCUMENTS)
    flags = [mask_flags(con, features_path, mask, common.feature_rows) for mask in masks]
    empty = [m.name for m, f in zip(masks, flags) if not f.any()]
    if empty:
        raise ConfigError(f"--mask {', '.join(map(repr, empty))} selects no token scored by every checkpoint")
    # per (mask, document): token counts, and per (mask, name, document): loss sums
    d = common.n_docs
    counts = np.stack([np.bincount(common.doc_idx[f], minlength=d) for f in flags]).astype(np.float64)  # (masks, docs)
    sums = np.empty((len(masks), len(names), d))
    for i, path in enumerate(paths):
        _, score_rows = match_keys(common.keys, packed_keys(read_keys(path), common.documents), features_path, path)
        loss = pq.read_table(path, columns=["loss"])["loss"].to_numpy()[score_rows].astype(np.float64)
        for j, f in enumerate(flags):
            sums[j, i] = np.bincount(common.doc_idx[f], weights=loss[f], minlength=d)
    # bootstrap groups are (mask j, name i), column j * len(names) + i, over the documents with tokens
    mask_of, name_of, doc_of = np.nonzero(np.broadcast_to(counts[:, None, :] > 0, sums.shape))
    intervals = ratio_intervals(
        doc_idx=doc_of, group_idx=mask_of * len(names) + name_of, numerator=sums[mask_of, name_of, doc_of],
        denominator=counts[mask_of, doc_of], n_docs=d, n_groups=len(masks) * len(names), resamples=config.bootstrap,
        seed=config.seed, confidence=config.confidence,
    )  # fmt: skip
    tokens = counts.sum(axis=1)
    rows = []
    for point in points:
        i = names.index(point.name)
        for j, mask in enumerate(masks):
            g = j * len(names) + i
            rows.append(
                {"series": point.series, "step": point.step, "name": point.name, "mask": mask.name,
                 "n_tokens": int(tokens[j]), "mean_loss": sums[j, i].sum() / tokens[j],
                 "ci_low": intervals.low[g], "ci_high": intervals.high[g]}
            )  # fmt: skip
    return pd.DataFrame(rows, columns=CURVES_COLUMNS)


def run_curves(run_dir: RunDir | Path | str, config: CurvesConfig) -> pd.DataFrame:
    """Compute the curves, then write results/curves.csv; nothing is written on error."""
    run_dir = run_dir if isinstance(run_dir, RunDir) else RunDir(Path(run_dir))
    with connect() as con:
        table = compute_curves(con, run_dir, config)
    write_tables(run_dir, {"curves.csv": (table, CURVES_COLUMNS)})
    record_in_manifest(run_dir, "curves", config)
    return table
